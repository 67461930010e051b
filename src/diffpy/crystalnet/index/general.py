"""Indexing of tetragonal, orthorhombic, monoclinic and triclinic patterns.

Trial cells come from low-index assignments of the first lines, solved as
linear systems in ``s = 1/d^2`` (:mod:`~diffpy.crystalnet.index.trials`,
with the metric of :mod:`~diffpy.crystalnet.index.metric`).  The trials are
cut on the first ten lines and scored on all of them within a loose
tolerance (the zero shift is not known yet); the ``N_BATCH`` that index
most lines (the smaller cell first among equals) are given one batched
linear least-squares step, scored again within the trial tolerance,
screened by a quick de Wolff figure, and the best are refined by least
squares with a zero shift.  The lattice centring is read from the
systematic absences of the indexed lines (the centred lattice must index
every line the primitive one does), and the cell is standardised with
spglib, which also finds a higher metric symmetry (a tetragonal cell with
``a = c`` is cubic, a triclinic cell with a monoclinic metric is
monoclinic).  Internal to :mod:`diffpy.crystalnet.index`; the driver is
:func:`~diffpy.crystalnet.index.indexing.index_pattern`.
"""

import numpy as np

from diffpy.crystalnet.index import metric
from diffpy.crystalnet.index.solution import IndexingSolution, _figures
from diffpy.crystalnet.index.trials import trial_cells

__all__ = []

#: best trials screened by a quick linear refinement, per crystal system
N_SCREENED = 300
#: trials given the batched linear refinement (the likeliest)
N_BATCH = 4000
#: best screened trials refined per crystal system
N_REFINED = 12
#: fewest lines a system is searched with: about two and a half per metric
#: parameter (on seven lines a triclinic cell fits anything)
MIN_LINES = {
    "tetragonal": 5,
    "orthorhombic": 8,
    "monoclinic": 10,
    "triclinic": 15,
}
#: largest zero shift fitted in the screening, degrees
MAX_SCREEN_ZERO = 0.25
#: shortest conventional cell edge of a solution, angstrom (as for cubic)
MIN_EDGE = 2.0
#: largest index of the reflections that score the trials
HMAX_CAP = {
    "tetragonal": 12,
    "orthorhombic": 12,
    "monoclinic": 8,
    "triclinic": 6,
}


def _match(s_obs, s_calc, tol):
    j = np.clip(np.searchsorted(s_calc, s_obs), 1, len(s_calc) - 1)
    left = np.abs(s_obs - s_calc[j - 1])
    right = np.abs(s_obs - s_calc[j])
    j = np.where(left <= right, j - 1, j)
    return j, np.abs(s_obs - s_calc[j]) <= tol


def _refine(system, p, obs, tol, centring, zero_bound, zero=0.0):
    """Least-squares cell (and zero shift) from the matched lines."""
    from scipy.optimize import least_squares

    k = metric.N_PARAMS[system]
    free_zero = obs.wavelength is not None and zero_bound > 0
    x0 = np.concatenate([np.asarray(p, float), [zero if free_zero else 0.0]])
    lo = np.concatenate([np.full(k, -np.inf), [-zero_bound]])
    hi = np.concatenate([np.full(k, np.inf), [zero_bound]])
    matched = None
    for _ in range(3):
        s_obs = obs.corrected_s(x0[k])
        s_calc, hkl = metric.calc_lines(
            system, x0[:k], centring, float(s_obs.max() + tol.max()) * 1.02
        )
        if s_calc.size < 2:
            return None
        j, ok = _match(s_obs, s_calc, tol)
        if ok.sum() <= k:
            return None
        x = metric.design(system, hkl[j[ok]])

        def resid(v, x=x, ok=ok):
            zero = v[k] if free_zero else 0.0
            return (obs.corrected_s(zero)[ok] - x @ v[:k]) / tol[ok]

        if free_zero:
            fit = least_squares(resid, x0, bounds=(lo, hi), x_scale="jac")
            x0 = fit.x
        else:
            fit = least_squares(resid, x0[:k], x_scale="jac")
            x0 = np.concatenate([fit.x, [0.0]])
        matched = ok.sum()
        if metric.lattice_of(system, x0[:k]) is None:
            return None
    return x0[:k], float(x0[k]), int(matched)


def _conventional(system, p, centring):
    """Standard conventional cell, its system and centring (spglib)."""
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from diffpy.crystalnet.physics.lattice import CENTRING_POINTS

    lattice = metric.lattice_of(system, p)
    if lattice is None:
        return None
    points = CENTRING_POINTS[centring]
    dummy = Structure(lattice, ["Cu"] * len(points), points)
    tol = 2e-3 * min(lattice.abc)
    try:
        sga = SpacegroupAnalyzer(dummy, symprec=tol, angle_tolerance=0.3)
        conv = sga.get_conventional_standard_structure()
        symbol = sga.get_space_group_symbol()
        found = sga.get_crystal_system()
    except Exception:  # spglib failure: keep the cell as found
        return lattice, system, centring
    return conv.lattice, found, symbol[0]


