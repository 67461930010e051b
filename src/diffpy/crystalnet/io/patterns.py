"""Load a powder pattern from a file into a :class:`Pattern`."""

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.formats import read_pattern_file
from diffpy.crystalnet.io.formats.gr import is_gr_file
from diffpy.crystalnet.io.pdf_files import load_pdf
from diffpy.crystalnet.physics.pattern import XTYPES, Pattern
from diffpy.crystalnet.physics.wavelengths import resolve_wavelength

__all__ = ["load_pattern"]


#: Largest negative intensity, as a fraction of the maximum, accepted from
#: a file (background-subtracted data dip slightly below zero).
NEGATIVE_TOLERANCE = 0.05


def load_pattern(path, wavelength=None, xtype=None, kind="profile"):
    """Read a powder diffraction pattern from a file.

    The format is recognised from the content, then the extension: text
    columns (``.xy``, ``.xye``, ``.dat``, ``.txt``, ``.csv``), Fit2D/pyFAI
    ``.chi``, "start step end" ``.dat``, GSAS standard powder data and IUCr
    powder CIF.  See :mod:`diffpy.crystalnet.io.formats`.  A pair
    distribution function file (``.gr``) is read by
    :func:`~diffpy.crystalnet.io.pdf_files.load_pdf` and comes back as a
    :class:`~diffpy.crystalnet.physics.pdf_data.PairDistribution`, which
    every step that needs a diffraction pattern refuses with a clear message.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    wavelength : float or str, optional
        Wavelength in angstrom or a line name (``"CuKa1"``, ``"Mo"``).
        Overrides what the file says.  Without it, and without one in the
        file, a 2-theta pattern loads with ``wavelength=None``, and anything
        that needs Q raises :class:`CrystalNetInputError`; there is no
        default wavelength.
    xtype : {"tth", "q"}, optional
        The x axis, for files that do not say (headerless columns are taken
        as 2-theta in degrees).  Overrides the header.
    kind : {"profile", "sticks"}, optional
        A measured profile (default) or a list of reflections.

    Returns
    -------
    Pattern or PairDistribution
        A pattern with ``source=str(path)`` and ``metadata`` holding
        ``format``, ``wavelength_origin`` and the header values; a G(r)
        file gives a ``PairDistribution``.

    Raises
    ------
    CrystalNetInputError
        For any problem with the file, naming the file and the problem.

    Examples
    --------
    >>> pattern = load_pattern("scan.xy", wavelength="CuKa1")  # doctest: +SKIP
    >>> pattern.q_range  # doctest: +SKIP
    (0.7, 5.8)
    """
    source = str(path)
    if is_gr_file(source):
        return load_pdf(source)
    if xtype is not None and xtype not in XTYPES:
        raise CrystalNetInputError(
            f"xtype must be one of {XTYPES}, not {xtype!r}", "xtype"
        )
    raw = read_pattern_file(path)
    metadata = dict(raw.metadata)
    metadata["format"] = raw.format
    origin = raw.wavelength_origin
    value = raw.wavelength
    if wavelength is not None:
        value = resolve_wavelength(wavelength, "wavelength")
        origin = "argument"
        if raw.wavelength is not None:
            metadata["file_wavelength"] = raw.wavelength
    metadata["wavelength_origin"] = origin
    if xtype is not None:
        metadata["xtype_origin"] = "argument"
    elif raw.xtype is not None:
        metadata["xtype_origin"] = "file"
    else:
        metadata["xtype_origin"] = "assumed 2-theta (no axis label)"
    axis = xtype or raw.xtype or "tth"
    x = np.asarray(raw.x, dtype=float)
    y = np.asarray(raw.intensity, dtype=float)
    finite = np.isfinite(x) & np.isfinite(y)
    if axis == "tth" and np.all(finite) and x.size and x.max() > 180:
        hint = "" if raw.xtype else " (if the axis is Q, give xtype='q')"
        raise CrystalNetInputError(
            f"x runs up to {x.max():g}, beyond 180 degrees 2-theta{hint}",
            source,
        )
    if np.all(finite) and y.size and y.max() > 0:
        if y.min() < -NEGATIVE_TOLERANCE * y.max():
            raise CrystalNetInputError(
                f"negative intensities down to {y.min():g} (maximum "
                f"{y.max():g}): is the second column an intensity?",
                source,
            )
    return Pattern(
        x=x,
        intensity=y,
        xtype=axis,
        wavelength=value,
        sigma=raw.sigma,
        kind=kind,
        source=source,
        metadata=metadata,
    )
