"""The CrystalNet input: a pattern binned onto 1024 bins of 2-theta at Mo Ka.

CrystalNet was trained on pymatgen ``XRDCalculator`` sticks at Mo K-alpha
(0.71073 angstrom) binned into 1024 pixels over 0-180 degrees 2-theta and
scaled to a maximum of 1.  Every pattern, whatever its wavelength, is put on
that grid through Q = 4 pi sin(theta) / lambda.

The grid
--------
Bin ``k`` (0-based) spans 2-theta ``[k w, (k + 1) w)`` with
``w = 180 / 1024`` degrees at ``GRID_WAVELENGTH``; its centre is
``(k + 1/2) w`` (:func:`grid_two_theta`) and :func:`grid_q` gives the Q of the
centres.  A Cu K-alpha scan to 90 degrees reaches Q = 5.8 1/angstrom, about
the first fifth of the grid; the rest is masked.

Sticks
------
:func:`bin_sticks` sums the intensities of the sticks that fall in a bin
(overlapping reflections add up, as they do in a measured profile; taking
the maximum would underweight multiply-degenerate peaks of low symmetry).

Profiles
--------
:func:`pattern_to_model_input` removes the background (SNIP, see
:mod:`diffpy.crystalnet.physics.background`), optionally strips K-alpha2
(Rachinger), converts every point to 2-theta at Mo K-alpha, rescales it to
the intensity the same reflection has at Mo K-alpha (see
:func:`to_grid_intensity`), and averages the points that fall in each bin.
Bins inside the measured range that hold no point (data coarser than the
grid, e.g. a synchrotron pattern at short wavelength) take the linear
interpolation at the bin centre.  Negative values are clipped to 0 and the
result is scaled to a maximum of 1 over the measured range; bins outside it
are 0 with ``mask`` False.
"""

from collections import namedtuple

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.transforms import q_to_two_theta, two_theta_to_q
from diffpy.crystalnet.physics.wavelengths import kalpha_doublet

__all__ = [
    "N_BINS",
    "GRID_WAVELENGTH",
    "BIN_WIDTH",
    "ModelInput",
    "grid_edges",
    "grid_two_theta",
    "grid_q",
    "bin_sticks",
    "remove_kalpha2",
    "to_grid_intensity",
    "pattern_to_model_input",
    "find_grid_peaks",
]

#: Number of bins of the CrystalNet input.
N_BINS = 1024
#: Wavelength of the grid (Mo K-alpha, pymatgen "MoKa"), angstrom.
GRID_WAVELENGTH = 0.71073
#: Bin width in degrees 2-theta at GRID_WAVELENGTH.
BIN_WIDTH = 180.0 / N_BINS

#: The model input: ``intensity`` (float32, max 1 over the measured range)
#: and ``mask`` (bool, True where the pattern was measured).
ModelInput = namedtuple("ModelInput", ["intensity", "mask"])


def grid_edges():
    """Return the 1025 bin edges in degrees 2-theta at Mo K-alpha.

    Returns
    -------
    numpy.ndarray
        ``k * 180 / 1024`` for k = 0..1024.
    """
    return np.arange(N_BINS + 1) * BIN_WIDTH


def grid_two_theta():
    """Return the 1024 bin centres in degrees 2-theta at Mo K-alpha.

    Returns
    -------
    numpy.ndarray
        ``(k + 0.5) * 180 / 1024`` for k = 0..1023.
    """
    return (np.arange(N_BINS) + 0.5) * BIN_WIDTH


def grid_q():
    """Return Q (1/angstrom) of the 1024 bin centres.

    Returns
    -------
    numpy.ndarray
        ``4 pi sin(theta) / 0.71073`` at the bin centres (0.0085 to 17.68).
    """
    return two_theta_to_q(grid_two_theta(), GRID_WAVELENGTH)


def _bin_index(two_theta_mo):
    index = np.floor(np.asarray(two_theta_mo) / BIN_WIDTH).astype(int)
    return np.clip(index, 0, N_BINS - 1)


def bin_sticks(q, intensity):
    """Bin sticks (reflections) onto the 1024-bin grid.

    Parameters
    ----------
    q : array_like
        Stick positions in Q (1/angstrom).  Sticks beyond the reach of Mo
        K-alpha (Q > 4 pi / 0.71073 = 17.68) are dropped.
    intensity : array_like
        Stick intensities (not negative).

    Returns
    -------
    numpy.ndarray
        Shape ``(1024,)``, float32: the summed intensity per bin divided by
        the largest bin; all zeros when no stick is in range.

    Raises
    ------
    CrystalNetInputError
        For arrays of different lengths, non-finite or negative values.
    """
    q = np.asarray(q, dtype=float).ravel()
    intensity = np.asarray(intensity, dtype=float).ravel()
    if q.shape != intensity.shape:
        raise CrystalNetInputError(
            f"{q.size} stick positions but {intensity.size} intensities",
            "sticks",
        )
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(intensity))):
        raise CrystalNetInputError("NaN or infinite stick values", "sticks")
    if np.any(intensity < 0) or np.any(q < 0):
        raise CrystalNetInputError(
            "negative stick positions or intensities", "sticks"
        )
    two_theta = q_to_two_theta(q, GRID_WAVELENGTH)
    keep = np.isfinite(two_theta)
    binned = np.bincount(
        _bin_index(two_theta[keep]),
        weights=intensity[keep],
        minlength=N_BINS,
    )
    peak = binned.max()
    if peak > 0:
        binned = binned / peak
    return binned.astype(np.float32)


