"""Fit a candidate structure's computed pattern to an observed profile.

A Le Bail-free, Rietveld-style profile fit with the atoms held fixed: the
structure factors come once from the project's simulator
(:func:`~diffpy.crystalnet.physics.simulator.stick_table`), and the fit
refines what an observed profile needs beyond the atoms:

* linear (solved exactly at every step, bounded least squares): the scale
  of the K-alpha1 peaks, the scale of the K-alpha2 peaks (so the
  Ka2/Ka1 ratio is free and monochromated data simply get 0), and a
  Chebyshev background of ``background_terms`` terms over the measured
  range;
* non-linear (:func:`scipy.optimize.least_squares`, trust region with
  bounds): zero shift (degrees), Caglioti ``u, v, w`` (deg^2, Gaussian
  width), an inverse crystallite size (Lorentzian Scherrer width), one
  overall isotropic displacement ``B`` (angstrom^2; decoded structures
  carry none) and an isotropic lattice strain (the cell scaled by
  ``1 + strain``, within 2 %).

Peaks are the project's pseudo-Voigt (Thompson-Cox-Hastings mixing of the
Gaussian and Lorentzian widths, :mod:`diffpy.crystalnet.physics.profiles`).
Weights are ``1 / sigma**2`` with ``sigma`` from the file; without it,
``sqrt(max(counts, 1))`` when the data look like counts, otherwise equal
weights (then ``chi2`` is only relative).  Only the measured range is used.

Agreement factors (the standard Rietveld definitions, over all points):

* ``Rwp = sqrt(sum w (yo - yc)^2 / sum w yo^2)``
* ``Rp = sum |yo - yc| / sum |yo|``
* ``chi2 = sum w (yo - yc)^2 / (N - P)`` (reduced), and
  ``Rexp = sqrt((N - P) / sum w yo^2)``, so ``chi2 = (Rwp / Rexp)^2``.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.profile_bounds import PROFILE_BOUNDS
from diffpy.crystalnet.refine.kernel import (
    caglioti_minimum,
    chebyshev_basis,
    check_profile_pattern,
    kalpha_lines,
    nonnegative_head_lstsq,
    profile_weights,
    tan_theta_range,
)

__all__ = ["FitResult", "fit_candidate"]

_DEG = math.pi / 180.0

#: non-linear parameters, start values and bounds
_NONLINEAR = {
    k: PROFILE_BOUNDS[k]
    for k in ("zero_shift", "u", "v", "w", "inverse_size", "b_iso", "strain")
}
#: refined by default
DEFAULT_REFINE = ("zero_shift", "u", "v", "w", "inverse_size", "b_iso")


@dataclass
class FitResult:
    """The outcome of :func:`fit_candidate`.

    Attributes
    ----------
    rwp, rp, rexp : float
        Weighted-profile, profile and expected R factors (fractions, not
        percent).
    chi2 : float
        Reduced chi-square, ``(Rwp / Rexp)**2``.
    two_theta : numpy.ndarray
        The measured 2-theta points (degrees) used.
    observed, calculated, background : numpy.ndarray
        Observed profile, calculated profile (background included) and the
        background alone.
    sigma : numpy.ndarray
        The standard uncertainties used for the weights.
    parameters : dict
        Refined values: ``scale``, ``kalpha2_scale``, ``zero_shift``,
        ``u``, ``v``, ``w``, ``crystallite_size`` (nm, None when the
        Lorentzian width vanished), ``b_iso``, ``strain``, ``background``
        (Chebyshev coefficients) and ``wavelength``.
    nfev : int
        Model evaluations.
    success : bool
        Whether the optimiser reported convergence.
    message : str
        The optimiser's message.
    """

    rwp: float
    rp: float
    rexp: float
    chi2: float
    two_theta: np.ndarray
    observed: np.ndarray
    calculated: np.ndarray
    background: np.ndarray
    sigma: np.ndarray
    parameters: dict
    nfev: int = 0
    success: bool = True
    message: str = ""
    warnings: list = field(default_factory=list)

    @property
    def difference(self):
        """Observed minus calculated (numpy.ndarray)."""
        return self.observed - self.calculated


class _Model:
    """Calculated profile for given non-linear parameters."""

    def __init__(self, structure, x, lines, cutoff):
        from diffpy.crystalnet.physics.simulator import stick_table

        self.x = x
        self.lines = lines
        hi = min(180.0, float(x[-1]) + 5.0)
        table = stick_table(structure, min(lines), (0.0, hi), families=False)
        self.d = table["d"]
        self.f2 = table["f2"]
        self.cutoff = cutoff

    def columns(self, p):
        from diffpy.crystalnet.physics.broadening import broaden_sticks
        from diffpy.crystalnet.physics.profiles import (
            Profile,
            lorentz_polarization,
        )

        d = self.d * (1.0 + p["strain"])
        s2 = 1.0 / (4.0 * d * d)
        size = 1.0 / p["inverse_size"] if p["inverse_size"] > 1e-6 else None
        profile = Profile(
            u=max(p["u"], 0.0),
            v=p["v"],
            w=max(p["w"], 0.0),
            crystallite_size=size,
            zero_shift=p["zero_shift"],
            cutoff=self.cutoff,
        )
        cols = []
        for lam in self.lines:
            sin_t = lam / (2.0 * d)
            ok = sin_t < 1.0
            theta = np.arcsin(sin_t[ok])
            inten = (
                self.f2[ok]
                * np.exp(-2.0 * p["b_iso"] * s2[ok])
                * lorentz_polarization(theta)
            )
            cols.append(
                broaden_sticks(2.0 * theta / _DEG, inten, self.x, profile, lam)
            )
        return cols


def fit_candidate(
    structure,
    pattern,
    refine=DEFAULT_REFINE,
    background_terms=6,
    kalpha2="auto",
    start=None,
    max_nfev=200,
    cutoff=20.0,
):
    """Fit a structure's computed profile to an observed pattern.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        The candidate; atoms and occupancies are kept fixed.
    pattern : diffpy.crystalnet.physics.pattern.Pattern
        The observed profile with its wavelength (2-theta or Q).
    refine : sequence of str, optional
        Non-linear parameters to refine, among ``zero_shift``, ``u``,
        ``v``, ``w``, ``inverse_size``, ``b_iso`` and ``strain``
        (default: all but ``strain``).  The others stay at ``start``.
    background_terms : int, optional
        Chebyshev background terms (default 6).
    kalpha2 : {"auto", True, False}, optional
        Compute a K-alpha2 line (with its own, free, scale).  ``"auto"``
        (default) does so for K-alpha wavelengths.
    start : dict, optional
        Start values of non-linear parameters (see ``refine``).
    max_nfev : int, optional
        Largest number of model evaluations of the optimiser.
    cutoff : float, optional
        Peaks are evaluated within this many FWHM of their centre.

    Returns
    -------
    FitResult
        R factors, profiles, refined parameters.

    Raises
    ------
    CrystalNetInputError
        For sticks instead of a profile, a pattern without wavelength, an
        unknown parameter name, or a structure whose pattern has no peak in
        the measured range.
    """
    check_profile_pattern(pattern, "the fit")
    _check_refine(refine)
    x, y, sigma, weight_origin, lines = _observed(pattern, kalpha2)
    model = _Model(structure, x, lines, cutoff)
    values = {k: v[0] for k, v in _NONLINEAR.items()}
    values.update(start or {})
    names = [k for k in _NONLINEAR if k in refine]
    lower = np.array([_NONLINEAR[k][1] for k in names])
    upper = np.array([_NONLINEAR[k][2] for k in names])
    p0 = np.clip([values[k] for k in names], lower, upper)
    basis = chebyshev_basis(x, int(background_terms))
    inv_sigma = 1.0 / sigma
    n_lin = len(lines) + basis.shape[1]
    state = {}
    t_min, t_max = tan_theta_range(x)

    def evaluate(vector):
        p = dict(values)
        p.update(zip(names, vector))
        # Gaussian width^2 must stay positive over the measured range
        if caglioti_minimum(p, t_min, t_max) < 1e-5:
            return None
        cols = model.columns(p)
        design = np.column_stack(cols + [basis])
        coef = nonnegative_head_lstsq(
            design * inv_sigma[:, None], y * inv_sigma, len(lines)
        )
        calc = design @ coef
        return p, coef, calc

    def residual(vector):
        out = evaluate(vector)
        if out is None:
            return np.full(y.shape, 1e3) * np.sqrt(np.abs(y) + 1.0)
        p, coef, calc = out
        state["last"] = out
        return (y - calc) * inv_sigma

    first = evaluate(p0)
    if first is None:
        raise CrystalNetInputError(
            "the start values give zero peak widths", "start"
        )
    best, nfev, success, message = _minimise(
        evaluate, residual, first, p0, (lower, upper), max_nfev
    )
    p, coef, calc = best
    n_peaks = len(lines)
    bkg = basis @ coef[n_peaks:]
    if not np.any(coef[:n_peaks] > 0):
        raise CrystalNetInputError(
            "the candidate has no peak intensity in the measured range",
            "structure",
        )
    dof = max(1, len(y) - (len(names) + n_lin))
    rwp, rp, rexp, wss = _agreement(y, calc, inv_sigma, dof)
    parameters = _fit_parameters(p, coef, lines, names, weight_origin)
    return FitResult(
        rwp=rwp,
        rp=rp,
        rexp=rexp,
        chi2=wss / dof,
        two_theta=x,
        observed=y,
        calculated=calc,
        background=bkg,
        sigma=sigma,
        parameters=parameters,
        nfev=int(nfev),
        success=bool(success),
        message=str(message),
    )


def _check_refine(refine):
    """Check the names of the parameters to refine."""
    unknown = sorted(set(refine) - set(_NONLINEAR))
    if unknown:
        raise CrystalNetInputError(
            f"unknown parameters {unknown}; choose from {sorted(_NONLINEAR)}",
            "refine",
        )


def _observed(pattern, kalpha2):
    """The finite observed points, their sigma and the K-alpha lines."""
    x = np.asarray(pattern.two_theta, dtype=float)
    y = np.asarray(pattern.intensity, dtype=float)
    ok = np.isfinite(x)
    x, y = x[ok], y[ok]
    sigma, weight_origin = profile_weights(pattern, y)
    sigma = sigma[ok] if sigma.shape != y.shape else sigma
    lines, _ = kalpha_lines(pattern.wavelength, kalpha2)
    return x, y, sigma, weight_origin, lines


def _minimise(evaluate, residual, first, p0, bounds, max_nfev):
    """Least squares from ``p0`` (nothing to refine: the start).

    Returns the best evaluation, the number of evaluations, whether the
    optimiser converged and its message.
    """
    from scipy.optimize import least_squares

    if len(p0):
        result = least_squares(
            residual,
            p0,
            bounds=bounds,
            x_scale="jac",
            max_nfev=max_nfev,
            diff_step=1e-3,
            tr_solver="lsmr",
        )
        best = evaluate(result.x)
        nfev, success, message = result.nfev, result.success, result.message
    else:
        best, nfev, success, message = first, 1, True, "nothing refined"
    return best, nfev, success, message


def _agreement(y, calc, inv_sigma, dof):
    """Rwp, Rp, Rexp and the weighted sum of squares."""
    w = inv_sigma**2
    wss = float(np.sum(w * (y - calc) ** 2))
    rwp = math.sqrt(wss / float(np.sum(w * y * y)))
    rp = float(np.sum(np.abs(y - calc)) / np.sum(np.abs(y)))
    rexp = math.sqrt(dof / float(np.sum(w * y * y)))
    return rwp, rp, rexp, wss


def _fit_parameters(p, coef, lines, names, weight_origin):
    """The refined values as reported in ``FitResult.parameters``."""
    n_peaks = len(lines)
    size = 1.0 / p["inverse_size"] if p["inverse_size"] > 1e-6 else None
    return {
        "scale": float(coef[0]),
        "kalpha2_scale": float(coef[1]) if n_peaks > 1 else None,
        "zero_shift": float(p["zero_shift"]),
        "u": float(p["u"]),
        "v": float(p["v"]),
        "w": float(p["w"]),
        "crystallite_size": size,
        "b_iso": float(p["b_iso"]),
        "strain": float(p["strain"]),
        "background": [float(c) for c in coef[n_peaks:]],
        "wavelength": [float(v) for v in lines],
        "weights": weight_origin,
        "refined": list(names),
    }


# End of file
