"""Index the measured powder patterns whose structure is known (issue #14).

Every measured pattern under ``--data`` (default
``../shared/data/experimental`` from the repository root; see
``../shared/data/README.md`` and each folder's ``SOURCE.txt``) whose
reference structure or cell is known is indexed with
:func:`~diffpy.crystalnet.index.indexing.index_pattern` (all seven crystal
systems, default settings, at most ten solutions, peaks found by
``find_peaks`` with its defaults) and compared with the reference.

Patterns, wavelengths and references
------------------------------------
* ``gsas2-tutorials``: PbSO4 (``PBSO4.XRA``, CIF beside it) and
  fluorapatite (``FAP.XRA``) at the K-alpha1 wavelength of the
  ``INST_XRY.PRM`` beside them (``ICONS``; the GSAS files hold none), LaB6
  SRM 660 (``NIST660CBI.gsas`` and the Bruker ``LaB6_Jan2018.raw``) and
  kaolinite (Bruker ``KGA1-CONT.RAW``, CIF beside it) at Cu K-alpha.
* ``mattergen-TaCr2O6``: the ``.dat`` at the ``Lambda1`` of the FullProf
  ``.pcr`` beside it, whose phase 1 (cell line and space-group line) is
  the reference.
* ``diffpy-lab-MoKa``: CeO2 at Mo 0.71303 A (``.xy``) and in Q
  (``.chi``); ZrO2 (no reference) and the z-scan are left out.
* ``xred/monophase``: every pattern (``data.csv``, ``intensity.csv``) with
  a CIF beside it, at Cu K-alpha (the files do not say; SOURCE.txt).
* ``iucr-pdcif-pydatarecognition``: every Rietveld pdCIF of
  ``measured/`` at its own wavelength against the first phase of the same
  file (the refined structure, or ``_cell_length_*`` and the space group
  where pymatgen builds no structure).  Neutron files, which
  ``load_pattern`` refuses, are read from a copy whose radiation tags are
  renamed: indexing uses peak positions only.
  ``user_powder_data/01_Mg-free-whitlockite`` is indexed against the
  beta-TCP CIF (bm5088), whose profile it is.

Cells known only from the data README are in :data:`README_CELLS`.  PDFs
(``.gr``) and mixtures (``biphase``, ``triphase``, ``multi-phases``) are
left out, and so are the resampled ``xred`` copies
(``RRUFF90/Experiment10``) and the RRUFF patterns, which have no CIF.

Matching
--------
The true cell is the standard conventional cell of the reference
(``truth`` of ``bench_indexing.py``: spglib through pymatgen, symprec
0.01), with its Bravais symbol (cF, hP, hR, tP, oP, mC, aP, ...).
``rank`` is the 1-based rank of the first solution with the same Bravais
symbol and conventional cell, lengths within ``--rtol`` (0.3 %) and angles
within ``--atol`` (0.3 deg): measured cells vary with temperature and
refinement.  ``lat`` is the rank of the first solution with the same
lattice whatever its label: Niggli-reduced primitive cells equal within
``--lattice-rtol`` (1 %) and ``--lattice-atol`` (1 deg).  ``-``: none of
the (at most ten) solutions.  ``lambda`` is the wavelength of the pattern
(``Q``: a pattern in Q), followed by ``>`` and the K-alpha1 line where
``find_peaks`` fitted K-alpha doublets and gives K-alpha1 positions;
``peaks`` is the number of peaks found (the first 20 are indexed), ``s``
the seconds of peak search and indexing.

The table goes to standard output, and with ``--csv OUT`` the same rows
to a CSV file; the last line sums up.

Usage::

    python benchmarks/index_measured.py
    python benchmarks/index_measured.py --match xred --csv xred.csv
    python benchmarks/index_measured.py --data /path/to/experimental
"""

import argparse
import csv
import os
import re
import tempfile
import time
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bench_indexing import bravais, is_right, same_lattice, truth

from diffpy.crystalnet.errors import CrystalNetInputError

REPO = Path(__file__).resolve().parents[1]

