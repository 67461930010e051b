"""The reciprocal metric of the lower-symmetry lattices, as indexing needs it.

In ``s = 1/d^2`` every lattice is linear in its metric parameters,
``s(hkl) = X(hkl) . p``:

* tetragonal: ``X = (h^2 + k^2, l^2)``, ``p = (1/a^2, 1/c^2)``;
* orthorhombic: ``X = (h^2, k^2, l^2)``, ``p = (1/a^2, 1/b^2, 1/c^2)``;
* monoclinic (b unique): ``X = (h^2, k^2, l^2, hl)``,
  ``p = (a*^2, b*^2, c*^2, 2 a* c* cos(beta*))``;
* triclinic: ``X = (h^2, k^2, l^2, kl, hl, hk)``, the six terms of the
  reciprocal metric tensor.

A set of lines with assigned indices therefore fixes a cell by a linear
solve, and a cell scores a set of observed lines by how many of them lie
within tolerance of a calculated line.  This module holds those pieces:
design rows, reflection tables with the centring conditions, the cell of a
parameter vector, batched scoring.  Internal to
:mod:`diffpy.crystalnet.index`.
"""

import itertools
import math
from functools import lru_cache

import numpy as np

__all__ = []

#: metric parameters of each lattice system
N_PARAMS = {
    "tetragonal": 2,
    "orthorhombic": 3,
    "monoclinic": 4,
    "triclinic": 6,
}

#: centrings tried on an indexed primitive cell, per system
CENTRINGS = {
    "tetragonal": ("I",),
    "orthorhombic": ("F", "I", "C", "A", "B"),
    "monoclinic": ("C", "A", "I"),
    "triclinic": (),
}


def design(system, hkl):
    """Design rows ``X(hkl)`` of a lattice system (``s = X . p``)."""
    hkl = np.asarray(hkl, dtype=float).reshape(-1, 3)
    h, k, l = hkl.T  # noqa: E741
    if system == "tetragonal":
        cols = (h * h + k * k, l * l)
    elif system == "orthorhombic":
        cols = (h * h, k * k, l * l)
    elif system == "monoclinic":
        cols = (h * h, k * k, l * l, h * l)
    else:
        cols = (h * h, k * k, l * l, k * l, h * l, h * k)
    return np.column_stack(cols)


def allowed(hkl, centring):
    """Reflections not extinct by the lattice centring."""
    h, k, l = np.asarray(hkl).T  # noqa: E741
    if centring == "I":
        return (h + k + l) % 2 == 0
    if centring == "F":
        return ((h % 2) == (k % 2)) & ((k % 2) == (l % 2))
    if centring == "C":
        return (h + k) % 2 == 0
    if centring == "A":
        return (k + l) % 2 == 0
    if centring == "B":
        return (h + l) % 2 == 0
    return np.ones(len(h), dtype=bool)


@lru_cache(maxsize=64)
def hkl_table(system, hmax):
    """One ``hkl`` per distinct ``s`` form of the system, indices <= hmax.

    Friedel pairs and the Laue symmetry that keeps ``s`` are left out:
    ``h >= k >= 0, l >= 0`` (tetragonal), ``h, k, l >= 0``
    (orthorhombic), ``k, l >= 0`` and ``h >= 0`` when ``l = 0``
    (monoclinic), half of reciprocal space (triclinic).
    """
    r = np.arange(-hmax, hmax + 1)
    h, k, l = (a.ravel() for a in np.meshgrid(r, r, r, indexing="ij"))  # noqa
    hkl = np.column_stack([h, k, l])
    nonzero = np.any(hkl != 0, axis=1)
    if system == "tetragonal":
        keep = (h >= k) & (k >= 0) & (l >= 0)
    elif system == "orthorhombic":
        keep = (h >= 0) & (k >= 0) & (l >= 0)
    elif system == "monoclinic":
        keep = (k >= 0) & (l >= 0) & ((l > 0) | (h >= 0))
    else:
        first = np.where(h != 0, h, np.where(k != 0, k, l))
        keep = first > 0
    out = hkl[keep & nonzero]
    out.setflags(write=False)
    return out


