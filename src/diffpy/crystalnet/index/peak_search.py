"""Peak search in powder patterns with sub-step positions.

:func:`find_peaks` turns a :class:`~diffpy.crystalnet.physics.pattern.Pattern`
into a :class:`PeakList`: the position of every Bragg peak (in 2-theta at the
pattern's wavelength and in Q), its integrated intensity, height and FWHM. It
is the input of :mod:`diffpy.crystalnet.index.indexing`.

Method (profiles)
-----------------
1. The background is removed with SNIP
   (:func:`~diffpy.crystalnet.physics.background.snip_background`).
2. Peaks are *detected* on a lightly smoothed copy (Savitzky-Golay over
   about half a FWHM) from which K-alpha2 has been stripped (Rachinger,
   :func:`~diffpy.crystalnet.physics.model_input.remove_kalpha2`) for K-alpha
   wavelengths, so that the K-alpha2 shoulders of high-angle peaks are not
   taken for peaks.  A peak must stand out by ``min_prominence`` times the
   strongest peak and by ``min_snr`` times the noise.
3. Peaks whose windows (about 2.5 FWHM each side) overlap are grouped, and
   each group is fitted by least squares (``scipy.optimize.least_squares``)
   on the background-subtracted, *unstripped* data with a sum of unit-area
   pseudo-Voigt peaks (centre, area, FWHM, mixing each) on a straight local
   background.  At K-alpha wavelengths every peak is a doublet: K-alpha1 at
   the fitted centre and K-alpha2 at the angle the same d gives at the
   K-alpha2 wavelength, with the same shape and ``kalpha2_ratio`` times the
   area, so the reported position is the K-alpha1 position (fitting the
   doublet avoids the noise that Rachinger stripping adds).  The K-alpha2
   ratio is measured on the resolved doublets of the pattern (median of the
   free fits, 0 for monochromated K-alpha1 data) unless given.  A group of
   more than 24 peaks is fitted in overlapping pieces of 12 peaks and 6
   neighbours on either side.
4. A fit that fails or leaves its bounds falls back to a parabola through
   the three highest points of the smoothed profile.  Peaks narrower than
   0.8 step (spikes) are dropped.

Positions are then those of the K-alpha1 line (``PeakList.wavelength`` is
the K-alpha1 wavelength), converted to Q with it.

Sticks
------
A stick pattern is a list of peaks already: sticks weaker than
``min_prominence`` times the strongest are dropped, the rest are reported
as they are (FWHM 0).

The pseudo-Voigt and doublet fits of step 3 and the parabola of step 4 are
in :mod:`diffpy.crystalnet.index.peak_shapes`.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.index.peak_shapes import (
    _Doublet,
    _fit_all,
    _measure_ratio,
    _parabola,
    _pv_peak,
)
from diffpy.crystalnet.physics.transforms import q_to_two_theta, two_theta_to_q
from diffpy.crystalnet.physics.wavelengths import kalpha_doublet

__all__ = ["PeakList", "find_peaks"]


@dataclass(eq=False)
class PeakList:
    """Peaks found in a pattern, sorted by position.

    Attributes
    ----------
    q : numpy.ndarray
        Peak positions in Q (1/angstrom); None when a 2-theta pattern has no
        wavelength.
    two_theta : numpy.ndarray or None
        Peak positions in degrees 2-theta at :attr:`wavelength` (the
        K-alpha1 line when the doublet was handled); None for a Q pattern
        without wavelength.
    intensity : numpy.ndarray
        Integrated intensity of each peak (K-alpha1 part) or stick height.
    height : numpy.ndarray
        Peak maximum above the background (K-alpha1 part).
    fwhm : numpy.ndarray
        Full width at half maximum in the pattern's x unit (degrees for
        2-theta patterns, 1/angstrom for Q patterns); 0 for sticks.
    wavelength : float or None
        Wavelength of :attr:`two_theta` in angstrom.
    xtype : {"tth", "q"}
        The x unit of the pattern the peaks come from.
    kind : {"profile", "sticks"}
        What the pattern was.
    kalpha2_ratio : float or None
        The K-alpha2 / K-alpha1 ratio used in the fit (None: no doublet).
    source : str or None
        Where the pattern came from.
    metadata : dict
        Settings and diagnostics of the search.
    """

    q: np.ndarray
    two_theta: np.ndarray
    intensity: np.ndarray
    height: np.ndarray
    fwhm: np.ndarray
    wavelength: float = None
    xtype: str = "tth"
    kind: str = "profile"
    kalpha2_ratio: float = None
    source: str = None
    metadata: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.intensity)

    @property
    def x(self):
        """Positions in the pattern's x unit (2-theta or Q)."""
        return self.two_theta if self.xtype == "tth" else self.q

    def __repr__(self):
        wl = "?" if self.wavelength is None else f"{self.wavelength:g} A"
        return (
            f"PeakList({len(self)} peaks from {self.kind}, wavelength {wl}, "
            f"source={self.source!r})"
        )

    def table(self, limit=None):
        """Text table of the peaks (position, d, intensity, FWHM).

        Parameters
        ----------
        limit : int, optional
            Print at most this many peaks.

        Returns
        -------
        str
        """
        rows = ["   2theta        Q        d    intensity     fwhm"]
        n = len(self) if limit is None else min(limit, len(self))
        for i in range(n):
            tth = (
                "     ---"
                if self.two_theta is None
                else (f"{self.two_theta[i]:9.4f}")
            )
            q = self.q[i] if self.q is not None else float("nan")
            d = 2 * math.pi / q if q > 0 else float("nan")
            rows.append(
                f"{tth} {q:8.4f} {d:8.4f} {self.intensity[i]:12.4g} "
                f"{self.fwhm[i]:8.4f}"
            )
        return "\n".join(rows)


