"""The profile model of the Pawley decomposition.

The non-linear profile parameters of the decomposition
(:func:`~diffpy.crystalnet.refine.pawley.extract_intensities`) with their
start values, the grouping of reflections closer than a fraction of the
peak width, ``_Pawley``: the profile of the groups with free,
non-negative areas, solved for together with a free Chebyshev background
(variable projection), and the steps of the decomposition: the measured
range, the reflections of the lattice, the refinement cycles, the
covariance of the intensities and the final reflection table.
"""

import math

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.profile_bounds import PROFILE_BOUNDS
from diffpy.crystalnet.refine.kernel import caglioti_minimum, tan_theta_range

__all__ = []

_DEG = math.pi / 180.0

#: non-linear profile parameters of the decomposition: start, lower, upper
_NONLINEAR = {
    k: PROFILE_BOUNDS[k]
    for k in (
        "zero_shift",
        "u",
        "v",
        "w",
        "inverse_size",
        "microstrain",
        "strain",
        "kalpha2_ratio",
    )
}


def _start_values(profile):
    """Start values of the non-linear parameters from a dict or Profile."""
    values = {k: v[0] for k, v in _NONLINEAR.items()}
    if profile is None:
        return values
    if hasattr(profile, "__dataclass_fields__"):  # a profiles.Profile
        profile = {
            "u": profile.u,
            "v": profile.v,
            "w": profile.w,
            "zero_shift": profile.zero_shift,
            "microstrain": profile.microstrain,
            "crystallite_size": profile.crystallite_size,
            "kalpha2_ratio": profile.kalpha2_ratio,
        }
    if not isinstance(profile, dict):
        raise CrystalNetInputError(
            "profile must be a dict of start values or a Profile, not "
            f"{type(profile).__name__}",
            "profile",
        )
    profile = dict(profile)
    size = profile.pop("crystallite_size", None)
    if size is not None:
        if not float(size) > 0:
            raise CrystalNetInputError(
                "crystallite_size must be positive (nm)", "profile"
            )
        profile.setdefault("inverse_size", 1.0 / float(size))
    unknown = sorted(set(profile) - set(_NONLINEAR))
    if unknown:
        raise CrystalNetInputError(
            f"unknown start value(s) {unknown}; choose from "
            f"{sorted(_NONLINEAR) + ['crystallite_size']}",
            "profile",
        )
    for key, value in profile.items():
        if value is None:
            continue
        try:
            value = float(value)
        except (TypeError, ValueError):
            value = float("nan")
        if not math.isfinite(value):
            raise CrystalNetInputError(
                f"start value {key} = {profile[key]!r} is not a number",
                "profile",
            )
        values[key] = value
    return values


def _group_reflections(two_theta, fwhm, overlap):
    """Single-linkage groups of sorted positions closer than overlap*FWHM."""
    if two_theta.size == 0:
        return np.zeros(0, dtype=int)
    gap = np.diff(two_theta)
    limit = np.maximum(overlap * np.minimum(fwhm[1:], fwhm[:-1]), 1e-4)
    new = np.r_[True, gap > limit]
    return np.cumsum(new) - 1