def _final(obs, lattice, centring, zero, tol):
    """Figures of merit of a conventional cell, any system."""
    s_obs = obs.corrected_s(zero)
    s_calc, hkl = metric.lattice_lines(
        lattice, centring, float(s_obs.max() + tol.max()) * 1.02
    )
    if s_calc.size < 2:
        return None
    j, ok = _match(s_obs, s_calc, tol)
    return _figures(None, zero, obs, j, ok, s_calc, hkl, 20)


def _solution(system, p, zero, obs, tol, centring):
    conv = _conventional(system, p, centring)
    if conv is None:
        return None
    lattice, found, cent = conv
    if min(lattice.abc) < MIN_EDGE:
        return None
    res = _final(obs, lattice, cent, zero, tol)
    if res is None:
        return None
    label = "trigonal" if cent == "R" else found
    return IndexingSolution(
        system=label,
        centring=cent,
        lattice=lattice,
        zero_shift=zero,
        m20=res["m20"],
        f_n=res["f_n"],
        indexed=res["indexed"],
        unindexed=res["unindexed"],
        n_lines=obs.q.size,
        wavelength=obs.wavelength,
        details=res["details"],
    )


def _best_centring(system, p, zero, obs, tol, n_primitive):
    """The centring whose lattice indexes every line the primitive does,
    with the best figure of merit (P when none does)."""
    best, best_m20 = "P", -1.0
    s_obs = obs.corrected_s(zero)
    for cent in ("P",) + metric.CENTRINGS[system]:
        s_calc, hkl = metric.calc_lines(
            system, p, cent, float(s_obs.max() + tol.max()) * 1.02
        )
        if s_calc.size < 2:
            continue
        j, ok = _match(s_obs, s_calc, tol)
        if ok.sum() < n_primitive:
            continue
        res = _figures(p, zero, obs, j, ok, s_calc, hkl, 20)
        if res is not None and res["m20"] > best_m20 * 1.001:
            best, best_m20 = cent, res["m20"]
    return best


def _zero_slope(obs):
    """``ds / d(2 theta)`` of every line per degree (None without a
    wavelength): a zero shift ``z`` moves ``s`` by ``z`` times it."""
    if obs.wavelength is None:
        return None
    theta = np.radians(obs.tth) / 2.0
    return 4 * np.sin(theta) * np.cos(theta) / obs.wavelength**2 * np.pi / 180


def _screen_fit(system, hkl, s_obs, slope):
    """Cell (and zero shift, bounded) of lines with assigned ``hkl``."""
    x = metric.design(system, hkl)
    if slope is not None and x.shape[0] > x.shape[1] + 1:
        design = np.column_stack([x, slope])
        sol = np.linalg.lstsq(design, s_obs, rcond=None)
        if abs(sol[0][-1]) <= MAX_SCREEN_ZERO:
            return sol[0][:-1], float(sol[0][-1])
    if x.shape[0] > x.shape[1]:
        return np.linalg.lstsq(x, s_obs, rcond=None)[0], 0.0
    return None, 0.0


def _screened(system, P, order, obs, tol_loose, tol):
    """Trials re-ranked after a linear least-squares step each.

    Each trial's cell (and a zero shift of at most ``MAX_SCREEN_ZERO``
    degrees, linearised) is refined in place in ``P`` on the lines it
    indexes within ``tol`` (the loose tolerance when too few), then scored
    by the lines it indexes within ``tol`` and a de Wolff figure
    ``s_n / (2 <|ds|> N_calc)`` times 0.7 per line left unindexed.
    Without the zero shift, a small right cell whose lines all sit half a
    tolerance off loses to large cells that have a line near every
    observed one.
    """
    s_all = obs.s
    slope_all = _zero_slope(obs)
    s_top = float(s_all.max() + tol_loose.max()) * 1.02
    keys = []
    for i in order:
        s_obs = s_all
        s_calc, hkl = metric.calc_lines(system, P[i], "P", s_top)
        if s_calc.size < 2:
            keys.append((0, 0.0))
            continue
        # assign within the trial tolerance when enough lines match: within
        # the loose one, lines pick up wrong neighbours and the fit drifts
        j, ok = _match(s_obs, s_calc, tol)
        if ok.sum() < metric.N_PARAMS[system] + 3:
            j, ok = _match(s_obs, s_calc, tol_loose)
        slope = None if slope_all is None else slope_all[ok]
        p, zero = _screen_fit(system, hkl[j[ok]], s_obs[ok], slope)
        if p is not None and np.all(p[:3] > 0):
            P[i] = p
            if zero:
                s_obs = s_all - zero * slope_all
            s_calc, hkl = metric.calc_lines(system, p, "P", s_top)
            if s_calc.size < 2:
                keys.append((0, 0.0))
                continue
        j, ok = _match(s_obs, s_calc, tol)
        n_ok = int(ok.sum())
        if n_ok < 2:
            keys.append((n_ok, 0.0))
            continue
        last = s_obs[ok][-1]
        n_calc = np.count_nonzero(s_calc <= last * (1 + 1e-9))
        mean_ds = float(np.mean(np.abs(s_obs[ok] - s_calc[j[ok]]))) + 1e-7
        keys.append((n_ok, last / (2 * mean_ds * n_calc)))
    # de Wolff's figure with the final ranking's 0.7 per unindexed line
    n = s_all.size
    rank = sorted(
        range(len(order)),
        key=lambda k: (-keys[k][1] * 0.7 ** (n - keys[k][0]), -keys[k][0]),
    )
    return [order[k] for k in rank]


