"""Speed and position agreement of the peak search, old code against new.

Patterns: the first ``--limit`` structures of a CDVAE-format CSV table
(``--csv``, by default the MP-20 test split of ``/work/shared``), each
simulated as a lab profile exactly as ``bench_indexing.py`` does (its
``_profile``: pseudo-Voigt TCH peaks, K-alpha1 + K-alpha2, Chebyshev
background, Poisson noise, a random zero shift) at Cu K-alpha over 10-90 deg
and Mo K-alpha over 5-60 deg, plus the same two patterns of the structures
named by ``--extra`` (by default mp-995393, a triclinic cell of about
2000 A^3 whose ~45 overlapping peaks made the search take minutes), looked
up in the train, validation and test tables beside ``--csv``.

Both versions of ``find_peaks`` run in the same invocation, one after the
other, each in a fresh process on the same pickled patterns: the baseline
from the sources of git revision ``--baseline`` (extracted with
``git archive``) and the working tree's.  Each process first runs one
untimed search (imports), then times every pattern once.  BLAS and OpenMP
are limited to ``--threads`` threads (default 1, the "one core" of the
timing goal; ``--threads 0`` leaves the environment as it is).

Printed: per pattern, the old and new time and peak count and the largest
shift of the first ``--compare`` (20) peaks (each old peak against the
nearest new one); then the median and largest time of each version, their
ratios, how many patterns agree within ``--tol`` (0.005 deg), and how close
each version's first peaks lie to the true K-alpha1 reflections (stick
positions plus the zero shift, sticks above 1 % of the strongest).

Usage::

    python benchmarks/bench_peak_search.py --limit 20
    python benchmarks/bench_peak_search.py --limit 5 --baseline main
"""

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "structures" / "mp20_dev"
#: The last commit before the faster peak fits.
BEFORE = "2dec7b3"


def _structures(csv, limit, extra):
    """(id, structure) of the first ``limit`` rows and the ``extra`` ids."""
    from diffpy.crystalnet.datasets.source_files import from_csv

    out = []
    for record in from_csv(csv):
        if len(out) >= limit:
            break
        out.append((record.id, record.structure))
    wanted = set(extra)
    for name in ("train.csv", "val.csv", "test.csv"):
        path = Path(csv).parent / name
        if not wanted or not path.is_file():
            continue
        for record in from_csv(path):
            if record.id in wanted:
                out.append((record.id, record.structure))
                wanted.discard(record.id)
    if wanted:
        print(f"not found: {', '.join(sorted(wanted))}")
    return out


def _patterns(structures, seed):
    """Simulated lab patterns and the true K-alpha1 positions of each."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_indexing import _profile

    from diffpy.crystalnet import simulate_pattern

    rng = np.random.default_rng(seed)
    setups = (("CuKa", (10, 90)), ("MoKa", (5, 60)))
    out = []
    for name, structure in structures:
        for line, span in setups:
            profile = _profile(rng)
            pattern = simulate_pattern(structure, line, span, profile=profile)
            sticks = simulate_pattern(structure, pattern.wavelength, span)
            strong = sticks.y >= 0.01 * sticks.y.max()
            true = sticks.x[strong] + profile["zero_shift"]
            out.append((f"{name} {line}", pattern, true))
    return out


def _worker(infile, outfile):
    """Time find_peaks on every pattern of ``infile`` (run in a subprocess)."""
    from diffpy.crystalnet.index.peak_search import find_peaks

    with open(infile, "rb") as fh:
        patterns = pickle.load(fh)
    find_peaks(patterns[0][1])  # imports and caches, untimed
    rows = []
    for _, pattern, _ in patterns:
        t0 = time.perf_counter()
        peaks = find_peaks(pattern)
        rows.append((time.perf_counter() - t0, peaks.two_theta.copy()))
    with open(outfile, "wb") as fh:
        pickle.dump(rows, fh)


def _run_version(src, infile, outfile, threads):
    env = dict(os.environ, PYTHONPATH=str(src))
    if threads > 0:
        for var in (
            "OPENBLAS_NUM_THREADS",
            "OMP_NUM_THREADS",
            "MKL_NUM_THREADS",
        ):
            env[var] = str(threads)
    cmd = [sys.executable, __file__, "--worker", str(infile), str(outfile)]
    subprocess.run(cmd, env=env, check=True)
    with open(outfile, "rb") as fh:
        return pickle.load(fh)


def _baseline_sources(rev, where):
    """Extract ``src`` of git revision ``rev`` under ``where``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "src"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    return Path(where) / "src"


