"""Reader of IUCr powder CIF (pdCIF) files: the block that holds the
powder profile loop, with standard uncertainties and the wavelength.
"""

import math
import re
import warnings

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.formats.headers import RawPattern
from diffpy.crystalnet.physics.wavelengths import resolve_wavelength

__all__ = ["CIF_X_TAGS", "CIF_Y_TAGS", "cif_syntax_problem", "read_pdcif"]

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
    try:
        exponent = int(number.lower().split("e")[1]) if "e" in number else 0
        return value, int(match.group(2)) * 10.0 ** (exponent - decimals)
    except (OverflowError, ValueError):  # 1e400(3), 1(<5000 digits>)
        raise ValueError(text) from None


def cif_syntax_problem(error):
    """One line that says why pymatgen's CIF parser failed.

    Parameters
    ----------
    error : Exception
        What ``pymatgen.io.cif.CifFile.from_str`` raised.

    Returns
    -------
    str
        At most 100 characters.
    """
    text = (str(error) or type(error).__name__)[:100]
    if isinstance(error, ZeroDivisionError):
        return "a loop_ has no data names (truncated or malformed CIF)"
    if "is not a multiple of" in text or "zip()" in text:
        return f"a loop_ ends in a partial row (truncated CIF?): {text}"
    return text


def _cif_values(values, tag, source):
    if not isinstance(values, list):
        values = [values]
    try:
        pairs = [_cif_number(v) for v in values]
    except ValueError as error:
        raise CrystalNetInputError(
            f"unreadable number {str(error)[:20]!r} in {tag}", source
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
    ``_pd_proc_intensity_total``, ``_pd_proc_intensity_net``.  A
    ``_pd_proc_d_spacing`` column beside a 2-theta loop (common in the
    IUCr archive, with values or ``.``) is ignored.  Standard
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
        data (``_diffrn_radiation_probe``, ``_diffrn_radiation_type``),
        time-of-flight or d-spacing data without a 2-theta loop, or
        unreadable CIF syntax.
    """
    blocks = _cif_blocks(text, path)
    name, block, x_tag, y_tag = _profile_block(blocks, path)
    y, y_su = _cif_values(block.data[y_tag], y_tag, path)
    if x_tag is not None:
        x, _ = _cif_values(block.data[x_tag], x_tag, path)
    else:
        x = _cif_range_x(block, name, y_tag, y, path)
        x_tag = "_pd_meas_2theta_range_min/max/inc"
    keep = ~np.isnan(x) & ~np.isnan(y)  # '?' or '.': unknown values
    dropped = int(np.count_nonzero(~keep))
    sigma = y_su[keep] if np.all(np.isfinite(y_su[keep])) else None
    wavelength, origin = _cif_wavelength(block, blocks, path)
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


def _cif_blocks(text, path):
    """The (name, block) pairs of a CIF; refuses neutron and electron data."""
    from pymatgen.io.cif import CifFile

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cif = CifFile.from_str(text)
    except Exception as error:  # pymatgen raises assorted errors
        raise CrystalNetInputError(
            f"cannot parse the CIF: {cif_syntax_problem(error)}", path
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
    return blocks


def _profile_block(blocks, path):
    """(name, block, x tag or None, intensity tag) of the profile block.

    A d-spacing or time-of-flight loop is refused only in a block without
    a 2-theta loop: archived X-ray patterns often carry a convenience
    ``_pd_proc_d_spacing`` column (values or ``.``) beside their angles.
    """
    chosen = None
    for name, block in blocks:
        y_tag = next(
            (t for t in CIF_Y_TAGS if isinstance(block.data.get(t), list)),
            None,
        )
        x_tag = _cif_angle_tag(block, y_tag)
        if x_tag is None and any(
            isinstance(block.data.get(t), list) for t in _CIF_TOF_TAGS
        ):
            raise CrystalNetInputError(
                f"block data_{name} holds time-of-flight or d-spacing data, "
                "not a constant-wavelength 2-theta pattern",
                path,
            )
        if y_tag is None:
            continue
        chosen = (name, block, x_tag, y_tag)
        break
    if chosen is None:
        raise CrystalNetInputError(
            "no powder profile in this CIF (no _pd_meas_ or _pd_proc_ "
            "intensity loop): a structure-only CIF is not a pattern",
            path,
        )
    return chosen


def _cif_angle_tag(block, y_tag):
    """The preferred 2-theta loop tag of a block, or None.

    With an intensity tag, the loop must have as many values as the
    intensities; without one, any 2-theta loop counts.
    """
    for tag in CIF_X_TAGS:
        values = block.data.get(tag)
        if not isinstance(values, list):
            continue
        if y_tag is None or len(values) == len(block.data[y_tag]):
            return tag
    return None


def _cif_range_x(block, name, y_tag, y, path):
    """x from the ``_pd_meas_2theta_range_{min,max,inc}`` triple."""
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
    try:
        start, stop, step = (_cif_number(v)[0] for v in limits)
    except ValueError as error:
        raise CrystalNetInputError(
            f"unreadable number {str(error)[:20]!r} in "
            "_pd_meas_2theta_range_min/max/inc",
            path,
        ) from None
    if not all(math.isfinite(v) for v in (start, stop, step)) or step == 0:
        raise CrystalNetInputError(
            f"_pd_meas_2theta_range {start:g}-{stop:g} step {step:g} is "
            "not a scan",
            path,
        )
    x = start + step * np.arange(y.size)
    if abs(x[-1] - stop) > 0.5 * abs(step) + 1e-9:
        raise CrystalNetInputError(
            f"_pd_meas_2theta_range {start:g}-{stop:g} step {step:g} "
            f"does not match the {y.size} intensities",
            path,
        )
    return x


def _cif_wavelength(block, blocks, path):
    """(wavelength, origin) from the profile block, else another block."""
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
                try:
                    wavelength = resolve_wavelength(number, path)
                except CrystalNetInputError as error:
                    raise CrystalNetInputError(
                        f"{tag}: {error.problem}", path
                    ) from None
                origin = f"CIF {tag}"
                break
        if wavelength is not None:
            break
    return wavelength, origin