def _balanced(counts, vol, n_keep, spread=3, tight=None):
    """The ``n_keep`` likeliest trials: the smallest cells of every count.

    Only counts within ``spread`` lines of the best compete (as many
    impurity lines as the search allows for).  Taking the most lines
    first would fill the places with large cells that index an impurity
    line by chance, and drop the right cell that leaves it unindexed; so
    the smallest cell of each count comes first, then the second smallest
    of each, and so on (most lines first within a round).  A count
    corrected for chance coincidences does worse: within the first-pass
    tolerance a large cell indexes almost any line by chance.  With
    ``tight`` (lines indexed within a tighter tolerance), more of those
    come first within a count, before the smaller cell.
    """
    if counts.size == 0:
        return np.zeros(0, dtype=int)
    if tight is None:
        order = np.lexsort((vol, -counts))
    else:
        order = np.lexsort((vol, -tight, -counts))
    order = order[counts[order] >= counts.max() - spread]
    sorted_counts = counts[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_counts)) + 1]
    level = np.repeat(
        np.arange(starts.size), np.diff(np.r_[starts, order.size])
    )
    rank = np.arange(order.size) - starts[level]
    return order[np.lexsort((level, rank))][:n_keep]


def index_system(system, obs, tols, max_zero_shift, max_volume, need):
    """Solutions of one lower-symmetry system.

    Parameters
    ----------
    system : {"tetragonal", "orthorhombic", "monoclinic"}
    obs : _Obs
        The observed lines.
    tols : tuple of numpy.ndarray
        Tolerances in s: final, trial, first pass.
    max_zero_shift : float
        Bound of the zero shift in degrees.
    max_volume : float
        Largest conventional volume, angstrom^3.
    need : int
        Fewest lines a trial must index to be refined.

    Returns
    -------
    list of IndexingSolution
    """
    tol_final, tol_trial, tol_first = tols
    s = obs.s
    P = trial_cells(system, s, (tol_first, tol_trial))
    vol = metric.volumes(system, P)
    keep = np.isfinite(vol) & (vol <= max_volume) & (vol >= 5.0)
    P, vol = P[keep], vol[keep]
    if len(P) == 0:
        return []
    n_score = min(s.size, 20)
    # a cheap first cut on the first ten lines (up to three may be
    # impurities or misfits), then all the lines
    n_a = min(s.size, 10)
    counts = metric.count_indexed(
        system, P, s[:n_a], tol_first[:n_a], hmax_cap=6
    )
    keep = counts >= max(n_a - 3, 3)
    P, vol = P[keep], vol[keep]
    cap = HMAX_CAP[system]
    counts = metric.count_indexed(
        system, P, s[:n_score], tol_first[:n_score], hmax_cap=cap
    )
    # one batched linear refinement of the trials that index enough lines,
    # then the lines indexed within the tighter tolerance rank them; among
    # equals the smallest cell, which calculates the fewest lines (de
    # Wolff's criterion)
    keep = counts >= min(need, n_score)
    P, vol, counts = P[keep], vol[keep], counts[keep]
    # within the loose first-pass tolerance many sub-cells index every
    # line by chance; the lines indexed within the trial tolerance come
    # before the volume among equal counts
    tight = metric.count_indexed(
        system, P, s[:n_score], tol_trial[:n_score], hmax_cap=cap
    )
    best = _balanced(counts, vol, N_BATCH, tight=tight)
    P, vol = P[best], vol[best]
    P = metric.refine_batch(
        system, P, s[:n_score], tol_first[:n_score], hmax_cap=cap
    )
    P = metric.unique_cells(metric.canonical(system, P), rel=1e-3)
    vol = metric.volumes(system, P)
    ok = np.isfinite(vol) & (vol <= max_volume) & (vol >= 5.0)
    P, vol = P[ok], vol[ok]
    counts = metric.count_indexed(
        system, P, s[:n_score], tol_trial[:n_score], hmax_cap=cap
    )
    order = _balanced(counts, vol, N_SCREENED)
    order = _screened(system, P, order, obs, tol_first, tol_trial)
    solutions = []
    for i in order[:N_REFINED]:
        ref = _refine(system, P[i], obs, tol_trial, "P", max_zero_shift)
        if ref is None:
            continue
        p, zero, _ = ref
        ref = _refine(system, p, obs, tol_final, "P", max_zero_shift, zero)
        if ref is None:
            continue
        p, zero, n_matched = ref
        vol = metric.volumes(system, p[None, :])[0]
        if not np.isfinite(vol) or vol > max_volume:
            continue
        cent = _best_centring(system, p, zero, obs, tol_final, n_matched)
        sol = _solution(system, p, zero, obs, tol_final, cent)
        if sol is not None:
            solutions.append(sol)
    return solutions


# End of file
