"""Readers for powder diffraction files, one function per format.

Every reader takes the path and the decoded text of the file and returns a
:class:`RawPattern`: the columns as read plus what the file says about its
axis and wavelength.  :func:`read_pattern_file` picks the reader from the
content first and the extension second, and refuses what is not an X-ray
powder pattern.  :func:`diffpy.crystalnet.io.patterns.load_pattern` turns the
result into a validated :class:`~diffpy.crystalnet.physics.pattern.Pattern`.

Supported formats (see the "Reading powder data" page of the docs):

- columns: ``.xy``, ``.xye``, ``.dat``, ``.txt``, ``.csv`` and any other text
  file with 2 or 3 numeric columns (whitespace, comma or semicolon separated;
  header lines allowed; a third column is the standard uncertainty);
- Fit2D / pyFAI ``.chi`` in 2-theta or Q (axis from the header);
- "start step end" ``.dat``: a first line with three numbers, then the
  intensities (one or more per line);
- GSAS standard powder data (``.gsas``, ``.gsa``, ``.fxye``, ``.xra``,
  ``.raw`` text): BANK records in STD, ESD, ALT, FXY and FXYE layouts,
  constant-wavelength only;
- IUCr powder CIF (pdCIF): the block that holds the profile loop.

Refused with a message: Bruker RAW binaries (export them as .xy), pair
distribution functions (``.gr``), time-of-flight and neutron data, binary
files and files over :data:`MAX_FILE_BYTES`.
"""

import math
import os
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.wavelengths import resolve_wavelength

