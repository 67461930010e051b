"""What every pattern reader shares: the :class:`RawPattern` result and the
parsing of header lines (wavelength, x axis, ``key = value`` pairs).

The readers in :mod:`diffpy.crystalnet.io.formats` return a
:class:`RawPattern`; the functions here find the wavelength in a header or a
file name and the x axis (2-theta or Q, with its unit) in column labels.
"""

import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.wavelengths import resolve_wavelength

__all__ = [
    "RawPattern",
    "wavelength_from_header",
    "wavelength_from_filename",
    "axis_from_header",
]

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


def _floats(line, delimiter=None):
    parts = line.split(delimiter) if delimiter else line.split()
    try:
        return [float(p) for p in parts if p.strip()]
    except ValueError:
        return None


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
            stated = match.group(0).strip()
            try:
                value = _wavelength_value(match.group(1), match.group(2))
                value = resolve_wavelength(value, source)
            except CrystalNetInputError as error:
                raise CrystalNetInputError(
                    f"header {stated!r}: {error.problem}", source
                ) from None
            return value, f"header: {stated!r}"
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
