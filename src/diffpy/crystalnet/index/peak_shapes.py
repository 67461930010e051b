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
"""

import math

import numpy as np

from diffpy.crystalnet.physics.profiles import pseudo_voigt

__all__ = []

_LN2 = math.log(2.0)


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


def _group_model(p, x, n, doublet, ratio):
    """Sum of n pseudo-Voigt (doublets) on a straight background."""
    b0, b1 = p[0], p[1]
    xc = 0.5 * (x[0] + x[-1])
    out = b0 + b1 * (x - xc)
    r = p[2] if ratio is None else ratio
    off = 2 if ratio is not None else 3
    for k in range(n):
        c, area, w, eta = p[off + 4 * k : off + 4 * k + 4]
        out = out + area * pseudo_voigt(x - c, w, eta)
        if doublet is not None and r > 0:
            out = out + r * area * pseudo_voigt(x - doublet(c), w, eta)
    return out


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

    def residual(p):
        return (_group_model(p, x, n, doublet, ratio) - y) / scale

    try:
        fit = least_squares(
            residual, np.array(p0), bounds=(lo, hi), x_scale="jac"
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
    for g in groups:
        g = np.array(g)
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
            c, a, w, eta = p[2 + 4 * k : 6 + 4 * k]
            if abs(c - centres[i]) >= 0.74 * widths[i]:
                continue  # at the bound: keep the parabola
            pos[i], area[i], fwhm[i] = c, a, w
            height[i] = a * _pv_peak(w, eta)
    return pos, area, height, fwhm


# End of file
