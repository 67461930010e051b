"""Trial cells and their scoring, per crystal system.

:func:`_lattice_types` lists the lattice types (crystal system and
centring) tried for the crystal systems asked for, and :func:`_trial_cells`
the trial cells of each system: for cubic, each of the first lines taken
as every low N (:func:`_cubic_trials`); for trigonal and hexagonal, every
pair of the first lines taken as every pair of low (H, l)
(:func:`_hex_trials`).  These two functions are where a crystal system is
added.

:func:`_candidates` screens the trial cells of one lattice type
(:func:`_screen`: the nearest allowed line of every observed line for
every trial at once with :func:`_assign`, and one least-squares step for
all trials with :func:`_quick_refine`) and keeps those worth a full
refinement.  Internal to :mod:`diffpy.crystalnet.index`.
"""

import math

import numpy as np

from diffpy.crystalnet.index.reflections import (
    _N_MAX,
    _cubic_table,
    _hex_table,
)

__all__ = []


# --------------------------------------------------------------------------
# what each crystal system contributes


def _lattice_types(systems):
    """Lattice types to try for the crystal systems asked for.

    Parameters
    ----------
    systems : tuple of str
        Checked crystal system names.

    Returns
    -------
    (list of (str, str), str or None)
        ``(system, centring)`` in the order they are tried, and the label
        of the lattices on hexagonal axes (``"trigonal"``,
        ``"hexagonal"`` or None).
    """
    lattices = []
    if "cubic" in systems:
        lattices += [("cubic", c) for c in ("P", "I", "F")]
    hex_label = None
    if "trigonal" in systems:
        lattices.append(("trigonal", "R"))
        hex_label = "trigonal"
    elif "hexagonal" in systems:
        hex_label = "hexagonal"
    if hex_label:
        lattices.append((hex_label, "P"))
    return lattices, hex_label


def _cell_limits(max_volume):
    """Bounds of the cell parameters, by ``hexagonal`` (False: cubic a)."""
    a_max = (max_volume) ** (1 / 3)
    return {
        False: (np.array([2.0]), np.array([a_max])),
        True: (np.array([2.0, 2.0]), np.array([25.0, 80.0])),
    }


def _trial_cells(systems, hex_label, obs, max_volume):
    """Trial cells of each crystal system, keyed by the system label.

    Cubic trials are ``(m, 1)`` arrays of a, those on hexagonal axes
    ``(m, 2)`` arrays of (a, c) under the label ``hex_label``.
    """
    a_max = (max_volume) ** (1 / 3)
    trials = {}
    if "cubic" in systems:
        trials["cubic"] = _cubic_trials(obs, a_max=a_max)
    if hex_label:
        trials[hex_label] = _hex_trials(
            obs,
            limits=(2.0, 25.0, 2.0, 80.0, max_volume),
        )
    return trials


# --------------------------------------------------------------------------
# trial cells


def _cubic_trials(obs, n_first=4, n_max=60, a_max=30.0):
    s = obs.s
    a = []
    for i in range(min(n_first, s.size)):
        for n in range(1, n_max + 1):
            a.append(math.sqrt(n / s[i]))
    a = np.array(a)
    a = a[(a >= 2.0) & (a <= a_max)]
    return np.unique(np.round(a, 5))[:, None]


def _hex_trials(obs, n_first=6, h_opts=(0, 1, 3, 4, 7), l_max=12, limits=None):
    s = obs.s[: min(n_first, obs.s.size)]
    opts = np.array(
        [(h, ll) for h in h_opts for ll in range(l_max + 1) if h + ll > 0]
    ).astype(float)
    i, j = np.triu_indices(s.size, k=1)
    # every pair of lines x every pair of options
    p1 = np.repeat(np.arange(len(opts)), len(opts))
    p2 = np.tile(np.arange(len(opts)), len(opts))
    h1 = opts[p1, 0][None, :]
    l1 = opts[p1, 1][None, :] ** 2
    h2 = opts[p2, 0][None, :]
    l2 = opts[p2, 1][None, :] ** 2
    s1 = s[i][:, None]
    s2 = s[j][:, None]
    det = h1 * l2 - h2 * l1
    with np.errstate(divide="ignore", invalid="ignore"):
        big_a = (s1 * l2 - s2 * l1) / det
        big_c = (h1 * s2 - h2 * s1) / det
    ok = (np.abs(det) > 0) & (big_a > 0) & (big_c > 0)
    big_a, big_c = big_a[ok], big_c[ok]
    a = np.sqrt(4.0 / (3.0 * big_a))
    c = np.sqrt(1.0 / big_c)
    a_min, a_max, c_min, c_max, v_max = limits
    vol = math.sqrt(3) / 2 * a * a * c
    ok = (a >= a_min) & (a <= a_max) & (c >= c_min) & (c <= c_max)
    ok &= vol <= v_max
    params = np.column_stack([a[ok], c[ok]])
    if params.size == 0:
        return params
    key = np.round(np.log(params) / 2e-4).astype(np.int64)
    _, first = np.unique(key, axis=0, return_index=True)
    params = params[first]
    return params[np.argsort(params[:, 0], kind="stable")]