#: Cells known only from ../shared/data/README.md and the SOURCE.txt of the
#: folders: space group and a, b, c, alpha, beta, gamma.  LaB6: README "a
#: about 4.157 A", SOURCE.txt "a~4.1569 A"; CeO2: README "a about 5.41 A",
#: SOURCE.txt "a~5.411 A"; fluorapatite (SOURCE.txt: P6_3/m, no CIF): a
#: about 9.37, c about 6.88 A (issue #14).
README_CELLS = {
    "LaB6": ("Pm-3m", (4.1569, 4.1569, 4.1569, 90, 90, 90)),
    "CeO2": ("Fm-3m", (5.411, 5.411, 5.411, 90, 90, 90)),
    "fluorapatite": ("P6_3/m", (9.37, 9.37, 6.88, 90, 90, 120)),
}
#: CIF tags whose value load_pattern refuses for neutron data
_RADIATION_TAGS = re.compile(r"_diffrn_radiation_(probe|type)\b")

COLUMNS = (
    "file",
    "radiation",
    "wavelength",
    "true",
    "found",
    "m20",
    "rank",
    "lattice_rank",
    "peaks",
    "seconds",
    "status",
)


@dataclass
class Case:
    """A pattern, how to load it and its reference cell."""

    path: Path
    label: str
    radiation: str
    wavelength: object  # load_pattern's, or a callable returning it
    reference: object  # callable returning the truth() tuple


@dataclass
class Row:
    """A line of the table."""

    case: Case
    wavelength: str = ""
    true: tuple = None
    found: object = None
    rank: int = None
    lattice_rank: int = None
    peaks: int = None
    seconds: float = None
    status: str = ""
    radiation: str = ""


# --------------------------------------------------------------------------
# reference cells


def cell_reference(symbol, params):
    """truth() of a cell and a Hermann-Mauguin symbol ('P 2~1~ 2~1~ 2',
    'P 42/M N M', 'Pm-3m'): a dummy atom on a general position."""
    from pymatgen.core import Lattice, Structure

    symbol = re.sub(r"~(\d)~", r"\1", symbol.strip("'\" "))
    symbol = symbol[0].upper() + symbol[1:].lower()
    dummy = Structure.from_spacegroup(
        symbol,
        Lattice.from_parameters(*params),
        ["C"],
        [[0.1234, 0.2345, 0.3456]],
    )
    return truth(dummy)


def _cif_float(text):
    """A CIF number without its standard uncertainty: 11.566(2)."""
    return float(re.sub(r"\(\d+\)$", "", str(text).strip()))


def cif_cell_reference(path):
    """truth() of the first block with ``_cell_length_a`` and a space
    group, for CIFs in which pymatgen builds no structure."""
    from pymatgen.io.cif import CifFile

    names = ("length_a", "length_b", "length_c")
    names += ("angle_alpha", "angle_beta", "angle_gamma")
    for block in CifFile.from_file(path).data.values():
        data = block.data
        symbol = data.get("_symmetry_space_group_name_H-M") or data.get(
            "_space_group_name_H-M_alt"
        )
        if "_cell_length_a" in data and symbol:
            params = [_cif_float(data[f"_cell_{n}"]) for n in names]
            return cell_reference(symbol, params)
    raise ValueError("no block with a cell and a space group")


def cif_reference(path):
    """truth() of the first structure of a CIF (cell tags if none)."""
    from pymatgen.io.cif import CifParser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            structures = CifParser(path).parse_structures(primitive=False)
        except ValueError:
            return cif_cell_reference(path)
    return truth(structures[0])


def readme_reference(name):
    """truth() of a cell of :data:`README_CELLS`."""
    return cell_reference(*README_CELLS[name])


def _after_comment(lines, first_word):
    """Numbers of the line after the FullProf comment line ('! a b c')
    whose words start with ``first_word``."""
    for i, text in enumerate(lines[:-1]):
        words = text.lstrip("!").split()
        if text.startswith("!") and words[:1] == [first_word]:
            return [float(v) for v in lines[i + 1].split()]
    raise ValueError(f"no '! {first_word} ...' line")


