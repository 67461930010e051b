"""Peak shape fits of the peak search: pseudo-Voigt peaks and doublets.

Groups of overlapping peaks are fitted by least squares with a sum of
unit-area pseudo-Voigt peaks
(:func:`~diffpy.crystalnet.physics.profiles.pseudo_voigt`) on a straight
local background (:func:`_fit_group`, :func:`_fit_all`); at K-alpha
wavelengths each peak is a K-alpha1/K-alpha2 doublet (:class:`_Doublet`
maps a K-alpha1 angle to its K-alpha2 angle) whose ratio can be measured
on the resolved doublets of the pattern (:func:`_measure_ratio`).  A peak
that cannot be fitted keeps the vertex of the parabola through its three
top points (:func:`_parabola`).  Internal to :mod:`diffpy.crystalnet.index`;
see :mod:`diffpy.crystalnet.index.peak_search`.

Speed
-----
The model of a group and its Jacobian are computed together, analytically
and for all peaks at once (:class:`_GroupModel`); ``least_squares`` then
costs one model evaluation per iteration instead of one per parameter, and
runs with one BLAS thread (its SVDs are small; threads competing for the
cores made them 10-40x slower).  Groups of more than ``_MAX_GROUP`` peaks
are fitted in overlapping pieces (:func:`_pieces`): the cost of a joint
fit grows as the cube of its peaks (a group of 160 peaks took a minute),
that of the pieces linearly.  Measured with
``benchmarks/bench_peak_search.py``.
"""

import math

import numpy as np

from diffpy.crystalnet.threads import one_blas_thread

__all__ = []

_LN2 = math.log(2.0)
#: Largest group of overlapping peaks fitted at once (:func:`_pieces`).
_MAX_GROUP = 24
#: Peaks whose results are kept from one piece of a larger group.
_CORE = 12
#: Neighbours fitted on either side of a piece, results dropped.
_PAD = 6


def _pv_peak(fwhm, eta):
    """Maximum of a unit-area pseudo-Voigt."""
    return (
        eta * 2.0 / (math.pi * fwhm)
        + (1.0 - eta) * 2.0 * math.sqrt(_LN2 / math.pi) / fwhm
    )


class _Doublet:
    """Map a K-alpha1 angle to its K-alpha2 angle (degrees)."""

    def __init__(self, ka1, ka2):
        self.factor = ka2 / ka1

    def __call__(self, tth):
        s = np.clip(np.sin(np.radians(tth) / 2.0) * self.factor, -1, 1)
        return 2.0 * np.degrees(np.arcsin(s))

    def with_slope(self, tth):
        """K-alpha2 angle and its derivative with respect to ``tth``."""
        half = np.radians(tth) / 2.0
        s = np.clip(np.sin(half) * self.factor, -1, 1)
        slope = (
            self.factor * np.cos(half) / np.sqrt(np.maximum(1 - s * s, 1e-300))
        )
        return 2.0 * np.degrees(np.arcsin(s)), slope


def _pv_parts(dx, fwhm, eta):
    """A unit-area pseudo-Voigt and its derivatives, element-wise.

    Returns the profile and its derivatives with respect to ``dx``, the
    FWHM and the Lorentzian fraction ``eta``.
    """
    u2 = (dx / fwhm) ** 2
    inv = 1.0 / (1.0 + 4.0 * u2)
    gauss = (2.0 * math.sqrt(_LN2 / math.pi)) / fwhm * np.exp(-4 * _LN2 * u2)
    lorentz = (2.0 / math.pi) / fwhm * inv
    value = eta * lorentz + (1.0 - eta) * gauss
    d_dx = (
        -8.0
        * dx
        / fwhm**2
        * (eta * lorentz * inv + (1.0 - eta) * _LN2 * gauss)
    )
    d_fwhm = (
        eta * lorentz * (8.0 * u2 * inv - 1.0)
        + (1.0 - eta) * gauss * (8.0 * _LN2 * u2 - 1.0)
    ) / fwhm
    return value, d_dx, d_fwhm, lorentz - gauss


