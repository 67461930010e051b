"""Inputs and results of a batch of solves: files, tables, records.

The pattern files named by files, folders and globs
(:func:`find_patterns`), the composition table
(:func:`read_composition_table`), what became of each pattern
(:class:`BatchRecord`) and the summary table (:func:`format_summary`,
:func:`write_summary`) of :func:`~diffpy.crystalnet.solver.batch.solve_many`.
"""

import csv
import dataclasses
import glob
import io
import os
from dataclasses import dataclass
from pathlib import Path

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.files import write_text
from diffpy.crystalnet.io.formats.sniff import (
    KNOWN_EXTENSIONS,
    PDF_EXTENSIONS,
)
from diffpy.crystalnet.physics.wavelengths import resolve_wavelength
from diffpy.crystalnet.solver.report import text_table

__all__ = [
    "COLUMNS",
    "PATTERN_EXTENSIONS",
    "BatchRecord",
    "find_patterns",
    "format_summary",
    "lookup",
    "one_line",
    "read_composition_table",
    "write_summary",
]

#: extensions of the files taken from a folder (powder patterns)
PATTERN_EXTENSIONS = tuple(
    ext for ext in KNOWN_EXTENSIONS if ext not in PDF_EXTENSIONS
)
#: the columns of the summary table
COLUMNS = (
    "pattern",
    "status",
    "formula",
    "spacegroup",
    "rwp",
    "seconds",
    "warnings",
    "folder",
    "message",
)


@dataclass
class BatchRecord:
    """What became of one pattern of a batch.

    Attributes
    ----------
    pattern : str
        The pattern file, as found.
    folder : str
        Its output folder.
    status : {"solved", "skipped", "failed"}
        ``skipped``: the folder already held a finished solve.
    formula, spacegroup : str
        Of the best candidate (empty without one).
    rwp : float or None
        Of the best candidate.
    seconds : float
        Wall-clock time this run spent on the pattern (0 when skipped).
    warnings : int
        Warnings of the solve (listed in ``candidates.json``).
    message : str
        Why the pattern failed, on one line (or a note).
    traceback : str
        The traceback of an unexpected exception (a bug to report), else
        empty; not in the summary table.
    """

    pattern: str
    folder: str
    status: str = "failed"
    formula: str = ""
    spacegroup: str = ""
    rwp: float = None
    seconds: float = 0.0
    warnings: int = 0
    message: str = ""
    traceback: str = ""

    def row(self):
        """The record as a row of the summary table.

        Returns
        -------
        dict
            :data:`COLUMNS` -> text.
        """
        values = dataclasses.asdict(self)
        values["rwp"] = "" if self.rwp is None else f"{self.rwp:.6f}"
        values["seconds"] = f"{self.seconds:.1f}"
        return {name: str(values[name]) for name in COLUMNS}


def one_line(error):
    """An exception as one line: ``Type: message`` (input errors bare).

    Parameters
    ----------
    error : BaseException

    Returns
    -------
    str
    """
    text = " ".join(str(error).split())
    if isinstance(error, CrystalNetInputError):
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# ---------------------------------------------------------------------------
# Inputs: pattern files and the composition table


def find_patterns(items, exclude=()):
    """The pattern files named by files, folders and glob patterns.

    Parameters
    ----------
    items : iterable of str or os.PathLike
        Files; folders (their files with a pattern extension,
        :data:`PATTERN_EXTENSIONS`, not hidden, not recursive); glob
        patterns (``scans/*.xy``, ``**`` recursive; every file matched).
    exclude : iterable of str or os.PathLike, optional
        Files never taken (e.g. the composition table).

    Returns
    -------
    list of pathlib.Path
        In the order given (a folder's and a glob's files sorted), each
        file once.

    Raises
    ------
    CrystalNetInputError
        For a missing file, or a folder or glob without a pattern file.
    """
    skip = {Path(p).resolve() for p in exclude}
    found, seen = [], set()
    for item in items:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            matches = sorted(
                p
                for p in path.iterdir()
                if p.is_file()
                and not p.name.startswith(".")
                and p.suffix.lower() in PATTERN_EXTENSIONS
            )
            problem = "no pattern file in this folder"
        elif not path.exists() and set("*?[") & set(text):
            matches = sorted(
                Path(p)
                for p in glob.glob(text, recursive=True)
                if Path(p).is_file()
            )
            problem = "matches no file"
        elif path.is_file():
            matches, problem = [path], None
        else:
            raise CrystalNetInputError("no such file", text)
        matches = [p for p in matches if p.resolve() not in skip]
        if not matches and problem:
            raise CrystalNetInputError(problem, text)
        for match in matches:
            if match.resolve() not in seen:
                seen.add(match.resolve())
                found.append(match)
    return found


