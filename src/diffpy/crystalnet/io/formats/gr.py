"""Reader of pair distribution function files: G(r) in ``.gr`` columns.

Written by PDFgetX2, PDFgetX3, PDFgetN, PDFgui and diffpy.utils: a header
of any length (``key=value`` settings, comment lines), then columns r, G(r)
and optionally dr and dG(r) (four columns), or r, G, dG (three).  The data
block starts after a ``#### start data`` line where there is one, else it is
the last run of numeric lines.  From the header the reader keeps Qmax,
Qdamp, Qbroad, the radiation, the wavelength and the sample composition
where they are stated.
"""

import os
import re
from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.formats.headers import _floats
from diffpy.crystalnet.io.formats.sniff import _looks_like_pdf, _read_text

__all__ = ["GR_EXTENSIONS", "RawPDF", "is_gr_file", "read_gr"]

#: Extensions of G(r) files.  (.sq, .fq and .iq hold reciprocal-space
#: functions and stay refused.)
GR_EXTENSIONS = (".gr", ".fgr")
_RECIPROCAL = (".sq", ".fq", ".iq")
_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"


@dataclass
class RawPDF:
    """A G(r) file as read: columns and what the header says."""

    r: np.ndarray
    g: np.ndarray
    dg: np.ndarray = None
    metadata: dict = field(default_factory=dict)


def is_gr_file(path):
    """Whether a file holds a G(r) (by extension, else by its header)."""
    source = os.fspath(path)
    ext = os.path.splitext(source)[1].lower()
    if ext in GR_EXTENSIONS:
        return True
    if ext in _RECIPROCAL or not os.path.isfile(source):
        return False
    try:
        with open(source, "rb") as stream:
            head = stream.read(20000).decode("latin-1")
    except OSError:
        return False
    return _looks_like_pdf(head) and not re.search(
        r"^#+\s*L\s+(q|Q)\b", head, re.MULTILINE
    )


def _data_lines(lines):
    """(line number, values) of the data block."""
    start = 0
    for k, line in enumerate(lines):
        if re.match(r"^\s*#+\s*start\s+data", line, re.IGNORECASE):
            start = k + 1
    rows = []
    for k in range(start, len(lines)):
        s = lines[k].strip()
        if not s or s.startswith("#"):
            continue
        values = _floats(s)
        if values is None or not 2 <= len(values) <= 4:
            if start:
                rows.append((k + 1, None))
                continue
            rows = []  # a header line: the data block starts after it
            continue
        rows.append((k + 1, values))
    return rows


def _columns(source, rows):
    if not rows:
        raise CrystalNetInputError("no r, G(r) data columns found", source)
    bad = [k for k, v in rows if v is None]
    if bad:
        raise CrystalNetInputError(
            f"line {bad[0]} of the data block is not 2-4 numbers", source
        )
    widths = {len(v) for _, v in rows}
    if len(widths) > 1:
        k = next(k for k, v in rows if len(v) != len(rows[0][1]))
        raise CrystalNetInputError(
            f"line {k} has a different number of columns from line "
            f"{rows[0][0]}",
            source,
        )
    return np.array([v for _, v in rows], dtype=float)


def _header_value(header, key):
    m = re.search(
        rf"(?<![A-Za-z_]){key}\s*=\s*{_NUMBER}", header, re.IGNORECASE
    )
    return float(m.group(1)) if m else None


def _radiation(header):
    if re.search(r"PDFgetN|neutron|\bstype\s*=\s*N\b", header, re.I):
        return "N"
    if re.search(
        r"PDFgetX|Get_XPDF|x-?ray|synchrotron|\bstype\s*=\s*X\b",
        header,
        re.I,
    ):
        return "X"
    return None


def _composition(header):
    """The sample composition as a formula string, where stated."""
    m = re.search(r"^\s*composition\s*=\s*(\S.*)$", header, re.I | re.M)
    if m:
        return m.group(1).strip()
    # PDFgetX2 "#L symbol valence fractions ..." or PDFgetN "Element
    # relAtomNum ..." tables: element symbol then fraction columns
    table = re.search(
        r"^\s*#?L?\s*(symbol\s+valence\s+fractions|Element\s+relAtomNum)"
        r".*\n((?:\s*[A-Z][a-z]?\s+[-+.\deE\s]+\n)+)",
        header,
        re.M,
    )
    if not table:
        return None
    column = 2 if table.group(1).lower().startswith("symbol") else 1
    parts = []
    for line in table.group(2).splitlines():
        fields = line.split()
        if len(fields) > column:
            parts.append(f"{fields[0]}{float(fields[column]):g}")
    return "".join(parts) or None


def _metadata(header, source):
    meta = {"format": "gr"}
    for key in ("qmax", "qdamp", "qbroad", "qmin", "wavelength"):
        value = _header_value(header, key)
        if value is not None and np.isfinite(value):
            meta[key] = value
    radiation = _radiation(header)
    if radiation:
        meta["radiation"] = radiation
    composition = _composition(header)
    if composition:
        meta["composition"] = composition
    for tool in ("PDFgetX3", "PDFgetX2", "PDFgetN", "PDFgui"):
        if tool.lower() in header.lower() or (
            tool == "PDFgetX2" and "Get_XPDF" in header
        ):
            meta["producer"] = tool
            break
    return meta


def read_gr(path):
    """Read a G(r) file.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    RawPDF
        r (angstrom), G(r) (1/angstrom^2), dG where the file gives nonzero
        uncertainties, and ``metadata`` with what the header states
        (``qmax``, ``qdamp``, ``qbroad``, ``radiation`` "X" or "N",
        ``wavelength``, ``composition``, ``producer``).

    Raises
    ------
    CrystalNetInputError
        For a missing, empty, binary or malformed file, naming it.
    """
    source = os.fspath(path)
    ext = os.path.splitext(source)[1].lower()
    text = _read_text(source, ext, allow_pdf=True)
    lines = text.splitlines()
    rows = _data_lines(lines)
    data = _columns(source, rows)
    header = "\n".join(lines[: rows[0][0] - 1])
    r, g = data[:, 0], data[:, 1]
    dg = None
    if data.shape[1] >= 3:
        dg = data[:, -1]
        if not np.any(dg > 0):
            dg = None
    return RawPDF(r=r, g=g, dg=dg, metadata=_metadata(header, source))