class _Pawley:
    """Profile of groups of reflections with free (non-negative) areas.

    Works on the distinct peak positions (reflections with the same d have
    the same peak), each weighted by its number of reflections.
    """

    def __init__(self, x, y, sigma, d0, count, lines, basis, cutoff):
        self.x = x
        self.y = y
        self.inv_sigma = 1.0 / sigma
        self.ys = y * self.inv_sigma
        # distinct d-spacings (peak positions) and reflections at each
        self.d0 = d0
        self.count = count
        self.lines = lines
        self.basis = basis
        self.bs = basis * self.inv_sigma[:, None]
        self.gbb = self.bs.T @ self.bs
        self.cb = self.bs.T @ self.ys
        self.cutoff = cutoff
        self.group = None
        self.n_groups = 0
        self.t_min, self.t_max = tan_theta_range(x)

    def widths_ok(self, p):
        return caglioti_minimum(p, self.t_min, self.t_max) >= 1e-5

    def positions(self, p, lam):
        """Bragg 2-theta (degrees, no zero shift) and theta of positions."""
        sin_t = lam / (2.0 * self.d0 * (1.0 + p["strain"]))
        ok = sin_t < 1.0
        theta = np.full(sin_t.shape, np.nan)
        theta[ok] = np.arcsin(sin_t[ok])
        return 2.0 * theta / _DEG, theta, ok

    def fwhm(self, p, two_theta):
        from diffpy.crystalnet.physics.profiles import peak_widths

        size = 1.0 / p["inverse_size"] if p["inverse_size"] > 1e-6 else None
        return peak_widths(
            two_theta + p["zero_shift"],
            self.lines[0],
            max(p["u"], 0.0),
            p["v"],
            max(p["w"], 0.0),
            crystallite_size=size,
            microstrain=max(p["microstrain"], 0.0),
        )

    def set_groups(self, group):
        self.group = group
        self.n_groups = int(group.max()) + 1 if group.size else 0
        self.size = np.bincount(
            group, weights=self.count, minlength=self.n_groups
        )

    def design(self, p):
        """Sparse weighted design matrix (points x groups)."""
        from scipy.sparse import csr_matrix

        from diffpy.crystalnet.physics.broadening import peak_windows
        from diffpy.crystalnet.physics.profiles import (
            lorentz_polarization,
            pseudo_voigt,
        )

        rows, cols, vals = [], [], []
        for k, lam in enumerate(self.lines):
            weight = 1.0 if k == 0 else p["kalpha2_ratio"]
            if weight <= 0:
                continue
            tt, theta, ok = self.positions(p, lam)
            idx = np.flatnonzero(ok)
            centre = tt[idx] + p["zero_shift"]
            fwhm, eta = self.fwhm(p, tt[idx])
            stick, point = peak_windows(self.x, centre, fwhm, self.cutoff)
            if stick.size == 0:
                continue
            area = (
                weight
                * 2.0
                * lorentz_polarization(theta[idx])
                * self.count[idx]
                / self.size[self.group[idx]]
            )
            vals.append(
                area[stick]
                * pseudo_voigt(
                    self.x[point] - centre[stick], fwhm[stick], eta[stick]
                )
                * self.inv_sigma[point]
            )
            rows.append(point)
            cols.append(self.group[idx][stick])
        if not vals:
            return csr_matrix((len(self.x), self.n_groups))
        return csr_matrix(
            (
                np.concatenate(vals),
                (np.concatenate(rows), np.concatenate(cols)),
            ),
            shape=(len(self.x), self.n_groups),
        )

    def solve(self, p):
        """Non-negative group intensities and free background for p.

        Returns (intensities, background coefficients, weighted residual,
        the reduced normal matrix and active mask) or None.
        """
        if not self.widths_ok(p):
            return None
        a = self.design(p)
        gii = (a.T @ a).toarray()
        gib = np.asarray(a.T @ self.bs)
        ci = np.asarray(a.T @ self.ys).ravel()
        if self.bs.shape[1]:
            solve_b = np.linalg.solve(
                self.gbb, np.column_stack([gib.T, self.cb])
            )
            s = gii - gib @ solve_b[:, :-1]
            r = ci - gib @ solve_b[:, -1]
        else:
            s, r = gii, ci
        active = np.diag(s) > 1e-12 * max(1.0, float(np.max(np.diag(s))))
        x = np.zeros(self.n_groups)
        if np.any(active):
            x[active] = _nnls_quadratic(s[np.ix_(active, active)], r[active])
        if self.bs.shape[1]:
            coef_b = np.linalg.solve(self.gbb, self.cb - gib.T @ x)
        else:
            coef_b = np.zeros(0)
        resid = self.ys - a @ x - self.bs @ coef_b
        return x, coef_b, resid, s, active


def _nnls_quadratic(s, r):
    """argmin_{x >= 0} x.S.x / 2 - r.x for a positive semi-definite S."""
    from scipy.linalg import solve_triangular
    from scipy.optimize import nnls

    dg = np.sqrt(np.diag(s))
    sn = s / dg[:, None] / dg[None, :]
    rn = r / dg
    sn = sn + 1e-10 * np.eye(len(sn))
    try:
        chol = np.linalg.cholesky(sn)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(sn)
        w = np.clip(w, 1e-10, None)
        sn = (v * w) @ v.T
        chol = np.linalg.cholesky(sn)
    # ||L^T x - L^{-1} r||^2 = x S x - 2 r x + const
    rhs = solve_triangular(chol, rn, lower=True, check_finite=False)
    x, _ = nnls(chol.T, rhs, maxiter=50 * len(rn))
    return x / dg


