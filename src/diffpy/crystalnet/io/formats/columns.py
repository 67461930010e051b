"""Text-column readers: 2 or 3 column files (``.xy``, ``.xye``, ``.dat``,
``.txt``, ``.csv`` and other text), Fit2D / pyFAI ``.chi`` files and the
"start step end" ``.dat`` layout.
"""

import re

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.formats.headers import (
    _COMMENT_CHARS,
    _NM_RE,
    RawPattern,
    _floats,
    _header_pairs,
    axis_from_header,
    wavelength_from_filename,
    wavelength_from_header,
)

__all__ = ["read_columns", "read_chi", "read_start_step_end"]


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
    steps = (end - start) / step if step > 0 else np.nan
    if not all(np.isfinite([start, step, end, steps])):
        raise CrystalNetInputError(
            f"first line {lines[0][:40]!r} is not a usable 'start step "
            "end' (finite numbers, step > 0, a finite number of steps)",
            path,
        )
    values = []
    for number, line in enumerate(lines[1:], start=2):
        row = _floats(line)
        if row is None:
            raise CrystalNetInputError(
                f"line {number} is not numeric: {line[:40]!r}", path
            )
        values.extend(row)
    y = np.array(values, dtype=float)
    expected = round(steps) + 1
    if abs(y.size - expected) > 1:
        raise CrystalNetInputError(
            f"first line says {start:g} to {end:g} in steps of {step:g} "
            f"({expected:.10g} points) but {y.size} intensities follow",
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