def reciprocal_metric(system, p):
    """The reciprocal metric tensor ``G*`` of a parameter vector."""
    p = np.asarray(p, dtype=float)
    if system == "tetragonal":
        return np.diag([p[0], p[0], p[1]])
    if system == "orthorhombic":
        return np.diag(p[:3])
    if system == "monoclinic":
        A, B, C, E = p
        return np.array([[A, 0, E / 2], [0, B, 0], [E / 2, 0, C]])
    A, B, C, D, E, F = p
    return np.array([[A, F / 2, E / 2], [F / 2, B, D / 2], [E / 2, D / 2, C]])


def lattice_of(system, p):
    """The direct cell of a parameter vector (pymatgen Lattice) or None."""
    from pymatgen.core import Lattice

    gstar = reciprocal_metric(system, p)
    if np.any(np.linalg.eigvalsh(gstar) <= 0):
        return None
    g = np.linalg.inv(gstar)
    a, b, c = np.sqrt(np.diag(g))
    alpha = math.degrees(math.acos(np.clip(g[1, 2] / (b * c), -1, 1)))
    beta = math.degrees(math.acos(np.clip(g[0, 2] / (a * c), -1, 1)))
    gamma = math.degrees(math.acos(np.clip(g[0, 1] / (a * b), -1, 1)))
    return Lattice.from_parameters(a, b, c, alpha, beta, gamma)


def _cofactors(system, P):
    """Diagonal cofactors and determinant of the reciprocal metrics."""
    if system == "monoclinic":
        A, B, C, E = P.T
        D = F = np.zeros(len(P))
    else:
        A, B, C, D, E, F = P.T
    cof = np.column_stack(
        [B * C - D * D / 4, A * C - E * E / 4, A * B - F * F / 4]
    )
    det = A * cof[:, 0] - F / 2 * (F / 2 * C - D * E / 4)
    det += E / 2 * (F * D / 4 - B * E / 2)
    return cof, det


def volumes(system, P):
    """Direct cell volumes of many parameter vectors (NaN if invalid)."""
    P = np.asarray(P, dtype=float).reshape(-1, N_PARAMS[system])
    if system == "tetragonal":
        det = P[:, 0] ** 2 * P[:, 1]
        valid = P[:, 0] > 0
    elif system == "orthorhombic":
        det = np.prod(P[:, :3], axis=1)
        valid = np.all(P[:, :3] > 0, axis=1)
    else:
        cof, det = _cofactors(system, P)
        # positive definite: leading minors A, AB - F^2/4 and det positive
        valid = (P[:, 0] > 0) & (cof[:, 2] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid & (det > 0), 1.0 / np.sqrt(np.abs(det)), np.nan)


def reach(system, P, s_max):
    """Largest ``|h|``, ``|k|`` or ``|l|`` of a line up to ``s_max``.

    ``|h| = |d* . a| <= sqrt(s_max) a``, with ``a`` the longest direct
    cell edge (from the diagonal of the inverse reciprocal metric; for the
    orthogonal systems ``1 / sqrt`` of the smallest diagonal term).  NaN
    for parameter vectors that are not a metric.
    """
    P = np.asarray(P, dtype=float).reshape(-1, N_PARAMS[system])
    if system in ("tetragonal", "orthorhombic"):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt(s_max / np.min(P, axis=1))
    cof, det = _cofactors(system, P)
    with np.errstate(invalid="ignore", divide="ignore"):
        edge2 = np.where(det[:, None] > 0, cof / det[:, None], np.nan)
        return np.sqrt(s_max * np.max(edge2, axis=1))