def _check_options(refine, cycles, max_nfev, overlap, fit_overlap):
    """Check the options of :func:`extract_intensities`."""
    unknown = sorted(set(refine) - set(_NONLINEAR))
    if unknown:
        raise CrystalNetInputError(
            f"unknown parameters {unknown}; choose from {sorted(_NONLINEAR)}",
            "refine",
        )
    if int(cycles) < 1 or int(max_nfev) < 1:
        raise CrystalNetInputError(
            "cycles and max_nfev must be at least 1", "cycles"
        )
    if not 0 <= float(overlap) < 5:
        raise CrystalNetInputError("overlap must be within 0-5", "overlap")
    if not 0 <= float(fit_overlap) <= float(overlap):
        raise CrystalNetInputError(
            "fit_overlap must be within 0 and overlap", "fit_overlap"
        )


def _measured_range(x, y, sigma, lam1, d_min, where):
    """The finite profile points up to the angle of ``d_min`` (a float)."""
    keep = np.isfinite(x)
    if d_min is not None:
        d_min = float(d_min)
        if not d_min > 0:
            raise CrystalNetInputError("d_min must be positive", "d_min")
        if lam1 / (2 * d_min) < 1:
            top = 2 * math.degrees(math.asin(lam1 / (2 * d_min)))
            keep &= x <= top + 0.5
    x, y, sigma = x[keep], y[keep], sigma[keep]
    if x.size < 10:
        raise CrystalNetInputError(
            "fewer than 10 profile points to decompose", where
        )
    return x, y, sigma, d_min


def _lattice_reflections(matrix, points, x, lines, values, d_min, where):
    """Allowed reflections (hkl, 1/d) of the measured range plus a margin
    for tails and for the largest strain."""
    from diffpy.crystalnet.physics.scattering import enumerate_reflections

    lam1 = lines[0]
    margin = 2.0
    lo = max(0.0, x[0] - margin - abs(values["zero_shift"]))
    hi = min(179.9, x[-1] + margin + abs(values["zero_shift"]))
    smax = 1.0 + _NONLINEAR["strain"][2]
    r_lo = 2 * math.sin(math.radians(lo / 2)) / max(lines) / smax
    r_hi = 2 * math.sin(math.radians(hi / 2)) / lam1 * smax
    if d_min is not None:
        r_hi = min(r_hi, 1.0 / d_min)
    hkl, g = enumerate_reflections(matrix, r_lo, r_hi)
    phase = hkl @ points.T
    allowed = np.all(np.abs(phase - np.rint(phase)) < 1e-6, axis=1) & (g > 0)
    hkl, g = hkl[allowed], g[allowed]
    if hkl.shape[0] == 0:
        raise CrystalNetInputError(
            "the lattice has no reflection in the measured range", where
        )
    return hkl, g


def _params(values, names, vector):
    """All non-linear parameters, the refined ``names`` from ``vector``."""
    p = dict(values)
    p.update(zip(names, vector))
    return p


def _regroup(model, p, frac, lam1):
    """Groups of the distinct positions (numbered by 2-theta)."""
    tt, _, ok = model.positions(p, lam1)
    tt = np.where(ok, tt, 180.0)
    order = np.argsort(tt, kind="stable")
    fwhm, _ = model.fwhm(p, np.minimum(tt[order], 179.0))
    group = np.empty(len(tt), dtype=int)
    group[order] = _group_reflections(tt[order], fwhm, float(frac))
    return group


def _fit_profile(model, values, names, lam1, cycles, max_nfev, fit_overlap):
    """Refine the profile, regrouping with the refined widths each cycle.

    Returns the refined vector of ``names``, the profile evaluations and
    notes on cycles that did not converge.
    """
    from scipy.optimize import least_squares

    y = model.y
    lower = np.array([_NONLINEAR[k][1] for k in names])
    upper = np.array([_NONLINEAR[k][2] for k in names])
    notes = []
    nfev = 0

    def params(vector):
        return _params(values, names, vector)

    vector = np.clip([values[k] for k in names], lower, upper)
    for cycle in range(int(cycles)):
        model.set_groups(_regroup(model, params(vector), fit_overlap, lam1))
        state = {}

        def residual(v):
            out = model.solve(params(v))
            if out is None:
                return np.full(y.shape, 1e3) * np.sqrt(np.abs(model.ys) + 1)
            state["last"] = out
            return out[2]

        if model.solve(params(vector)) is None:
            raise CrystalNetInputError(
                "the start values give zero peak widths", "profile"
            )
        if names:
            result = least_squares(
                residual,
                vector,
                bounds=(lower, upper),
                x_scale="jac",
                max_nfev=int(max_nfev),
                diff_step=1e-3,
            )
            vector = result.x
            nfev += int(result.nfev)
            if not result.success:
                notes.append(f"cycle {cycle + 1}: {result.message}")
    return vector, nfev, notes


