"""``solve`` on simulated lab patterns of every crystal system, with the
wrong-pattern control.

Structures: the first ``--per-system`` of each crystal system (spglib,
symprec 0.1) in a CSV with a ``cif`` column (e.g. the ``mp20_dev`` test split),
in file order after a seeded shuffle.  Each gets a realistic Cu K-alpha lab
profile (:func:`diffpy.crystalnet.datasets.lab_profiles.random_lab_profile`:
K-alpha2, Caglioti widths, size broadening, zero shift, background, Poisson
noise), and :func:`diffpy.crystalnet.solver.pipeline.solve` runs with the
composition, the lattice from its own indexing over ``--systems`` (default
all seven) and otherwise the command line's defaults (network, Fourier
recycling, isotypes, Rietveld).  The shipped isotype library holds AFLOW
prototypes and classic types only, none of the test structures.

Reported per crystal system: top-1 and top-5 match rates (pymatgen
StructureMatcher, ltol 0.2, stol 0.3, angle_tol 5, against the true
structure), median solve time, failures (no answer) and, with ``--control``,
the wrong-pattern control: each case solved again with the pattern of the
next case of the same system and its own composition; a match there means
the composition, not the pattern, made the answer.

Usage::

    python benchmarks/bench_solve_systems.py \\
        ../shared/data/structures/mp20_dev/test.csv --per-system 5 \\
        [--systems tetragonal,orthorhombic] [--samples 5] [--control] \\
        [--log rows.jsonl]
"""

import argparse
import csv
import json
import statistics
import sys
import time
import warnings

import numpy as np

from diffpy.crystalnet.datasets.lab_profiles import lab_pattern
from diffpy.crystalnet.solver.settings import LatticeSettings

SYSTEMS = LatticeSettings.systems


def pick(path, per_system, systems, seed, max_atoms):
    """The first ``per_system`` structures of each system, seeded order."""
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    csv.field_size_limit(sys.maxsize)
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    order = np.random.default_rng(seed).permutation(len(rows))
    picked = {s: [] for s in systems}
    for i in order:
        if all(len(v) >= per_system for v in picked.values()):
            break
        structure = Structure.from_str(rows[i]["cif"], fmt="cif")
        if len(structure) > max_atoms:
            continue
        system = SpacegroupAnalyzer(structure, 0.1).get_crystal_system()
        if system in picked and len(picked[system]) < per_system:
            picked[system].append((rows[i].get("material_id", i), structure))
    return picked


def solve_case(pattern, truth, formula, settings):
    from diffpy.crystalnet.errors import CrystalNetInputError
    from diffpy.crystalnet.model.metrics import structure_match
    from diffpy.crystalnet.solver.pipeline import solve

    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = solve(pattern, formula, settings)
    except CrystalNetInputError as err:
        return dict(time=time.perf_counter() - t0, error=err.problem[:200])
    seconds = time.perf_counter() - t0
    matches = [structure_match(c.structure, truth)[0] for c in result[:5]]
    best = result[0] if len(result) else None
    return dict(
        time=seconds,
        top1=bool(matches[:1] and matches[0]),
        top5=any(matches),
        rank=next((k + 1 for k, m in enumerate(matches) if m), None),
        rwp=None if best is None else best.rwp,
        spacegroup=None if best is None else best.spacegroup,
        best_from=None if best is None else best.source,
        lattice=result.provenance.get("lattice", {}).get("description"),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv")
    parser.add_argument("--per-system", type=int, default=5)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-atoms", type=int, default=20)
    parser.add_argument("--control", action="store_true")
    parser.add_argument("--log", default=None, help="JSONL of every case")
    args = parser.parse_args(argv)
    from diffpy.crystalnet.solver.settings import SolveSettings

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    settings = SolveSettings.from_options(
        systems=tuple(SYSTEMS), samples=args.samples, seed=args.seed
    )
    picked = pick(
        args.csv, args.per_system, systems, args.seed, args.max_atoms
    )
    log = open(args.log, "a") if args.log else None
    table = []
    for system in systems:
        cases = picked[system]
        patterns = [
            lab_pattern(s, np.random.default_rng([args.seed, k]))
            for k, (_, s) in enumerate(cases)
        ]
        rows, controls = [], []
        for k, (mid, truth) in enumerate(cases):
            formula = truth.composition.reduced_formula
            row = solve_case(patterns[k], truth, formula, settings)
            row.update(system=system, id=str(mid), formula=formula)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if log:
                log.write(json.dumps(row) + "\n")
            if args.control and len(cases) > 1:
                other = patterns[(k + 1) % len(cases)]
                ctl = solve_case(other, truth, formula, settings)
                ctl.update(system=system, id=str(mid), control=True)
                controls.append(ctl)
                if log:
                    log.write(json.dumps(ctl) + "\n")
        table.append((system, rows, controls))
    print()
    print(
        "| system | n | top-1 | top-5 | median time (s) | no answer"
        " | control top-5 |"
    )
    print("|---|---|---|---|---|---|---|")
    for system, rows, controls in table:
        n = len(rows)
        if not n:
            continue
        top1 = sum(bool(r.get("top1")) for r in rows)
        top5 = sum(bool(r.get("top5")) for r in rows)
        failed = sum("error" in r for r in rows)
        median = statistics.median(r["time"] for r in rows)
        ctl = (
            f"{sum(bool(c.get('top5')) for c in controls)}/{len(controls)}"
            if controls
            else "-"
        )
        print(
            f"| {system} | {n} | {top1}/{n} | {top5}/{n} | {median:.1f} "
            f"| {failed} | {ctl} |"
        )


if __name__ == "__main__":
    main()