def basis_trials(system, s_obs, n_first, hmax=2, rows=None):
    """Cells from every low-index assignment of a few of the first lines.

    Each choice of ``k`` lines (``k`` metric parameters) among the first
    ``n_first`` is given every combination of distinct low-index design
    rows, and the linear system is solved: the classic trial-and-error
    indexing of TREOR, batched.

    ``rows`` (design rows) replaces the rows of every ``hkl`` up to
    ``hmax``.

    Returns
    -------
    numpy.ndarray
        ``(m, k)`` parameter vectors with positive diagonal terms.
    """
    k = N_PARAMS[system]
    if rows is None:
        rows = design(system, hkl_table(system, hmax))
    rows = np.unique(rows, axis=0)
    n_first = min(n_first, s_obs.size)
    combos = np.array(list(itertools.product(range(len(rows)), repeat=k)))
    mats = rows[combos]  # (T, k, k)
    det = np.linalg.det(mats)
    good = np.abs(det) > 1e-9
    mats = mats[good]
    out = []
    for sub in itertools.combinations(range(n_first), k):
        rhs = np.broadcast_to(s_obs[list(sub)], (len(mats), k))
        p = np.linalg.solve(mats, rhs[..., None])[..., 0]
        out.append(p[np.all(p[:, :3] > 0, axis=1)])
    return np.concatenate(out) if out else np.zeros((0, k))


def canonical(system, P):
    """Equivalent parameter vectors made one (orthorhombic: a <= b <= c)."""
    P = np.array(P, dtype=float)
    if system == "orthorhombic" and len(P):
        P = -np.sort(-P, axis=1)
    return P


def unique_cells(P, rel=2e-4):
    """Drop parameter vectors equal to an earlier one within ``rel``."""
    if len(P) == 0:
        return P
    scale = np.max(np.abs(P), axis=1, keepdims=True)
    key = np.round(P / (scale * rel)).astype(np.int64)
    _, idx = np.unique(key, axis=0, return_index=True)
    return P[np.sort(idx)]