def remove_kalpha2(two_theta, intensity, wavelength, ratio=None):
    """Remove the K-alpha2 component of a profile (Rachinger correction).

    The observed profile is ``I(t) = I1(t) + R I1(t')`` where ``t'`` is the
    K-alpha1 angle whose K-alpha2 line falls at ``t``:
    ``sin(t'/2) = (lambda1 / lambda2) sin(t/2)``.  Going up in angle,
    ``I1(t) = I(t) - R I1(t')`` with ``I1(t')`` interpolated from points
    already corrected (Rachinger, J. Sci. Instrum. 25, 254 (1948)).

    Parameters
    ----------
    two_theta : array_like
        Increasing 2-theta in degrees.
    intensity : array_like
        The profile (background removed).
    wavelength : float
        Wavelength of the data in angstrom: a K-alpha, K-alpha1 or
        K-alpha2 line of Cu, Mo, Cr, Fe, Co or Ag.
    ratio : float, optional
        I(K-alpha2) / I(K-alpha1); 0.5 by default.

    Returns
    -------
    tuple of (numpy.ndarray, float)
        The K-alpha1 profile and the K-alpha1 wavelength.

    Raises
    ------
    CrystalNetInputError
        If the wavelength is not a K-alpha line.
    """
    doublet = kalpha_doublet(wavelength)
    if doublet is None:
        raise CrystalNetInputError(
            f"K-alpha2 stripping needs a K-alpha wavelength; {wavelength:g} "
            "A is not one (synchrotron or monochromated data have no "
            "K-alpha2)",
            "strip_kalpha2",
        )
    ka1, ka2, default_ratio = doublet
    r = default_ratio if ratio is None else float(ratio)
    t = np.asarray(two_theta, dtype=float)
    y = np.asarray(intensity, dtype=float)
    s = np.clip(np.sin(np.radians(t) / 2.0) * ka1 / ka2, -1.0, 1.0)
    t_src = 2.0 * np.degrees(np.arcsin(s))
    j = np.searchsorted(t, t_src, side="right") - 1
    out = np.empty_like(y)
    for i in range(y.size):
        k = j[i]
        if k < 0:
            out[i] = y[i]
            continue
        if k >= i:
            # the source angle lies at or after this point: no correction
            out[i] = y[i]
            continue
        f = (t_src[i] - t[k]) / (t[k + 1] - t[k])
        if k + 1 == i:
            out[i] = (y[i] - r * (1.0 - f) * out[k]) / (1.0 + r * f)
        else:
            out[i] = y[i] - r * ((1.0 - f) * out[k] + f * out[k + 1])
    return out, ka1


def to_grid_intensity(two_theta_mo, intensity, wavelength=None):
    """Rescale profile intensities to what they would be at Mo K-alpha.

    A reflection's integrated intensity carries the Lorentz-polarisation
    factor ``(1 + cos^2 2theta) / (sin^2 theta cos theta)`` of the
    wavelength it was measured at (pymatgen uses the same factor for the
    sticks the model was trained on).  Moving a profile point from 2-theta
    at ``wavelength`` to 2-theta at Mo K-alpha, the Lorentz ratio and the
    Jacobian of the change of variable (which keeps integrated intensities)
    cancel exactly, because sin(theta) / lambda is fixed; what remains is
    the ratio of polarisation factors ``(1 + cos^2 2theta_Mo) /
    (1 + cos^2 2theta)``.  For a pattern in Q without a wavelength, the
    short-wavelength limit ``(1 + cos^2 2theta_Mo) / 2`` is used.  Both
    assume an unpolarised incident beam.

    Parameters
    ----------
    two_theta_mo : array_like
        2-theta at Mo K-alpha of the points (degrees).
    intensity : array_like
        Intensities per unit of the measured axis.
    wavelength : float, optional
        Wavelength the data were measured at, angstrom.

    Returns
    -------
    numpy.ndarray
        Intensities per unit 2-theta at Mo K-alpha, up to a constant.
    """
    t_mo = np.radians(np.asarray(two_theta_mo, dtype=float))
    numerator = 1.0 + np.cos(t_mo) ** 2
    if wavelength is None:
        denominator = 2.0
    else:
        s = np.clip(
            np.sin(t_mo / 2.0) * wavelength / GRID_WAVELENGTH, -1.0, 1.0
        )
        denominator = 1.0 + np.cos(2.0 * np.arcsin(s)) ** 2
    return np.asarray(intensity, dtype=float) * numerator / denominator


