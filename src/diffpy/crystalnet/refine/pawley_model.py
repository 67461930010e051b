"""The profile model of the Pawley decomposition.

The non-linear profile parameters of the decomposition
(:func:`~diffpy.crystalnet.refine.pawley.extract_intensities`) with their
start values, the grouping of reflections closer than a fraction of the
peak width, and ``_Pawley``: the profile of the groups with free,
non-negative areas, solved for together with a free Chebyshev background
(variable projection).
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


# End of file