class _Windows:
    """The tolerance windows of the observed lines on a grid of bins in s.

    A calculated line falls in bin ``floor(s / width)``; ``bits`` of a bin
    marks (one bit per line, in 32-line words) the windows that overlap
    it, ``nearest`` the line whose centre is nearest (-1 for none).  The
    bins are an eighth of the narrowest window, so a calculated line at
    most that far outside a window can count as inside.  Matching many
    trial cells is then a gather and an OR over their calculated lines:
    no sort.
    """

    SUB = 8

    def __init__(self, s_obs, tol):
        s_obs = np.asarray(s_obs, dtype=float)
        tol = np.broadcast_to(np.asarray(tol, dtype=float), s_obs.shape)
        self.s_obs, self.tol = s_obs, tol
        self.width = float(tol.min()) / self.SUB
        self.n_bins = int(math.ceil(float((s_obs + tol).max()) / self.width))
        self.n_bins += 2
        lo = np.floor((s_obs - tol) / self.width).astype(np.int64)
        hi = np.floor((s_obs + tol) / self.width).astype(np.int64)
        lo = np.clip(lo, 1, self.n_bins - 2)  # bin 0 and the last: none
        hi = np.clip(hi, 1, self.n_bins - 2)
        n_words = (s_obs.size + 31) // 32
        self.bits = np.zeros((n_words, self.n_bins), dtype=np.uint32)
        self.nearest = np.full(self.n_bins, -1, dtype=np.int64)
        dist = np.full(self.n_bins, np.inf)
        centre = (np.arange(self.n_bins) + 0.5) * self.width
        for j in range(s_obs.size):
            span = slice(lo[j], hi[j] + 1)
            self.bits[j // 32, span] |= np.uint32(1) << np.uint32(j % 32)
            d = np.abs(centre[span] - s_obs[j])
            closer = d < dist[span]
            dist[span] = np.where(closer, d, dist[span])
            self.nearest[span] = np.where(closer, j, self.nearest[span])

    def bins(self, calc):
        """Bin of each calculated ``s`` (out of range: an empty bin).

        ``calc`` must be finite."""
        idx = calc * (1.0 / self.width)
        np.clip(idx, 0, self.n_bins - 1, out=idx)
        return idx.astype(np.int32)

    def mask(self, calc):
        """``(m, n)``: which lines the rows of ``calc`` index."""
        idx = self.bins(calc)
        n = self.s_obs.size
        out = np.zeros((len(calc), n), dtype=bool)
        for w in range(self.bits.shape[0]):
            hit = np.bitwise_or.reduce(self.bits[w][idx], axis=1)
            cols = np.arange(32 * w, min(32 * (w + 1), n))
            shifts = (cols - 32 * w).astype(np.uint32)
            out[:, cols] = ((hit[:, None] >> shifts) & np.uint32(1)).astype(
                bool
            )
        return out

    def assigned(self, calc):
        """``(m, n)`` column of ``calc`` nearest each line, -1 for none.

        Only calculated lines that fall in a line's bins compete; the
        caller checks the tolerance on the result."""
        line = self.nearest[self.bins(calc)]
        rows, cols = np.nonzero(line >= 0)
        line = line[rows, cols]
        dist = np.abs(calc[rows, cols] - self.s_obs[line])
        order = np.argsort(-dist, kind="stable")  # the nearest written last
        out = np.full((len(calc), self.s_obs.size), -1, dtype=np.int64)
        out[rows[order], line[order]] = cols[order]
        return out


def _chunks(system, P, s_max, hmax_cap, chunk):
    """Chunks of trial indices with similar reach, and their ``hmax``."""
    far = np.nan_to_num(reach(system, P, s_max), nan=hmax_cap)
    order = np.argsort(far, kind="stable")
    for start in range(0, len(P), chunk):
        sel = order[start : start + chunk]
        yield sel, max(int(min(hmax_cap, math.ceil(far[sel].max()))), 1)


def indexed_mask(system, P, s_obs, tol, hmax_cap=12, chunk=2048):
    """Which observed lines each cell indexes within tolerance.

    Parameters
    ----------
    system : str
    P : numpy.ndarray
        ``(m, k)`` parameter vectors.
    s_obs, tol : numpy.ndarray
        Observed ``s`` and the tolerance of each line.
    hmax_cap : int, optional
        Largest index calculated.

    Returns
    -------
    numpy.ndarray
        ``(m, n)`` booleans.
    """
    m = len(P)
    mask = np.zeros((m, s_obs.size), dtype=bool)
    if m == 0:
        return mask
    windows = _Windows(s_obs, tol)
    s_max = float(np.max(s_obs + tol))
    finite = np.all(np.isfinite(P), axis=1)
    P32 = np.where(finite[:, None], P, 0.0).astype(np.float32)
    for sel, hmax in _chunks(system, P, s_max, hmax_cap, chunk):
        calc = P32[sel] @ _design_table(system, hmax, np.float32)
        mask[sel] = windows.mask(calc) & finite[sel, None]
    return mask


@lru_cache(maxsize=64)
def _design_table(system, hmax, dtype=np.float64):
    """Transposed design rows of every ``hkl`` up to ``hmax``."""
    out = design(system, hkl_table(system, hmax)).T
    out = np.ascontiguousarray(out, dtype=dtype)
    out.setflags(write=False)
    return out


def count_indexed(system, P, s_obs, tol, hmax_cap=12):
    """Number of observed lines each cell indexes (see
    :func:`indexed_mask`)."""
    return indexed_mask(system, P, s_obs, tol, hmax_cap).sum(axis=1)


def refine_batch(system, P, s_obs, tol, hmax_cap=12, chunk=1024):
    """One linear least-squares step for many cells at once.

    Every observed line is given the ``hkl`` of the nearest calculated line
    of each cell; lines within ``tol`` are fitted (weights ``1/tol^2``) and
    the cell parameters solved from the normal equations.  Cells with too
    few matched lines keep their parameters.

    Returns
    -------
    numpy.ndarray
        The refined ``(m, k)`` parameter vectors.
    """
    P = np.array(P, dtype=float)
    m, k = P.shape
    if m == 0:
        return P
    windows = _Windows(s_obs, tol)
    s_max = float(np.max(s_obs + tol))
    w = 1.0 / tol**2
    valid = (np.min(P[:, :3], axis=1) > 0) & np.all(np.isfinite(P), axis=1)
    for sel, hmax in _chunks(system, P, s_max, hmax_cap, chunk):
        sel = sel[valid[sel]]
        if sel.size == 0:
            continue
        table = _design_table(system, hmax)
        calc = P[sel] @ table
        near = windows.assigned(calc)
        ok = near >= 0
        x = table.T[np.maximum(near, 0)]  # (c, n, k)
        rows = np.arange(len(sel))[:, None]
        resid = np.abs(calc[rows, np.maximum(near, 0)] - s_obs)
        ok &= resid <= tol
        wt = ok * w
        a = np.einsum("cn,cnk,cnj->ckj", wt, x, x)
        b = np.einsum("cn,cnk,n->ck", wt, x, s_obs)
        enough = ok.sum(axis=1) > k
        a = a[enough] + 1e-12 * np.eye(k)
        try:
            sol = np.linalg.solve(a, b[enough][..., None])[..., 0]
        except np.linalg.LinAlgError:
            continue
        good = np.all(sol[:, :3] > 0, axis=1)
        idx = sel[enough][good]
        P[idx] = sol[good]
    return P


@lru_cache(maxsize=256)
def _table(system, hmax, centring):
    hkl = hkl_table(system, hmax)
    hkl = hkl[allowed(hkl, centring)]
    return hkl, design(system, hkl)


def calc_lines(system, p, centring, s_max):
    """Calculated lines up to ``s_max``: sorted ``s`` and their ``hkl``."""
    far = float(reach(system, p, max(s_max, 0.0))[0])
    if not np.isfinite(far) or not s_max > 0:
        return np.zeros(0), np.zeros((0, 3), dtype=int)
    hmax = min(max(1, int(math.ceil(far)) + 1), 40)
    hkl, x = _table(system, hmax, centring)
    s = x @ np.asarray(p, dtype=float)
    keep = (s > 0) & (s <= s_max)
    s, hkl = s[keep], hkl[keep]
    order = np.argsort(s, kind="stable")
    return s[order], hkl[order]


def lattice_lines(lattice, centring, s_max):
    """Calculated lines of any conventional cell up to ``s_max``.

    Parameters
    ----------
    lattice : pymatgen.core.Lattice
        The conventional cell.
    centring : {"P", "I", "F", "C", "A", "B", "R"}
        R: the rhombohedral lattice in the obverse hexagonal setting
        (``-h + k + l = 3n``).
    s_max : float
        Largest ``s = 1/d^2``.

    Returns
    -------
    s, hkl : numpy.ndarray
        Sorted ``s`` and the ``hkl`` of each (one of each Friedel pair).
    """
    gstar = np.linalg.inv(lattice.metric_tensor)
    p = np.array(
        [
            gstar[0, 0],
            gstar[1, 1],
            gstar[2, 2],
            2 * gstar[1, 2],
            2 * gstar[0, 2],
            2 * gstar[0, 1],
        ]
    )
    cent = "P" if centring == "R" else centring
    s_calc, hkl = calc_lines("triclinic", p, cent, s_max)
    if centring == "R":
        keep = (-hkl[:, 0] + hkl[:, 1] + hkl[:, 2]) % 3 == 0
        keep |= (hkl[:, 0] - hkl[:, 1] - hkl[:, 2]) % 3 == 0
        s_calc, hkl = s_calc[keep], hkl[keep]
    return s_calc, hkl
