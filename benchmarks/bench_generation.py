"""Throughput of the structure generators (one process, one core).

Measures, in CPU seconds of this process (the machine may be shared):

* decoration of the AFLOW prototypes bundled with pymatgen (cubic and
  trigonal, <= 20 atoms in the primitive cell), ``n_per_parent``
  decorations tried per prototype;
* random pyxtal crystals in the trigonal and cubic space groups, for
  ionic and intermetallic compositions.

Usage::

    python benchmarks/bench_generation.py [n_per_parent] [n_pyxtal]
"""

import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def timed(stream):
    t0 = time.process_time()
    w0 = time.perf_counter()
    out = list(stream)
    return out, time.process_time() - t0, time.perf_counter() - w0


def main(n_per_parent=10, n_pyxtal=60):
    from diffpy.crystalnet.datasets.decorate import decorate_records
    from diffpy.crystalnet.datasets.random_crystals import random_records
    from diffpy.crystalnet.datasets.records import SourceStats
    from diffpy.crystalnet.datasets.sources import from_prototypes

    for system in ("cubic", "trigonal"):
        n = sum(1 for _ in from_prototypes(systems=system, max_atoms=20))
        total = sum(1 for _ in from_prototypes(systems=system))
        print(f"AFLOW prototypes {system}: {total}, <= 20 atoms: {n}")
    parents = list(
        from_prototypes(systems=("cubic", "trigonal"), max_atoms=20)
    )
    # warm the caches (substitution table, radii) outside the timing
    list(decorate_records(parents[:2], n_per_parent=1))
    stats = SourceStats()
    out, cpu, wall = timed(
        decorate_records(
            parents, n_per_parent=n_per_parent, seed=0, stats=stats
        )
    )
    print(
        f"decoration: {len(out)} structures from {len(parents)} parents in "
        f"{cpu:.1f} CPU s ({wall:.1f} s wall): {len(out) / cpu:.0f} "
        f"structures per CPU second; skipped {dict(stats.skipped)}"
    )
    for kind in ("ionic", "intermetallic"):
        stats, timings = SourceStats(), []
        out, cpu, wall = timed(
            random_records(
                n_pyxtal, seed=1, kind=kind, stats=stats, timings=timings
            )
        )
        p50, p90, pmax = np.percentile(timings, [50, 90, 100])
        print(
            f"pyxtal {kind}: {len(out)}/{n_pyxtal} attempts gave crystals "
            f"in {cpu:.1f} CPU s ({wall:.1f} s wall): "
            f"{len(out) / cpu:.1f} structures per CPU second; attempt wall "
            f"time median {1000 * p50:.0f} ms, 90% {1000 * p90:.0f} ms, "
            f"max {1000 * pmax:.0f} ms; skipped {dict(stats.skipped)}"
        )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