def pcr_reference(path):
    """truth() of phase 1 of a FullProf .pcr: the line after the
    '!  a  b  c  alpha  beta  gamma' comment and the space-group line."""
    lines = Path(path).read_text(errors="replace").splitlines()
    marker = "<--Space group symbol"
    symbol = next((s for s in lines if marker in s), None)
    if symbol is None:
        raise ValueError(f"no '{marker}' line")
    params = _after_comment(lines, "a")[:6]
    return cell_reference(symbol.split("<--")[0], params)


def pcr_wavelength(path):
    """Lambda1 of a FullProf .pcr (angstrom)."""
    lines = Path(path).read_text(errors="replace").splitlines()
    return _after_comment(lines, "Lambda1")[0]


def prm_wavelength(path):
    """First (K-alpha1) wavelength of the ICONS line of a GSAS .PRM."""
    for line in Path(path).read_text(errors="replace").splitlines():
        words = line.split()
        if "ICONS" in words:
            return float(words[words.index("ICONS") + 1])
    raise ValueError(f"{path}: no ICONS line")


# --------------------------------------------------------------------------
# the patterns


def gsas2_cases(root):
    """PbSO4, fluorapatite, LaB6 and kaolinite (GSAS-II tutorials)."""
    d = root / "gsas2-tutorials"
    pbso4, fap = d / "PbSO4_CuKa", d / "FAP_fluorapatite_lab"
    lab6, kaol = d / "LaB6_SRM660_lab", d / "kaolinite_lab"
    lab = "X-ray lab"
    return [
        Case(
            pbso4 / "PBSO4.XRA",
            "gsas2/PBSO4.XRA",
            lab,
            partial(prm_wavelength, pbso4 / "INST_XRY.PRM"),
            partial(cif_reference, pbso4 / "PbSO4-Wyckoff.cif"),
        ),
        Case(
            fap / "FAP.XRA",
            "gsas2/FAP.XRA",
            lab,
            partial(prm_wavelength, fap / "INST_XRY.PRM"),
            partial(readme_reference, "fluorapatite"),
        ),
        Case(
            lab6 / "NIST660CBI.gsas",
            "gsas2/NIST660CBI.gsas",
            lab,
            "CuKa",
            partial(readme_reference, "LaB6"),
        ),
        Case(
            lab6 / "LaB6_Jan2018.raw",
            "gsas2/LaB6_Jan2018.raw",
            lab,
            "CuKa",
            partial(readme_reference, "LaB6"),
        ),
        Case(
            kaol / "KGA1-CONT.RAW",
            "gsas2/KGA1-CONT.RAW",
            lab,
            "CuKa",
            partial(cif_reference, kaol / "kaolinite.cif"),
        ),
    ]


def other_lab_cases(root):
    """TaCr2O6 (mattergen) and CeO2 (diffpy lab, Mo, and in Q)."""
    tacr = root / "mattergen-TaCr2O6"
    pcr = tacr / "Rietveld_refinment_TaCr2O6.pcr"
    ceo2 = root / "diffpy-lab-MoKa"
    return [
        Case(
            tacr / "xrd_measurement_TaCr2O6.dat",
            "mattergen/xrd_measurement_TaCr2O6.dat",
            "X-ray lab",
            partial(pcr_wavelength, pcr),
            partial(pcr_reference, pcr),
        ),
        Case(
            ceo2 / "CeO2_635um_accum_0.xy",
            "diffpy-MoKa/CeO2_635um_accum_0.xy",
            "X-ray lab",
            0.71303,
            partial(readme_reference, "CeO2"),
        ),
        Case(
            ceo2 / "CeO2_mean_q.chi",
            "diffpy-MoKa/CeO2_mean_q.chi",
            "X-ray sync.",
            None,
            partial(readme_reference, "CeO2"),
        ),
    ]


