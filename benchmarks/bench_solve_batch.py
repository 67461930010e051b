#!/usr/bin/env python
"""Benchmark solving many patterns: a plain loop against Dask workers.

Usage::

    python benchmarks/bench_solve_batch.py                # 6 patterns
    python benchmarks/bench_solve_batch.py --patterns 12 --workers 4
    python benchmarks/bench_solve_batch.py --samples 5    # solve's default

Simulates ``--patterns`` small cubic structures (rock-salt and CsCl types
with different elements and cells; Cu K-alpha1 profiles with Poisson
noise) and solves them all twice, each time in a fresh Python process so
that both pay the same start-up (interpreter, imports, model load):

- **sequential**: a plain loop of
  :func:`~diffpy.crystalnet.solver.pipeline.solve` and
  :func:`~diffpy.crystalnet.solver.report.write_outputs` (what a script
  would do; torch and BLAS keep their default threads);
- **dask**: :func:`~diffpy.crystalnet.solver.batch.solve_many` on a
  ``LocalCluster`` of ``--workers`` single-threaded worker processes
  (cluster start-up and shut-down included).

Both use the same settings (``--samples`` network samples, default 1, the
other steps as ``solve``'s defaults, no density files) and print patterns
per minute of wall-clock time, end to end, the seconds of each pattern and
the CPU seconds the run used (its processes and their children: on a
machine that other jobs load, the same CPU time over a longer wall time
means the cores were not ours); the ratio is dask / sequential.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: (formula, space group, cubic a, species) of the simulated patterns
STRUCTURES = (
    ("NaCl", "Fm-3m", 5.64, ["Na", "Cl"]),
    ("CsCl", "Pm-3m", 4.12, ["Cs", "Cl"]),
    ("KCl", "Fm-3m", 6.29, ["K", "Cl"]),
    ("CsBr", "Pm-3m", 4.29, ["Cs", "Br"]),
    ("MgO", "Fm-3m", 4.21, ["Mg", "O"]),
    ("TlCl", "Pm-3m", 3.84, ["Tl", "Cl"]),
    ("NaF", "Fm-3m", 4.63, ["Na", "F"]),
    ("CsI", "Pm-3m", 4.57, ["Cs", "I"]),
)


def write_patterns(folder, count):
    """Simulate ``count`` patterns into ``folder``; {file name: formula}."""
    from pymatgen.core import Lattice, Structure

    from diffpy.crystalnet.physics.simulator import simulate_pattern

    table = {}
    for k in range(count):
        formula, group, a, species = STRUCTURES[k % len(STRUCTURES)]
        a *= 1.0 + 0.01 * (k // len(STRUCTURES))
        structure = Structure.from_spacegroup(
            group, Lattice.cubic(a), species, [[0, 0, 0], [0.5] * 3]
        )
        profile = {"w": 0.005, "noise": "poisson", "seed": k, "step": 0.02}
        profile.update(intensity_max=2e4, background=(100.0,))
        pattern = simulate_pattern(structure, "CuKa1", (15, 100), profile)
        rows = "\n".join(
            f"{x:.4f} {y:.3f}" for x, y in zip(pattern.x, pattern.intensity)
        )
        name = f"{k + 1:02d}-{formula}.xy"
        (folder / name).write_text("# wavelength = 1.54056\n" + rows + "\n")
        table[name] = formula
    return table


def run_mode(mode, folder, out, samples, workers):
    """Solve every pattern of ``folder`` one way (in this process)."""
    import warnings

    from diffpy.crystalnet.solver.settings import SolveSettings

    table = json.loads((folder / "table.json").read_text())
    settings = SolveSettings.from_options(samples=samples, densities=False)
    if mode == "dask":
        from diffpy.crystalnet.solver.batch import solve_many

        patterns = [folder / name for name in table]
        records = solve_many(patterns, table, settings, out, workers=workers)
        return [(r.status, r.seconds) for r in records]
    from diffpy.crystalnet.solver.pipeline import solve
    from diffpy.crystalnet.solver.report import write_outputs

    done = []
    for name, formula in table.items():
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = solve(folder / name, formula, settings)
        write_outputs(result, out / Path(name).stem, densities=False)
        done.append(("solved", time.perf_counter() - t0))
    return done


def timed(mode, folder, samples, workers):
    """Seconds of a fresh process that solves the patterns one way."""
    out = folder.parent / f"out-{mode}"
    out.mkdir()
    command = [sys.executable, __file__, "--mode", mode, "--folder"]
    command += [str(folder), "--out", str(out), "--samples", str(samples)]
    command += ["--workers", str(workers)]
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode:
        sys.exit(f"{mode} failed:\n{done.stderr[-3000:]}")
    cpu = _children_cpu() - cpu0
    return seconds, f"{done.stdout.strip()}; CPU {cpu:.0f} s"


def _children_cpu():
    """CPU seconds (user + system) of the finished child processes."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patterns", type=int, default=6)
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mode", choices=("sequential", "dask"))
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.mode:  # a child process: one mode
        t0 = time.perf_counter()
        done = run_mode(
            args.mode, args.folder, args.out, args.samples, args.workers
        )
        solved = sum(status == "solved" for status, _ in done)
        each = " ".join(f"{seconds:.0f}" for _, seconds in done)
        print(
            f"{solved}/{len(done)} solved, {time.perf_counter() - t0:.0f} s "
            f"in the process; seconds per pattern: {each}"
        )
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "scans"
        folder.mkdir()
        table = write_patterns(folder, args.patterns)
        (folder / "table.json").write_text(json.dumps(table))
        print(
            f"{args.patterns} patterns, {args.samples} sample(s) each, "
            f"{os.cpu_count()} cores"
        )
        rates = {}
        for mode in ("sequential", "dask"):
            seconds, details = timed(mode, folder, args.samples, args.workers)
            rates[mode] = 60.0 * args.patterns / seconds
            what = (
                "plain loop"
                if mode == "sequential"
                else f"solve_many, {args.workers} workers x 1 thread"
            )
            print(
                f"{mode:10s} ({what}): {seconds:6.1f} s, "
                f"{rates[mode]:5.2f} patterns/min\n    {details}"
            )
        ratio = rates["dask"] / rates["sequential"]
        print(f"ratio dask / sequential: {ratio:.2f}")


if __name__ == "__main__":
    main()
