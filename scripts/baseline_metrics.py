"""Trivial baselines for the density metrics (SSIM, PSNR) on IAM densities.

Builds cubic and trigonal test crystals, computes their CMED (IAM, standard
primitive cell, n^3 grid) and scores predictions that know nothing (all
zeros, the mean density), a perfect density shifted by a quarter cell along
a, and (SrTiO3) the density of another crystal (BaTiO3).  SSIM and PSNR are
the best over the 24 grid rotations (the constant predictions are rotation
invariant and scored once).  Shows how much of SSIM/PSNR empty space gives
away, and why the structural checks (atom recovery, structure matching) are
the decisive ones.

Run: python scripts/baseline_metrics.py [--n 50] [--b-iso 5]
"""

import argparse
import time

import numpy as np
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.density.cmed import DEFAULT_B_ISO, cmed
from diffpy.crystalnet.model.metrics import (
    atom_recovery,
    best_over_rotations,
    pearson,
    psnr,
    ssim3d,
)


def crystals():
    """(name, structure, expected atoms in the conventional cell)."""
    sg = Structure.from_spacegroup
    hexa = Lattice.hexagonal
    cub = Lattice.cubic
    half = [0.5] * 3
    return [
        ("NaCl", sg("Fm-3m", cub(5.64), ["Na", "Cl"], [[0] * 3, half]), 8),
        ("CsCl", sg("Pm-3m", cub(4.12), ["Cs", "Cl"], [[0] * 3, half]), 2),
        (
            "CaF2",
            sg("Fm-3m", cub(5.463), ["Ca", "F"], [[0] * 3, [0.25] * 3]),
            12,
        ),
        (
            "SrTiO3",
            sg(
                "Pm-3m",
                cub(3.905),
                ["Sr", "Ti", "O"],
                [[0] * 3, half, [0.5, 0.5, 0]],
            ),
            5,
        ),
        (
            "MgAl2O4",
            sg(
                "Fd-3m",
                cub(8.08),
                ["Mg", "Al", "O"],
                [[0] * 3, [0.625] * 3, [0.387] * 3],
            ),
            56,
        ),
        ("Cu", sg("Fm-3m", cub(3.615), ["Cu"], [[0] * 3]), 4),
        ("Si", sg("Fd-3m", cub(5.431), ["Si"], [[0] * 3]), 8),
        (
            "Al2O3",
            sg(
                "R-3c",
                hexa(4.759, 12.991),
                ["Al", "O"],
                [[0, 0, 0.35216], [0.30624, 0, 0.25]],
            ),
            30,
        ),
        (
            "Bi2Se3",
            sg(
                "R-3m",
                hexa(4.143, 28.636),
                ["Bi", "Se", "Se"],
                [[0, 0, 0.4008], [0, 0, 0], [0, 0, 0.2117]],
            ),
            15,
        ),
        (
            "CaCO3",
            sg(
                "R-3c",
                hexa(4.988, 17.061),
                ["Ca", "C", "O"],
                [[0, 0, 0], [0, 0, 0.25], [0.2578, 0, 0.25]],
            ),
            30,
        ),
        (
            "SiO2 (P3_221)",
            sg(
                "P3_221",
                hexa(4.913, 5.405),
                ["Si", "O"],
                [[0.4697, 0, 2 / 3], [0.4135, 0.2669, 0.1191 + 2 / 3]],
            ),
            9,
        ),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--b-iso", type=float, default=DEFAULT_B_ISO)
    args = parser.parse_args()
    n = args.n
    start = time.perf_counter()
    print(
        f"IAM CMED, n = {n}, B = {args.b_iso} A^2, data range = max - min "
        "of the truth; SSIM 7-voxel periodic window; best of 24 rotations"
    )
    head = (
        f"{'truth':14s}{'at':>3s}{'max':>7s}"
        f"{'SSIM0':>7s}{'PSNR0':>7s}{'SSIMm':>7s}{'PSNRm':>7s}"
        f"{'SSIM/4':>7s}{'PSNR/4':>7s}{'r/4':>6s}{'rec':>5s}"
    )
    print(head)
    grids = {}
    for name, structure, expected in crystals():
        if len(structure) != expected:
            raise SystemExit(
                f"{name}: {len(structure)} atoms, expected {expected} "
                "(check the Wyckoff positions / origin choice)"
            )
        truth, cell = cmed(
            structure, n=n, b_iso=args.b_iso, return_structure=True
        )
        grids[name] = (truth, cell)
        zero = np.zeros_like(truth)
        mean = np.full_like(truth, truth.mean())
        shifted = np.roll(truth, n // 4, axis=0)
        s_shift, _ = best_over_rotations(shifted, truth, ssim3d)
        p_shift, _ = best_over_rotations(shifted, truth, psnr)
        r_shift, _ = best_over_rotations(shifted, truth, pearson)
        print(
            f"{name:14s}{len(cell):3d}{truth.max():7.1f}"
            f"{ssim3d(zero, truth):7.3f}{psnr(zero, truth):7.1f}"
            f"{ssim3d(mean, truth):7.3f}{psnr(mean, truth):7.1f}"
            f"{s_shift:7.3f}{p_shift:7.1f}{r_shift:6.2f}"
            f"{atom_recovery(truth, cell):5.2f}"
        )
    # another crystal's density as the prediction
    bto = Structure.from_spacegroup(
        "Pm-3m",
        Lattice.cubic(4.00),
        ["Ba", "Ti", "O"],
        [[0] * 3, [0.5] * 3, [0.5, 0.5, 0]],
    )
    other = cmed(bto, n=n, b_iso=args.b_iso)
    truth, cell = grids["SrTiO3"]
    s_o, _ = best_over_rotations(other, truth, ssim3d)
    p_o, _ = best_over_rotations(other, truth, psnr)
    r_o, _ = best_over_rotations(other, truth, pearson)
    print(
        f"\nSrTiO3 truth, BaTiO3 density as prediction: SSIM {s_o:.3f}, "
        f"PSNR {p_o:.1f} dB, Pearson {r_o:.3f}"
    )
    print(
        "columns: at = atoms in the standard primitive cell; max = peak "
        "density e/A^3; 0 = all-zero prediction; m = mean density; "
        "/4 = the true density rolled by n/4 along a; r = Pearson; rec = "
        "atom recovery of the true density (maxima within 0.5 A)"
    )
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