def xred_cases(root):
    """Every xred monophase pattern with a CIF beside it."""
    cases = []
    for folder in sorted((root / "xred" / "monophase").glob("*/*")):
        cifs = sorted(folder.glob("*.cif"))
        data = [folder / n for n in ("data.csv", "intensity.csv")]
        data = [p for p in data if p.is_file()]
        if cifs and data:
            cases.append(
                Case(
                    data[0],
                    f"xred/{folder.name}/{data[0].name}",
                    "X-ray lab",
                    "CuKa",
                    partial(cif_reference, cifs[0]),
                )
            )
    return cases


def pdcif_cases(root):
    """The IUCr Rietveld pdCIFs and the whitlockite user pattern."""
    d = root / "iucr-pdcif-pydatarecognition"
    cases = [
        Case(
            p,
            "iucr/" + p.name.replace(".rtv.combined.cif", ""),
            "",
            None,
            partial(cif_reference, p),
        )
        for p in sorted((d / "measured").glob("*.cif"))
    ]
    tcp = d / "measured" / "bm5088150212-01-betaTCPsup2.rtv.combined.cif"
    user = d / "user_powder_data" / "01_Mg-free-whitlockite_wl=1.540598.txt"
    label = "iucr/user/01_Mg-free-whitlockite"
    cases.append(Case(user, label, "X-ray", None, partial(cif_reference, tcp)))
    return cases


def all_cases(root):
    """Every pattern with a reference, in the order of the table."""
    return (
        gsas2_cases(root)
        + other_lab_cases(root)
        + xred_cases(root)
        + pdcif_cases(root)
    )


# --------------------------------------------------------------------------
# loading and indexing


def load(case):
    """(pattern, radiation) of a case; neutron pdCIFs through a copy with
    the radiation tags renamed (load_pattern refuses neutron data)."""
    from diffpy.crystalnet import load_pattern

    wavelength = case.wavelength
    if callable(wavelength):
        wavelength = wavelength()
    try:
        pattern = load_pattern(case.path, wavelength=wavelength)
    except CrystalNetInputError as error:
        if "neutron diffraction data" not in str(error):
            raise
        text = _RADIATION_TAGS.sub(
            r"_masked_radiation_\1", case.path.read_text()
        )
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / case.path.name
            copy.write_text(text)
            pattern = load_pattern(copy, wavelength=wavelength)
        return pattern, "neutron"
    return pattern, case.radiation or "X-ray"


def run_case(case, args):
    """Load, find the peaks, index and compare: the case's :class:`Row`."""
    from diffpy.crystalnet.index.indexing import (
        SYSTEMS,
        IndexingError,
        index_pattern,
    )
    from diffpy.crystalnet.index.peak_search import find_peaks

    row = Row(case, radiation=case.radiation)
    try:
        row.true = case.reference()
    except (ValueError, KeyError, OSError) as error:
        row.status = f"no reference: {str(error)[:100]}"
        return row
    try:
        pattern, row.radiation = load(case)
    except (ValueError, OSError) as error:  # CrystalNetInputError included
        row.status = f"unreadable: {getattr(error, 'problem', error)}"
        return row
    wl = pattern.wavelength
    row.wavelength = "Q" if wl is None else f"{wl:.5f}"
    started = time.perf_counter()
    try:
        peaks = find_peaks(pattern)
        row.peaks = len(peaks)
        if wl is not None and peaks.wavelength != wl:
            row.wavelength += f">{peaks.wavelength:.5f}"
        sols = index_pattern(peaks, systems=SYSTEMS, max_solutions=10)
    except IndexingError as error:
        row.status = f"refused: {error.problem[:100]}"
        sols = []
    except CrystalNetInputError as error:
        row.status = f"error: {error.problem[:100]}"
        sols = []
    row.seconds = time.perf_counter() - started
    if sols:
        row.found = sols[0]
        row.status = "indexed"
        row.rank = _first(sols, is_right, row.true, args.rtol, args.atol)
        row.lattice_rank = _first(
            sols, same_lattice, row.true, args.lattice_rtol, args.lattice_atol
        )
    return row