def _shift(old, new, n):
    """Largest distance of the first n old peaks to the nearest new peak."""
    if len(old) == 0 or len(new) == 0:
        return float("inf")
    first = old[:n]
    return float(np.max(np.min(np.abs(first[:, None] - new[None, :]), 1)))


def _truth_error(found, true, n):
    """Distances of the first n peaks found to the nearest true position."""
    first = found[:n]
    return np.min(np.abs(first[:, None] - true[None, :]), axis=1)


def _report(patterns, old, new, args):
    print(
        f"\n{'pattern':22s} {'old s':>7s} {'new s':>7s} {'n old':>6s} "
        f"{'n new':>6s} {'max shift':>10s}"
    )
    shifts, differ = [], 0
    for (name, _, _), (t_old, p_old), (t_new, p_new) in zip(
        patterns, old, new
    ):
        d = max(
            _shift(p_old, p_new, args.compare),
            _shift(p_new, p_old, args.compare),
        )
        shifts.append(d)
        n_differ = int(
            np.sum(
                np.min(
                    np.abs(
                        p_old[: args.compare, None]
                        - p_new[None, : args.compare + 5]
                    ),
                    axis=1,
                )
                > args.tol
            )
        )
        differ += n_differ > 0 or len(p_old) != len(p_new)
        print(
            f"{name:22s} {t_old:7.3f} {t_new:7.3f} {len(p_old):6d} "
            f"{len(p_new):6d} {d:10.5f}"
            + (
                f"  ({n_differ} of first {args.compare} differ)"
                * (n_differ > 0)
            )
        )
    t_old = [r[0] for r in old]
    t_new = [r[0] for r in new]
    print(f"\n{len(patterns)} patterns, BLAS threads: {args.threads or 'env'}")
    for label, times in (("old", t_old), ("new", t_new)):
        print(
            f"{label}: median {statistics.median(times):.3f} s, "
            f"max {max(times):.3f} s, total {sum(times):.1f} s"
        )
    print(
        "speed-up: median "
        f"{statistics.median(t_old) / statistics.median(t_new):.1f}x, max "
        f"{max(t_old) / max(t_new):.1f}x, total "
        f"{sum(t_old) / sum(t_new):.1f}x, per pattern median "
        f"{statistics.median(np.divide(t_old, t_new)):.1f}x"
    )
    agree = sum(d <= args.tol for d in shifts)
    print(
        f"first {args.compare} peaks within {args.tol} deg: {agree} of "
        f"{len(patterns)} patterns; peak lists differing (count or a "
        f"position): {differ}; largest shift {max(shifts):.5f} deg"
    )
    for label, rows in (("old", old), ("new", new)):
        errs = np.concatenate(
            [
                _truth_error(r[1], p[2], args.compare)
                for r, p in zip(rows, patterns)
            ]
        )
        print(
            f"{label} vs true K-alpha1 (first {args.compare}): median "
            f"{np.median(errs):.4f} deg, {np.mean(errs <= 0.01):.1%} within "
            f"0.01 deg, {np.mean(errs <= 0.02):.1%} within 0.02 deg"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csv", default=str(DATA / "test.csv"))
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--extra", nargs="*", default=["mp-995393"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline", default=BEFORE)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compare", type=int, default=20)
    parser.add_argument("--tol", type=float, default=0.005)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(*args.worker)
        return
    patterns = _patterns(
        _structures(args.csv, args.limit, args.extra), args.seed
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        infile = tmp / "patterns.pkl"
        with open(infile, "wb") as fh:
            pickle.dump(patterns, fh)
        old_src = _baseline_sources(args.baseline, tmp)
        print(f"baseline {args.baseline} against the working tree")
        old = _run_version(old_src, infile, tmp / "old.pkl", args.threads)
        new = _run_version(ROOT / "src", infile, tmp / "new.pkl", args.threads)
    _report(patterns, old, new, args)


if __name__ == "__main__":
    main()