def _as_float(value, name, low=None, high=None):
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise CrystalNetInputError(
            f"{name} must be a number, not {value!r}", name
        ) from None
    if not math.isfinite(out) or (low is not None and out < low):
        raise CrystalNetInputError(f"{name} = {value!r} is out of range", name)
    if high is not None and out > high:
        raise CrystalNetInputError(f"{name} = {value!r} is out of range", name)
    return out


def _sticks(pattern, min_prominence):
    y = pattern.intensity
    keep = y >= min_prominence * y.max()
    keep &= y > 0
    x = pattern.x[keep]
    y = y[keep]
    q, tth = _positions(x, pattern.xtype, pattern.wavelength)
    return PeakList(
        q=q,
        two_theta=tth,
        intensity=y.copy(),
        height=y.copy(),
        fwhm=np.zeros_like(y),
        wavelength=pattern.wavelength,
        xtype=pattern.xtype,
        kind="sticks",
        source=pattern.source,
        metadata={"min_prominence": min_prominence},
    )


def _positions(x, xtype, wavelength):
    """(q, two_theta) of positions given in the pattern's x unit."""
    x = np.asarray(x, dtype=float)
    if xtype == "tth":
        q = None if wavelength is None else two_theta_to_q(x, wavelength)
        return q, x
    tth = None if wavelength is None else q_to_two_theta(x, wavelength)
    return x, tth


def _noise(y, sigma, fwhm_points):
    """Per-point noise: sigma if given, else from second differences.

    The second difference of white noise of deviation s has deviation
    s sqrt(6); its running median absolute value (over many peak widths,
    so that the curvature of peaks does not dominate) estimates s.
    """
    from scipy.ndimage import median_filter

    if sigma is not None and np.all(sigma > 0):
        return np.asarray(sigma, dtype=float)
    d2 = np.abs(y[2:] - 2 * y[1:-1] + y[:-2])
    if d2.size == 0:
        return np.zeros_like(y)
    size = int(min(max(101, 30 * fwhm_points), d2.size)) | 1
    local = median_filter(d2, size=size, mode="nearest")
    local = np.concatenate([local[:1], local, local[-1:]])
    return local / (0.6745 * math.sqrt(6.0))


def _smooth(y, width_points):
    """Savitzky-Golay (quadratic) smoothing over about one FWHM.

    Returns the smoothed profile and the factor by which it scales white
    noise.
    """
    from scipy.signal import savgol_coeffs, savgol_filter

    window = int(round(width_points)) | 1
    if window < 5 or y.size <= window:
        return y.copy(), 1.0
    gain = float(np.sqrt(np.sum(savgol_coeffs(window, 2) ** 2)))
    return savgol_filter(y, window, 2), gain


