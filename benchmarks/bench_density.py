"""Benchmark the IAM CMED (FFT of Gaussian-sum structure factors).

Times :func:`diffpy.crystalnet.density.cmed` per structure at 50^3 and
compares with the reference: the same density as a direct, vectorised
real-space sum of the Gaussians over periodic images (the analytic Fourier
transform of the Waasmaier-Kirfel form factors times exp(-B s^2)).  Prints
ms per structure, the speed ratio and the largest difference.

Run: python benchmarks/bench_density.py [--n 50] [--repeat 5]
"""

import argparse
import time

import numpy as np
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.density.cmed import (
    DEFAULT_B_ISO,
    cmed,
    form_factor_coefficients,
)
from diffpy.crystalnet.physics.cells import cmed_cell


def structures():
    """Test crystals: (name, structure), from 2 to 20 atoms per cell."""
    return [
        (
            "NaCl",
            Structure.from_spacegroup(
                "Fm-3m",
                Lattice.cubic(5.64),
                ["Na", "Cl"],
                [[0] * 3, [0.5] * 3],
            ),
        ),
        (
            "MgAl2O4",
            Structure.from_spacegroup(
                "Fd-3m",
                Lattice.cubic(8.08),
                ["Mg", "Al", "O"],
                [[0, 0, 0], [0.625] * 3, [0.387] * 3],
            ),
        ),
        (
            "Bi2Se3",
            Structure.from_spacegroup(
                "R-3m",
                Lattice.hexagonal(4.14, 28.64),
                ["Bi", "Se", "Se"],
                [[0, 0, 0.4008], [0, 0, 0], [0, 0, 0.2117]],
            ),
        ),
        (
            "Al2O3",
            Structure.from_spacegroup(
                "R-3c",
                Lattice.hexagonal(4.759, 12.991),
                ["Al", "O"],
                [[0, 0, 0.35216], [0.30624, 0, 0.25]],
            ),
        ),
        (
            "Y3Al5O12/2 (20 at.)",  # a 20-atom P1 cell of mixed species
            None,
        ),
    ]


def twenty_atom_cell(rng):
    lattice = Lattice.from_parameters(7.1, 7.4, 7.9, 84, 97, 101)
    species = ["Y"] * 3 + ["Al"] * 5 + ["O"] * 12
    return Structure(lattice, species, rng.random((20, 3)))


def realspace(structure, n, b_iso, cutoff_sigma=7.0):
    """Direct periodic Gaussian sum on the n^3 grid (reference)."""
    lat = structure.lattice.matrix
    grid = np.stack(
        np.meshgrid(*[np.arange(n) / n] * 3, indexing="ij"), -1
    ).reshape(-1, 3)
    cart = grid @ lat
    rho = np.zeros(len(grid))
    widest = b_iso
    terms = []
    for site in structure:
        a, b, c = form_factor_coefficients(str(site.specie))
        amps = np.append(a, c)
        widths = np.append(b, 0.0) + b_iso
        widest = max(widest, widths.max())
        terms.append((site.coords, amps, widths))
    # images within cutoff of any grid point
    cutoff = cutoff_sigma * np.sqrt(widest / (8 * np.pi**2))
    rmax = (
        int(
            np.ceil(
                cutoff
                / min(structure.lattice.d_hkl(h) for h in np.eye(3, dtype=int))
            )
        )
        + 1
    )
    rng_ = np.arange(-rmax, rmax + 1)
    images = np.array(np.meshgrid(rng_, rng_, rng_)).reshape(3, -1).T @ lat
    for centre, amps, widths in terms:
        for img in images:
            d = cart - (centre + img)
            r2 = np.einsum("ij,ij->i", d, d)
            near = r2 < (cutoff + np.linalg.norm(lat, axis=1).sum()) ** 2
            if not near.any():
                continue
            r2n = r2[near]
            acc = np.zeros(len(r2n))
            for amp, w in zip(amps, widths):
                acc += (
                    amp
                    * (4 * np.pi / w) ** 1.5
                    * np.exp(-4 * np.pi**2 * r2n / w)
                )
            rho[near] += acc
    return rho.reshape(n, n, n)


def best_time(func, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--b-iso", type=float, default=DEFAULT_B_ISO)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(
        f"n = {args.n}, B = {args.b_iso} A^2; best of {args.repeat} runs\n"
        f"{'structure':22s}{'atoms':>6s}{'std ms':>8s}{'cmed ms':>9s}"
        f"{'total ms':>9s}{'ref ms':>9s}{'ref/cmed':>9s}{'max|diff|/max':>15s}"
    )
    for name, structure in structures():
        if structure is None:
            cell = twenty_atom_cell(rng)
            t_std = 0.0
        else:
            t_std, cell = best_time(lambda: cmed_cell(structure), args.repeat)
        t_fft, grid = best_time(
            lambda: cmed(cell, args.n, args.b_iso, standardize=False),
            args.repeat,
        )
        t_ref, ref = best_time(lambda: realspace(cell, args.n, args.b_iso), 1)
        diff = np.abs(grid - ref).max() / ref.max()
        print(
            f"{name:22s}{len(cell):6d}{t_std * 1e3:8.1f}{t_fft * 1e3:9.1f}"
            f"{(t_std + t_fft) * 1e3:9.1f}{t_ref * 1e3:9.0f}"
            f"{t_ref / t_fft:9.0f}{diff:15.1e}"
        )


if __name__ == "__main__":
    main()
