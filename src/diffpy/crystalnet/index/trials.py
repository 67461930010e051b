"""Trial cells of the lower-symmetry searches, from low-index assignments.

Every trial is a reciprocal-metric parameter vector (see
:mod:`~diffpy.crystalnet.index.metric`) solved from a few observed lines in
``s = 1/d^2`` given low indices:

* tetragonal and orthorhombic: every choice of two (three) of the first
  six lines, each given every design row with indices up to 3 (2): the
  trial-and-error method of TREOR (Werner, Eriksson and Westdahl, J. Appl.
  Cryst. 18, 367, 1985), batched;
* monoclinic, in two ways: the three axial terms from lines taken as
  ``hk0`` or ``0kl`` reflections, then ``2 a* c* cos(beta*)`` from every
  line the axial cell leaves unindexed, taken as a low-index ``hkl`` with
  ``h l != 0``; and the ``h0l`` zone first, then ``b*`` from the lines
  it leaves unindexed;
* triclinic, by zones as in ITO (Visser, J. Appl. Cryst. 2, 89, 1969):
  two-dimensional lattices (zones) from two of the first lines taken as
  the axes ``100`` and ``010`` and a third line taken as a low-index
  ``hk0``; the zones that index most lines (less half the lines they
  calculate) are paired when they share an axis line, which fixes five of
  the six metric terms, and the sixth comes from every line the pair
  leaves unindexed.

Internal to :mod:`diffpy.crystalnet.index`; the search that scores and
refines the trials is :mod:`~diffpy.crystalnet.index.general`.
"""

import numpy as np

from diffpy.crystalnet.index import metric

__all__ = []

#: first lines whose assignments make trials
N_FIRST = {"tetragonal": 6, "orthorhombic": 6, "monoclinic": 7}
#: largest index of the assignments
BASIS_HMAX = {"tetragonal": 3, "orthorhombic": 2}
#: triclinic: lines tried as zone axes, lines that close a zone, zones kept
N_AXES = 7
N_ZONE_LINES = 12
N_ZONES = 40
#: ``(h, k)`` of the third line of a zone (``F >= 0``: one sign)
ZONE_ROWS = np.array([(1, 1), (1, 2), (2, 1)])
#: triclinic: lines left by a zone tried as its third axis, and lines
#: after it paired to fix the two cross terms
N_THIRD = 3
N_PAIR_LINES = 6
#: ``(h, k)`` of those lines, taken as ``hk1``
THIRD_ROWS = np.array(
    [(h, k) for h in (-1, 0, 1) for k in (-1, 0, 1) if (h, k) != (0, 0)]
)


def _merit(system, cells, n_calc, s, tol):
    """Lines each cell indexes among the first twelve, the indexed mask,
    and the ranking merit: indexed lines less half the lines calculated
    (lines alone would favour large cells)."""
    n_use = min(s.size, 12)
    mask = metric.indexed_mask(
        system, cells, s[:n_use], tol[:n_use], hmax_cap=6
    )
    counts = mask.sum(axis=1)
    return mask, np.where(counts >= 3, counts - 0.5 * n_calc, -np.inf)


def _completed(system, partial, missing, n_calc, s, tol, n_keep):
    """Trials from cells that lack one metric term.

    ``partial`` holds parameter vectors whose term ``missing`` is not
    known yet (set so that it adds no line in range, or zero).  They are
    ranked by :func:`_merit` with ``n_calc`` their calculated lines; each
    of the best ``n_keep`` gets the missing term from every line it leaves
    unindexed, taken as every low-index ``hkl`` that depends on that term.
    """
    mask, merit = _merit(system, partial, n_calc, s, tol)
    order = np.argsort(-merit, kind="stable")[:n_keep]
    x = metric.design(system, metric.hkl_table(system, 2))
    x = x[x[:, missing] != 0]
    known = [k for k in range(partial.shape[1]) if k != missing]
    trials = []
    for i in order:
        left = np.flatnonzero(~mask[i])
        if left.size == 0:
            continue
        rest = s[left, None] - (x[:, known] @ partial[i, known])[None, :]
        v = (rest / x[None, :, missing]).ravel()
        if missing < 3:  # a diagonal term
            v = v[v > 0]
        cells = np.repeat(partial[i][None, :], v.size, axis=0)
        cells[:, missing] = v
        trials.append(cells)
    if not trials:
        return np.zeros((0, partial.shape[1]))
    P = np.concatenate(trials)
    return P[np.isfinite(metric.volumes(system, P))]