class _GroupModel:
    """Sum of n pseudo-Voigt peaks (doublets) on a straight background.

    The parameters are ``b0, b1`` (background at the window centre and
    slope), the K-alpha2 ratio when it is free (``ratio`` None), then
    centre, area, FWHM and Lorentzian fraction of each peak.  Calling the
    model gives the residual ``(model - y) / scale``; :meth:`jac` its
    Jacobian, computed analytically together with the residual (and kept
    for the next call at the same parameters).
    """

    def __init__(self, x, y, n, doublet, ratio, scale):
        self.x, self.y, self.n = x, y, n
        self.doublet, self.ratio, self.scale = doublet, ratio, scale
        self.off = 3 if ratio is None else 2
        self.xc = 0.5 * (x[0] + x[-1])
        self._p = self._res = self._jac = None

    def _evaluate(self, p):
        if self._p is not None and np.array_equal(p, self._p):
            return
        x, off = self.x, self.off
        c, area, w, eta = (p[off:].reshape(self.n, 4).T)[:, :, None]
        r = p[2] if self.ratio is None else self.ratio
        jac = np.empty((x.size, p.size))
        jac[:, 0] = 1.0
        jac[:, 1] = x - self.xc
        pv, d_dx, d_w, d_eta = _pv_parts(x - c, w, eta)
        d_c = -d_dx
        if self.doublet is not None and (r > 0 or self.ratio is None):
            c2, slope = self.doublet.with_slope(c)
            pv2, d_dx2, d_w2, d_eta2 = _pv_parts(x - c2, w, eta)
            if self.ratio is None:
                jac[:, 2] = np.sum(area * pv2, axis=0)
            pv = pv + r * pv2
            d_c = d_c - r * slope * d_dx2
            d_w = d_w + r * d_w2
            d_eta = d_eta + r * d_eta2
        peaks = jac[:, off:].reshape(x.size, self.n, 4)
        peaks[:, :, 0] = (area * d_c).T
        peaks[:, :, 1] = pv.T
        peaks[:, :, 2] = (area * d_w).T
        peaks[:, :, 3] = (area * d_eta).T
        model = p[0] + p[1] * (x - self.xc) + np.sum(area * pv, axis=0)
        self._p = p.copy()
        self._res = (model - self.y) / self.scale
        self._jac = jac / self.scale

    def __call__(self, p):
        self._evaluate(p)
        return self._res

    def jac(self, p):
        """Jacobian of the residual at ``p``."""
        self._evaluate(p)
        return self._jac


def _fit_group(x, y, centres, heights, widths, doublet, ratio):
    """Least-squares fit of one group; returns params or None."""
    from scipy.optimize import least_squares

    n = len(centres)
    free_ratio = ratio is None
    p0 = [0.0, 0.0] + ([0.5] if free_ratio else [])
    lo = [-np.inf, -np.inf] + ([0.0] if free_ratio else [])
    hi = [np.inf, np.inf] + ([1.0] if free_ratio else [])
    for c, h, w in zip(centres, heights, widths):
        area = max(h, 1e-12) / _pv_peak(w, 0.5)
        p0 += [c, area, w, 0.5]
        lo += [c - 0.75 * w, 0.0, 0.2 * w, 0.0]
        hi += [c + 0.75 * w, np.inf, 4.0 * w, 1.0]
    scale = max(np.abs(y).max(), 1e-300)
    model = _GroupModel(x, y, n, doublet, ratio, scale)
    try:
        with one_blas_thread():
            fit = least_squares(
                model,
                np.array(p0),
                jac=model.jac,
                bounds=(lo, hi),
                x_scale="jac",
            )
    except (ValueError, np.linalg.LinAlgError):
        return None
    if not fit.success and fit.status <= 0:
        return None
    return fit.x


def _parabola(x, y, i):
    """Vertex of the parabola through points i-1, i, i+1."""
    if i <= 0 or i >= len(y) - 1:
        return x[i]
    y0, y1, y2 = y[i - 1], y[i], y[i + 1]
    curv = y0 - 2 * y1 + y2
    if curv >= 0:
        return x[i]
    frac = np.clip(0.5 * (y0 - y2) / curv, -0.5, 0.5)
    step = 0.5 * (x[i + 1] - x[i - 1])
    return x[i] + frac * step