# long: most of it is the numpydoc docstring (the body is 70 lines)
def find_peaks(
    pattern,
    min_prominence=0.01,
    background="snip",
    strip_kalpha2=True,
    kalpha2_ratio=None,
    min_snr=7.0,
    max_peaks=None,
    fit=True,
):
    """Find the Bragg peaks of a powder pattern.

    Parameters
    ----------
    pattern : diffpy.crystalnet.physics.pattern.Pattern
        A profile or sticks, in 2-theta or Q.
    min_prominence : float, optional
        Smallest peak, as a fraction of the strongest peak (height above
        the background for profiles, intensity for sticks).  Default 0.01.
    background : {"snip", None}, optional
        Remove the background with SNIP first (profiles only), or None for
        data whose background is already removed.
    strip_kalpha2 : bool, optional
        For a 2-theta profile at a K-alpha wavelength (Cu, Mo, Cr, Fe, Co,
        Ag), treat every peak as a K-alpha1/K-alpha2 doublet and report the
        K-alpha1 position (default True).  Ignored for other wavelengths,
        sticks and Q patterns.
    kalpha2_ratio : float, optional
        K-alpha2/K-alpha1 intensity ratio; by default measured on the
        resolved doublets of the pattern (0.5 when there are too few).
    min_snr : float, optional
        A peak must also stand this many noise standard deviations above
        its surroundings (noise from ``pattern.sigma`` or estimated).
    max_peaks : int, optional
        Keep only this many peaks, the lowest in angle.
    fit : bool, optional
        Refine positions with the pseudo-Voigt fit (default); False uses
        the parabola through the three top points.

    Returns
    -------
    PeakList
        The peaks sorted by position.

    Raises
    ------
    CrystalNetInputError
        For invalid settings, or a profile in which no peak is found.

    Examples
    --------
    >>> from pymatgen.core import Lattice, Structure
    >>> from diffpy.crystalnet import simulate_pattern
    >>> si = Structure.from_spacegroup(
    ...     "Fd-3m", Lattice.cubic(5.431), ["Si"], [[0, 0, 0]])
    >>> pattern = simulate_pattern(
    ...     si, "CuKa", (20, 90), profile={"w": 0.005, "kalpha2": True})
    >>> peaks = find_peaks(pattern)
    >>> [round(float(t), 2) for t in peaks.two_theta[:3]]
    [28.44, 47.3, 56.12]
    """
    where = pattern.source or "pattern"
    min_prominence = _as_float(min_prominence, "min_prominence", 0.0, 1.0)
    min_snr = _as_float(min_snr, "min_snr", 0.0)
    if background not in ("snip", None):
        raise CrystalNetInputError(
            f"background must be 'snip' or None, not {background!r}",
            "background",
        )
    if max_peaks is not None and int(max_peaks) < 1:
        raise CrystalNetInputError("max_peaks must be at least 1", "max_peaks")
    if pattern.kind == "sticks":
        peaks = _sticks(pattern, min_prominence)
        if max_peaks is not None:
            peaks = _first(peaks, int(max_peaks))
        return peaks
    x = pattern.x.astype(float)
    y = pattern.intensity.astype(float)
    wavelength = pattern.wavelength
    if background == "snip":
        y = y - _snip(pattern, x, y)
    from diffpy.crystalnet.physics.background import estimate_fwhm

    fwhm_points = estimate_fwhm(np.arange(x.size, dtype=float), y)
    fwhm_points = 5.0 if fwhm_points is None else max(fwhm_points, 1.0)
    noise = _noise(y, pattern.sigma, fwhm_points)
    ys, gain = _smooth(y, fwhm_points)
    doublet = None
    ka1 = wavelength
    ratio = None
    peaks_idx = _detect(ys, noise * gain, fwhm_points, min_prominence, min_snr)
    if (
        strip_kalpha2
        and pattern.xtype == "tth"
        and wavelength is not None
        and kalpha_doublet(wavelength) is not None
    ):
        peaks_idx, doublet, ka1, ratio = _kalpha_doublet_setup(
            x, y, ys, peaks_idx, fwhm_points, wavelength, kalpha2_ratio
        )
    if peaks_idx.size == 0:
        raise CrystalNetInputError(
            "no peak found above the background (min_prominence="
            f"{min_prominence:g}, min_snr={min_snr:g})",
            where,
        )
    pos, area, height, width = _without_spikes(
        x, _peak_parameters(x, y, ys, peaks_idx, doublet, ratio, fit), where
    )
    q, tth = _positions(pos, pattern.xtype, ka1)
    peaks = PeakList(
        q=q,
        two_theta=tth,
        intensity=area,
        height=height,
        fwhm=width,
        wavelength=ka1,
        xtype=pattern.xtype,
        kind="profile",
        kalpha2_ratio=ratio,
        source=pattern.source,
        metadata={
            "min_prominence": min_prominence,
            "min_snr": min_snr,
            "background": background,
            "fit": "pseudo-Voigt" if fit else "parabola",
            "pattern_wavelength": wavelength,
        },
    )
    if max_peaks is not None:
        peaks = _first(peaks, int(max_peaks))
    return peaks


def _snip(pattern, x, y):
    """SNIP background of a profile, on a Q axis for the window width."""
    from diffpy.crystalnet.physics.background import snip_background

    # an axis in Q for the background window (nominal for 2-theta data
    # without a wavelength: only the window width depends on it)
    if pattern.xtype == "q":
        qaxis = x
    else:
        qaxis = two_theta_to_q(x, pattern.wavelength or 1.5406)
    return snip_background(qaxis, y)


