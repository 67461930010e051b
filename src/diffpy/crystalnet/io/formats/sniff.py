"""Entry point of the pattern readers: :func:`read_pattern_file` checks the
file (exists, size, not binary, not a PDF), sniffs its format from the
content first and the extension second, and dispatches to the reader.
"""

import os
import re

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.formats.columns import (
    read_chi,
    read_columns,
    read_start_step_end,
)
from diffpy.crystalnet.io.formats.gsas import read_gsas
from diffpy.crystalnet.io.formats.headers import _floats
from diffpy.crystalnet.io.formats.pdcif import read_pdcif

__all__ = [
    "MAX_FILE_BYTES",
    "COLUMN_EXTENSIONS",
    "GSAS_EXTENSIONS",
    "PDF_EXTENSIONS",
    "KNOWN_EXTENSIONS",
    "read_pattern_file",
]

#: Files larger than this (bytes) are refused without being read: a powder
#: pattern is a few MB at most, and a 200 MB file is almost surely the wrong
#: file (an image stack, a log).
MAX_FILE_BYTES = 200 * 1024 * 1024

#: Extensions read as text columns.
COLUMN_EXTENSIONS = (".xy", ".xye", ".dat", ".txt", ".csv", ".asc", ".qxy")
GSAS_EXTENSIONS = (".gsas", ".gsa", ".gss", ".gda", ".fxye", ".xra", ".raw")
PDF_EXTENSIONS = (".gr", ".fgr", ".sq", ".fq", ".iq")
KNOWN_EXTENSIONS = (
    COLUMN_EXTENSIONS + GSAS_EXTENSIONS + (".chi", ".cif") + PDF_EXTENSIONS
)


# --------------------------------------------------------------------------
# Entry point: sniffing and dispatch


def read_pattern_file(path):
    """Read a powder pattern file of any supported format.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    RawPattern
        The data as read (not yet validated).

    Raises
    ------
    CrystalNetInputError
        For a missing, empty, oversized, binary, unsupported or malformed
        file, a PDF, neutron or time-of-flight data; the message names the
        file and the problem.
    """
    source = os.fspath(path)
    ext = os.path.splitext(source)[1].lower()
    text = _read_text(source, ext)
    lines = text.splitlines()
    if ext == ".cif" or _looks_like_cif(lines):
        if not re.search(r"^\s*data_", text, re.MULTILINE | re.IGNORECASE):
            raise CrystalNetInputError(
                "named .cif but holds no CIF data block ('data_...'): is "
                "the extension right? (text columns go in .xy or .dat)",
                source,
            )
        return read_pdcif(source, text)
    if _looks_like_gsas(lines):
        return read_gsas(source, text)
    if _looks_like_start_step_end(lines):
        return read_start_step_end(source, text)
    if ext == ".chi":
        return read_chi(source, text)
    if ext in GSAS_EXTENSIONS and ext != ".raw":
        raise CrystalNetInputError(
            "no GSAS BANK record found in this GSAS file", source
        )
    try:
        raw = read_columns(source, text)
    except CrystalNetInputError as error:
        if ext in KNOWN_EXTENSIONS:
            raise
        raise CrystalNetInputError(
            f"unknown format {ext or '(no extension)'!r}: the content is "
            f"not a recognised powder pattern either ({error.problem})",
            source,
        ) from None
    if ext not in KNOWN_EXTENSIONS:
        raw.metadata["note"] = (
            f"unknown extension {ext or '(none)'!r}; read as text columns"
        )
    return raw


def _read_text(source, ext, allow_pdf=False):
    """The decoded text of a pattern file, after the checks that refuse
    missing, empty, oversized, binary and (unless ``allow_pdf``) PDF
    files."""
    if not os.path.exists(source):
        raise CrystalNetInputError("no such file", source)
    if not os.path.isfile(source):
        raise CrystalNetInputError("not a regular file", source)
    size = os.path.getsize(source)
    if size == 0:
        raise CrystalNetInputError("the file is empty", source)
    if size > MAX_FILE_BYTES:
        raise CrystalNetInputError(
            f"the file is {size / 2**20:.0f} MB, over the "
            f"{MAX_FILE_BYTES / 2**20:.0f} MB limit for a powder pattern "
            "(is this the right file?)",
            source,
        )
    try:
        with open(source, "rb") as stream:
            data = stream.read()
    except OSError as error:
        raise CrystalNetInputError(
            f"cannot read: {error.strerror or error}", source
        ) from None
    if data[:3] == b"RAW" and _looks_binary(data):
        raise CrystalNetInputError(
            f"Bruker RAW binary file ({_raw_version(data)}) is not "
            "supported: export the scan as .xy (2-theta, intensity) from "
            "DIFFRAC.EVA or convert it with xylib/PowDLL, and give the "
            "wavelength",
            source,
        )
    if _looks_binary(data):
        raise CrystalNetInputError(
            "binary file, not a text powder pattern (supported: .xy, .xye, "
            ".dat, .txt, .csv, .chi, powder CIF, GSAS)",
            source,
        )
    text = _decode(data)
    if not allow_pdf and (ext in PDF_EXTENSIONS or _looks_like_pdf(text)):
        raise CrystalNetInputError(
            "this is a pair distribution function (PDF) or a total "
            "scattering function, not a diffraction pattern; give the "
            "measured I(2theta) or I(Q) pattern instead",
            source,
        )
    return text


def _looks_binary(data):
    head = data[:65536]
    if b"\x00" in head:
        return True
    control = sum(
        head.count(bytes([c])) for c in range(32) if c not in (9, 10, 12, 13)
    )
    return control > 0.01 * len(head)


def _raw_version(data):
    magic = data[:8].split(b"\x00")[0].decode("ascii", "replace").strip()
    return magic or "unknown version"


def _decode(data):
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _looks_like_pdf(text):
    head = text[:20000]
    return bool(
        re.search(r"PDFgetX|PDFgetN|\bG\(r\)|\[PDF", head)
        or re.search(r"^#+\s*L\s+r\b", head, re.MULTILINE)
    )


def _looks_like_cif(lines):
    for line in lines[:200]:
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        return s.lower().startswith("data_")
    return False


def _looks_like_gsas(lines):
    return any(line.startswith("BANK") for line in lines[1:8])


def _looks_like_start_step_end(lines):
    content = [s for s in (ln.strip() for ln in lines[:50]) if s]
    if len(content) < 4:
        return False
    first = _floats(content[0])
    if first is None or len(first) != 3:
        return False
    start, step, end = first
    if not (step > 0 and end > start):
        return False
    second = _floats(content[1])
    return second is not None and len(second) != 3 and len(second) >= 1