def _groups(centres, widths, extra):
    """Indices of peaks whose fit windows overlap, as lists."""
    lo = centres - 2.5 * widths
    hi = centres + 2.5 * widths + extra
    order = np.argsort(centres)
    groups, current, reach = [], [], -np.inf
    for i in order:
        if current and lo[i] > reach:
            groups.append(current)
            current, reach = [], -np.inf
        current.append(int(i))
        reach = max(reach, hi[i])
    if current:
        groups.append(current)
    return groups, lo, hi


def _measure_ratio(x, y, ys, idx, fwhm_points, doublet, default):
    """Median K-alpha2/K-alpha1 ratio of the strongest resolved doublets.

    Each of the (at most 12) strongest peaks whose doublet is resolved
    (separation above 0.8 FWHM) is fitted alone with a free ratio.  With
    fewer than two such fits the table ratio is returned.
    """
    from scipy.signal import peak_widths

    if idx.size == 0:
        return default
    order = idx[np.argsort(-ys[idx])]
    widths = peak_widths(ys, order, rel_height=0.5)[0]
    widths = np.clip(widths, 1.5, None) * np.gradient(x)[order]
    ratios = []
    for k, i in enumerate(order):
        c, w = x[i], widths[k]
        sep = doublet(c) - c
        if sep < 0.8 * w:
            continue
        sel = (x >= c - 2.5 * w) & (x <= c + sep + 2.5 * w)
        if np.count_nonzero(sel) < 8:
            continue
        p = _fit_group(
            x[sel],
            y[sel],
            np.array([_parabola(x, ys, i)]),
            ys[[i]],
            np.array([w]),
            doublet,
            None,
        )
        if p is not None:
            ratios.append(p[2])
        if len(ratios) >= 12:
            break
    if len(ratios) < 2:
        return default
    return float(np.clip(np.median(ratios), 0.0, 1.0))


def _pieces(centres, widths, group):
    """Overlapping pieces in which a group of peaks is fitted.

    Returns a list of (fitted, kept) index arrays: the peaks of a piece's
    fit and those whose results are kept.  A group of at most
    ``_MAX_GROUP`` peaks is one piece.  A larger one (the cost of a fit
    grows as the cube of its peaks) is cut into runs of at most ``_CORE``
    peaks, each cut at the widest gap (relative to the widths) between
    half a run and a run, and each run is fitted with ``_PAD`` neighbours
    on either side, whose results are dropped.
    """
    g = np.asarray(group)
    n = g.size
    if n <= _MAX_GROUP:
        return [(g, g)]
    c, w = centres[g], widths[g]
    gap = (c[1:] - c[:-1]) / (w[1:] + w[:-1])
    half = _CORE // 2
    cuts = [0]
    while n - cuts[-1] > _CORE:
        start = cuts[-1]
        cuts.append(
            start
            + half
            + int(np.argmax(gap[start + half - 1 : start + _CORE]))
        )
    cuts.append(n)
    return [
        (g[max(a - _PAD, 0) : b + _PAD], g[a:b])
        for a, b in zip(cuts[:-1], cuts[1:])
    ]


def _fit_all(x, y, centres, heights, widths, doublet, ratio):
    """Fit every group; returns (position, area, height, fwhm) arrays."""
    if doublet is None or not ratio or ratio <= 0.02:
        doublet, ratio = None, 0.0
    sep = doublet(centres) - centres if doublet else np.zeros_like(centres)
    groups, lo, hi = _groups(centres, widths, sep)
    pos = centres.copy()
    area = heights / np.array([_pv_peak(w, 0.5) for w in widths])
    height = heights.copy()
    fwhm = widths.copy()
    pieces = [p for g in groups for p in _pieces(centres, widths, g)]
    for g, kept in pieces:
        sel = (x >= lo[g].min()) & (x <= hi[g].max())
        if np.count_nonzero(sel) < 4 * len(g) + 3:
            continue
        p = _fit_group(
            x[sel],
            y[sel],
            centres[g],
            heights[g],
            widths[g],
            doublet,
            ratio,
        )
        if p is None:
            continue
        for k, i in enumerate(g):
            if i not in kept:
                continue
            c, a, w, eta = p[2 + 4 * k : 6 + 4 * k]
            if abs(c - centres[i]) >= 0.74 * widths[i]:
                continue  # at the bound: keep the parabola
            pos[i], area[i], fwhm[i] = c, a, w
            height[i] = a * _pv_peak(w, eta)
    return pos, area, height, fwhm


# End of file
