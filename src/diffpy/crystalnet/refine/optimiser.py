"""The optimiser of a Rietveld refinement.

Trust-region least squares over a subset of the parameters, the linear
parameters (scales, background) solved exactly for fixed non-linear ones,
the staged refinement (profile first, then everything) and the coarse
search of the cell that brings a start cell up to about 1 % off into the
basin of the minimum; and the statistics of the fit (agreement factors,
covariance and esds).
"""

import math

import numpy as np

__all__ = ["COARSE_CUTOFF", "TR_SOLVER"]

TR_SOLVER = "lsmr"
#: peak windows (FWHM) of the coarse search
COARSE_CUTOFF = 6.0


def _solve_linear(model, vector, cost=False):
    """Scales and background for fixed non-linear parameters.

    With ``cost``, also the weighted sum of squares of the profile.
    """
    from diffpy.crystalnet.refine.kernel import nonnegative_head_lstsq

    design, _ = model.design(vector)
    w = model.inv_sigma
    coef = nonnegative_head_lstsq(
        design * w[:, None], model.y * w, len(model.lines)
    )
    out = np.array(vector, dtype=float)
    out[model.linear] = coef
    if cost:
        return out, float(np.sum(((model.y - design @ coef) * w) ** 2))
    return out


def _least_squares(model, vector, free, max_nfev, tol=1e-9):
    """Run the trust-region least squares over the ``free`` indices."""
    from scipy.optimize import least_squares

    free = np.asarray(free, dtype=int)
    base = np.array(vector, dtype=float)
    state = {"njev": 0}
    bad = None

    def full(sub):
        v = base.copy()
        v[free] = sub
        return v

    def fun(sub):
        nonlocal bad
        r = model.residual(full(sub))
        if r is None:  # invalid widths: a large, flat residual
            if bad is None:
                bad = 1e3 * np.ones(len(model.residual(base)))
            return bad
        return r

    def jac(sub):
        state["njev"] += 1
        return model.jacobian(full(sub), free)

    lower = model.lower[free]
    upper = model.upper[free]
    x0 = np.clip(base[free], lower, upper)
    result = least_squares(
        fun,
        x0,
        jac=jac,
        bounds=(lower, upper),
        x_scale="jac",
        max_nfev=max_nfev,
        method="trf",
        tr_solver=TR_SOLVER,
        xtol=tol,
        ftol=tol,
        gtol=tol,
    )
    return full(result.x), result, state["njev"]


def _refine_all(model, vector, free, max_nfev):
    """Profile first (atoms fixed), then everything."""
    if not len(free):
        return vector, "nothing refined", True
    stage1 = [i for i in free if not _is_atomic(model.kinds[i][0])]
    if len(stage1) < len(free) and len(stage1):
        vector, _, _ = _least_squares(model, vector, stage1, 40)
    vector, res, _ = _least_squares(model, vector, free, max_nfev)
    return vector, str(res.message), bool(res.success)


def _is_atomic(kind):
    return kind == "b" or (
        isinstance(kind, tuple) and kind[0] in ("coord", "b")
    )


def _coarse_cell(model, vector, refine, n_starts=3):
    """Bring the cell into the basin of the minimum.

    A scan of the cell scale (all edges together) with peaks broadened to
    about 0.3 degrees gives the ``n_starts`` best local minima; from each,
    the cell, zero shift and linear parameters are refined with peaks
    broadened to 0.3 and then 0.15 degrees, and the best is kept.
    """
    if "lattice" not in refine:
        return vector
    cutoff = model.cutoff
    model.cutoff = COARSE_CUTOFF  # broad peaks: shorter windows are plenty
    try:
        return _coarse_search(model, vector, n_starts)
    finally:
        model.cutoff = cutoff