__all__ = [
    "MAX_FILE_BYTES",
    "RawPattern",
    "read_pattern_file",
    "read_columns",
    "read_chi",
    "read_start_step_end",
    "read_gsas",
    "read_pdcif",
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

_COMMENT_CHARS = "#!%;'\"*"


@dataclass
class RawPattern:
    """What a reader found in a file, before validation.

    Attributes
    ----------
    x, intensity : numpy.ndarray
        The abscissa and the intensities.
    sigma : numpy.ndarray or None
        Standard uncertainties when the file gives them.
    xtype : {"tth", "q"} or None
        The axis when the file says (None: not stated).
    wavelength : float or None
        Wavelength in angstrom when the file says.
    wavelength_origin : str or None
        Where the wavelength was found (for messages and ``inspect``).
    format : str
        Name of the format that was read.
    metadata : dict
        Header values and notes.
    """

    x: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray = None
    xtype: str = None
    wavelength: float = None
    wavelength_origin: str = None
    format: str = "columns"
    metadata: dict = field(default_factory=dict)


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
    if ext in PDF_EXTENSIONS or _looks_like_pdf(text):
        raise CrystalNetInputError(
            "this is a pair distribution function (PDF) or a total "
            "scattering function, not a diffraction pattern; give the "
            "measured I(2theta) or I(Q) pattern instead",
            source,
        )
    lines = text.splitlines()
    if ext == ".cif" or _looks_like_cif(lines):
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


def _floats(line, delimiter=None):
    parts = line.split(delimiter) if delimiter else line.split()
    try:
        return [float(p) for p in parts if p.strip()]
    except ValueError:
        return None


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


# --------------------------------------------------------------------------
# Headers: wavelength and axis


_NUMBER = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_WAVELENGTH_RE = re.compile(
    r"(?:wave[-_ ]?length|lambda|\bwl\b|λ)\s*(?:1|_?1)?\s*"
    r"(?:\([^)]*\))?\s*[:=]?\s*" + _NUMBER + r"\s*(å|a\b|angstrom|nm|m\b)?",
    re.IGNORECASE,
)
_ANODE_RE = re.compile(
    r"\b(?:anode|target|tube)\b[^:=]*[:=]\s*\"?'?\s*([A-Z][a-z]?)\b",
    re.IGNORECASE,
)
_RADIATION_RE = re.compile(
    r"\bradiation\b[^:=]*[:=]\s*\"?'?\s*([A-Za-z]{2}\s*[-_ ]?K[-_ ]?"
    r"(?:alpha|a|α)\s*[12]?)",
    re.IGNORECASE,
)
_FILENAME_WL_RE = re.compile(
    r"(?:^|[_\-\s.])(?:wl|lambda|wavelength)\s*=\s*([0-9]*\.?[0-9]+)",
    re.IGNORECASE,
)


def _wavelength_value(number, unit):
    value = float(number)
    unit = (unit or "").lower()
    if unit == "nm":
        value *= 10.0
    elif unit == "m" or (not unit and value < 1e-6):
        value *= 1e10
    return value


def wavelength_from_header(lines, source=None):
    """Find a wavelength stated in header lines.

    Recognised: ``wavelength = 0.7107``, ``# Wavelength: 1.5406 A``,
    ``lambda 0.1665``, pyFAI's ``# Wavelength: 1.0332e-11 m``, values in
    nm, ``Anode: "Mo"`` / ``target = Cu`` (the K-alpha of that anode) and
    ``radiation = CuKa1``.

    Parameters
    ----------
    lines : list of str
        Header lines (comment characters included or not).
    source : str, optional
        File name for error messages.

    Returns
    -------
    tuple of (float, str) or (None, None)
        The wavelength in angstrom and the header text it came from.

    Raises
    ------
    CrystalNetInputError
        If the header states a wavelength outside the X-ray range.
    """
    for line in lines:
        match = _WAVELENGTH_RE.search(line)
        if match:
            value = _wavelength_value(match.group(1), match.group(2))
            where = f"{source}: header" if source else "header"
            return (
                resolve_wavelength(value, where),
                f"header: {match.group(0).strip()!r}",
            )
    for regex in (_RADIATION_RE, _ANODE_RE):
        for line in lines:
            match = regex.search(line)
            if match:
                try:
                    value = resolve_wavelength(match.group(1))
                except CrystalNetInputError:
                    continue
                return value, f"header: {match.group(0).strip()!r}"
    return None, None


def wavelength_from_filename(path):
    """Return ``(wavelength, origin)`` from ``..._wl=1.5406.txt`` names.

    Parameters
    ----------
    path : str
        The file name.

    Returns
    -------
    tuple of (float, str) or (None, None)
    """
    stem = os.path.splitext(os.path.basename(path))[0]
    match = _FILENAME_WL_RE.search(stem)
    if not match:
        return None, None
    try:
        value = resolve_wavelength(match.group(1), path)
    except CrystalNetInputError:
        return None, None
    return value, f"file name: {match.group(0).strip('_- .')!r}"


_TTH_RE = re.compile(
    r"2[-_ ]?theta|2[-_ ]?th\b|\btth\b|two[-_ ]?theta|2θ|\bangle\b|2th_deg",
    re.IGNORECASE,
)
_Q_RE = re.compile(
    r"(?:^|[\s#,;(_])q(?:\s*[\(\[_/]|\s|$|,)|\bq_?(?:nm|a)\b|chi_q",
    re.IGNORECASE,
)
_RADIAN_RE = re.compile(r"2th_rad|\brad(?:ians?)?\b", re.IGNORECASE)
_NM_RE = re.compile(r"nm\^?-1|1/nm|nm-1|nm⁻¹", re.IGNORECASE)
_OTHER_AXIS_RE = re.compile(
    r"radial distance|\br\s*\((?:mm|Å|a)\)|d[-_ ]?spacing|\bd\s*\((?:Å|a)\)",
    re.IGNORECASE,
)


def axis_from_header(lines):
    """Guess the x axis from column labels in header lines.

    Parameters
    ----------
    lines : list of str
        Header lines; the last ones (nearest the data) are tried first.

    Returns
    -------
    tuple of (str or None, float, str or None)
        ``(xtype, scale, label)``: xtype ``"tth"`` or ``"q"`` (None when the
        header does not say), the factor that brings x to degrees or
        1/angstrom (0.1 for Q in 1/nm, 180/pi for 2-theta in radians), and
        the header text that decided, or ``"other"`` as xtype for an axis
        that is neither (radial distance, d-spacing).
    """
    for line in reversed(lines[-20:]):
        text = line.strip().lstrip(_COMMENT_CHARS).strip()
        if not text:
            continue
        if _OTHER_AXIS_RE.search(text) and not _TTH_RE.search(text):
            return "other", 1.0, text
        if _TTH_RE.search(text):
            scale = 180.0 / math.pi if _RADIAN_RE.search(text) else 1.0
            return "tth", scale, text
        if _Q_RE.search(text):
            scale = 0.1 if _NM_RE.search(text) else 1.0
            return "q", scale, text
    return None, 1.0, None


def _header_pairs(lines):
    pairs = {}
    for line in lines[:200]:
        text = line.strip().lstrip(_COMMENT_CHARS).strip()
        for sep in ("=", ":"):
            if sep in text:
                key, value = text.split(sep, 1)
                key, value = key.strip(), value.strip().strip("\"'")
                if key and value and len(key) < 60:
                    try:
                        pairs[key] = float(value)
                    except ValueError:
                        pairs[key] = value[:200]
                break
    return pairs


# --------------------------------------------------------------------------
# Text columns


def _delimiter(lines):
    sample = [
        s
        for s in (ln.strip() for ln in lines[:400])
        if s and s[0] not in _COMMENT_CHARS
    ][-100:]
    for delimiter in (",", ";"):
        if sample and sum(delimiter in s for s in sample) > 0.5 * len(sample):
            return delimiter
    return None


def _numeric_block(lines, source, delimiter=None):
    """Find the longest run of numeric rows with a constant column count.

    Returns ``(start, stop, array)`` with line indices of the run.  Blank
    lines and comment lines inside a run do not break it.
    """
    runs = []
    current = None
    for index, line in enumerate(lines):
        s = line.strip()
        if not s or s[0] in "#!%":
            continue
        values = _floats(s, delimiter)
        if not values:
            current = None
            continue
        if current is not None and len(values) == current["ncol"]:
            current["rows"].append(values)
            current["stop"] = index + 1
        else:
            current = {
                "ncol": len(values),
                "rows": [values],
                "start": index,
                "stop": index + 1,
            }
            runs.append(current)
    if not runs:
        raise CrystalNetInputError("no numeric data found", source)
    best = max(runs, key=lambda run: (len(run["rows"]), run["ncol"] >= 2))
    return best["start"], best["stop"], np.array(best["rows"], dtype=float)


def read_columns(path, text, format_name="columns"):
    """Read a text file of 2 or 3 numeric columns with optional header.

    Parameters
    ----------
    path : str
        The file (for messages and the file-name wavelength).
    text : str
        The decoded content.
    format_name : str, optional
        Name recorded in the result.

    Returns
    -------
    RawPattern
        x and intensity from the first two columns; the third column, when
        present and not negative, is the standard uncertainty.  The axis and
        wavelength come from the header (column labels, ``wavelength =``
        lines) or, for the wavelength, from a ``wl=`` file name.

    Raises
    ------
    CrystalNetInputError
        For no numeric block, a single column, or an axis that is neither
        2-theta nor Q.
    """
    lines = text.splitlines()
    delimiter = _delimiter(lines)
    start, stop, block = _numeric_block(lines, path, delimiter)
    if block.shape[1] < 2:
        raise CrystalNetInputError(
            f"only one numeric column ({block.shape[0]} rows); need x and "
            "intensity columns (or a 'start step end' first line)",
            path,
        )
    header = lines[:start]
    xtype, scale, label = axis_from_header(header)
    if xtype == "other":
        raise CrystalNetInputError(
            f"the x axis is {label!r}, not 2-theta or Q", path
        )
    wavelength, origin = wavelength_from_header(header, path)
    if wavelength is None:
        wavelength, origin = wavelength_from_filename(path)
    sigma = None
    metadata = {"header": _header_pairs(header), "columns": block.shape[1]}
    if label:
        metadata["axis_label"] = label
    if block.shape[1] >= 3:
        third = block[:, 2]
        if np.all(np.isfinite(third)) and np.all(third >= 0):
            sigma = third
        else:
            metadata["note"] = "third column ignored (not uncertainties)"
    ignored = sum(
        1
        for ln in lines[stop:]
        if ln.strip() and ln.strip()[0] not in _COMMENT_CHARS
    )
    if ignored:
        metadata["ignored_lines_after_data"] = ignored
    return RawPattern(
        x=block[:, 0] * scale,
        intensity=block[:, 1],
        sigma=sigma,
        xtype=xtype,
        wavelength=wavelength,
        wavelength_origin=origin,
        format=format_name,
        metadata=metadata,
    )


def read_chi(path, text):
    """Read a Fit2D or pyFAI ``.chi`` file (2-theta or Q).

    Fit2D writes a title, the axis name (``2-Theta Angle (Degrees)`` or
    ``Q (Angstroms-1)``), ``Intensity``, ``Azimuth`` and the number of
    points before the columns; pyFAI writes ``#`` comment headers whose last
    line labels the columns (``2th_deg``, ``q_nm^-1``, ``q_A^-1``).

    Parameters
    ----------
    path : str
        The file.
    text : str
        Its content.

    Returns
    -------
    RawPattern

    Raises
    ------
    CrystalNetInputError
        When the axis is neither 2-theta nor Q (e.g. radial distance in mm).
    """
    lines = text.splitlines()
    raw = read_columns(path, text, format_name="chi")
    head = lines[:6]
    fit2d_axis = None
    for line in head:
        text_line = line.strip().lower()
        if re.match(r"^2[-_ ]?theta", text_line):
            fit2d_axis = ("tth", 1.0)
        elif re.match(r"^q\b", text_line):
            fit2d_axis = ("q", 0.1 if _NM_RE.search(text_line) else 1.0)
        elif text_line.startswith("radial"):
            raise CrystalNetInputError(
                f"the x axis is {line.strip()!r}, not 2-theta or Q", path
            )
    if fit2d_axis is not None and raw.xtype is None:
        raw.xtype = fit2d_axis[0]
        raw.x = raw.x * fit2d_axis[1]
        raw.metadata["axis_label"] = "Fit2D header"
    return raw


def read_start_step_end(path, text):
    """Read the 'start step end' + intensities layout.

    The first line holds 2-theta start, step and end (degrees); the
    following lines hold the intensities, one or more per line.

    Parameters
    ----------
    path : str
        The file.
    text : str
        Its content.

    Returns
    -------
    RawPattern

    Raises
    ------
    CrystalNetInputError
        When the number of intensities does not match start, step, end.
    """
    lines = [s for s in (ln.strip() for ln in text.splitlines()) if s]
    start, step, end = _floats(lines[0])
    values = []
    for number, line in enumerate(lines[1:], start=2):
        row = _floats(line)
        if row is None:
            raise CrystalNetInputError(
                f"line {number} is not numeric: {line[:40]!r}", path
            )
        values.extend(row)
    y = np.array(values, dtype=float)
    expected = int(round((end - start) / step)) + 1
    if abs(y.size - expected) > 1:
        raise CrystalNetInputError(
            f"first line says {start:g} to {end:g} in steps of {step:g} "
            f"({expected} points) but {y.size} intensities follow",
            path,
        )
    x = start + step * np.arange(y.size)
    wavelength, origin = wavelength_from_filename(path)
    return RawPattern(
        x=x,
        intensity=y,
        xtype="tth",
        wavelength=wavelength,
        wavelength_origin=origin,
        format="start-step-end",
        metadata={"start": start, "step": step, "end": end},
    )


# --------------------------------------------------------------------------
# GSAS


def _fixed_fields(line, width):
    line = line.rstrip("\n\r")
    return [line[i : i + width] for i in range(0, len(line), width)]


def read_gsas(path, text):
    """Read GSAS standard powder data (constant wavelength).

    The first line is a title; a ``BANK`` record gives the number of points,
    the binning (``CONST start step`` in centidegrees) and the layout: STD
    (10 fields of 8 characters, an optional 2-character count then the
    intensity; variance = intensity / count), ESD (5 pairs of intensity and
    uncertainty), ALT (4 records of x in centidegrees x 32, intensity and
    uncertainty), FXY and FXYE (free-format x in centidegrees, intensity,
    uncertainty).  Only the first bank is read.  GSAS files carry no
    wavelength (it lives in the instrument parameter file).

    Parameters
    ----------
    path : str
        The file.
    text : str
        Its content.

    Returns
    -------
    RawPattern

    Raises
    ------
    CrystalNetInputError
        For time-of-flight or energy-dispersive banks, unknown layouts or
        malformed records.
    """
    lines = text.splitlines()
    title = lines[0].strip()
    bank_index = next(i for i, ln in enumerate(lines) if ln.startswith("BANK"))
    bank = lines[bank_index].split()
    if len(bank) < 5:
        raise CrystalNetInputError(
            f"malformed BANK record {lines[bank_index].strip()!r}", path
        )
    try:
        nchan = int(bank[2])
    except ValueError:
        raise CrystalNetInputError(
            f"malformed BANK record {lines[bank_index].strip()!r}", path
        ) from None
    bintyp = bank[4].upper()
    layout = next(
        (
            name
            for name in ("FXYE", "FXY", "ESD", "ALT", "STD")
            if name in (word.upper() for word in bank[5:])
        ),
        "STD",
    )
    if bintyp in ("TIME_MAP", "RALF", "SLOG", "LPTOF") or "EDS" in bintyp:
        raise CrystalNetInputError(
            f"GSAS bank with {bintyp} binning is time-of-flight or energy-"
            "dispersive data, not a constant-wavelength X-ray pattern",
            path,
        )
    body = []
    for line in lines[bank_index + 1 :]:
        if line.startswith("BANK"):
            break
        if line.startswith("#") or not line.strip():
            continue
        body.append(line)
    x = y = sigma = None
    try:
        if layout in ("FXYE", "FXY"):
            rows = np.array([ln.split()[:3] for ln in body], dtype=float)
            x = rows[:, 0] / 100.0
            y = rows[:, 1]
            sigma = rows[:, 2] if layout == "FXYE" else None
        elif layout == "ALT":
            xs, ys, es = [], [], []
            for line in body:
                for i in range(0, len(line.rstrip()), 20):
                    record = line[i : i + 20]
                    if not record[:8].strip():
                        break
                    xs.append(float(record[:8]) / 3200.0)
                    ys.append(float(record[8:15] or 0))
                    es.append(float(record[15:20] or 0))
            x, y, sigma = np.array(xs), np.array(ys), np.array(es)
        else:
            if bintyp != "CONST" or len(bank) < 7:
                raise CrystalNetInputError(
                    f"GSAS {layout} bank needs CONST binning, got "
                    f"{bintyp!r}",
                    path,
                )
            start, step = float(bank[5]) / 100.0, float(bank[6]) / 100.0
            values, errors = [], []
            for line in body:
                if layout == "ESD":
                    fields = _fixed_fields(line, 16)
                    for f in fields:
                        if not f.strip():
                            break
                        values.append(float(f[:8]))
                        errors.append(float(f[8:16] or 0))
                else:
                    for f in _fixed_fields(line, 8):
                        if not f.strip():
                            break
                        count = int(f[:2]) if f[:2].strip() else 1
                        value = float(f[2:8])
                        values.append(value)
                        errors.append(math.sqrt(max(value, 0) / max(count, 1)))
            values = values[:nchan]
            y = np.array(values)
            sigma = np.array(errors[:nchan])
            x = start + step * np.arange(y.size)
    except (ValueError, IndexError):
        raise CrystalNetInputError(
            f"malformed GSAS {layout} data after "
            f"{lines[bank_index].strip()!r}",
            path,
        ) from None
    if y is None or y.size == 0:
        raise CrystalNetInputError("GSAS bank holds no data", path)
    if y.size != nchan:
        raise CrystalNetInputError(
            f"GSAS bank announces {nchan} points but holds {y.size}", path
        )
    wavelength, origin = wavelength_from_header([title], path)
    if wavelength is None:
        wavelength, origin = wavelength_from_filename(path)
    return RawPattern(
        x=x,
        intensity=y,
        sigma=sigma,
        xtype="tth",
        wavelength=wavelength,
        wavelength_origin=origin,
        format=f"GSAS {layout}",
        metadata={"title": title, "bank": lines[bank_index].strip()},
    )


# --------------------------------------------------------------------------
# IUCr powder CIF

#: x tags in order of preference (measured before processed).
CIF_X_TAGS = (
    "_pd_meas_2theta_scan",
    "_pd_meas_2theta_corrected",
    "_pd_proc_2theta_corrected",
    "_pd_proc_2theta_scan",
)
#: intensity tags in order of preference.
CIF_Y_TAGS = (
    "_pd_meas_counts_total",
    "_pd_meas_intensity_total",
    "_pd_proc_intensity_total",
    "_pd_proc_intensity_net",
)
_CIF_TOF_TAGS = (
    "_pd_meas_time_of_flight",
    "_pd_proc_d_spacing",
    "_pd_meas_position",
)


def _cif_number(text):
    """Return (value, su) of a CIF number such as ``123(4)`` or ``1.5e3``."""
    text = str(text).strip()
    if text in ("?", ".", ""):
        return math.nan, math.nan
    match = re.fullmatch(
        r"([-+]?(?:[0-9]*\.?[0-9]+|[0-9]+\.)(?:[eE][-+]?[0-9]+)?)"
        r"(?:\(([0-9]+)\))?",
        text,
    )
    if not match:
        raise ValueError(text)
    number = match.group(1)
    value = float(number)
    if match.group(2) is None:
        return value, math.nan
    mantissa = number.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(number.lower().split("e")[1]) if "e" in number else 0
    return value, int(match.group(2)) * 10.0 ** (exponent - decimals)


def _cif_values(values, tag, source):
    if not isinstance(values, list):
        values = [values]
    try:
        pairs = [_cif_number(v) for v in values]
    except ValueError as error:
        raise CrystalNetInputError(
            f"non-numeric value {str(error)[:20]!r} in {tag}", source
        ) from None
    array = np.array(pairs, dtype=float).reshape(-1, 2)
    return array[:, 0], array[:, 1]


def _cif_first(block, tag):
    value = block.data.get(tag)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or str(value).strip() in ("?", "."):
        return None
    return str(value).strip()


def read_pdcif(path, text):
    """Read the powder profile of an IUCr powder CIF (pdCIF).

    Multi-block Rietveld CIFs hold the profile in one block and the phases
    in others: the first block with a 2-theta loop (or a
    ``_pd_meas_2theta_range_{min,max,inc}`` triple) and an intensity loop
    is read.  x tags, by preference: ``_pd_meas_2theta_scan``,
    ``_pd_meas_2theta_corrected``, ``_pd_proc_2theta_corrected``;
    intensities: ``_pd_meas_counts_total``, ``_pd_meas_intensity_total``,
    ``_pd_proc_intensity_total``, ``_pd_proc_intensity_net``.  Standard
    uncertainties in parentheses (``123(4)``) become sigma.  The wavelength
    is ``_diffrn_radiation_wavelength`` (first value of a loop) or
    ``_pd_proc_wavelength`` of the profile block, else of another block.

    Parameters
    ----------
    path : str
        The file.
    text : str
        Its content.

    Returns
    -------
    RawPattern

    Raises
    ------
    CrystalNetInputError
        For a CIF without a powder profile (a structure-only CIF), neutron
        or time-of-flight data (``_diffrn_radiation_probe``,
        ``_diffrn_radiation_type``), or unreadable CIF syntax.
    """
    from pymatgen.io.cif import CifFile

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cif = CifFile.from_str(text)
    except Exception as error:  # pymatgen raises assorted errors
        raise CrystalNetInputError(
            f"cannot parse the CIF: {str(error)[:100]}", path
        ) from None
    blocks = list(cif.data.items())
    for _, block in blocks:
        for tag in ("_diffrn_radiation_probe", "_diffrn_radiation_type"):
            value = _cif_first(block, tag)
            if value and re.search(r"neutron|electron", value, re.I):
                probe = "neutron" if "neutron" in value.lower() else "electron"
                raise CrystalNetInputError(
                    f"{probe} diffraction data ({tag} {value!r}): CrystalNet "
                    "solves structures from X-ray patterns, whose peak "
                    f"intensities differ from {probe} ones",
                    path,
                )
    chosen = None
    for name, block in blocks:
        if any(isinstance(block.data.get(t), list) for t in _CIF_TOF_TAGS):
            raise CrystalNetInputError(
                f"block data_{name} holds time-of-flight or d-spacing data, "
                "not a constant-wavelength 2-theta pattern",
                path,
            )
        y_tag = next(
            (t for t in CIF_Y_TAGS if isinstance(block.data.get(t), list)),
            None,
        )
        if y_tag is None:
            continue
        x_tag = next(
            (
                t
                for t in CIF_X_TAGS
                if isinstance(block.data.get(t), list)
                and len(block.data[t]) == len(block.data[y_tag])
            ),
            None,
        )
        chosen = (name, block, x_tag, y_tag)
        break
    if chosen is None:
        raise CrystalNetInputError(
            "no powder profile in this CIF (no _pd_meas_ or _pd_proc_ "
            "intensity loop): a structure-only CIF is not a pattern",
            path,
        )
    name, block, x_tag, y_tag = chosen
    y, y_su = _cif_values(block.data[y_tag], y_tag, path)
    if x_tag is not None:
        x, _ = _cif_values(block.data[x_tag], x_tag, path)
    else:
        limits = [
            _cif_first(block, f"_pd_meas_2theta_range_{k}")
            for k in ("min", "max", "inc")
        ]
        if None in limits:
            raise CrystalNetInputError(
                f"block data_{name} has {y_tag} but neither a 2-theta loop "
                "nor _pd_meas_2theta_range_min/max/inc",
                path,
            )
        start, stop, step = (_cif_number(v)[0] for v in limits)
        x = start + step * np.arange(y.size)
        if abs(x[-1] - stop) > 0.5 * abs(step) + 1e-9:
            raise CrystalNetInputError(
                f"_pd_meas_2theta_range {start:g}-{stop:g} step {step:g} "
                f"does not match the {y.size} intensities",
                path,
            )
        x_tag = "_pd_meas_2theta_range_min/max/inc"
    keep = np.isfinite(x) & np.isfinite(y)
    dropped = int(np.count_nonzero(~keep))
    sigma = y_su[keep] if np.all(np.isfinite(y_su[keep])) else None
    wavelength, origin = None, None
    ordered = [block] + [b for _, b in blocks if b is not block]
    for tag in ("_diffrn_radiation_wavelength", "_pd_proc_wavelength"):
        for candidate in ordered:
            value = _cif_first(candidate, tag)
            if value is None:
                continue
            try:
                number = _cif_number(value)[0]
            except ValueError:
                continue
            if math.isfinite(number):
                wavelength = resolve_wavelength(number, f"{path}: {tag}")
                origin = f"CIF {tag}"
                break
        if wavelength is not None:
            break
    metadata = {
        "cif_block": name,
        "x_tag": x_tag,
        "intensity_tag": y_tag,
    }
    if y_tag == "_pd_proc_intensity_net":
        metadata["note"] = "net intensities: background already removed"
    if dropped:
        metadata["dropped_unknown_points"] = dropped
    radiation = _cif_first(block, "_diffrn_radiation_type")
    if radiation:
        metadata["radiation"] = radiation
    return RawPattern(
        x=x[keep],
        intensity=y[keep],
        sigma=sigma,
        xtype="tth",
        wavelength=wavelength,
        wavelength_origin=origin,
        format="pdCIF",
        metadata=metadata,
    )
