#!/usr/bin/env python
"""Benchmark the isotype search: hit rate and time on known structures.

Usage::

    python benchmarks/bench_isotypes.py            # built-in structures
    python benchmarks/bench_isotypes.py --cif-dir DIR --limit 50
    python benchmarks/bench_isotypes.py --no-reference
    python benchmarks/bench_isotypes.py \
        --experimental ../shared/data/experimental [--no-cells]

For each structure a realistic Cu K-alpha lab profile is simulated
(:func:`diffpy.crystalnet.datasets.lab_profiles.random_lab_profile`, as in
``scripts/solve_benchmark.py``: K-alpha doublet, Caglioti widths,
crystallite size, microstrain, zero shift, Chebyshev background and
Poisson noise, seeded), then
:func:`diffpy.crystalnet.isotypes.search.search_isotypes` runs with its own
indexing (the time includes the peak search and indexing) and with the
true lattice given.  A *hit* is a top-1 candidate that pymatgen's
``StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5)`` matches to the
truth; *top-5* counts a match among the returned candidates.

The reference, measured in the same run, skips the screen: every
decorated candidate is fitted (``n_fit`` large, ``screen_margin`` inf)
and the best Rwp wins.  The ratio of times is the screen's saving; the hit
rates show what it costs.

Structures of ``--cif-dir`` (any CIFs: real data are fine here, the
package and tests never read them) are searched in the systems the
library can place on a measured cell (cubic, trigonal, hexagonal, and with
the true lattice also tetragonal and orthorhombic); only those whose
structure type is in the library can be hits, so the script also reports
how many of them have a library prototype at all (a top-5 match with the
true lattice and fit-all).

``--experimental`` searches measured patterns instead (:data:`EXPERIMENTAL`:
XRED, diffpy lab CeO2 and GSAS-II LaB6 files of the shared data folder,
never read by the package or its tests) and matches the best candidate to
the reference structure (the COD CIF beside the data, or the textbook
structure of CeO2 and LaB6).
"""

import argparse
import logging
import os
import time
import warnings

import numpy as np

from diffpy.crystalnet.datasets.lab_profiles import lab_pattern


def known_structures():
    """(formula, structure) of classic types, built with pymatgen."""
    from pymatgen.core import Lattice, Structure

    c, h = Lattice.cubic, Lattice.hexagonal
    fs = Structure.from_spacegroup
    # pymatgen's Fd-3m is origin choice 1
    return [
        ("NaCl", fs("Fm-3m", c(5.64), ["Na", "Cl"], [[0] * 3, [0.5] * 3])),
        ("CsCl", fs("Pm-3m", c(4.12), ["Cs", "Cl"], [[0] * 3, [0.5] * 3])),
        ("ZnS", fs("F-43m", c(5.41), ["Zn", "S"], [[0] * 3, [0.25] * 3])),
        ("CeO2", fs("Fm-3m", c(5.411), ["Ce", "O"], [[0] * 3, [0.25] * 3])),
        (
            "SrTiO3",
            fs(
                "Pm-3m",
                c(3.905),
                ["Sr", "Ti", "O"],
                [[0] * 3, [0.5] * 3, [0.5, 0.5, 0]],
            ),
        ),
        (
            "Cu3Au",
            fs("Pm-3m", c(3.75), ["Au", "Cu"], [[0] * 3, [0, 0.5, 0.5]]),
        ),
        (
            "Fe3Al",
            fs(
                "Fm-3m",
                c(5.79),
                ["Al", "Fe", "Fe"],
                [[0] * 3, [0.5] * 3, [0.25] * 3],
            ),
        ),
        (
            "Cu2MnAl",
            fs(
                "Fm-3m",
                c(5.95),
                ["Cu", "Mn", "Al"],
                [[0.25] * 3, [0] * 3, [0.5] * 3],
            ),
        ),
        (
            "TiNiSn",
            fs(
                "F-43m",
                c(5.93),
                ["Ti", "Sn", "Ni"],
                [[0] * 3, [0.5] * 3, [0.25] * 3],
            ),
        ),
        (
            "MgAl2O4",
            fs(
                "Fd-3m",
                c(8.083),
                ["Mg", "Al", "O"],
                [[0] * 3, [0.625] * 3, [0.387] * 3],
            ),
        ),
        (
            "Y3Al5O12",
            fs(
                "Ia-3d",
                c(12.00),
                ["Y", "Al", "Al", "O"],
                [
                    [0.125, 0, 0.25],
                    [0, 0, 0],
                    [0.375, 0, 0.25],
                    [-0.0306, 0.0512, 0.1500],
                ],
            ),
        ),
        (
            "Al2O3",
            fs(
                "R-3c",
                h(4.759, 12.991),
                ["Al", "O"],
                [[0, 0, 0.3522], [0.3064, 0, 0.25]],
            ),
        ),
        (
            "ZnO",
            fs(
                "P6_3mc",
                h(3.25, 5.207),
                ["Zn", "O"],
                [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]],
            ),
        ),
        (
            "TiS2",
            fs(
                "P-3m1",
                h(3.407, 5.695),
                ["Ti", "S"],
                [[0, 0, 0], [1 / 3, 2 / 3, 0.25]],
            ),
        ),
        (
            "NiAs",
            fs(
                "P6_3/mmc",
                h(3.619, 5.034),
                ["Ni", "As"],
                [[0, 0, 0], [1 / 3, 2 / 3, 0.25]],
            ),
        ),
        (
            "MgB2",
            fs(
                "P6/mmm",
                h(3.086, 3.524),
                ["Mg", "B"],
                [[0, 0, 0], [1 / 3, 2 / 3, 0.5]],
            ),
        ),
        (
            "Bi2Se3",
            fs(
                "R-3m",
                h(4.143, 28.636),
                ["Bi", "Se", "Se"],
                [[0, 0, 0.4008], [0, 0, 0], [0, 0, 0.2117]],
            ),
        ),
        (
            "LaAlO3",
            fs(
                "R-3c",
                h(5.365, 13.11),
                ["La", "Al", "O"],
                [[0, 0, 0.25], [0, 0, 0], [0.5254, 0, 0.25]],
            ),
        ),
    ]


