"""Background estimation of powder profiles with SNIP.

SNIP (Statistics-sensitive Non-linear Iterative Peak-clipping; Ryan et al.,
Nucl. Instrum. Methods B 34, 396 (1988); Morhac et al., Nucl. Instrum.
Methods A 401, 113 (1997)) replaces each point by the smaller of itself and
the mean of its neighbours at distance k, for k up to a half window: peaks
narrower than the window are clipped away, smooth background stays.  We use
the implementation of the maintained `pybaselines
<https://pybaselines.readthedocs.io>`_ library (``pybaselines.smooth.snip``,
decreasing window order, which gives the smoother baseline) on the
log-log-square-root (LLS) transformed intensities, as recommended for
data spanning orders of magnitude (Morhac 1997), and transform back.

The window is given as a width in Q (1/angstrom), because peak widths and
background curvature are physical quantities: the same default suits a
Cu lab scan in 2-theta and a synchrotron pattern in Q.
"""

import warnings

import numpy as np

__all__ = ["DEFAULT_BACKGROUND_WIDTH", "snip_background"]

#: Default SNIP half window in Q (1/angstrom).  Bragg peaks of lab and
#: synchrotron data are 0.005-0.05 1/A wide at the base; overlapping groups
#: reach about 0.2 1/A; amorphous and air-scatter humps are wider than 1 1/A.
DEFAULT_BACKGROUND_WIDTH = 0.2


def _lls(y):
    return np.log(np.log(np.sqrt(y + 1.0) + 1.0) + 1.0)


def _lls_inverse(v):
    return (np.exp(np.exp(v) - 1.0) - 1.0) ** 2 - 1.0


def snip_background(q, intensity, width=DEFAULT_BACKGROUND_WIDTH):
    """Estimate the background of a profile with SNIP.

    Parameters
    ----------
    q : array_like
        Q of every point (1/angstrom), increasing; used only to turn
        ``width`` into a number of points (median step).
    intensity : array_like
        The profile; negative values are treated as zero.
    width : float, optional
        SNIP half window in Q (1/angstrom): features narrower than about
        twice this are treated as peaks.

    Returns
    -------
    numpy.ndarray
        The background, same shape as ``intensity``, never above it.
    """
    from pybaselines.smooth import snip

    q = np.asarray(q, dtype=float)
    y = np.clip(np.asarray(intensity, dtype=float), 0.0, None)
    steps = np.diff(q)
    step = float(np.median(steps[steps > 0])) if np.any(steps > 0) else 1.0
    half_window = int(np.clip(round(width / step), 1, (y.size - 1) // 2))
    if y.size < 3 or half_window < 1:
        return np.zeros_like(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        baseline, _ = snip(
            _lls(y), max_half_window=half_window, decreasing=True
        )
    background = _lls_inverse(baseline)
    return np.minimum(np.clip(background, 0.0, None), y)
