"""Least-squares refinement of the candidate cells of one lattice type.

:func:`_solve_one` alternates matching the observed lines to the nearest
calculated ones (:func:`_match`) with a weighted least-squares refinement of
the cell and the zero shift (:func:`_refine`), then computes the figures of
merit; :func:`_refine_candidates` turns the candidates that
:func:`~diffpy.crystalnet.index.search._candidates` keeps into
:class:`~diffpy.crystalnet.index.solution.IndexingSolution` objects.
Internal to :mod:`diffpy.crystalnet.index`.
"""

import math

import numpy as np

from diffpy.crystalnet.index.solution import IndexingSolution, _figures

__all__ = []


def _match(model, params, obs, zero, tol_s):
    """Nearest allowed calculated line of each observed line."""
    s_obs = obs.corrected_s(zero)
    s_calc, idx, hkl = model.lines(params, s_obs.max() * 1.05 + tol_s.max())
    if s_calc.size == 0:
        return None
    j = np.clip(np.searchsorted(s_calc, s_obs), 1, s_calc.size - 1)
    left = np.abs(s_obs - s_calc[j - 1])
    right = np.abs(s_obs - s_calc[j])
    j = np.where(left <= right, j - 1, j)
    if s_calc.size == 1:
        j = np.zeros_like(j)
    err = np.abs(s_obs - s_calc[j])
    ok = err <= tol_s
    return j, ok, s_calc, idx, hkl


def _refine(model, params, zero, obs, idx_rows, free_zero, zero_bound):
    """Least-squares cell (and zero shift) from indexed lines.

    ``s = 1/d^2`` is linear in ``A = 1/a^2`` (cubic) or in
    ``(A, C) = (4 / (3 a^2), 1 / c^2)`` (hexagonal axes), and the observed
    s depends on the zero shift ``z`` through ``2theta - z``; Gauss-Newton
    steps of the weighted linear problem, with residuals in degrees
    2-theta (in Q without wavelength), converge in a few iterations.
    """
    n_par = len(params)
    use_zero = free_zero and obs.wavelength is not None
    if model.hexagonal:
        design = np.column_stack([idx_rows[:, 0], idx_rows[:, 1] ** 2])
    else:
        design = idx_rows[:, :1].copy()
    z = float(zero) if use_zero else 0.0
    for _ in range(4):
        if obs.wavelength is not None:
            lam = obs.wavelength
            t = np.radians(obs.tth_sel - z) / 2.0
            s_obs = (2.0 * np.sin(t) / lam) ** 2
            # d s / d(2theta) in 1/deg: 8 sin cos / lam^2 * (pi / 360)
            dsdt = 8.0 * np.sin(t) * np.cos(t) / lam**2 * math.pi / 360.0
        else:
            s_obs = (obs.q_sel / (2 * math.pi)) ** 2
            dsdt = 2.0 * obs.q_sel / (4 * math.pi**2)
        w = 1.0 / np.maximum(dsdt, 1e-12)
        # s_obs(z + dz) ~ s_obs(z) - dsdt dz  =>  s_obs = X p + dsdt dz
        mat = design * w[:, None]
        rhs = s_obs * w
        if use_zero:
            mat = np.column_stack([mat, np.ones_like(w)])
        try:
            sol = np.linalg.lstsq(mat, rhs, rcond=None)[0]
        except np.linalg.LinAlgError:
            return None
        if use_zero:
            dz = float(sol[-1])
            new_z = float(np.clip(z + dz, -zero_bound, zero_bound))
            if abs(new_z - z) < 1e-9:
                z = new_z
                break
            z = new_z
            if abs(new_z) >= zero_bound:  # at the bound: fix it there
                use_zero = False
        else:
            break
    lin = sol[:n_par]
    if np.any(lin <= 0) or not np.all(np.isfinite(lin)):
        return None
    if model.hexagonal:
        cell = np.array(
            [math.sqrt(4.0 / (3.0 * lin[0])), 1 / math.sqrt(lin[1])]
        )
    else:
        cell = np.array([1.0 / math.sqrt(lin[0])])
    return cell, float(z)


class _Selection:
    """Observed lines restricted to a subset (for the refinement)."""

    def __init__(self, obs, sel):
        self.wavelength = obs.wavelength
        self.q_sel = obs.q[sel]
        self.tth_sel = None if obs.tth is None else obs.tth[sel]


def _solve_one(
    model,
    params,
    zero,
    obs,
    tol_first,
    tol_final,
    free_zero,
    zero_bound,
    n_fom,
):
    """Refine a trial cell; returns a dict of results or None."""
    zero = float(zero)
    params = np.asarray(params, dtype=float)
    n_par = len(params)
    for it in range(4):
        tol_s = tol_first if it == 0 else tol_final
        m = _match(model, params, obs, zero, tol_s)
        if m is None:
            return None
        j, ok, s_calc, idx, hkl = m
        if np.count_nonzero(ok) < n_par + 2:
            return None
        rows = idx[j[ok]]
        # the zero is free only when enough lines constrain it
        fz = free_zero and np.count_nonzero(ok) >= n_par + 3
        out = _refine(
            model, params, zero, _Selection(obs, ok), rows, fz, zero_bound
        )
        if out is None:
            return None
        new, zero = out
        if np.allclose(new, params, rtol=1e-9) and it > 0:
            params = new
            break
        params = new
    m = _match(model, params, obs, zero, tol_final)
    if m is None:
        return None
    j, ok, s_calc, idx, hkl = m
    return _figures(params, zero, obs, j, ok, s_calc, hkl, n_fom)


def _lattice_of(system, params):
    from pymatgen.core import Lattice

    if system == "cubic":
        return Lattice.cubic(float(params[0]))
    return Lattice.hexagonal(float(params[0]), float(params[1]))


def _refine_candidates(model, cells, zeros, obs, tols, max_zero_shift):
    """Refine candidate cells of one lattice type into solutions.

    Parameters
    ----------
    model : _Model
        The lattice type.
    cells, zeros : numpy.ndarray
        Candidate cells and their zero shifts.
    obs : _Obs
        The observed lines.
    tols : (numpy.ndarray, numpy.ndarray)
        Tolerances in s of the first matching and of the final one.
    max_zero_shift : float
        Bound of the zero shift in degrees.

    Returns
    -------
    list of IndexingSolution
        One per candidate that refines.
    """
    tol_trial, tol_final = tols
    n = obs.q.size
    solutions = []
    for params, z0 in zip(cells, zeros):
        res = _solve_one(
            model,
            params,
            z0,
            obs,
            tol_trial,
            tol_final,
            obs.wavelength is not None,
            max_zero_shift,
            20,
        )
        if res is None:
            continue
        sol = IndexingSolution(
            system=model.system,
            centring=model.centring,
            lattice=_lattice_of(model.system, res["params"]),
            zero_shift=res["zero"],
            m20=res["m20"],
            f_n=res["f_n"],
            indexed=res["indexed"],
            unindexed=res["unindexed"],
            n_lines=n,
            wavelength=obs.wavelength,
            details=res["details"],
        )
        solutions.append(sol)
    return solutions


# End of file
