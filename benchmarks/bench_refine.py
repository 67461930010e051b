"""Benchmark of the Rietveld refinement (diffpy.crystalnet.refine.rietveld).

For 11 structures with free parameters (cubic to monoclinic, 4-56 atoms in
the conventional cell), a Cu K-alpha lab profile 10-110 degrees (random
Caglioti widths, size, microstrain, zero shift, background, K-alpha2; the
same recipe as ``scripts/solve_benchmark.py``) is simulated with the
project's numpy simulator, the start is perturbed (cell edges 0.3-0.5 %
each, angles up to 0.3 degrees, every free coordinate moved so that each
representative shifts by 0.05-0.1 angstrom, symmetry kept; B from 0.5),
and ``refine_structure`` runs with its defaults.  Printed per structure:
the largest distance of an atom from its true position before and after
(pymatgen StructureMatcher, origin choices allowed), the largest relative
error of a cell edge, Rwp before and after, Rexp, the time and the
evaluations; on noiseless and on Poisson-noise patterns.

Then, for one structure, the cost of one Jacobian of the refinement
(analytic + forward differences on fixed windows, symmetry-reduced
reflections) against the same Jacobian from forward differences only,
measured in the same run; and the consistency of the refinement's profile
with
:func:`~diffpy.crystalnet.physics.simulator.simulate_pattern` at the true
parameters (Rwp of the model with nothing refined but the scales and
background).

Usage::

    python benchmarks/bench_refine.py            # all, noiseless + noise
    python benchmarks/bench_refine.py --quick    # noiseless only
    python benchmarks/bench_refine.py pyrite spinel

One core: BLAS runs on one thread.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import sys  # noqa: E402
import time  # noqa: E402
import zlib  # noqa: E402

import numpy as np  # noqa: E402


def structures():
    """Name -> pymatgen Structure with free coordinates."""
    from pymatgen.core import Lattice, Structure

    def s(group, lattice, species, coords):
        return Structure.from_spacegroup(group, lattice, species, coords)

    hexa = Lattice.hexagonal
    return {
        "pyrite FeS2": s(
            "Pa-3",
            Lattice.cubic(5.417),
            ["Fe", "S"],
            [[0, 0, 0], [0.385] * 3],
        ),
        "spinel MgAl2O4": s(
            "Fd-3m",
            Lattice.cubic(8.083),
            ["Mg", "Al", "O"],
            [[0, 0, 0], [0.625] * 3, [0.3874] * 3],
        ),
        "corundum Al2O3": s(
            "R-3c",
            hexa(4.759, 12.991),
            ["Al", "O"],
            [[0, 0, 0.3522], [0.3064, 0, 0.25]],
        ),
        "Bi2Te3": s(
            "R-3m",
            hexa(4.386, 30.497),
            ["Bi", "Te", "Te"],
            [[0, 0, 0.4001], [0, 0, 0], [0, 0, 0.7872]],
        ),
        "rutile TiO2": s(
            "P4_2/mnm",
            Lattice.tetragonal(4.594, 2.959),
            ["Ti", "O"],
            [[0, 0, 0], [0.3048, 0.3048, 0]],
        ),
        "wurtzite ZnO": s(
            "P6_3mc",
            hexa(3.25, 5.207),
            ["Zn", "O"],
            [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]],
        ),
        "LiNbO3": s(
            "R3c",
            hexa(5.148, 13.863),
            ["Li", "Nb", "O"],
            [[0, 0, 0.2829], [0, 0, 0], [0.0492, 0.3446, 0.0647]],
        ),
        "BaTiO3 P4mm": s(
            "P4mm",
            Lattice.tetragonal(3.994, 4.034),
            ["Ba", "Ti", "O", "O"],
            [[0, 0, 0], [0.5, 0.5, 0.515], [0.5, 0.5, 0.975], [0.5, 0, 0.485]],
        ),
        "CaTiO3 Pnma": s(
            "Pnma",
            Lattice.orthorhombic(5.4423, 7.6401, 5.3796),
            ["Ca", "Ti", "O", "O"],
            [
                [0.0349, 0.25, 0.9935],
                [0, 0, 0.5],
                [0.4838, 0.25, 0.0714],
                [0.2888, 0.0371, 0.7108],
            ],
        ),
        "baddeleyite ZrO2": s(
            "P2_1/c",
            Lattice.monoclinic(5.1505, 5.2116, 5.3173, 99.23),
            ["Zr", "O", "O"],
            [
                [0.2754, 0.0395, 0.2083],
                [0.0700, 0.3317, 0.3447],
                [0.4496, 0.7569, 0.4792],
            ],
        ),
        "forsterite Mg2SiO4": s(
            "Pnma",
            Lattice.orthorhombic(10.19, 5.98, 4.75),
            ["Mg", "Mg", "Si", "O", "O", "O"],
            [
                [0, 0, 0],
                [0.2774, 0.25, 0.9915],
                [0.0940, 0.25, 0.4262],
                [0.0913, 0.25, 0.7657],
                [0.4474, 0.25, 0.2215],
                [0.1628, 0.0331, 0.2777],
            ],
        ),
    }


def perturb(structure, rng, cell=0.005, shift=(0.05, 0.1)):
    """A start: cell and free coordinates moved, symmetry kept."""
    from pymatgen.core import Lattice, Structure

    from diffpy.crystalnet.refine.symmetry import (
        _cell_from,
        _lattice_mode,
        _Symmetry,
    )

    sym = _Symmetry(structure, 0.01, "benchmark")
    conv = sym.structure
    names = ("a", "b", "c", "alpha", "beta", "gamma")
    old = dict(zip(names, list(conv.lattice.abc) + list(conv.lattice.angles)))
    mode = _lattice_mode(sym.system, [old[k] for k in names[3:]])
    new = {}
    for k in mode:
        if k in ("a", "b", "c"):
            sign = rng.choice([-1.0, 1.0])
            new[k] = old[k] * (1.0 + sign * cell * rng.uniform(0.6, 1.0))
        else:
            new[k] = old[k] + rng.uniform(-0.3, 0.3)
    lattice = Lattice.from_parameters(*_cell_from(new, mode, old))
    shifts = []
    for orbit in sym.orbits:
        d = orbit["directions"]
        if d.shape[1] == 0:
            shifts.append(np.zeros(0))
            continue
        p = rng.normal(size=d.shape[1])
        length = np.linalg.norm((d @ p) @ lattice.matrix)
        shifts.append(p / length * rng.uniform(*shift))
    frac = sym.positions(shifts)
    return Structure(lattice, [site.species for site in conv], frac), conv


def site_error(reference, structure):
    """Largest atom distance (angstrom) after the best match."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher(
        ltol=0.05, stol=0.15, angle_tol=2, primitive_cell=False, scale=False
    )
    rms = matcher.get_rms_dist(reference, structure)
    if rms is None:
        return float("nan")
    return rms[1] * (structure.volume / len(structure)) ** (1.0 / 3.0)