def _intensity_covariance(s, inten, active, chi2, n_groups):
    """Covariance of the fine-group intensities: free (positive) ones from
    the normal matrix, those at the bound from its diagonal."""
    cov = np.zeros((n_groups, n_groups))
    free = active & (inten > 0)
    if np.any(free):
        sub = s[np.ix_(free, free)]
        cov[np.ix_(free, free)] = np.linalg.pinv(sub, hermitian=True) * chi2
    zero = active & ~(inten > 0)
    cov[zero, zero] = chi2 / np.diag(s)[zero]
    cov[~active, ~active] = np.nan
    return cov


def _sum_groups(model, coarse, inten, cov):
    """Intensities and esds of the coarse groups, sums of the fine ones."""
    coarse_of_fine = np.zeros(model.n_groups, dtype=int)
    coarse_of_fine[model.group] = coarse
    n_coarse = int(coarse.max()) + 1
    member = np.zeros((n_coarse, model.n_groups))
    member[coarse_of_fine, np.arange(model.n_groups)] = 1.0
    inten = member @ inten
    # fine groups without data have NaN variances: only the coarse groups
    # that contain one are unknown (a NaN times 0 must not spread to all)
    unknown = ~np.isfinite(np.diag(cov))
    known = np.where(np.isfinite(cov), cov, 0.0)
    group_sigma = np.sqrt(
        np.clip(np.sum((member @ known) * member, 1), 0, None)
    )
    group_sigma[member[:, unknown].sum(1) > 0] = np.nan
    return inten, group_sigma


def _agreement(model, resid, n_par):
    """Calculated profile, Rwp, Rp and reduced chi2 of the decomposition."""
    y = model.y
    calc_w = model.ys - resid
    calc = calc_w / model.inv_sigma
    w = model.inv_sigma**2
    dof = max(1, len(y) - n_par)
    wss = float(np.sum(resid**2))
    rwp = math.sqrt(wss / float(np.sum(w * y * y)))
    rp = float(np.sum(np.abs(y - calc)) / np.sum(np.abs(y)))
    chi2 = wss / dof
    return calc, rwp, rp, chi2


def _reflection_table(model, p, lam1, position, coarse):
    """The reflections sorted by 2-theta.

    Returns the order, the groups renumbered in order of appearance and
    the old number of each, the Bragg angles (no zero shift) and whether
    the shifted peak lies in the measured range.
    """
    tt, _, ok = model.positions(p, lam1)
    tt = np.where(ok, tt, 180.0)[position]
    order = np.lexsort((np.arange(len(tt)), tt))
    group = coarse[position][order]
    # renumber groups in order of appearance
    first = {}
    new_group = np.array([first.setdefault(gv, len(first)) for gv in group])
    remap = np.array(list(first), dtype=int)
    tt = tt[order]
    shown = tt + p["zero_shift"]
    x = model.x
    observed = (shown >= x[0]) & (shown <= x[-1])
    return order, new_group, remap, tt, observed


def _profile_parameters(p, coef_b, lines, names, weight_origin):
    """The refined profile as reported in ``ExtractedIntensities``."""
    inv_size = p["inverse_size"]
    return {
        "zero_shift": float(p["zero_shift"]),
        "u": float(p["u"]),
        "v": float(p["v"]),
        "w": float(p["w"]),
        "inverse_size": float(inv_size),
        "crystallite_size": 1.0 / inv_size if inv_size > 1e-6 else None,
        "microstrain": float(p["microstrain"]),
        "strain": float(p["strain"]),
        "kalpha2_ratio": float(p["kalpha2_ratio"]) if len(lines) > 1 else None,
        "background": [float(c) for c in coef_b],
        "wavelength": [float(v) for v in lines],
        "refined": list(names),
        "weights": weight_origin,
    }


# End of file
