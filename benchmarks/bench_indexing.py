"""Success rate and speed of powder indexing on simulated lab patterns.

Structures: the AFLOW prototypes bundled with pymatgen
(``diffpy.crystalnet.datasets.sources.from_prototypes``) of the crystal systems
asked for (``--systems``, default cubic and trigonal), optionally decorated
with other elements (``--decorate``), and optionally the structures of a
CDVAE-format CSV table (``--csv``, e.g. the MP-20 test split), at most
``--limit`` per crystal system.  Each is simulated as a lab profile
(pseudo-Voigt TCH peaks, K-alpha1 + K-alpha2, Chebyshev background, Poisson
noise, a random zero shift of up to +-0.05 deg) at Cu K-alpha over 10-90 deg
and at Mo K-alpha over 5-60 deg, then indexed with ``index_pattern`` (peaks
found by ``find_peaks``).

A result counts as right when the Bravais lattice (cP, cI, cF, hP, hR, tP, tI,
oP, oC, oI, oF, mP, mC) and the standard conventional cell (a, b, c within
``--rtol``, 0.1 % by default, angles within 0.1 deg) match the structure's;
"top-1" is the first solution, "top-5" among the first five.  Patterns refused
with IndexingError count as failures.

Optionally ``--measured PATH:WAVELENGTH ...`` indexes measured files too and
prints the best solution (wavelength as a number or a line name).

Usage::

    python benchmarks/bench_indexing.py --limit 60
    python benchmarks/bench_indexing.py --systems all --limit 20 \
        --csv ../shared/data/structures/mp20_dev/test.csv
    python benchmarks/bench_indexing.py --measured scan.xy:CuKa
"""

import argparse
import statistics
import time

import numpy as np

_FAMILY = {
    "cubic": "c",
    "hexagonal": "h",
    "trigonal": "h",
    "tetragonal": "t",
    "orthorhombic": "o",
    "monoclinic": "m",
    "triclinic": "a",
}
ALL_SYSTEMS = (
    "cubic",
    "trigonal",
    "hexagonal",
    "tetragonal",
    "orthorhombic",
    "monoclinic",
)


def bravais(system, centring):
    """Bravais symbol: cF, hP, hR, oC, ..."""
    return _FAMILY[system] + centring


def truth(structure):
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    sga = SpacegroupAnalyzer(structure, symprec=0.01)
    conv = sga.get_conventional_standard_structure()
    system = sga.get_crystal_system()
    symbol = sga.get_space_group_symbol()
    return bravais(system, symbol[0]), conv.lattice.parameters, symbol, system


def is_right(sol, ref, rtol):
    symbol, params, _, _ = ref
    got = sol.lattice.parameters
    return (
        bravais(sol.system, sol.centring) == symbol
        and all(abs(g / t - 1) <= rtol for g, t in zip(got[:3], params[:3]))
        and all(abs(g - t) <= 0.1 for g, t in zip(got[3:], params[3:]))
    )


def structures(limit, decorate, seed, systems, csv=None):
    """At most ``limit`` structures of each crystal system."""
    from diffpy.crystalnet.datasets.source_files import from_csv
    from diffpy.crystalnet.datasets.sources import from_prototypes, select

    records = list(from_prototypes(systems=systems, max_atoms=20))
    if decorate:
        from diffpy.crystalnet.datasets.decorate import decorate_records

        records = list(decorate_records(records, n_per_parent=1, seed=seed))
    if csv:
        records += list(select(from_csv(csv), systems=systems, max_atoms=40))
    rng = np.random.default_rng(seed)
    rng.shuffle(records)
    out, per = [], {}
    for record in records:
        system = truth(record.structure)[3]
        if per.get(system, 0) < limit:
            per[system] = per.get(system, 0) + 1
            out.append(record)
    return out


