"""X-ray wavelengths: named anode lines and conversion of user input.

Values in angstrom are those of pymatgen's ``WAVELENGTHS`` table (and of
diffpy.labpdfproc for the lines both list).  ``Ka`` is the intensity-weighted
mean of Ka1 and Ka2 (2:1).  A bare element symbol (``"Cu"``) means its Ka.

No function here ever falls back to a default wavelength: a pattern in 2-theta
without a wavelength is an error, never a silent Cu K-alpha.
"""

import math
import re

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = [
    "WAVELENGTHS",
    "KALPHA_DOUBLETS",
    "resolve_wavelength",
    "kalpha_doublet",
]

#: Named X-ray emission lines in angstrom: the package's one table of
#: wavelengths.  The values are those of pymatgen's
#: ``pymatgen.analysis.diffraction.xrd.WAVELENGTHS`` (a test checks every
#: entry); Ka is the intensity-weighted mean (2 Ka1 + Ka2) / 3.
WAVELENGTHS = {
    "CuKa": 1.54184,
    "CuKa1": 1.54056,
    "CuKa2": 1.54439,
    "CuKb1": 1.39222,
    "MoKa": 0.71073,
    "MoKa1": 0.70930,
    "MoKa2": 0.71359,
    "MoKb1": 0.63229,
    "CrKa": 2.29100,
    "CrKa1": 2.28970,
    "CrKa2": 2.29361,
    "CrKb1": 2.08487,
    "FeKa": 1.93735,
    "FeKa1": 1.93604,
    "FeKa2": 1.93998,
    "FeKb1": 1.75661,
    "CoKa": 1.79026,
    "CoKa1": 1.78896,
    "CoKa2": 1.79285,
    "CoKb1": 1.63079,
    "AgKa": 0.560885,
    "AgKa1": 0.559421,
    "AgKa2": 0.563813,
    "AgKb1": 0.497082,
}

#: Ka1, Ka2 wavelengths (angstrom) and the Ka2/Ka1 intensity ratio.
KALPHA_DOUBLETS = {
    anode: (WAVELENGTHS[anode + "Ka1"], WAVELENGTHS[anode + "Ka2"], 0.5)
    for anode in ("Cu", "Mo", "Cr", "Fe", "Co", "Ag")
}

_LOOKUP = {name.lower(): name for name in WAVELENGTHS}
_NUMBER = re.compile(
    r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
    r"\s*(a|å|angstrom|angstroms|nm)?\s*$",
    re.IGNORECASE,
)


def _canonical_name(text):
    """Map spellings such as 'Cu K-alpha1', 'cu_ka', 'Mo' to table keys."""
    key = text.strip().lower()
    for old, new in (
        ("α", "a"),
        ("β", "b"),
        ("alpha", "a"),
        ("beta", "b"),
        ("-", ""),
        ("_", ""),
        (" ", ""),
    ):
        key = key.replace(old, new)
    if key in ("cu", "mo", "cr", "fe", "co", "ag"):
        key += "ka"
    if key.endswith("kb"):
        key += "1"
    return _LOOKUP.get(key)


def resolve_wavelength(value, source=None):
    """Return a wavelength in angstrom from a number or a line name.

    Parameters
    ----------
    value : float or str
        A positive number in angstrom, a string holding one (``"1.5406"``,
        ``"0.7107 A"``, ``"0.154 nm"``), or a line name such as ``"CuKa1"``,
        ``"Cu K-alpha"``, ``"MoKa"``, ``"Ag"``.
    source : str, optional
        The file or argument the value came from, used in error messages.

    Returns
    -------
    float
        The wavelength in angstrom.

    Raises
    ------
    CrystalNetInputError
        If the value is neither a known name nor a number in 0.05-5 angstrom.

    Examples
    --------
    >>> resolve_wavelength("CuKa1")
    1.54056
    >>> resolve_wavelength("0.1 nm")
    1.0
    """
    where = source or "wavelength"
    if isinstance(value, bool) or value is None:
        raise CrystalNetInputError(f"invalid wavelength {value!r}", where)
    if isinstance(value, (int, float)):
        wavelength = float(value)
    else:
        text = str(value)
        name = _canonical_name(text)
        if name is not None:
            return WAVELENGTHS[name]
        match = _NUMBER.match(text)
        if match is None:
            known = ", ".join(sorted(WAVELENGTHS))
            raise CrystalNetInputError(
                f"unknown wavelength {text!r}; give a value in angstrom or "
                f"one of {known}",
                where,
            )
        wavelength = float(match.group(1))
        if (match.group(2) or "").lower() == "nm":
            wavelength *= 10.0
    if not math.isfinite(wavelength) or not 0.05 <= wavelength <= 5.0:
        raise CrystalNetInputError(
            f"wavelength {wavelength!r} angstrom is outside the X-ray range "
            "0.05-5 angstrom (is it in nm or keV?)",
            where,
        )
    return wavelength


def kalpha_doublet(wavelength, tolerance=2e-3):
    """Return the K-alpha doublet that a wavelength belongs to, if any.

    Parameters
    ----------
    wavelength : float
        Wavelength in angstrom (Ka, Ka1 or Ka2 of an anode).
    tolerance : float, optional
        Largest difference in angstrom to count as the same line.

    Returns
    -------
    tuple of (float, float, float) or None
        ``(ka1, ka2, ka2_over_ka1)`` or None when the wavelength is not a
        K-alpha line (synchrotron, monochromated beam of another energy).
    """
    for anode, (ka1, ka2, ratio) in KALPHA_DOUBLETS.items():
        mean = WAVELENGTHS[anode + "Ka"]
        if min(abs(wavelength - w) for w in (ka1, ka2, mean)) <= tolerance:
            return ka1, ka2, ratio
    return None
