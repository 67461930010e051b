"""Dataset build throughput, structures per second on one core.

Builds a dataset (``diffpy.crystalnet.datasets.builder.build_dataset``,
one worker, BLAS on one thread) from each ``--source`` in turn into a
temporary folder and prints, per source:

* ``open``: seconds to open the source (one-off: pymatgen's AFLOW
  prototype library and substitution tables are parsed once per process);
* ``build``: CPU and wall seconds of the build proper (decoration or
  random generation, symmetry, CMED cell, pattern, density, deduplication,
  HDF5 shards) and the structures written per CPU second, the figure of
  issue #19 (goal >= 20 per core).

The CPU time of this process is what counts on a shared machine; the wall
time is printed beside it.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_build.py \\
        [--source prototypes --source random] [--n 300] [--grid 50]
"""

import argparse
import tempfile
import time
import warnings


def _measure(spec, args):
    from diffpy.crystalnet.datasets.builder import BuildSettings, build_dataset
    from diffpy.crystalnet.datasets.source_blocks import make_source

    settings = BuildSettings(
        systems=tuple(args.systems.split(",")),
        n=args.n,
        seed=args.seed,
        grid_size=args.grid,
    )
    cpu0, wall0 = time.process_time(), time.perf_counter()
    source = make_source(spec, settings)
    open_cpu = time.process_time() - cpu0
    with tempfile.TemporaryDirectory() as folder:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        stats = build_dataset([source], folder, settings, progress=False)
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
    written = stats["written"]
    print(
        f"{spec:>12}: open {open_cpu:5.1f} s CPU; build {written} structures"
        f" in {cpu:6.1f} s CPU ({wall:6.1f} s wall): "
        f"{written / cpu:5.1f} structures per CPU second "
        f"({written / wall:5.1f} per wall second)",
        flush=True,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", action="append", default=None)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--grid", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--systems", default="cubic,trigonal")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    from diffpy.crystalnet.threads import one_blas_thread

    with one_blas_thread():
        for spec in args.source or ["prototypes", "random"]:
            _measure(spec, args)


if __name__ == "__main__":
    main()
