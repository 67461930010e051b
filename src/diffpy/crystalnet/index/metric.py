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


def volumes(system, P):
    """Direct cell volumes of many parameter vectors (NaN if invalid)."""
    P = np.asarray(P, dtype=float).reshape(-1, N_PARAMS[system])
    if system == "tetragonal":
        det = P[:, 0] ** 2 * P[:, 1]
    elif system == "orthorhombic":
        det = np.prod(P[:, :3], axis=1)
    elif system == "monoclinic":
        det = P[:, 1] * (P[:, 0] * P[:, 2] - P[:, 3] ** 2 / 4)
    elif len(P) == 0:
        det = np.zeros(0)
    else:
        det = np.linalg.det(
            np.stack([reciprocal_metric(system, p) for p in P])
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(det > 0, 1.0 / np.sqrt(np.abs(det)), np.nan)


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
    s_max = float(np.max(s_obs + tol))
    smallest = np.min(P[:, :3], axis=1)
    order = np.argsort(smallest)[::-1]
    tables = {}
    for start in range(0, m, chunk):
        sel = order[start : start + chunk]
        hmax = int(
            min(hmax_cap, math.ceil(math.sqrt(s_max / smallest[sel].min())))
        )
        hmax = max(hmax, 1)
        if hmax not in tables:
            tables[hmax] = design(system, hkl_table(system, hmax)).T
        calc = P[sel] @ tables[hmax]
        calc.sort(axis=1)
        big = float(calc[:, -1].max()) + 1.0
        offs = np.arange(len(sel))[:, None] * big
        flat = (calc + offs).ravel()
        lo = np.searchsorted(flat, (offs + (s_obs - tol)).ravel(), "left")
        hi = np.searchsorted(flat, (offs + (s_obs + tol)).ravel(), "right")
        mask[sel] = (hi > lo).reshape(len(sel), -1)
    return mask


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
    s_max = float(np.max(s_obs + tol))
    smallest = np.min(P[:, :3], axis=1)
    order = np.argsort(smallest)[::-1]
    w = 1.0 / tol**2
    for start in range(0, m, chunk):
        sel = order[start : start + chunk]
        low = smallest[sel].min()
        if not low > 0:
            continue
        hmax = int(min(hmax_cap, math.ceil(math.sqrt(s_max / low))))
        x_all = design(system, hkl_table(system, max(hmax, 1)))
        calc = P[sel] @ x_all.T
        perm = np.argsort(calc, axis=1)
        calc = np.take_along_axis(calc, perm, axis=1)
        n_h = calc.shape[1]
        big = float(calc[:, -1].max()) + 1.0
        offs = np.arange(len(sel))[:, None] * big
        pos = np.searchsorted((calc + offs).ravel(), (offs + s_obs).ravel())
        pos = pos.reshape(len(sel), -1) - np.arange(len(sel))[:, None] * n_h
        left = np.clip(pos - 1, 0, n_h - 1)
        right = np.clip(pos, 0, n_h - 1)
        rows = np.arange(len(sel))[:, None]
        dl = np.abs(calc[rows, left] - s_obs)
        dr = np.abs(calc[rows, right] - s_obs)
        near = np.where(dl <= dr, left, right)
        ok = np.minimum(dl, dr) <= tol
        x = x_all[perm[rows, near]]  # (c, n, k)
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
    smallest = float(np.min(np.asarray(p)[:3]))
    if not smallest > 0 or not s_max > 0:
        return np.zeros(0), np.zeros((0, 3), dtype=int)
    hmax = max(1, int(math.ceil(math.sqrt(s_max / smallest))) + 1)
    hmax = min(hmax, 40)
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
