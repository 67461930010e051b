"""The shared kernel of the profile fits: what every engine needs.

The profile fit of a candidate (:mod:`.profile_fit`), the Pawley
extraction (:mod:`.pawley`) and the Rietveld refinement (:mod:`.rietveld`)
check the observed pattern the same way, weight it the same way, compute the
same K-alpha lines, expand the background in the same Chebyshev series,
keep the Gaussian peak widths positive the same way and solve the same
linear least-squares problem for scale and background.
"""

import math

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = [
    "caglioti_minimum",
    "chebyshev_basis",
    "check_profile_pattern",
    "kalpha_lines",
    "nonnegative_head_lstsq",
    "profile_weights",
    "tan_theta_range",
]


def chebyshev_basis(x, terms):
    """Chebyshev polynomials of x mapped to [-1, 1], as columns.

    Parameters
    ----------
    x : numpy.ndarray
        Increasing abscissa.
    terms : int
        Number of polynomials (0 gives an empty ``(len(x), 0)`` array).

    Returns
    -------
    numpy.ndarray
        ``(len(x), terms)``; the same series as
        :func:`diffpy.crystalnet.physics.broadening.background`
        (``kind="chebyshev"``).
    """
    x = np.asarray(x, dtype=float)
    t = (2.0 * x - (x[0] + x[-1])) / (x[-1] - x[0])
    cols = []
    prev, cur = np.ones_like(t), t
    for i in range(terms):
        if i == 0:
            cols.append(prev)
        elif i == 1:
            cols.append(cur)
        else:
            prev, cur = cur, 2.0 * t * cur - prev
            cols.append(cur)
    return np.column_stack(cols) if cols else np.zeros((len(t), 0))


def check_profile_pattern(pattern, what="the fit"):
    """Check that ``pattern`` is a measured profile with a wavelength.

    Parameters
    ----------
    pattern : Pattern
        The observed pattern.
    what : str, optional
        What needs it, the subject of the error messages (``"the fit"``,
        ``"the refinement"``, ...).

    Returns
    -------
    str
        The pattern's source, or ``"pattern"``: where later errors about
        it happened.

    Raises
    ------
    CrystalNetInputError
        For something that is not a pattern, sticks instead of a profile,
        or a pattern without wavelength.
    """
    if not hasattr(pattern, "kind") or not hasattr(pattern, "intensity"):
        raise CrystalNetInputError(
            "expected a diffpy.crystalnet Pattern (load_pattern), not "
            f"{type(pattern).__name__}",
            "pattern",
        )
    where = getattr(pattern, "source", None) or "pattern"
    if pattern.kind != "profile":
        raise CrystalNetInputError(
            f"{what} needs a measured profile, not sticks", where
        )
    if pattern.wavelength is None:
        raise CrystalNetInputError(
            f"{what} needs the wavelength of the pattern", where
        )
    return where


def profile_weights(pattern, y):
    """Standard uncertainties of the observed profile, and where from.

    Parameters
    ----------
    pattern : Pattern
        The observed pattern (its ``sigma`` when the file had one).
    y : numpy.ndarray
        The observed intensities used.

    Returns
    -------
    sigma : numpy.ndarray
        From the file (non-positive ones set to the smallest positive),
        else ``sqrt(max(y, 1))`` for counts, else a constant.
    origin : {"file", "sqrt(counts)", "equal"}
        Which of the three.
    """
    if pattern.sigma is not None:
        sigma = np.asarray(pattern.sigma, dtype=float)
        positive = sigma[sigma > 0]
        floor = positive.min() if positive.size else 1.0
        return np.where(sigma > 0, sigma, floor), "file"
    if y.max() > 50 and y.min() >= 0:
        return np.sqrt(np.maximum(y, 1.0)), "sqrt(counts)"
    return np.full(y.shape, max(1e-12, float(np.std(y)) or 1.0)), "equal"


def kalpha_lines(wavelength, kalpha2):
    """The wavelengths to compute a profile at, and the K-alpha2 ratio.

    Parameters
    ----------
    wavelength : float
        The pattern's wavelength in angstrom.
    kalpha2 : bool or "auto"
        Compute the K-alpha doublet ("auto": when the wavelength is a
        K-alpha line).

    Returns
    -------
    lines : list of float
        ``[wavelength]``, or ``[Ka1, Ka2]``.
    ratio : float or None
        The Ka2/Ka1 intensity ratio of the doublet, else None.
    """
    from diffpy.crystalnet.physics.wavelengths import kalpha_doublet

    doublet = kalpha_doublet(wavelength)
    if kalpha2 == "auto":
        kalpha2 = doublet is not None
    if not kalpha2:
        return [wavelength], None
    if doublet is None:
        raise CrystalNetInputError(
            f"kalpha2=True needs a K-alpha wavelength, not {wavelength:g} A",
            "kalpha2",
        )
    return [doublet[0], doublet[1]], doublet[2]


def nonnegative_head_lstsq(a, b, n_head):
    """Least squares with the first ``n_head`` coefficients kept >= 0.

    Normal equations on column-scaled ``a`` (a few columns, many rows);
    a negative head coefficient is fixed at zero and the rest re-solved.
    """
    scale = np.sqrt(np.einsum("ij,ij->j", a, a))
    scale[scale == 0] = 1.0
    an = a / scale
    gram = an.T @ an
    rhs = an.T @ b
    free = np.ones(a.shape[1], dtype=bool)
    coef = np.zeros(a.shape[1])
    for _ in range(n_head + 1):
        idx = np.flatnonzero(free)
        sub = gram[np.ix_(idx, idx)]
        try:
            sol = np.linalg.solve(sub, rhs[idx])
        except np.linalg.LinAlgError:
            sol = np.linalg.lstsq(sub, rhs[idx], rcond=None)[0]
        coef[:] = 0.0
        coef[idx] = sol
        negative = [i for i in range(n_head) if free[i] and coef[i] < 0]
        if not negative:
            break
        free[negative] = False
    return coef / scale


def tan_theta_range(two_theta):
    """``tan(theta)`` at the first and the last point of a profile.

    Parameters
    ----------
    two_theta : numpy.ndarray
        Increasing 2-theta points in degrees.

    Returns
    -------
    (float, float)
        ``tan(theta)`` at ``two_theta[0]`` and at ``two_theta[-1]``.
    """
    return (
        math.tan(math.radians(two_theta[0] / 2.0)),
        math.tan(math.radians(two_theta[-1] / 2.0)),
    )


def caglioti_minimum(p, t_min, t_max):
    """Smallest Gaussian ``FWHM^2`` of the Caglioti widths over a range.

    Parameters
    ----------
    p : dict
        The profile parameters ``u``, ``v`` and ``w`` (deg^2).
    t_min, t_max : float
        The range of ``tan(theta)`` (:func:`tan_theta_range`).

    Returns
    -------
    float
        The smallest ``u t^2 + v t + w`` for ``t_min <= t <= t_max``: at
        the ends, or at the vertex when it lies inside.  Each engine
        rejects profile parameters whose minimum is too small.
    """
    h2 = [p["u"] * t * t + p["v"] * t + p["w"] for t in (t_min, t_max)]
    if p["v"] < 0 and p["u"] > 0:
        t_star = -p["v"] / (2 * p["u"])
        if t_min < t_star < t_max:
            h2.append(p["w"] - p["v"] ** 2 / (4 * p["u"]))
    return min(h2)
