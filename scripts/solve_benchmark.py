#!/usr/bin/env python
"""Benchmark the solve pipeline on a dataset: match rates, Rwp, time, memory.

For each structure of a dataset split (diffpy.crystalnet dataset format, read
with :class:`~diffpy.crystalnet.datasets.torch_dataset.CMEDDataset`) a
realistic Cu K-alpha laboratory profile is simulated (K-alpha1 + K-alpha2,
Caglioti widths, crystallite size, B = 0.5-1.2 A^2, Chebyshev background, zero
shift, Poisson noise; settings drawn per structure from a seeded generator),
and :func:`diffpy.crystalnet.solver.pipeline` is run in these configurations:

* densities: ``oracle`` (the stored true CMED: the decode-only ceiling),
  with ``--blur``/``--noise`` also a degraded oracle (the true CMED plus
  white noise of that fraction of its maximum, then blurred by a Gaussian
  of that many voxels: how good must a density be?), and, with
  ``--model``, ``model`` (``--samples`` latent samples);
* lattice: ``true`` (the conventional cell and centring of the true
  structure) and ``indexed`` (:func:`diffpy.crystalnet.index.indexing
  .index_pattern`; skipped when that module is missing).

With ``--stages network,+improve,+isotypes,+refine`` every configuration
also runs the ablation of the pipeline steps of issue #7 on the same
densities (the network is queried once per crystal): decode and fit only,
then cumulatively Fourier recycling, isotypic candidates and Rietveld
refinement.

Reported per configuration: top-1 and top-5 match rates (pymatgen
StructureMatcher, ltol 0.2, stol 0.3, angle_tol 5, against the true
structure), median Rwp of the top candidate, median and 90th-percentile
wall time of one ``solve`` call, failures, and the peak resident memory
(VmHWM) of the child process that ran the configuration (each one runs in
a fresh process).

Usage::

    diffpy.crystalnet dataset build --source prototypes --n 200 \\
        --out /tmp/solve_ds --grid 50 --test 0.5
    python scripts/solve_benchmark.py /tmp/solve_ds --split test \\
        [--limit 50] [--model RUN/best.pt --samples 5] [--out bench.json] \\
        [--stages network,+improve,+isotypes,+refine]
"""

import argparse
import json
import multiprocessing as mp
import time
import warnings

import numpy as np

from diffpy.crystalnet.datasets.lab_profiles import lab_pattern


def _vmhwm_mib():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def degrade(grid, noise, blur, rng):
    """A worse density: white noise (fraction of the maximum), then a
    Gaussian blur of ``blur`` voxels (which also makes the noise smooth,
    like the errors of a network that outputs a continuous function)."""
    from scipy.ndimage import gaussian_filter

    grid = np.asarray(grid, dtype=float)
    if noise:
        grid = grid + rng.normal(0.0, noise * grid.max(), grid.shape)
    if blur:
        grid = gaussian_filter(grid, blur, mode="wrap")
    return np.clip(grid, 0.0, None)


def crystal_system(structure):
    """Crystal system of the true structure (spglib, 0.1 A)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    return SpacegroupAnalyzer(structure, symprec=0.1).get_crystal_system()


def conventional(structure):
    """Conventional lattice and centring letter of the true structure."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    sga = SpacegroupAnalyzer(structure, symprec=0.1)
    conv = sga.get_conventional_standard_structure()
    letter = sga.get_space_group_symbol()[0]
    return conv.lattice, letter if letter in "PIFR" else "P"


#: solve options of each pipeline stage (cumulative, as in the ablation)
STAGES = {
    "network": dict(improve=False, isotypes=False, refine=False),
    "+improve": dict(improve=True, isotypes=False, refine=False),
    "+isotypes": dict(improve=True, isotypes=True, refine=False),
    "+refine": dict(improve=True, isotypes=True, refine=True),
    "default": dict(),
}


def network_grids(net, pattern, formula, samples, seed):
    """The network's latent samples for one pattern (computed once)."""
    from diffpy.crystalnet.physics.composition import composition_vector

    mi = pattern.to_model_input()
    pred = net.predict_grid(
        mi.intensity,
        composition_vector(formula),
        n=50,
        samples=samples,
        seed=seed,
        mask=mi.mask,
        precision="auto",
    )
    return [np.asarray(g, dtype=float) for g in pred]