def _monoclinic_trials(s, n_first, tol, n_axial=1500):
    """(A, B, C, E) trials: axial terms first, then the hl term."""
    # axial rows: hk0 and 0kl reflections, whose s has no hl term
    hkl = metric.hkl_table("orthorhombic", 2)
    hkl = hkl[hkl[:, 0] * hkl[:, 2] == 0]
    axial = metric.basis_trials(
        "orthorhombic", s, n_first, rows=metric.design("orthorhombic", hkl)
    )
    axial = metric.unique_cells(axial)
    vol = metric.volumes("orthorhombic", axial)
    axial, vol = axial[np.isfinite(vol)], vol[np.isfinite(vol)]
    if len(axial) == 0:
        return np.zeros((0, 4))
    s_max = float(s[min(s.size, 12) - 1])
    n_calc = np.maximum(4 * np.pi / 3 * s_max**1.5 * vol / 8.0, 1.0)
    partial = np.column_stack([axial, np.zeros(len(axial))])
    return _completed("monoclinic", partial, 3, n_calc, s, tol, n_axial)


def _zone_trials(s, n_first, tol, n_zone=1500):
    """(A, B, C, E) trials: the h0l zone first, then the b* term.

    The complement of :func:`_monoclinic_trials` for patterns whose first
    lines are mostly ``h0l`` reflections (C-centred cells, short b).
    """
    hkl = metric.hkl_table("monoclinic", 2)
    zone_rows = metric.design("monoclinic", hkl[hkl[:, 1] == 0])[:, [0, 2, 3]]
    zone = metric.basis_trials("orthorhombic", s, n_first, rows=zone_rows)
    if len(zone):
        zone = zone[zone[:, 0] * zone[:, 1] - zone[:, 2] ** 2 / 4 > 0]
    zone = metric.unique_cells(zone)
    if len(zone) == 0:
        return np.zeros((0, 4))
    s_max = float(s[min(s.size, 12) - 1])
    # the zone as a monoclinic cell whose k != 0 lines lie out of range
    partial = np.column_stack(
        [zone[:, 0], np.full(len(zone), 10 * s_max), zone[:, 1], zone[:, 2]]
    )
    return _completed(
        "monoclinic", partial, 1, _zone_lines(zone, s_max), s, tol, n_zone
    )


def _zone_lines(zone, s_max):
    """Distinct lines (one of each Friedel pair) of ``(A, B, F)`` zones up
    to ``s_max``: half the points of an ellipse of area ``pi s_max /
    sqrt(AB - F^2/4)``."""
    area = zone[:, 0] * zone[:, 1] - zone[:, 2] ** 2 / 4
    return np.maximum(np.pi * s_max / (2 * np.sqrt(area)), 1.0)


def _zones(s, tol):
    """The best two-dimensional lattices of the first lines.

    Returns ``(A, B, F)`` for each zone kept (``s(hk0) = h^2 A + k^2 B +
    h k F``, ``F >= 0``: the sign is that of an axis), best first, and
    the mask of the first lines each indexes.
    """
    n_axes = min(N_AXES, s.size)
    n_lines = min(N_ZONE_LINES, s.size)
    u, v = np.triu_indices(n_axes, k=1)
    k = np.arange(n_lines)
    h2, k2 = ZONE_ROWS[:, 0], ZONE_ROWS[:, 1]
    # F for every (axis pair, third line, row)
    A, B = s[u][:, None, None], s[v][:, None, None]
    F = np.abs(s[k][None, :, None] - h2**2 * A - k2**2 * B) / (h2 * k2)
    ok = (F * F < 4 * A * B * 0.999) & (k[None, :, None] != u[:, None, None])
    ok &= k[None, :, None] != v[:, None, None]
    pair, _, _ = np.nonzero(ok)
    zone = _reduced(np.column_stack([s[u][pair], s[v][pair], F[ok]]))
    # near-equal lines make near-equal zones: merge them coarsely
    zone = metric.unique_cells(zone, rel=2e-3)
    if len(zone) == 0:
        return zone, np.zeros((0, n_lines), dtype=bool)
    s_max = float(s[n_lines - 1])
    as_mono = np.column_stack(
        [zone[:, 0], np.full(len(zone), 10 * s_max), zone[:, 1], zone[:, 2]]
    )
    mask = metric.indexed_mask(
        "monoclinic", as_mono, s[:n_lines], tol[:n_lines], hmax_cap=6
    )
    # lines indexed less those a zone would index by chance: its lines
    # have a constant density pi / (2 sqrt(area)) in s, each line a window
    # of 2 tol
    area = zone[:, 0] * zone[:, 1] - zone[:, 2] ** 2 / 4
    chance = np.minimum(
        np.pi * tol[None, :n_lines] / np.sqrt(area)[:, None], 1.0
    ).sum(axis=1)
    merit = mask.sum(axis=1) - chance
    best = np.argsort(-merit, kind="stable")[:N_ZONES]
    best = best[np.isfinite(merit[best])]
    return zone[best], mask[best]