def read_composition_table(path):
    """Compositions (and wavelengths) per pattern from a CSV table.

    The table has a header row with the columns ``pattern`` (a file name,
    a stem or a path) and ``composition``, and optionally ``wavelength``
    (angstrom or a line name).  An empty composition solves the pattern
    without one; lines starting with ``#`` are comments.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file.

    Returns
    -------
    compositions : dict
        Pattern name -> formula (or None).
    wavelengths : dict
        Pattern name -> wavelength in angstrom, for rows that give one.

    Raises
    ------
    CrystalNetInputError
        For an unreadable file, missing columns, a row without a pattern
        name, a name given twice or a bad wavelength.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise CrystalNetInputError(f"cannot read it ({error})", path) from None
    rows = [
        [cell.strip() for cell in row]
        for row in csv.reader(io.StringIO(text))
        if any(cell.strip() for cell in row)
        and not row[0].lstrip().startswith("#")
    ]
    header = [name.lower() for name in rows[0]] if rows else []
    if not {"pattern", "composition"} <= set(header) or not set(header) <= {
        "pattern",
        "composition",
        "wavelength",
    }:
        raise CrystalNetInputError(
            "needs a header row: pattern,composition (and optionally "
            f"wavelength), not {','.join(header) or 'nothing'}",
            path,
        )
    compositions, wavelengths = {}, {}
    for number, row in enumerate(rows[1:], 2):
        cells = dict(zip(header, row))
        name = cells.get("pattern", "")
        where = f"{path}, row {number}"
        if not name:
            raise CrystalNetInputError("no pattern name", where)
        if name in compositions:
            raise CrystalNetInputError(f"{name} is listed twice", where)
        compositions[name] = cells.get("composition") or None
        if cells.get("wavelength"):
            wavelengths[name] = resolve_wavelength(cells["wavelength"], where)
    return compositions, wavelengths


def lookup(table, path):
    """A pattern's entry in a table keyed by path, file name or stem.

    Parameters
    ----------
    table : Mapping
    path : pathlib.Path

    Returns
    -------
    found : bool
    value : object
        The entry, or None.
    """
    for key in (str(path), path.name, path.stem):
        if key in table:
            return True, table[key]
    return False, None


# ---------------------------------------------------------------------------
# The summary


def format_summary(records):
    """The summary of a batch as a text table, with a count line.

    Parameters
    ----------
    records : sequence of BatchRecord

    Returns
    -------
    str
        One row per pattern, then e.g. ``3 solved, 1 skipped, 1 failed``.
    """
    header = ("pattern", "status", "formula", "space group", "Rwp %", "s")
    rows = [header + ("message",)]
    for r in records:
        rwp = "-" if r.rwp is None else f"{100 * r.rwp:.2f}"
        rows.append(
            (
                Path(r.pattern).name,
                r.status,
                r.formula or "-",
                r.spacegroup or "-",
                rwp,
                f"{r.seconds:.1f}",
                r.message,
            )
        )
    counts = [
        f"{sum(r.status == status for r in records)} {status}"
        for status in ("solved", "skipped", "failed")
    ]
    return text_table(rows, right=(4, 5)) + "\n" + ", ".join(counts)


def write_summary(records, path):
    """Write the summary table as CSV (atomically).

    Parameters
    ----------
    records : sequence of BatchRecord
    path : str or os.PathLike
        The CSV file (replaced).

    Returns
    -------
    pathlib.Path
    """
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow(record.row())
    return write_text(path, stream.getvalue())


# End of file