def run_one(name, structure, noise, cell=0.005, coarse=True):
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from diffpy.crystalnet.datasets.lab_profiles import random_lab_profile
    from diffpy.crystalnet.physics.simulator import simulate_pattern
    from diffpy.crystalnet.refine.rietveld import refine_structure

    rng = np.random.default_rng(zlib.crc32(name.encode()) + int(noise))
    profile, b_iso = random_lab_profile(rng, "poisson" if noise else None)
    pattern = simulate_pattern(
        structure, "CuKa", (10, 110), profile=profile, b_factors=b_iso
    )
    start, reference = perturb(structure, rng, cell=cell)
    t0 = time.perf_counter()
    result = refine_structure(start, pattern, coarse=coarse)
    seconds = time.perf_counter() - t0
    cell_error = np.max(
        np.abs(
            np.array(result.structure.lattice.abc)
            / np.array(reference.lattice.abc)
            - 1.0
        )
    )
    n_prim = len(SpacegroupAnalyzer(structure).find_primitive())
    return dict(
        name=name,
        atoms=f"{len(result.structure)}/{n_prim}",
        group=result.spacegroup_symbol,
        n_par=result.n_parameters,
        start_error=site_error(reference, start),
        error=site_error(reference, result.structure),
        cell_error=float(cell_error),
        rwp_before=result.rwp_before,
        rwp=result.rwp,
        rexp=result.rexp,
        seconds=seconds,
        nfev=result.nfev,
        njev=result.njev,
        b_error=max(
            abs(v - b_iso)
            for k, v in result.parameters.items()
            if k.startswith("b_iso.")
        ),
        warnings=len(result.warnings),
    )


def print_table(rows, title):
    print(f"\n{title}")
    head = (
        f"{'structure':20s} {'atoms':>6s} {'group':>9s} {'P':>3s} "
        f"{'err0/A':>7s} {'err/A':>8s} {'dcell':>8s} {'dB':>6s} "
        f"{'Rwp0':>6s} {'Rwp':>7s} {'Rexp':>7s} {'t/s':>6s} "
        f"{'nfev':>5s} {'njev':>5s} {'warn':>4s}"
    )
    print(head)
    for r in rows:
        print(
            f"{r['name']:20s} {r['atoms']:>6s} {r['group']:>9s} "
            f"{r['n_par']:3d} {r['start_error']:7.3f} {r['error']:8.4f} "
            f"{r['cell_error']:8.1e} {r['b_error']:6.3f} "
            f"{r['rwp_before']:6.3f} {r['rwp']:7.4f} {r['rexp']:7.4f} "
            f"{r['seconds']:6.2f} {r['nfev']:5d} {r['njev']:5d} "
            f"{r['warnings']:4d}"
        )
    times = np.array([r["seconds"] for r in rows])
    errors = np.array([r["error"] for r in rows])
    cells = np.array([r["cell_error"] for r in rows])
    ok = np.sum((errors < 0.02) & (cells < 1e-4))
    print(
        f"recovered (atoms < 0.02 A, cell < 1e-4): {ok}/{len(rows)}; "
        f"time median {np.median(times):.2f} s, max {times.max():.2f} s"
    )