def cif_structures(folder, limit):
    """(formula, structure) of the CIFs in a folder (first ``limit``)."""
    from pymatgen.core import Structure

    out = []
    for root, _, files in os.walk(folder):
        for name in sorted(files):
            if not name.lower().endswith(".cif"):
                continue
            try:
                s = Structure.from_file(os.path.join(root, name))
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"skip {name}: {exc}")
                continue
            if not s.is_ordered:
                continue
            out.append((s.composition.reduced_formula, s))
            if len(out) >= limit:
                return out
    return out


#: measured patterns of ``shared/data/experimental`` (relative paths):
#: (formula, pattern, wavelength, reference CIF or None, give the cell)
EXPERIMENTAL = [
    (
        "Al2O3",
        "xred/monophase/UnderThreeElements/Al2O3/data.csv",
        "CuKa",
        "xred/monophase/UnderThreeElements/Al2O3/1000017.cif",
        False,
    ),
    (
        "CdS",
        "xred/monophase/UnderThreeElements/CdS/data.csv",
        "CuKa",
        "xred/monophase/UnderThreeElements/CdS/1011054.cif",
        False,
    ),
    (
        "Mn2O3",
        "xred/monophase/UnderThreeElements/Mn2O3/data.csv",
        "CuKa",
        "xred/monophase/UnderThreeElements/Mn2O3/Mn2O3.cif",
        False,
    ),
    (
        "MnS",
        "xred/monophase/UnderThreeElements/MnS/data.csv",
        "CuKa",
        "xred/monophase/UnderThreeElements/MnS/1011351.cif",
        False,
    ),
    (
        "PbSe",
        "xred/monophase/UnderThreeElements/PbSe/data.csv",
        "CuKa",
        "xred/monophase/UnderThreeElements/PbSe/1538746.cif",
        False,
    ),
    (
        "ZnS",
        "xred/monophase/UnderThreeElements/ZnS/data.csv",
        "CuKa",
        "xred/monophase/UnderThreeElements/ZnS/1100043.cif",
        False,
    ),
    (
        "Zr",
        "xred/monophase/UnderThreeElements/Zr/data.csv",
        "CuKa",
        "xred/monophase/UnderThreeElements/Zr/1512554.cif",
        False,
    ),
    (
        "RuO2",
        "xred/monophase/UnderThreeElements/RuO2/data.csv",
        "CuKa",
        "xred/monophase/UnderThreeElements/RuO2/1538150.cif",
        True,
    ),
    (
        "Sn",
        "xred/monophase/UnderThreeElements/Sn/data.csv",
        "CuKa",
        "xred/monophase/UnderThreeElements/Sn/7040217.cif",
        True,
    ),
    ("CeO2", "diffpy-lab-MoKa/CeO2_635um_accum_0.xy", 0.71303, None, False),
    (
        "LaB6",
        "gsas2-tutorials/LaB6_SRM660_lab/NIST660CBI.gsas",
        "CuKa",
        None,
        False,
    ),
]


def textbook_references():
    """Reference structures of the patterns of :data:`EXPERIMENTAL` that
    come without a CIF (formula -> pymatgen Structure)."""
    from pymatgen.core import Lattice, Structure

    fs = Structure.from_spacegroup
    return {
        "CeO2": fs(
            "Fm-3m", Lattice.cubic(5.41), ["Ce", "O"], [[0] * 3, [0.25] * 3]
        ),
        "LaB6": fs(
            "Pm-3m",
            Lattice.cubic(4.157),
            ["La", "B"],
            [[0] * 3, [0.1996, 0.5, 0.5]],
        ),
    }