def run(args):
    from diffpy.crystalnet import simulate_pattern
    from diffpy.crystalnet.index.indexing import IndexingError, index_pattern

    rng = np.random.default_rng(args.seed)
    setups = {"CuKa 10-90": ("CuKa", (10, 90)), "MoKa 5-60": ("MoKa", (5, 60))}
    if args.cu_only:
        setups.pop("MoKa 5-60")
    results = {k: [] for k in setups}
    systems = (
        ALL_SYSTEMS
        if args.systems == "all"
        else tuple(args.systems.split(","))
    )
    records = structures(
        args.limit, args.decorate, args.seed, systems, args.csv
    )
    print(f"{len(records)} structures ({', '.join(systems)})")
    for record in records:
        ref = truth(record.structure)
        for name, (line, rng_tt) in setups.items():
            prof = dict(
                u=0.004,
                v=-0.002,
                w=0.0015,
                crystallite_size=float(rng.uniform(60, 300)),
                microstrain=3e-4,
                zero_shift=float(rng.uniform(-0.05, 0.05)),
                background=(260, -110, 45, -12),
                noise="poisson",
                seed=int(rng.integers(1 << 30)),
                intensity_max=float(rng.uniform(3e3, 3e4)),
                kalpha2=True,
            )
            pattern = simulate_pattern(
                record.structure, line, rng_tt, profile=prof
            )
            t0 = time.perf_counter()
            try:
                sols = index_pattern(pattern, systems=systems)
                err = None
            except IndexingError as exc:
                sols, err = [], str(exc)
            dt = time.perf_counter() - t0
            top1 = bool(sols) and is_right(sols[0], ref, args.rtol)
            anyw = any(is_right(s, ref, args.rtol) for s in sols[:5])
            results[name].append((top1, anyw, dt, ref, sols, err, record))
            if args.verbose and not top1:
                got = sols[0].describe()[:90] if sols else "refused"
                cell = " ".join(f"{v:.4f}" for v in ref[1])
                print(f"  miss {name} {record.id} {ref[2]} {cell}: {got}")
    print(
        f"\n{'setup':12s} {'system':12s} {'n':>4s} {'top-1':>7s} "
        f"{'top-5':>7s} {'refused':>8s} {'median s':>9s} {'max s':>7s}"
    )
    for name, rows in results.items():
        for fam in ALL_SYSTEMS + ("all",):
            sel = [r for r in rows if fam == "all" or r[3][3] == fam]
            if not sel:
                continue
            n = len(sel)
            top1 = sum(r[0] for r in sel) / n
            anyw = sum(r[1] for r in sel) / n
            refused = sum(1 for r in sel if not r[4]) / n
            times = [r[2] for r in sel]
            print(
                f"{name:12s} {fam:12s} {n:4d} {top1:7.1%} {anyw:7.1%} "
                f"{refused:8.1%} {statistics.median(times):9.2f} "
                f"{max(times):7.2f}"
            )


def measured(items):
    from diffpy.crystalnet import load_pattern
    from diffpy.crystalnet.index.indexing import IndexingError, index_pattern

    for item in items:
        path, _, wl = item.rpartition(":")
        pattern = load_pattern(path, wavelength=wl or None)
        t0 = time.perf_counter()
        try:
            sols = index_pattern(pattern)
            text = sols[0].describe()
        except IndexingError as exc:
            text = f"refused: {exc.problem}"
        print(f"{path} ({time.perf_counter() - t0:.1f} s): {text}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rtol", type=float, default=1e-3)
    parser.add_argument("--decorate", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--measured", nargs="*", default=None)
    parser.add_argument(
        "--systems",
        default="cubic,trigonal",
        help="comma-separated crystal systems, or 'all'",
    )
    parser.add_argument("--csv", default=None, help="CDVAE-format CSV table")
    parser.add_argument(
        "--cu-only", action="store_true", help="skip the Mo K-alpha setup"
    )
    args = parser.parse_args()
    if args.measured:
        measured(args.measured)
        return
    run(args)


if __name__ == "__main__":
    main()