def jacobian_comparison(structure):
    """Time one Jacobian two ways; check the model against simulate."""
    from diffpy.crystalnet.physics.simulator import simulate_pattern
    from diffpy.crystalnet.refine.kernel import (
        chebyshev_basis,
        kalpha_lines,
        profile_weights,
    )
    from diffpy.crystalnet.refine.optimiser import _solve_linear
    from diffpy.crystalnet.refine.rietveld import (
        DEFAULT_REFINE,
        refine_structure,
    )
    from diffpy.crystalnet.refine.rietveld_model import _Model
    from diffpy.crystalnet.refine.symmetry import _Symmetry

    profile = dict(
        u=0.01,
        v=-0.003,
        w=0.004,
        crystallite_size=150.0,
        microstrain=2e-4,
        kalpha2=True,
        zero_shift=0.02,
        background=(200.0, -60.0, 20.0),
        intensity_max=2e4,
        step=0.02,
    )
    pattern = simulate_pattern(
        structure, "CuKa", (10, 110), profile=profile, b_factors=0.8
    )
    x, y = pattern.two_theta, pattern.intensity
    sigma, _ = profile_weights(pattern, y)
    sym = _Symmetry(structure, 0.01, "benchmark")
    model = _Model(
        sym,
        x,
        y,
        sigma,
        kalpha_lines(pattern.wavelength, "auto")[0],
        chebyshev_basis(x, 6),
        {},
        DEFAULT_REFINE,
        True,
        "benchmark",
    )
    vector = _solve_linear(model, model.values)
    free = np.flatnonzero(model.free)

    def timed(fn, repeat=5):
        fn()
        t0 = time.perf_counter()
        for _ in range(repeat):
            out = fn()
        return (time.perf_counter() - t0) / repeat, out

    t_ours, jac = timed(lambda: model.jacobian(vector, free))

    def all_fd():
        base = model.residual(vector)
        out = np.zeros((len(base), len(free)))
        for k, j in enumerate(free):
            v = vector.copy()
            step = 1e-6 * max(1.0, abs(v[j]))
            v[j] += step
            out[:, k] = (model.residual(v) - base) / step
        return out

    t_fd, jac_fd = timed(all_fd)
    scale = np.abs(jac).max(axis=0)
    scale[scale == 0] = 1.0
    fd_diff = float(np.max(np.abs(jac - jac_fd) / scale))
    t_eval, _ = timed(lambda: model.residual(vector))

    t_sim, _ = timed(
        lambda: simulate_pattern(
            structure, "CuKa", (10, 110), profile=profile, b_factors=0.8
        ),
        repeat=3,
    )
    # the refinement's model at the true parameters
    start = {
        "zero_shift": profile["zero_shift"],
        "u": profile["u"],
        "v": profile["v"],
        "w": profile["w"],
        "crystallite_size": profile["crystallite_size"],
        "microstrain": profile["microstrain"],
        "b_iso": 0.8,
    }
    fixed = refine_structure(
        structure,
        pattern,
        refine=("scale", "background"),
        start=start,
        coarse=False,
    )
    print(
        f"\nJacobian of one refinement step, {len(structure)} atoms "
        f"(conventional), {len(free)} free parameters, {len(x)} points:"
    )
    print(
        f"  ours (analytic coords/B/linear + forward differences on fixed "
        f"windows): {t_ours * 1e3:.1f} ms"
    )
    print(
        f"  forward differences on everything: {t_fd * 1e3:.1f} ms "
        f"(ratio {t_fd / t_ours:.1f}x), max column-scaled difference "
        f"{fd_diff:.1e}"
    )
    print(
        f"  one residual evaluation: ours {t_eval * 1e3:.2f} ms, numpy "
        f"simulate_pattern {t_sim * 1e3:.2f} ms"
    )
    print(
        f"  model vs simulate_pattern at the true parameters (only scales "
        f"and background refined): Rwp {fixed.rwp:.2e}"
    )


def main(argv):
    table = structures()
    quick = "--quick" in argv
    picked = [a for a in argv if not a.startswith("--")]
    names = [n for n in table if not picked or any(p in n for p in picked)]
    runs = [(False, 0.005, True, "noiseless, cell 0.5 % off, coarse search")]
    if not quick:
        runs += [
            (True, 0.005, True, "Poisson noise, cell 0.5 % off, coarse"),
            (True, 0.0005, False, "Poisson noise, cell 0.05 % off, no coarse"),
        ]
    for noise, cell, coarse, title in runs:
        rows = []
        for name in names:
            rows.append(run_one(name, table[name], noise, cell, coarse))
        print_table(rows, title)
    jacobian_comparison(table["CaTiO3 Pnma"])


if __name__ == "__main__":
    main(sys.argv[1:])