def _assign(hexagonal, centring, trials, s, chunk=1024):
    """Nearest allowed line of every trial cell for every observed line.

    Parameters
    ----------
    hexagonal : bool
        Hexagonal axes (H, l) or cubic (N).
    centring : str
        P, I, F (cubic) or P, R (hexagonal).
    trials : numpy.ndarray
        ``(m, 1)`` cubic a or ``(m, 2)`` hexagonal (a, c).
    s : numpy.ndarray
        ``(n,)`` or ``(m, n)`` observed 1/d^2.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``(m, n)`` absolute errors in s and ``(m, n, 2)`` index rows
        ((N, 0) cubic or (H, l) hexagonal).
    """
    m = len(trials)
    s = np.broadcast_to(s, (m, np.shape(s)[-1]))
    err_out = np.full(s.shape, np.inf)
    rows_out = np.zeros(s.shape + (2,))
    if not hexagonal:
        allowed, _ = _cubic_table()
        ok_tab = allowed[centring]
        a2 = trials[:, 0:1] ** 2
        v = s * a2
        for d in (0, -1, 1):
            n = np.clip(np.rint(v).astype(int) + d, 1, _N_MAX)
            err = np.abs(n / a2 - s)
            err[~ok_tab[n]] = np.inf
            better = err < err_out
            err_out[better] = err[better]
            rows_out[..., 0][better] = n[better]
        return err_out, rows_out
    values, mask, _ = _hex_table()
    for start in range(0, m, chunk):
        sl = slice(start, start + chunk)
        part = trials[sl]
        sp = s[sl]
        big_a = (4.0 / (3.0 * part[:, 0] ** 2))[:, None]
        big_c = (1.0 / part[:, 1] ** 2)[:, None]
        s_max = sp.max() * 1.05
        n_h = int(np.searchsorted(values, s_max / big_a.min(), side="right"))
        best = err_out[sl]
        rows = rows_out[sl]
        rows0 = rows[..., 0].copy()
        rows1 = rows[..., 1].copy()
        r_tab = mask if centring == "R" else None
        for k in range(n_h):
            rest = sp - big_a * values[k]
            if rest.max() < 0:
                break
            l = np.rint(np.sqrt(np.maximum(rest, 0.0) / big_c))  # noqa
            err = np.abs(rest - big_c * l * l)
            if r_tab is not None and not r_tab[k].all():
                res = (-l.astype(np.int64)) % 3
                err = np.where(r_tab[k][res], err, np.inf)
            if values[k] == 0:
                err = np.where(l == 0, np.inf, err)
            better = err < best
            np.copyto(best, err, where=better)
            np.copyto(rows0, values[k], where=better)
            np.copyto(rows1, l, where=better)
        rows[..., 0] = rows0
        rows[..., 1] = rows1
        err_out[sl] = best
        rows_out[sl] = rows
    return err_out, rows_out


def _quick_refine(hexagonal, trials, obs, rows, ok, use_zero, zero_bound):
    """One weighted least-squares step for many trial cells at once.

    Returns the refined cells ``(m, p)`` and zero shifts ``(m,)``; trials
    whose normal equations are singular keep their cell and a zero of 0.
    """
    m = len(trials)
    n = rows.shape[1]
    s = obs.s[:n]
    if obs.wavelength is not None:
        t = np.radians(obs.tth[:n]) / 2.0
        dsdt = 8.0 * np.sin(t) * np.cos(t) / obs.wavelength**2
        dsdt = dsdt * math.pi / 360.0
    else:
        dsdt = 2.0 * obs.q[:n] / (4 * math.pi**2)
        use_zero = False
    w = ok / dsdt[None, :]
    if hexagonal:
        cols = [rows[..., 0], rows[..., 1] ** 2]
    else:
        cols = [rows[..., 0]]
    if use_zero:
        cols.append(np.broadcast_to(dsdt, (m, n)))
    x = np.stack(cols, axis=-1) * w[..., None]
    y = s[None, :] * w
    g = np.einsum("mnk,mnj->mkj", x, x)
    b = np.einsum("mnk,mn->mk", x, y)
    k = g.shape[-1]
    g = (
        g
        + np.eye(k)[None]
        * 1e-12
        * np.trace(g, axis1=1, axis2=2)[:, None, None]
    )
    det = np.linalg.det(g)
    good = np.isfinite(det) & (np.abs(det) > 0)
    sol = np.zeros((m, k))
    if np.any(good):
        sol[good] = np.linalg.solve(g[good], b[good][..., None])[..., 0]
    lin = sol[:, : (2 if hexagonal else 1)]
    good &= np.all(lin > 0, axis=1)
    cell = trials.copy()
    zero = np.zeros(m)
    if hexagonal:
        cell[good, 0] = np.sqrt(4.0 / (3.0 * lin[good, 0]))
        cell[good, 1] = 1.0 / np.sqrt(lin[good, 1])
    else:
        cell[good, 0] = 1.0 / np.sqrt(lin[good, 0])
    if use_zero:
        zero[good] = np.clip(sol[good, -1], -zero_bound, zero_bound)
    return cell, zero