def _coarse_search(model, vector, n_starts):
    idx = model.index
    edges = [idx[k] for k in model.cell_mode if k in ("a", "b", "c")]
    lo, hi = model.lower[edges], model.upper[edges]

    def broadened(v, w):
        out = np.array(v, dtype=float)
        out[idx["w"]] = max(out[idx["w"]], w)
        out[idx["u"]] = 0.0
        out[idx["v"]] = 0.0
        return out

    def wss(v):
        calc, _, _ = model.calc(v)
        return float(np.sum(((model.y - calc) * model.inv_sigma) ** 2))

    wide = broadened(vector, 0.09)
    theta_max = math.radians(model.x[-1] / 2.0)
    step = math.radians(0.05) / (2.0 * math.tan(theta_max))
    n = int(math.ceil(0.012 / step))
    scales = 1.0 + step * np.arange(-n, n + 1)
    trials, costs = [], []
    for s in scales:
        trial = wide.copy()
        trial[edges] = np.clip(wide[edges] * s, lo, hi)
        trial, c = _solve_linear(model, trial, cost=True)
        trials.append(trial)
        costs.append(c)
    costs = np.array(costs)
    is_min = (
        np.r_[True, costs[1:] < costs[:-1]]
        & np.r_[costs[:-1] <= costs[1:], True]
    )
    order = [i for i in np.argsort(costs) if is_min[i]][:n_starts]
    free = [
        i
        for i in range(len(model.names))
        if model.free[i]
        and (model.kinds[i][0] in ("lattice", "zero") or model.linear[i])
    ]
    best = (np.inf, vector)
    inv_sigma = model.inv_sigma
    x = model.x

    def descend(trial, schedule):
        for fraction, w in schedule:
            limit = x[0] + fraction * (x[-1] - x[0])
            model.inv_sigma = np.where(x <= limit, inv_sigma, 0.0)
            try:
                trial = broadened(trial, w)
                trial[idx["w"]] = max(vector[idx["w"]], w)
                trial, _, _ = _least_squares(model, trial, free, 20)
            finally:
                model.inv_sigma = inv_sigma
        return trial, wss(trial)

    for i in order:
        # broad peaks over a growing range: low-angle peaks move little
        # with the cell, so each range starts inside its basin
        found = [
            descend(
                trials[i], ((0.35, 0.09), (0.6, 0.09), (1, 0.09), (1, 0.02))
            )
        ]
        if len(edges) > 1:
            # each edge scanned alone over the whole range
            swept = _edge_sweeps(model, trials[i], edges, step)
            found.append(descend(swept, ((1, 0.09), (1, 0.02))))
        for trial, cost in found:
            if cost < best[0]:
                best = (cost, trial)
    out = np.array(vector, dtype=float)
    keep = [
        i for i, k in enumerate(model.kinds) if k[0] in ("lattice", "zero")
    ]
    out[keep] = best[1][keep]
    return _solve_linear(model, out)


def _edge_sweeps(model, trial, edges, step, sweeps=2, span=0.008):
    """Scan each cell edge alone (the others fixed), twice over."""
    n = int(math.ceil(span / step))
    factors = 1.0 + step * np.arange(-n, n + 1)
    trial, best = _solve_linear(model, trial, cost=True)
    for _ in range(sweeps):
        for e in edges:
            centre = trial[e]
            for f in factors:
                v = trial.copy()
                v[e] = np.clip(centre * f, model.lower[e], model.upper[e])
                v, cost = _solve_linear(model, v, cost=True)
                if cost < best:
                    best, trial = cost, v
    return trial


def _agreement(model, vector, n_par):
    calc, design, _ = model.calc(vector)
    y = model.y
    w = model.inv_sigma**2
    dof = max(1, len(y) - n_par)
    wss = float(np.sum(w * (y - calc) ** 2))
    syy = float(np.sum(w * y * y))
    return dict(
        rwp=math.sqrt(wss / syy),
        rp=float(np.sum(np.abs(y - calc)) / np.sum(np.abs(y))),
        rexp=math.sqrt(dof / syy),
        chi2=wss / dof,
        calc=calc,
        background=design[:, len(model.lines) :]
        @ np.asarray(vector)[model.linear][len(model.lines) :],
    )


def _covariance(jac, chi2):
    """(J^T J)^-1 chi2 with column scaling and a pseudo-inverse."""
    norm = np.sqrt(np.einsum("ij,ij->j", jac, jac))
    norm[norm == 0] = 1.0
    jn = jac / norm
    cov = np.linalg.pinv(jn.T @ jn, rcond=1e-12, hermitian=True)
    return cov / np.outer(norm, norm) * chi2


def _esds(model, vector, free, chi2):
    """Esds of the refined parameters (and of ``b``, ``c`` tied to ``a``).

    Returns the esd dict and the covariance matrix (None when nothing was
    refined).
    """
    n_par = len(free)
    esd = {}
    cov = None
    if n_par:
        jac = model.jacobian(vector, free)
        cov = _covariance(jac, chi2)
        for k, j in enumerate(free):
            esd[model.names[j]] = float(math.sqrt(max(cov[k, k], 0.0)))
    for k in ("b", "c"):
        if k not in model.cell_mode and "a" in esd:
            esd[k] = esd["a"]
    return esd, cov


# End of file