def _reduced(zone):
    """Gauss-reduced zones: ``A <= B``, ``0 <= F <= A`` (the same
    two-dimensional lattice in its reduced basis)."""
    zone = np.array(zone, dtype=float)
    for _ in range(50):
        A, B, F = zone.T
        swap = A > B
        zone[swap] = zone[swap][:, [1, 0, 2]]
        A, B, F = zone.T
        n = np.round(F / (2 * A))
        if not np.any(n != 0):
            break
        # b -> b - n a: B - n F + n^2 A, F - 2 n A
        zone[:, 1] = B - n * F + n * n * A
        zone[:, 2] = F - 2 * n * A
    zone[:, 2] = np.abs(zone[:, 2])
    return zone


def _third_axis(zone, left, s):
    """Cells of a zone and a third axis, from the lines it leaves.

    The third reciprocal axis is taken as each of the first
    ``N_THIRD`` lines left (``C = s``), then ``D`` and ``E`` from every
    pair of the next lines taken as ``hk1`` with ``|h|, |k| <= 1``:
    ``s - h^2 A - k^2 B - h k F - C = k D + h E``, a 2 x 2 system.
    """
    A, B, F = zone
    rows = THIRD_ROWS
    r1, r2 = np.nonzero(
        rows[:, None, 0] * rows[None, :, 1]
        - rows[:, None, 1] * rows[None, :, 0]
    )
    h1, k1 = rows[r1].T
    h2, k2 = rows[r2].T
    det = h1 * k2 - k1 * h2
    out = []
    for c in range(min(N_THIRD, left.size)):
        C = s[left[c]]
        rest = left[c + 1 : c + 1 + N_PAIR_LINES]
        if rest.size < 2:
            break
        i, j = np.triu_indices(rest.size, k=1)
        si, sj = s[rest[i]][:, None], s[rest[j]][:, None]
        y1 = si - h1**2 * A - k1**2 * B - h1 * k1 * F - C
        y2 = sj - h2**2 * A - k2**2 * B - h2 * k2 * F - C
        D = (h1 * y2 - h2 * y1) / det  # (pairs, row pairs)
        E = (y1 * k2 - y2 * k1) / det
        cells = np.empty((D.size, 6))
        cells[:, :3] = (A, B, C)
        cells[:, 3], cells[:, 4], cells[:, 5] = D.ravel(), E.ravel(), F
        out.append(cells)
    return np.concatenate(out) if out else np.zeros((0, 6))


def _triclinic_trials(s, tol):
    """(A, B, C, D, E, F) trials: a zone, then a third axis.

    The zones are ranked within ``tol``, the trial tolerance: within the
    looser first-pass one, sub-lattices of a zone index lines by chance as
    well as the zone does.
    """
    zones, mask = _zones(s, tol)
    out = [
        _third_axis(zone, np.flatnonzero(~m), s)
        for zone, m in zip(zones, mask)
    ]
    if not out:
        return np.zeros((0, 6))
    P = np.concatenate(out)
    return P[np.isfinite(metric.volumes("triclinic", P))]


def trial_cells(system, s, tols):
    """Distinct trial parameter vectors of a lower-symmetry system.

    ``tols``: the first-pass and the trial tolerance in ``s`` of each
    line.
    """
    tol, tol_trial = tols
    if system == "monoclinic":
        P = np.concatenate(
            [
                _monoclinic_trials(s, N_FIRST[system], tol),
                _zone_trials(s, N_FIRST[system], tol),
            ]
        )
    elif system == "triclinic":
        P = _triclinic_trials(s, tol_trial)
    else:
        P = metric.basis_trials(
            system, s, N_FIRST[system], hmax=BASIS_HMAX[system]
        )
    return metric.unique_cells(metric.canonical(system, P))


# End of file