def _kalpha_doublet_setup(
    x, y, ys, peaks_idx, fwhm_points, wavelength, kalpha2_ratio
):
    """K-alpha doublet of a pattern at a K-alpha wavelength.

    Returns the detected peaks without the K-alpha2 maxima, the
    :class:`_Doublet` map, the K-alpha1 wavelength and the K-alpha2 ratio
    (given, or measured on the resolved doublets).
    """
    ka1, ka2, table_ratio = kalpha_doublet(wavelength)
    doublet = _Doublet(ka1, ka2)
    ratio = kalpha2_ratio
    peaks_idx = _drop_kalpha2(x, ys, peaks_idx, doublet, fwhm_points)
    if ratio is None:
        ratio = _measure_ratio(
            x, y, ys, peaks_idx, fwhm_points, doublet, table_ratio
        )
    return peaks_idx, doublet, ka1, ratio


def _peak_parameters(x, y, ys, peaks_idx, doublet, ratio, fit):
    """(position, area, height, fwhm) of the detected peaks.

    From the pseudo-Voigt fits when ``fit`` is true and they succeed,
    otherwise from the parabola through the three top points.
    """
    from scipy.signal import peak_widths

    widths_pts = peak_widths(ys, peaks_idx, rel_height=0.5)[0]
    widths_pts = np.clip(widths_pts, 1.5, None)
    step = np.gradient(x)
    centres = np.array([_parabola(x, ys, i) for i in peaks_idx])
    widths = widths_pts * step[peaks_idx]
    heights = ys[peaks_idx]
    if fit:
        result = _fit_all(x, y, centres, heights, widths, doublet, ratio)
    else:
        result = None
    if result is None:
        area = heights / np.array([_pv_peak(w, 0.5) for w in widths])
        result = (centres, area, heights, widths)
    return result


def _without_spikes(x, result, where):
    """Drop spikes from (position, area, height, fwhm); sort by position."""
    step = np.gradient(x)
    pos, area, height, width = result
    # a peak narrower than 0.8 step is a spike (cosmic ray, noise)
    real = width >= 0.8 * np.interp(pos, x, step)
    if not np.any(real):
        raise CrystalNetInputError(
            "only spikes narrower than a step were found, no peaks", where
        )
    pos, area, height, width = (a[real] for a in (pos, area, height, width))
    order = np.argsort(pos)
    pos, area, height, width = (a[order] for a in (pos, area, height, width))
    return pos, area, height, width


def _first(peaks, n):
    keep = slice(0, n)
    return PeakList(
        q=None if peaks.q is None else peaks.q[keep],
        two_theta=None if peaks.two_theta is None else peaks.two_theta[keep],
        intensity=peaks.intensity[keep],
        height=peaks.height[keep],
        fwhm=peaks.fwhm[keep],
        wavelength=peaks.wavelength,
        xtype=peaks.xtype,
        kind=peaks.kind,
        kalpha2_ratio=peaks.kalpha2_ratio,
        source=peaks.source,
        metadata=dict(peaks.metadata),
    )


def _detect(signal, noise, fwhm_points, min_prominence, min_snr):
    """Indices of local maxima that pass both thresholds."""
    from scipy.signal import find_peaks as scipy_find_peaks

    top = float(signal.max())
    if not top > 0:
        return np.array([], dtype=int)
    floor = min_prominence * top
    idx, props = scipy_find_peaks(
        signal,
        prominence=max(floor, 1e-12 * top),
        wlen=max(int(8 * fwhm_points), 9),
    )
    prom = props["prominences"]
    keep = prom >= min_snr * noise[idx]
    return idx[keep]


def _drop_kalpha2(x, ys, idx, doublet, fwhm_points):
    """Remove detected maxima that are the K-alpha2 line of a stronger one.

    A maximum within half a FWHM of the K-alpha2 angle of a stronger
    maximum, and less than 0.8 times as high, is taken for that K-alpha2
    line (the doublet fit accounts for it).
    """
    if idx.size < 2:
        return idx
    step = np.gradient(x)
    half = 0.5 * max(fwhm_points, 1.0) * step[idx]
    keep = np.ones(idx.size, dtype=bool)
    ka2 = doublet(x[idx])
    for j in np.argsort(-ys[idx]):
        if not keep[j]:
            continue
        near = np.abs(x[idx] - ka2[j]) < half
        weaker = ys[idx] < 0.8 * ys[idx[j]]
        keep &= ~(near & weaker)
    return idx[keep]


# End of file