def _first(sols, match, ref, rtol, atol):
    """1-based rank of the first solution that matches, or None."""
    hits = (i for i, s in enumerate(sols, 1) if match(s, ref, rtol, atol))
    return next(hits, None)


# --------------------------------------------------------------------------
# the table


def _cell(symbol, params):
    a, b, c, al, be, ga = params
    return f"{symbol} {a:.4f} {b:.4f} {c:.4f} {al:.2f} {be:.2f} {ga:.2f}"


def values(row):
    """The row's columns as text."""
    found = row.found
    return {
        "file": row.case.label,
        "radiation": row.radiation,
        "wavelength": row.wavelength,
        "true": _cell(row.true[0], row.true[1]) if row.true else "",
        "found": (
            _cell(
                bravais(found.system, found.centring), found.lattice.parameters
            )
            if found
            else ""
        ),
        "m20": f"{found.m20:.1f}" if found else "",
        "rank": row.rank or ("-" if found else ""),
        "lattice_rank": row.lattice_rank or ("-" if found else ""),
        "peaks": "" if row.peaks is None else row.peaks,
        "seconds": "" if row.seconds is None else f"{row.seconds:.1f}",
        "status": row.status,
    }


#: title, width and alignment of each column of the printed table
LAYOUT = (
    ("file", 40, "<"),
    ("radiation", 11, "<"),
    ("lambda", 17, "<"),
    ("true cell", 48, "<"),
    ("found (best)", 48, "<"),
    ("M20", 7, ">"),
    ("rank", 4, ">"),
    ("lat", 4, ">"),
    ("peaks", 5, ">"),
    ("s", 6, ">"),
    ("status", 0, "<"),
)


def line(cells):
    """A line of the printed table."""
    out = (f"{str(t):{a}{w}}" for t, (_, w, a) in zip(cells, LAYOUT))
    return " ".join(out).rstrip()


def summary(rows):
    """The last line: counts of right, refused and unreadable patterns."""
    scored = [r for r in rows if r.true is not None]
    n = len(scored)
    top1 = sum(r.rank == 1 for r in scored)
    top5 = sum(r.rank is not None and r.rank <= 5 for r in scored)
    lat5 = sum(
        r.lattice_rank is not None and r.lattice_rank <= 5 for r in scored
    )
    refused = sum(r.status.startswith("refused") for r in scored)
    unreadable = sum(r.status.startswith("unreadable") for r in scored)
    errors = sum(r.status.startswith("error") for r in scored)
    return (
        f"{n} patterns with a reference: {top1} right at rank 1, {top5} "
        f"in the top 5 ({lat5} with the same lattice in the top 5), "
        f"{refused} refused, {unreadable} unreadable, {errors} without "
        f"peaks; {len(rows) - n} without a reference cell"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=REPO.parent / "shared" / "data" / "experimental",
        help="folder of the measured patterns "
        "(default ../shared/data/experimental from the repository root)",
    )
    parser.add_argument("--rtol", type=float, default=3e-3)
    parser.add_argument("--atol", type=float, default=0.3)
    parser.add_argument("--lattice-rtol", type=float, default=1e-2)
    parser.add_argument("--lattice-atol", type=float, default=1.0)
    parser.add_argument("--csv", default=None, help="also write the rows")
    parser.add_argument(
        "--match", default=None, help="only files whose label matches"
    )
    args = parser.parse_args()
    cases = all_cases(args.data)
    if args.match:
        cases = [c for c in cases if re.search(args.match, c.label)]
    print(line(title for title, _, _ in LAYOUT), flush=True)
    rows = []
    for case in cases:
        row = run_case(case, args)
        rows.append(row)
        print(line(values(row).values()), flush=True)
    print(summary(rows))
    if args.csv:
        with open(args.csv, "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=("path",) + COLUMNS)
            writer.writeheader()
            for row in rows:
                path = os.path.relpath(row.case.path, args.data)
                writer.writerow({"path": path, **values(row)})


if __name__ == "__main__":
    main()