def _screen(hexagonal, centring, trials, obs, tol_loose, tol, opts):
    """Score trial cells: loose first pass, refinement steps, rescore.

    The first 8 lines are assigned with the loose tolerance (the zero shift
    is unknown), every surviving trial gets a least-squares step with a
    zero shift, then is re-assigned with the trial tolerance on 8 lines,
    then on all lines, refined again each time.  Returns (cells, zeros,
    scores) of the trials that survive.
    """
    max_unindexed, use_zero, zero_bound, limits = opts
    n = obs.q.size
    n8 = min(8, n)
    trials = trials[np.argsort(trials[:, 0], kind="stable")]
    err, rows = _assign(hexagonal, centring, trials, obs.s[:n8])
    ok = err <= tol_loose[None, :n8]
    keep = ok.sum(axis=1) >= max(n8 - max_unindexed, 2)
    trials, rows, ok = trials[keep], rows[keep], ok[keep]
    if len(trials) == 0:
        return trials, np.zeros(0), np.zeros(0, dtype=int)
    cell, zero = _quick_refine(
        hexagonal, trials, obs, rows, ok, use_zero, zero_bound
    )
    for n_use in (n8, n):
        keep = np.all((cell >= limits[0]) & (cell <= limits[1]), axis=1)
        cell, zero = cell[keep], zero[keep]
        if len(cell) == 0:
            break
        order = np.argsort(cell[:, 0], kind="stable")
        cell, zero = cell[order], zero[order]
        s_t = _corrected(obs, zero)[:, :n_use]
        err, rows = _assign(hexagonal, centring, cell, s_t)
        ok = err <= tol[None, :n_use]
        keep = ok.sum(axis=1) >= max(n_use - max_unindexed - 1, 2)
        cell, zero, rows, ok = cell[keep], zero[keep], rows[keep], ok[keep]
        if len(cell) == 0:
            break
        cell, zero = _quick_refine(
            hexagonal, cell, obs, rows, ok, use_zero, zero_bound
        )
    if len(cell) == 0:
        return cell, zero, np.zeros(0, dtype=int)
    s_t = _corrected(obs, zero)
    err, _ = _assign(hexagonal, centring, cell, s_t)
    score = np.count_nonzero(err <= tol[None, :], axis=1)
    return cell, zero, score


def _corrected(obs, zero):
    """(m, n) observed s after subtracting each trial's zero shift."""
    if obs.wavelength is None:
        return np.broadcast_to(obs.s, (len(zero), obs.s.size))
    t = np.radians(obs.tth[None, :] - zero[:, None]) / 2.0
    return (2.0 * np.sin(t) / obs.wavelength) ** 2


def _candidates(model, trials, obs, tols, opts, min_score):
    """Screen the trial cells of one lattice type; keep those to refine.

    Parameters
    ----------
    model : _Model
        The lattice type.
    trials : numpy.ndarray
        Its trial cells.
    obs : _Obs
        The observed lines.
    tols : (numpy.ndarray, numpy.ndarray)
        Tolerances in s of the first (loose) pass and of the trials.
    opts : tuple
        ``(max_unindexed, use_zero, zero_bound, limits)`` of
        :func:`_screen`.
    min_score : int
        Lines a trial must index.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Distinct cells and their zero shifts: the 25 smallest that index
        enough lines and the 10 that index the most.
    """
    tol_first, tol_trial = tols
    cells, zeros, score = _screen(
        model.hexagonal,
        model.centring,
        trials,
        obs,
        tol_first,
        tol_trial,
        opts,
    )
    good = score >= min_score
    if not np.any(good):
        return cells[:0], zeros[:0]
    cand, sc, zc = cells[good], score[good], zeros[good]
    if model.hexagonal:
        vol = cand[:, 0] ** 2 * cand[:, 1]
    else:
        vol = cand[:, 0] ** 3
    key = np.round(np.log(cand) / 1e-4).astype(np.int64)
    _, uniq = np.unique(key, axis=0, return_index=True)
    # the smallest cells that index enough lines, and the cells that
    # index the most lines (supercells index more lines by chance)
    small = uniq[np.argsort(vol[uniq], kind="stable")][:25]
    most = uniq[np.lexsort((vol[uniq], -sc[uniq]))][:10]
    uniq = np.unique(np.concatenate([small, most]))
    return cand[uniq], zc[uniq]


# End of file
