#!/usr/bin/env python
"""Time simulate_pattern against pymatgen's XRDCalculator in the same run.

For N varied structures (classic structures first, then pyxtal random
crystals of all crystal systems, conventional cells <= 20 atoms, fixed seed)
the sticks over 0-180 degrees 2-theta at Mo K-alpha are computed by both
(best of ``--repeat`` runs each), checked to agree, and timed; then profile
synthesis (Cu Ka1+Ka2, 10-120 degrees, step 0.01, pseudo-Voigt, background,
Poisson noise) is timed.  Last, the path of training data (sticks of many
structures binned on the 1024-bin model grid, as the dataset builder does)
is timed for the numpy simulator (with and without hkl families) and
XRDCalculator on the same structures, with the ratios.  The machine load is
printed because timings on shared cores depend on it.

``--csv`` takes the first N structures of a CDVAE-format table instead
(e.g. the MP-20 test split).

Usage::

    python benchmarks/bench_simulator.py [N] [--repeat 3] [--csv TABLE]
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from pymatgen.analysis.diffraction.xrd import XRDCalculator

from diffpy.crystalnet.physics.simulator import simulate_pattern

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from validate_simulator import (  # noqa: E402
    SYSTEMS,
    classics,
    random_structure,
)

PROFILE = {
    "u": 0.01,
    "v": -0.004,
    "w": 0.004,
    "crystallite_size": 100.0,
    "kalpha2": True,
    "background": (300.0, -80.0, 30.0),
    "noise": "poisson",
    "seed": 1,
    "intensity_max": 2e4,
}


def best_time(func, repeat):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - t0)
    return best, out


def structures(n, seed=11, csv=None):
    if csv:
        from diffpy.crystalnet.datasets.source_files import from_csv

        return [r.structure for r in from_csv(csv)][:n]
    out = classics()
    rng = np.random.default_rng(seed)
    names = list(SYSTEMS)
    i = 0
    while len(out) < n:
        lo, hi = SYSTEMS[names[i % len(names)]]
        s = random_structure(int(rng.integers(lo, hi + 1)), rng)
        if s is not None:
            out.append(s)
            i += 1
    return out[:n]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--csv", default=None, help="structures of a CDVAE-format CSV table"
    )
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()}  cpus: {os.cpu_count()}")
    cases = structures(args.n, csv=args.csv)
    calc = XRDCalculator("MoKa")
    simulate_pattern(cases[0])  # warm-up: reads the scattering table once
    calc.get_pattern(cases[0], two_theta_range=(0, 180))
    ratios = []
    print(
        f"{'formula':22s} {'atoms':>5s} {'peaks':>6s} "
        f"{'pymatgen s':>10s} {'ours s':>9s} {'ratio':>7s}"
    )
    for s in cases:
        t_ref, ref = best_time(
            lambda: calc.get_pattern(s, two_theta_range=(0, 180)),
            args.repeat,
        )
        t_us, ours = best_time(
            lambda: simulate_pattern(s, "MoKa", (0, 180)), args.repeat
        )
        agree = len(ref.x) == len(ours.x) and np.allclose(
            ref.y, ours.y, atol=0.1
        )
        ratios.append(t_ref / t_us)
        print(
            f"{s.composition.reduced_formula[:22]:22s} {len(s):5d} "
            f"{len(ours.x):6d} {t_ref:10.4f} {t_us:9.4f} "
            f"{t_ref / t_us:7.1f}{'' if agree else '  DISAGREE'}"
        )
    print(
        f"median speed ratio XRDCalculator / simulate_pattern over "
        f"{len(cases)} structures: {np.median(ratios):.1f}x "
        f"(min {np.min(ratios):.1f}x, max {np.max(ratios):.1f}x)"
    )

    # profile synthesis on top of the sticks
    t_prof = []
    for s in cases[: min(10, len(cases))]:
        t, p = best_time(
            lambda: simulate_pattern(s, "CuKa", (10, 120), profile=PROFILE),
            args.repeat,
        )
        t_prof.append(t)
    print(
        f"profile (Cu Ka1+Ka2, 10-120 deg, {len(p.x)} points, noise): "
        f"median {np.median(t_prof) * 1e3:.1f} ms per structure"
    )
    training_path(cases, args.repeat)
    print(f"load average after: {os.getloadavg()}")


def training_path(cases, repeat):
    """Sticks binned on the model grid: numpy vs XRDCalculator."""
    from diffpy.crystalnet.physics.model_input import bin_sticks
    from diffpy.crystalnet.physics.simulator import stick_table
    from diffpy.crystalnet.physics.transforms import two_theta_to_q
    from diffpy.crystalnet.physics.wavelengths import WAVELENGTHS

    lam = WAVELENGTHS["MoKa"]
    calc = XRDCalculator("MoKa")

    def binned(x, y):
        return bin_sticks(two_theta_to_q(np.asarray(x), lam), np.asarray(y))

    def numpy_path(s):
        p = simulate_pattern(s, "MoKa", (0, 180))
        return binned(p.x, p.y)

    def numpy_nofam(s):
        t = stick_table(s, "MoKa", (0, 180), families=False)
        keep = t["keep"]
        return binned(t["two_theta"][keep], t["intensity"][keep])

    def pymatgen_path(s):
        p = calc.get_pattern(s, two_theta_range=(0, 180))
        return binned(p.x, p.y)

    paths = {
        "numpy simulate_pattern": numpy_path,
        "numpy stick_table(families=False)": numpy_nofam,
        "pymatgen XRDCalculator": pymatgen_path,
    }
    totals = {name: 0.0 for name in paths}
    worst = {name: 0.0 for name in paths}
    for s in cases:
        ref = numpy_path(s)
        for name, func in paths.items():
            t, out = best_time(lambda: func(s), repeat)
            totals[name] += t
            worst[name] = max(worst[name], float(np.abs(out - ref).max()))
    base = totals["numpy simulate_pattern"]
    print(
        f"training path: {len(cases)} structures, Mo Ka sticks 0-180 deg "
        "binned on the 1024-bin model grid (one thread)"
    )
    for name, total in totals.items():
        print(
            f"  {name:36s} {total / len(cases) * 1e3:8.2f} ms/structure  "
            f"time / numpy {total / base:6.2f}  "
            f"max |bins - numpy| {worst[name]:.1e}"
        )


if __name__ == "__main__":
    main()
