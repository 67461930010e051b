#!/usr/bin/env python
"""Ablation of the solve steps on measured patterns with known structures.

Runs :func:`diffpy.crystalnet.solver.pipeline` with the shipped (or a given)
model on the measured patterns listed in ``benchmarks/bench_isotypes.py``
(``EXPERIMENTAL``: laboratory Cu K-alpha scans of XRED, a Mo K-alpha CeO2 scan
and the NIST LaB6 standard; each with a reference structure), in four
cumulative stages on the same network densities:

* ``network``: decode the network's samples and fit them;
* ``+improve``: also decode the Fourier-recycled densities;
* ``+isotypes``: also add the isotypic candidates;
* ``+refine``: also Rietveld-refine the best two.

The lattice is indexed (cubic and trigonal, solve's default), or given
where the benchmark list says so (tetragonal patterns, which the indexing
does not cover).  A candidate counts when pymatgen's StructureMatcher
(ltol 0.2, stol 0.3, angle_tol 5) matches it to the reference.

Usage::

    python scripts/solve_ablation_experimental.py EXPERIMENTAL_DIR \\
        [--model PATH] [--samples 5] [--out rows.json]

``EXPERIMENTAL_DIR`` is the folder of the measured data (not part of the
repository).
"""

import argparse
import importlib.util
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="folder of the measured patterns")
    parser.add_argument("--model", default=None, help="checkpoint")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="JSON with every row")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    import torch
    from pymatgen.core import Structure

    from diffpy.crystalnet import load_pattern
    from diffpy.crystalnet.errors import CrystalNetInputError
    from diffpy.crystalnet.model.checkpoint import load_model
    from diffpy.crystalnet.model.metrics import structure_match
    from diffpy.crystalnet.solver.pipeline import solve
    from diffpy.crystalnet.solver.settings import SolveSettings

    torch.set_num_threads(args.threads)
    bench = _module(ROOT / "benchmarks" / "bench_isotypes.py", "bi")
    solve_bench = _module(ROOT / "scripts" / "solve_benchmark.py", "sb")
    stages = ["network", "+improve", "+isotypes", "+refine"]
    references = bench.textbook_references()
    net = load_model(args.model)
    rows = []
    for formula, path, wavelength, cif, give in bench.EXPERIMENTAL:
        pattern = load_pattern(os.path.join(args.root, path), wavelength)
        if cif:
            truth = bench.conventional(
                Structure.from_file(os.path.join(args.root, cif))
            )
        else:
            truth = references[formula]
        kwargs = dict(composition=formula)
        if give:
            kwargs["lattice"] = truth.lattice
        t0 = time.perf_counter()
        grids = solve_bench.network_grids(
            net, pattern, formula, args.samples, 0
        )
        t_net = time.perf_counter() - t0
        for stage in stages:
            row = dict(formula=formula, stage=stage, cell_given=give)
            try:
                t0 = time.perf_counter()
                options = {
                    k: v for k, v in kwargs.items() if k != "composition"
                }
                options.update(solve_bench.STAGES[stage])
                result = solve(
                    pattern,
                    formula,
                    SolveSettings.from_options(**options),
                    densities=grids,
                )
                row["time"] = time.perf_counter() - t0 + t_net
                hits = [
                    k
                    for k, c in enumerate(result[:5])
                    if structure_match(c.structure, truth)[0]
                ]
                row.update(
                    top1=bool(hits and hits[0] == 0),
                    top5=bool(hits),
                    rwp=result[0].rwp if result else None,
                    best=(
                        f"{result[0].formula} {result[0].spacegroup} "
                        f"({result[0].source})"
                        if result
                        else None
                    ),
                )
            except CrystalNetInputError as err:
                row.update(top1=False, top5=False, rwp=None, error=str(err))
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    print("| stage | n | top-1 | top-5 | median Rwp of the best |")
    print("|---|---|---|---|---|")
    for stage in stages:
        mine = [r for r in rows if r["stage"] == stage]
        rwps = [r["rwp"] for r in mine if r.get("rwp") is not None]
        med = f"{100 * np.median(rwps):.1f} %" if rwps else "-"
        print(
            f"| {stage} | {len(mine)} | "
            f"{sum(r['top1'] for r in mine)}/{len(mine)} | "
            f"{sum(r['top5'] for r in mine)}/{len(mine)} | {med} |"
        )
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
