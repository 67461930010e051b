"""Reflection tables and the metric of each lattice type for indexing.

Everything is in ``s = 1/d^2``:

* cubic: ``s = N / a^2``; :func:`_cubic_table` lists the N allowed for the
  P, I and F lattices with a representative hkl of each.
* hexagonal axes: ``s = 4 H / (3 a^2) + l^2 / c^2`` with
  ``H = h^2 + hk + k^2``; :func:`_hex_table` lists the H values with the
  residues of ``(-h + k) mod 3`` that reach them, so that
  :func:`_hex_allowed` can apply the R condition ``-h + k + l = 3n``.

:class:`_Model` gives s and the distinct calculated lines of one lattice
type (crystal system and centring) for a cell.  Internal to
:mod:`diffpy.crystalnet.index`.
"""

import functools
import math

import numpy as np

__all__ = []

_N_MAX = 3000
_H_MAX = 3000


@functools.lru_cache(maxsize=1)
def _cubic_table():
    """N -> representative hkl and allowed flags for P, I, F."""
    m = int(math.isqrt(_N_MAX)) + 1
    allowed = {c: np.zeros(_N_MAX + 1, dtype=bool) for c in "PIF"}
    # representative per centring (first allowed triple)
    reps = {c: {} for c in "PIF"}
    for h in range(m):
        for k in range(h + 1):
            for l in range(k + 1):  # noqa: E741
                n = h * h + k * k + l * l
                if n == 0 or n > _N_MAX:
                    continue
                reps["P"].setdefault(n, (h, k, l))
                allowed["P"][n] = True
                if (h + k + l) % 2 == 0:
                    reps["I"].setdefault(n, (h, k, l))
                    allowed["I"][n] = True
                if h % 2 == k % 2 == l % 2:
                    reps["F"].setdefault(n, (h, k, l))
                    allowed["F"][n] = True
    return allowed, reps


@functools.lru_cache(maxsize=1)
def _hex_table():
    """H values, residues of (-h + k) mod 3 per H, and representatives."""
    m = int(math.isqrt(_H_MAX)) + 2
    res = {}
    rep = {}
    # representatives: non-negative indices first, then larger h
    pairs = sorted(
        ((h, k) for h in range(-m, m + 1) for k in range(-m, m + 1)),
        key=lambda p: (p[0] < 0 or p[1] < 0, abs(p[0]) + abs(p[1]), -p[0]),
    )
    for h, k in pairs:
        hh = h * h + h * k + k * k
        if hh > _H_MAX:
            continue
        r = (-h + k) % 3
        res.setdefault(hh, set()).add(r)
        rep.setdefault((hh, r), (h, k))
    values = np.array(sorted(res))
    mask = np.zeros((values.size, 3), dtype=bool)
    for i, hh in enumerate(values):
        for r in res[hh]:
            mask[i, r] = True
    return values, mask, rep


def _hex_allowed(index, l, centring):  # noqa: E741
    """Whether (H = values[index], l) is allowed for P or R."""
    if centring == "P":
        return np.ones(np.broadcast(index, l).shape, dtype=bool)
    _, mask, _ = _hex_table()
    return mask[index, (-np.asarray(l)) % 3]


class _Model:
    """s = 1/d^2 as a function of cell parameters, for one lattice type."""

    def __init__(self, system, centring):
        self.system = system
        self.centring = centring
        self.hexagonal = system != "cubic"

    # parameters are (a,) or (a, c)
    def s_of(self, params, idx):
        if not self.hexagonal:
            return idx[:, 0] / params[0] ** 2
        return 4.0 * idx[:, 0] / (3.0 * params[0] ** 2) + idx[:, 1] ** 2 / (
            params[1] ** 2
        )

    def lines(self, params, s_max):
        """Distinct calculated lines: (s sorted, index rows, hkl list)."""
        if not self.hexagonal:
            allowed, reps = _cubic_table()
            n_max = min(int(s_max * params[0] ** 2) + 1, _N_MAX)
            n = np.flatnonzero(allowed[self.centring][: n_max + 1])
            idx = n[:, None].astype(float)
            s = self.s_of(params, idx)
            hkl = [reps[self.centring][int(v)] for v in n]
            return s, idx, hkl
        values, mask, rep = _hex_table()
        a, c = params
        h_max = s_max * 3.0 * a * a / 4.0
        l_max = int(math.sqrt(max(s_max, 0.0)) * c) + 1
        k = np.flatnonzero(values <= h_max)
        l = np.arange(l_max + 1)  # noqa: E741
        kk, ll = np.meshgrid(k, l, indexing="ij")
        kk, ll = kk.ravel(), ll.ravel()
        ok = (values[kk] + ll) > 0
        ok &= _hex_allowed(kk, ll, self.centring)
        kk, ll = kk[ok], ll[ok]
        idx = np.column_stack([values[kk], ll]).astype(float)
        s = self.s_of(params, idx)
        order = np.argsort(s, kind="stable")
        s, idx, kk, ll = s[order], idx[order], kk[order], ll[order]
        keep = s <= s_max
        s, idx, kk, ll = s[keep], idx[keep], kk[keep], ll[keep]
        hkl = []
        for i, lv in zip(kk, ll):
            hh = int(values[i])
            if self.centring == "P":
                r = next(r for r in range(3) if mask[i, r])
            else:
                r = (-int(lv)) % 3
            h, k2 = rep[(hh, r)]
            hkl.append((h, k2, int(lv)))
        return s, idx, hkl


# End of file