def experimental(root, cells=True):
    """Search the measured patterns of :data:`EXPERIMENTAL` under root.

    With ``cells`` False no pattern gets its reference cell: the search
    indexes (and scans) every one.
    """
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.core import Structure

    from diffpy.crystalnet import load_pattern
    from diffpy.crystalnet.isotypes.search import search_isotypes

    references = textbook_references()
    matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5)
    hits = 0
    times = []
    for formula, path, wavelength, cif, give in EXPERIMENTAL:
        give = give and cells
        pattern = load_pattern(os.path.join(root, path), wavelength)
        if cif:
            truth = conventional(Structure.from_file(os.path.join(root, cif)))
        else:
            truth = references[formula]
        t0 = time.perf_counter()
        found = search_isotypes(
            pattern, formula, lattices=[truth.lattice] if give else None
        )
        dt = time.perf_counter() - t0
        times.append(dt)
        where = [
            i for i, c in enumerate(found) if matcher.fit(c.structure, truth)
        ]
        hits += bool(where and where[0] == 0)
        best = found[0].summary() if found else "nothing found"
        print(
            f"{formula:6s} {'cell given' if give else 'indexed':10s} "
            f"{dt:5.2f} s  match at {where}  {best}"
        )
    print(
        f"top-1 {hits}/{len(EXPERIMENTAL)} measured patterns; time median "
        f"{np.median(times):.2f} s, max {np.max(times):.2f} s, total "
        f"{np.sum(times):.1f} s"
    )


def conventional(structure):
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    return SpacegroupAnalyzer(structure).get_conventional_standard_structure()


def run(cases, reference, seed):
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from diffpy.crystalnet.isotypes.search import search_isotypes

    matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5)
    rng = np.random.default_rng(seed)
    modes = [("indexed", {}), ("given cell", {"given": True})]
    if reference:
        modes.append(
            (
                "given, fit all",
                {"given": True, "n_fit": 10**6, "screen_margin": np.inf},
            )
        )
    totals = {m: dict(hit=0, top5=0, time=[]) for m, _ in modes}
    print(
        f"{'formula':12s} {'atoms':>5s} "
        + " ".join(f"{m:>24s}" for m, _ in modes)
    )
    for formula, structure in cases:
        structure = conventional(structure)
        pattern = lab_pattern(structure, rng)
        cells = []
        for mode, options in modes:
            options = dict(options)
            lattices = [structure.lattice] if options.pop("given", 0) else None
            t0 = time.perf_counter()
            found = search_isotypes(
                pattern, formula, lattices=lattices, **options
            )
            dt = time.perf_counter() - t0
            hit = bool(found) and matcher.fit(found[0].structure, structure)
            top5 = any(matcher.fit(c.structure, structure) for c in found)
            totals[mode]["hit"] += hit
            totals[mode]["top5"] += top5
            totals[mode]["time"].append(dt)
            label = found[0].prototype[:12] if found else "-"
            mark = "hit" if hit else ("top5" if top5 else "miss")
            cells.append(f"{label:>12s} {mark:>4s} {dt:5.2f}s")
        print(f"{formula:12s} {len(structure):5d} " + " ".join(cells))
    n = len(cases)
    print()
    for mode, _ in modes:
        t = np.array(totals[mode]["time"])
        print(
            f"{mode:16s}: top-1 {totals[mode]['hit']}/{n}, top-5 "
            f"{totals[mode]['top5']}/{n}; time median {np.median(t):.2f} s, "
            f"max {t.max():.2f} s, total {t.sum():.1f} s"
        )
    if reference:
        ratio = np.sum(totals["given, fit all"]["time"]) / np.sum(
            totals["given cell"]["time"]
        )
        print(f"screen speed-up over fitting every candidate: {ratio:.1f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cif-dir", help="also search these CIFs")
    parser.add_argument(
        "--experimental",
        help="the shared experimental data folder: search its measured "
        "patterns instead",
    )
    parser.add_argument(
        "--no-cells",
        action="store_true",
        help="with --experimental: give no pattern its reference cell",
    )
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-reference",
        action="store_true",
        help="skip the fit-every-candidate reference",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="BLAS threads (default 1)"
    )
    args = parser.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    except ImportError:
        pass
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.ERROR)
    if args.experimental:
        experimental(args.experimental, cells=not args.no_cells)
        return 0
    cases = known_structures()
    if args.cif_dir:
        cases = cif_structures(args.cif_dir, args.limit)
    run(cases, not args.no_reference, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