def pattern_to_model_input(
    pattern,
    background="snip",
    strip_kalpha2=False,
    background_width=None,
    polarization=True,
):
    """Turn a pattern into the CrystalNet input.

    Parameters
    ----------
    pattern : diffpy.crystalnet.physics.pattern.Pattern
        A profile or sticks.  A 2-theta pattern needs its wavelength.
    background : {"snip", None}, optional
        Background removal for profiles: SNIP with a half window of
        ``background_width`` in Q (see
        :mod:`diffpy.crystalnet.physics.background`), or None for data whose
        background is already removed.  Ignored for sticks.
    strip_kalpha2 : bool, optional
        Remove the K-alpha2 component (Rachinger) before binning; needs a
        K-alpha wavelength.  Q is then computed with the K-alpha1 line.
    background_width : float, optional
        SNIP half window in 1/angstrom; by default twice the FWHM of the
        strongest peaks (see
        :func:`~diffpy.crystalnet.physics.background.snip_background`).
    polarization : bool, optional
        Rescale intensities to Mo K-alpha with
        :func:`to_grid_intensity` (default True).

    Returns
    -------
    ModelInput
        ``intensity`` (1024,) float32 scaled to max 1 over the measured
        range, 0 outside it; ``mask`` (1024,) bool, True for measured bins.

    Raises
    ------
    CrystalNetInputError
        For a 2-theta pattern without wavelength, K-alpha2 stripping of a
        non-K-alpha wavelength, a pattern entirely beyond the reach of Mo
        K-alpha, or a profile with nothing above the background.
    """
    where = pattern.source or "pattern"
    if pattern.kind == "sticks":
        binned = bin_sticks(pattern.q, pattern.intensity)
        return ModelInput(binned, np.ones(N_BINS, dtype=bool))
    q = pattern.q  # raises when a 2-theta pattern has no wavelength
    y = pattern.intensity.astype(float)
    wavelength = pattern.wavelength
    if background == "snip":
        from diffpy.crystalnet.physics.background import snip_background

        y = y - snip_background(q, y, background_width)
    elif background is not None:
        raise CrystalNetInputError(
            f"background must be 'snip' or None, not {background!r}",
            "background",
        )
    if strip_kalpha2:
        if wavelength is None:
            raise CrystalNetInputError(
                "K-alpha2 stripping needs the wavelength", where
            )
        try:
            y, ka1 = remove_kalpha2(pattern.two_theta, y, wavelength)
        except CrystalNetInputError as error:
            raise CrystalNetInputError(error.problem, where) from None
        q = two_theta_to_q(pattern.two_theta, ka1)
        wavelength = ka1
    t_mo = q_to_two_theta(q, GRID_WAVELENGTH)
    reach = np.isfinite(t_mo)
    if not np.any(reach):
        raise CrystalNetInputError(
            f"the pattern starts at Q = {q[0]:g} 1/A, beyond the "
            f"{4 * np.pi / GRID_WAVELENGTH:.2f} 1/A of the Mo K-alpha grid",
            where,
        )
    t_mo, y = t_mo[reach], y[reach]
    if polarization:
        y = to_grid_intensity(t_mo, y, wavelength)
    index = _bin_index(t_mo)
    counts = np.bincount(index, minlength=N_BINS)
    sums = np.bincount(index, weights=y, minlength=N_BINS)
    centres = grid_two_theta()
    inside = (centres >= t_mo[0]) & (centres <= t_mo[-1])
    mask = inside | (counts > 0)
    values = np.zeros(N_BINS)
    filled = counts > 0
    values[filled] = sums[filled] / counts[filled]
    sparse = inside & ~filled
    if np.any(sparse):
        values[sparse] = np.interp(centres[sparse], t_mo, y)
    values = np.clip(values, 0.0, None)
    values[~mask] = 0.0
    peak = values[mask].max()
    if not peak > 1e-9 * np.abs(pattern.intensity).max():
        raise CrystalNetInputError(
            "no intensity above the background in the measured range", where
        )
    return ModelInput((values / peak).astype(np.float32), mask)


def find_grid_peaks(model_input, prominence=0.02):
    """Return the bin indices of peaks in a model input.

    Parameters
    ----------
    model_input : ModelInput
        As returned by :func:`pattern_to_model_input`.
    prominence : float, optional
        Smallest peak prominence, relative to the maximum of 1.

    Returns
    -------
    numpy.ndarray
        Indices of the bins holding a peak, inside the mask.
    """
    from scipy.signal import find_peaks

    values = np.where(model_input.mask, model_input.intensity, 0.0)
    peaks, _ = find_peaks(np.r_[0.0, values, 0.0], prominence=prominence)
    return peaks - 1