def run_config(args, density, lattice_mode, queue):
    """Run one configuration over the dataset in this (child) process.

    Every stage of ``args.stages`` runs on the same densities (the network
    is queried once per crystal), so the stages differ only in the
    pipeline steps.
    """
    warnings.simplefilter("ignore")
    import torch

    from diffpy.crystalnet.datasets.torch_dataset import CMEDDataset
    from diffpy.crystalnet.errors import CrystalNetInputError
    from diffpy.crystalnet.model.metrics import structure_match
    from diffpy.crystalnet.solver.pipeline import solve
    from diffpy.crystalnet.solver.settings import SolveSettings

    torch.set_num_threads(args.threads)
    ds = CMEDDataset(args.data, args.split, points=False)
    count = len(ds) if args.limit is None else min(args.limit, len(ds))
    model = None
    if density == "model":
        from diffpy.crystalnet.model.checkpoint import load_model

        model = load_model(args.model)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    rows = {stage: [] for stage in stages}
    for i in range(count):
        truth = ds.structure(i)
        rng = np.random.default_rng([args.seed, i])
        formula = truth.composition.reduced_formula
        system = crystal_system(truth)
        pattern = lab_pattern(truth, rng)
        kwargs = dict(composition=formula)
        if lattice_mode == "true":
            lat, centring = conventional(truth)
            kwargs.update(lattice=lat, centring=centring)
        t_net = 0.0
        if density in ("oracle", "degraded"):
            grid = ds.entry(i, ("cmed",))["cmed"]
            if density == "degraded":
                grid = degrade(grid, args.noise, args.blur, rng)
            kwargs["densities"] = [grid]
        else:
            t0 = time.perf_counter()
            kwargs["densities"] = network_grids(
                model, pattern, formula, args.samples, args.seed
            )
            t_net = time.perf_counter() - t0
        for stage in stages:
            row = dict(index=i, formula=formula, system=system)
            try:
                t0 = time.perf_counter()
                options = {
                    k: v
                    for k, v in kwargs.items()
                    if k not in ("composition", "densities")
                }
                result = solve(
                    pattern,
                    kwargs["composition"],
                    SolveSettings.from_options(**options, **STAGES[stage]),
                    densities=kwargs["densities"],
                )
                row["time"] = time.perf_counter() - t0 + t_net
                matches = [
                    structure_match(c.structure, truth)[0] for c in result
                ]
                row["top1"] = bool(matches[:1] and matches[0])
                row["top5"] = any(matches[:5])
                row["rwp"] = result[0].rwp if result else None
                row["spacegroup"] = result[0].spacegroup if result else None
                row["best_from"] = result[0].source if result else None
                row["candidates"] = len(result)
            except CrystalNetInputError as err:
                row.update(top1=False, top5=False, rwp=None, error=str(err))
            rows[stage].append(row)
    queue.put(dict(rows=rows, vmhwm_mib=_vmhwm_mib()))


def summarize(name, out):
    rows = out["rows"]
    n = len(rows)
    times = [r["time"] for r in rows if "time" in r]
    rwps = [r["rwp"] for r in rows if r.get("rwp") is not None]
    return dict(
        config=name,
        n=n,
        top1=sum(r["top1"] for r in rows) / max(n, 1),
        top5=sum(r["top5"] for r in rows) / max(n, 1),
        median_rwp=float(np.median(rwps)) if rwps else None,
        median_time_s=float(np.median(times)) if times else None,
        p90_time_s=float(np.percentile(times, 90)) if times else None,
        failures=sum("error" in r for r in rows),
        peak_mib=out["vmhwm_mib"],
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="dataset folder")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--model", default=None, help="checkpoint")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--lattices", default="true,indexed", help="true,indexed"
    )
    parser.add_argument(
        "--noise",
        type=float,
        default=0.0,
        help="with --blur: also run a degraded oracle, Gaussian noise of "
        "this fraction of the density maximum",
    )
    parser.add_argument(
        "--blur", type=float, default=0.0, help="Gaussian blur, voxels"
    )
    parser.add_argument(
        "--stages",
        default="default",
        help="comma-separated pipeline stages run on the same densities: "
        "network (decode and fit only), +improve, +isotypes, +refine "
        "(cumulative), default (solve's defaults); e.g. "
        "network,+improve,+isotypes,+refine for the ablation",
    )
    parser.add_argument("--out", default=None, help="JSON with every row")
    args = parser.parse_args(argv)
    unknown = [
        s.strip()
        for s in args.stages.split(",")
        if s.strip() and s.strip() not in STAGES
    ]
    if unknown:
        parser.error(f"unknown stages {unknown}; choose from {list(STAGES)}")
    configs = []
    lattices = [s.strip() for s in args.lattices.split(",") if s.strip()]
    kinds = ["oracle"]
    if args.noise or args.blur:
        kinds.append("degraded")
    for density in kinds + (["model"] if args.model else []):
        for lattice in lattices:
            if lattice == "indexed":
                try:
                    import diffpy.crystalnet.index.indexing  # noqa: F401
                except ImportError:
                    print("indexing module missing: skipping 'indexed'")
                    continue
            configs.append((density, lattice))
    ctx = mp.get_context("spawn")
    summaries, details = [], {}
    for density, lattice in configs:
        label = density
        if density == "degraded":
            label = f"degraded (blur {args.blur:g} vx, noise {args.noise:g})"
        name = f"{label} density, {lattice} lattice"
        queue = ctx.Queue()
        proc = ctx.Process(
            target=run_config, args=(args, density, lattice, queue)
        )
        t0 = time.perf_counter()
        proc.start()
        out = queue.get()
        proc.join()
        for stage, rows in out["rows"].items():
            full = f"{name}, {stage}"
            summary = summarize(full, dict(out, rows=rows))
            summary["total_s"] = time.perf_counter() - t0
            summaries.append(summary)
            details[full] = rows
            print(json.dumps(summary), flush=True)
    print()
    print(
        "| configuration | n | top-1 | top-5 | median Rwp | median time (s)"
        " | p90 time (s) | failures | peak memory (MiB) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for s in summaries:
        rwp = (
            "-"
            if s["median_rwp"] is None
            else f"{100 * s['median_rwp']:.1f} %"
        )
        mt = "-" if s["median_time_s"] is None else f"{s['median_time_s']:.2f}"
        pt = "-" if s["p90_time_s"] is None else f"{s['p90_time_s']:.2f}"
        print(
            f"| {s['config']} | {s['n']} | {s['top1']:.1%} | {s['top5']:.1%}"
            f" | {rwp} | {mt} | {pt} | {s['failures']} | "
            f"{s['peak_mib']:.0f} |"
        )
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(
                dict(summaries=summaries, rows=details),
                fh,
                indent=1,
                default=str,
            )


if __name__ == "__main__":
    main()
