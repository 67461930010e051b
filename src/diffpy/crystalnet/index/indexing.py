"""Powder indexing of cubic, trigonal and hexagonal patterns.

:func:`index_pattern` finds the lattice (and centring) of a powder pattern
from its peak positions, for the crystal systems CrystalNet handles.

Method
------
Everything is done in ``s = 1/d^2 = (Q / 2 pi)^2``:

* cubic: ``s = N / a^2`` with ``N = h^2 + k^2 + l^2``; P allows every N that
  is a sum of three squares, I the even ones, F those with h, k, l all odd
  or all even.
* hexagonal setting: ``s = 4 H / (3 a^2) + l^2 / c^2`` with
  ``H = h^2 + hk + k^2``; P allows all (H, l), R (rhombohedral lattice in
  the obverse hexagonal setting) only reflections with ``-h + k + l = 3n``.

Trial cells come from assigning low indices to the first lines: for cubic,
each of the first four lines taken as every N up to 60; for hexagonal and
trigonal, every pair among the first six lines taken as every pair of
(H, l) with H in {0, 1, 3, 4, 7} and l up to 12, which fixes a and c (the
approach of the classic exhaustive indexing programs, restricted to two
parameters).  Every trial is scored by the number of lines it indexes
within a tolerance that grows with angle (the zero shift is not known yet);
the best are refined by least squares (``scipy.optimize.least_squares``)
with a zero shift (2-theta data with a wavelength), re-indexed with the
final tolerance and refined again.

Figures of merit
----------------
* de Wolff's ``M20 = s_20 / (2 <|delta s|> N_20)`` (J. Appl. Cryst. 1, 108,
  1968) over the first 20 indexed lines (fewer when there are fewer): s_20
  of the 20th line, ``<|delta s|>`` the mean discrepancy, N_20 the number of
  distinct calculated lines up to s_20.  The mean discrepancy is floored at
  the equivalent of 0.0005 degrees so that exact (simulated) positions give
  large but finite values.
* Smith and Snyder's ``F_N = N / (<|delta 2theta|> N_poss)`` (J. Appl.
  Cryst. 12, 60, 1979), reported with wavelength only.

Ranking and refusal
-------------------
Solutions are ranked by ``M20 * 0.7^unindexed``.  Among solutions within 2 %
of the best (for instance a cubic cell and the same lattice in its
rhombohedral description, or a body-centred cell and the primitive cell of
side a / sqrt(2) when no line tells them apart), the higher symmetry wins,
then the centred lattice, then the smaller cell; a cubic solution is also
preferred to a non-cubic one that indexes no more lines when its figure is
at least 70 % of it and its primitive cell is not larger.  When no trial
reaches ``min_m20`` with at most ``max_unindexed`` lines left over,
:class:`IndexingError` says what was tried; give the cell instead
(``--lattice a=5.43`` on the command line).
"""

import functools
import math
import re
import time
from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.lattice import CENTRING_POINTS

__all__ = [
    "IndexingError",
    "IndexingSolution",
    "cell_from_parameters",
    "index_pattern",
    "parse_lattice",
]

SYSTEMS = ("cubic", "trigonal", "hexagonal")
_CENTRING_RANK = {"F": 0, "I": 0, "R": 0, "P": 1}
_N_MAX = 3000
_H_MAX = 3000


class IndexingError(CrystalNetInputError):
    """No cell indexes the pattern well enough."""


# --------------------------------------------------------------------------
# reflection tables


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


# --------------------------------------------------------------------------
# the solution


@dataclass(eq=False)
class IndexingSolution:
    """An indexed cell.

    Attributes
    ----------
    system : {"cubic", "trigonal", "hexagonal"}
        Crystal system of the lattice (trigonal and hexagonal P lattices
        are the same; the label follows the systems asked for).
    centring : {"P", "I", "F", "R"}
        Lattice centring; R is the rhombohedral lattice in the obverse
        hexagonal setting (-h + k + l = 3n).
    lattice : pymatgen.core.Lattice
        Conventional cell refined by least squares.
    zero_shift : float
        Refined 2-theta zero shift in degrees (observed = true + shift); 0
        when the pattern has no wavelength.
    m20 : float
        de Wolff figure of merit over the first min(20, indexed) lines.
    f_n : float or None
        Smith-Snyder F_N over the same lines (None without wavelength).
    indexed : list of (tuple, float, float)
        ``(hkl, q_obs, q_calc)`` of each indexed line, q_obs corrected for
        the zero shift (1/angstrom).
    unindexed : int
        Lines among those used that no reflection explains.
    n_lines : int
        Lines used.
    wavelength : float or None
        Wavelength of the positions (angstrom).
    details : dict
        Mean discrepancies, number of calculated lines, N of M_N and F_N.
    """

    system: str
    centring: str
    lattice: object
    zero_shift: float
    m20: float
    f_n: float
    indexed: list
    unindexed: int
    n_lines: int
    wavelength: float = None
    details: dict = field(default_factory=dict)

    @property
    def a(self):
        """Conventional a in angstrom."""
        return float(self.lattice.a)

    @property
    def c(self):
        """Conventional c in angstrom."""
        return float(self.lattice.c)

    @property
    def quality(self):
        """Ranking figure: M20 times 0.7 per unindexed line."""
        return self.m20 * 0.7**self.unindexed

    @property
    def symbol(self):
        """Bravais lattice symbol (cP, cI, cF, hR, hP)."""
        return ("c" if self.system == "cubic" else "h") + self.centring

    def primitive_lattice(self):
        """The primitive cell exactly as :func:`cmed_cell` gives it.

        A dummy structure with one atom on every lattice point of the
        conventional cell is standardised with
        :func:`~diffpy.crystalnet.physics.cells.cmed_cell`, so the cell vectors
        have the setting and orientation that ``cmed_cell`` produces for
        real crystals with this lattice.

        Returns
        -------
        pymatgen.core.Lattice
        """
        from pymatgen.core import Structure

        from diffpy.crystalnet.physics.cells import cmed_cell

        coords = CENTRING_POINTS[self.centring]
        dummy = Structure(self.lattice, ["Cu"] * len(coords), coords)
        return cmed_cell(dummy).lattice

    def describe(self):
        """One paragraph describing the solution.

        Returns
        -------
        str
        """
        if self.system == "cubic":
            cell = f"a = {self.a:.5f} A"
        else:
            cell = f"a = {self.a:.5f} A, c = {self.c:.5f} A (hexagonal axes)"
        fn = ""
        if self.f_n is not None:
            fn = (
                f", F{self.details['n']} = {self.f_n:.1f} "
                f"({self.details['mean_d2theta']:.4f}, "
                f"{self.details['n_calc']})"
            )
        zero = ""
        if self.wavelength is not None:
            zero = f", zero shift {self.zero_shift:+.4f} deg"
        return (
            f"{self.system} {self.centring} ({self.symbol}): {cell}, "
            f"V = {self.lattice.volume:.2f} A^3{zero}; "
            f"M{self.details['n']} = {self.m20:.1f}{fn}; "
            f"{len(self.indexed)} of {self.n_lines} lines indexed, "
            f"{self.unindexed} unindexed"
        )

    def table(self):
        """Text table of the indexed lines.

        Returns
        -------
        str
        """
        rows = ["  h  k  l     Q_obs    Q_calc     d_obs    diff(Q)"]
        for hkl, qo, qc in self.indexed:
            rows.append(
                f"{hkl[0]:3d}{hkl[1]:3d}{hkl[2]:3d} {qo:9.5f} {qc:9.5f} "
                f"{2 * math.pi / qo:9.5f} {qo - qc:+.5f}"
            )
        return "\n".join(rows)

    def __repr__(self):
        return f"IndexingSolution({self.describe()})"


# --------------------------------------------------------------------------
# the metric models


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


def _distinct(s, rel=1e-9):
    if s.size == 0:
        return 0
    return int(1 + np.count_nonzero(np.diff(s) > rel * s[1:]))


# --------------------------------------------------------------------------
# observations


@dataclass
class _Obs:
    q: np.ndarray
    tth: np.ndarray  # None without wavelength
    wavelength: float
    fwhm: np.ndarray = None  # degrees 2-theta, profiles only

    @property
    def s(self):
        return (self.q / (2 * math.pi)) ** 2

    def s_tolerance(self, tol_tth, tol_q, rel=0.0):
        """Tolerance in s per line for a 2-theta (or Q) tolerance."""
        s = self.s
        if self.wavelength is not None:
            theta = np.radians(self.tth) / 2.0
            ds = (
                8.0
                * np.sin(theta)
                * np.cos(theta)
                / self.wavelength**2
                * math.radians(tol_tth)
                / 2.0
            )
        else:
            ds = 2.0 * self.q * tol_q / (4 * math.pi**2)
        return ds + 2.0 * rel * s

    def corrected_s(self, zero):
        if self.wavelength is None or zero == 0:
            return self.s
        t = np.radians(self.tth - zero) / 2.0
        return (2.0 * np.sin(t) / self.wavelength) ** 2


def _observations(pattern_or_peaks, peak_options):
    from diffpy.crystalnet.index.peak_search import PeakList, find_peaks
    from diffpy.crystalnet.physics.pattern import Pattern

    if isinstance(pattern_or_peaks, Pattern):
        peaks = find_peaks(pattern_or_peaks, **(peak_options or {}))
    elif isinstance(pattern_or_peaks, PeakList):
        peaks = pattern_or_peaks
    else:
        raise CrystalNetInputError(
            "index_pattern needs a Pattern or a PeakList, not "
            f"{type(pattern_or_peaks).__name__}",
            "indexing",
        )
    where = peaks.source or "pattern"
    if peaks.q is None:
        raise CrystalNetInputError(
            "indexing needs d-spacings: the pattern is in 2-theta without "
            "a wavelength (give one, e.g. --wavelength CuKa1)",
            where,
        )
    q = np.asarray(peaks.q, dtype=float)
    tth = None if peaks.two_theta is None else np.asarray(peaks.two_theta)
    ok = np.isfinite(q) & (q > 0)
    if tth is not None:
        ok &= np.isfinite(tth)
    order = np.argsort(q[ok])
    q = q[ok][order]
    tth = None if tth is None else tth[ok][order]
    fwhm = None
    if peaks.kind == "profile" and peaks.xtype == "tth":
        fwhm = np.asarray(peaks.fwhm, dtype=float)[ok][order]
    return _Obs(q, tth, peaks.wavelength, fwhm), where


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


# --------------------------------------------------------------------------
# refinement and figures of merit


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
    return _figures(model, params, zero, obs, j, ok, s_calc, hkl, n_fom)


def _figures(model, params, zero, obs, j, ok, s_calc, hkl, n_fom):
    s_obs = obs.corrected_s(zero)
    ind = np.flatnonzero(ok)
    if ind.size < 2:
        return None
    first = ind[: min(n_fom, ind.size)]
    s_n = s_obs[first[-1]]
    ds = np.abs(s_obs[first] - s_calc[j[first]])
    # floor: 0.0005 deg in 2-theta, or 1e-5 relative in Q
    if obs.wavelength is not None:
        th = np.radians(obs.tth[first] - zero) / 2.0
        floor = (
            8 * np.sin(th) * np.cos(th) / obs.wavelength**2 * 0.5e-3 * math.pi
        ) / 360.0
    else:
        floor = 2e-5 * s_obs[first]
    eps = float(np.mean(np.maximum(ds, floor)))
    n_calc = _distinct(s_calc[s_calc <= s_n * (1 + 1e-9)])
    m20 = s_n / (2.0 * eps * max(n_calc, 1))
    f_n = None
    mean_dt = None
    if obs.wavelength is not None:
        lam = obs.wavelength
        tc = 2 * np.degrees(
            np.arcsin(np.clip(lam * np.sqrt(s_calc[j[first]]) / 2, 0, 1))
        )
        dt = np.abs(obs.tth[first] - zero - tc)
        mean_dt = float(np.mean(np.maximum(dt, 0.5e-3)))
        f_n = first.size / (mean_dt * max(n_calc, 1))
    q_corr = 2 * math.pi * np.sqrt(s_obs)
    indexed = [
        (
            tuple(int(v) for v in hkl[j[i]]),
            float(q_corr[i]),
            float(2 * math.pi * math.sqrt(s_calc[j[i]])),
        )
        for i in ind
    ]
    return {
        "params": params,
        "zero": zero,
        "m20": float(m20),
        "f_n": None if f_n is None else float(f_n),
        "indexed": indexed,
        "unindexed": int(obs.q.size - ind.size),
        "details": {
            "n": int(first.size),
            "mean_ds": eps,
            "mean_d2theta": mean_dt,
            "n_calc": int(n_calc),
        },
    }


# --------------------------------------------------------------------------
# the driver


def _check_systems(systems):
    if isinstance(systems, str):
        systems = (systems,)
    out = []
    for name in systems:
        key = str(name).strip().lower()
        if key not in SYSTEMS:
            raise CrystalNetInputError(
                f"cannot index crystal system {name!r}: supported are "
                f"{', '.join(SYSTEMS)}",
                "systems",
            )
        if key not in out:
            out.append(key)
    if not out:
        raise CrystalNetInputError("no crystal system given", "systems")
    return tuple(out)


def _lattice_of(system, params):
    from pymatgen.core import Lattice

    if system == "cubic":
        return Lattice.cubic(float(params[0]))
    return Lattice.hexagonal(float(params[0]), float(params[1]))


def index_pattern(
    pattern_or_peaks,
    systems=("cubic", "trigonal"),
    max_peaks=20,
    tolerance=None,
    max_zero_shift=0.2,
    min_m20=10.0,
    max_unindexed=2,
    min_indexed=3,
    max_volume=5000.0,
    max_solutions=10,
    peak_options=None,
    exhaustive=False,
):
    """Index a powder pattern: find its cubic, trigonal or hexagonal cell.

    Parameters
    ----------
    pattern_or_peaks : Pattern or PeakList
        A pattern (peaks are found with
        :func:`~diffpy.crystalnet.index.peak_search.find_peaks` and
        ``peak_options``) or the peaks.  Needs a wavelength (or Q).
    systems : sequence of str, optional
        Crystal systems to try: ``"cubic"`` (P, I, F), ``"trigonal"`` (R in
        the hexagonal setting and P), ``"hexagonal"`` (P).
    max_peaks : int, optional
        Use the first (lowest-angle) this many peaks.
    tolerance : float, optional
        Largest 2-theta difference in degrees (after refinement) for a line
        to count as indexed; for patterns in Q without wavelength the same
        tolerance is taken at Cu K-alpha1.  By default 0.04 degrees, or
        0.15 times the median FWHM of the peaks when that is larger (broad
        peaks have less precise positions).
    max_zero_shift : float, optional
        Bound of the refined zero shift in degrees.
    min_m20 : float, optional
        Refuse solutions with a lower figure of merit (default 10).
    max_unindexed : int, optional
        Refuse solutions that leave more lines unindexed.
    min_indexed : int, optional
        Refuse solutions that index fewer lines.
    max_volume : float, optional
        Largest conventional cell volume tried, angstrom^3.
    max_solutions : int, optional
        Return at most this many solutions.
    peak_options : dict, optional
        Keyword arguments of ``find_peaks`` when a pattern is given.
    exhaustive : bool, optional
        Also search hexagonal axes when a cubic cell already indexes every
        line with M20 >= max(20, min_m20) and at most two calculated lines
        per observed line (by default that search is then skipped: a
        hexagonal cell can hardly index the lines with fewer calculated
        lines than such a cubic one).

    Returns
    -------
    list of IndexingSolution
        Best first (see the module documentation for the ranking).

    Raises
    ------
    IndexingError
        When no cell passes ``min_m20``, ``max_unindexed`` and
        ``min_indexed``.
    CrystalNetInputError
        For invalid arguments or a pattern without wavelength.

    Examples
    --------
    >>> from pymatgen.core import Lattice, Structure
    >>> from diffpy.crystalnet import simulate_pattern
    >>> nacl = Structure.from_spacegroup(
    ...     "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
    ...     [[0, 0, 0], [0.5, 0.5, 0.5]])
    >>> sticks = simulate_pattern(nacl, "CuKa1", (10, 90)).to_pattern()
    >>> best = index_pattern(sticks)[0]
    >>> best.system, best.centring, round(best.a, 4)
    ('cubic', 'F', 5.64)
    """
    started = time.perf_counter()
    systems = _check_systems(systems)
    obs, where = _observations(pattern_or_peaks, peak_options)
    if tolerance is None:
        tolerance = 0.04
        if obs.fwhm is not None and obs.fwhm.size:
            tolerance = max(tolerance, 0.15 * float(np.median(obs.fwhm)))
    tolerance = float(tolerance)
    if not 0 < tolerance < 1:
        raise CrystalNetInputError(
            f"tolerance {tolerance!r} must be in (0, 1) degrees", "tolerance"
        )
    if int(max_peaks) < 3:
        raise CrystalNetInputError("max_peaks must be at least 3", "max_peaks")
    n_found = obs.q.size
    obs = _Obs(
        obs.q[: int(max_peaks)],
        None if obs.tth is None else obs.tth[: int(max_peaks)],
        obs.wavelength,
    )
    tried_tolerance = tolerance
    if obs.q.size < max(3, int(min_indexed)):
        raise IndexingError(
            f"only {obs.q.size} peak(s) found; indexing needs at least "
            f"{max(3, int(min_indexed))}. Give the cell instead "
            "(--lattice a=... or a=...,c=...)",
            where,
        )
    tol_q = (4 * math.pi / 1.54056) * math.radians(tolerance) / 2.0
    tol_final = obs.s_tolerance(tolerance, tol_q)
    # trial scoring: the zero shift is unknown, and a cell from low-angle
    # lines carries a relative error of about cot(theta_1) * zero / 2
    if obs.wavelength is not None:
        theta1 = math.radians(obs.tth[0]) / 2.0
        rel = math.radians(max_zero_shift) / 2.0 / math.tan(theta1)
    else:
        rel = 1e-3
    tol_trial = obs.s_tolerance(2 * tolerance, 2 * tol_q)
    tol_first = obs.s_tolerance(
        2 * tolerance + max_zero_shift, 2 * tol_q, rel=min(rel, 0.01)
    )
    n = obs.q.size
    need = max(int(min_indexed), n - int(max_unindexed))
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
    a_max = (max_volume) ** (1 / 3)
    cell_limits = {
        False: (np.array([2.0]), np.array([a_max])),
        True: (np.array([2.0, 2.0]), np.array([25.0, 80.0])),
    }
    cubic_trials = (
        _cubic_trials(obs, a_max=a_max) if "cubic" in systems else None
    )
    hex_trials = None
    if hex_label:
        hex_trials = _hex_trials(
            obs,
            limits=(2.0, 25.0, 2.0, 80.0, max_volume),
        )
    solutions = []
    tried = {}
    for system, centring in lattices:
        if (
            system != "cubic"
            and not exhaustive
            and _cubic_done(solutions, n, min_m20)
        ):
            tried[(system, centring)] = "skipped: a cubic cell indexes all"
            continue
        model = _Model(system, centring)
        trials = cubic_trials if system == "cubic" else hex_trials
        if trials is None or len(trials) == 0:
            tried[(system, centring)] = 0
            continue
        tried[(system, centring)] = len(trials)
        cells, zeros, score = _screen(
            model.hexagonal,
            centring,
            trials,
            obs,
            tol_first,
            tol_trial,
            (
                int(max_unindexed),
                obs.wavelength is not None,
                max_zero_shift,
                cell_limits[model.hexagonal],
            ),
        )
        good = score >= max(need - 1, int(min_indexed), 2)
        if not np.any(good):
            continue
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
        for params, z0 in zip(cand[uniq], zc[uniq]):
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
                system=system,
                centring=centring,
                lattice=_lattice_of(system, res["params"]),
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
    solutions = _dedupe(solutions)
    passing = [
        s
        for s in solutions
        if s.m20 >= min_m20
        and s.unindexed <= max_unindexed
        and len(s.indexed) >= min_indexed
        and s.lattice.volume <= max_volume
    ]
    if not passing:
        raise IndexingError(
            _refusal(
                solutions,
                tried,
                n,
                n_found,
                min_m20,
                max_unindexed,
                tried_tolerance,
            ),
            where,
        )
    ranked = _rank(passing)
    elapsed = time.perf_counter() - started
    for s in ranked:
        s.details["seconds"] = elapsed
        s.details["peaks_found"] = n_found
        s.details["tolerance"] = tolerance
    return ranked[: int(max_solutions)]


def _cubic_done(solutions, n, min_m20):
    return any(
        s.system == "cubic"
        and s.unindexed == 0
        and len(s.indexed) == n
        and s.m20 >= max(20.0, min_m20)
        and s.details["n_calc"] <= 2 * s.details["n"]
        for s in solutions
    )


def _dedupe(solutions):
    out = []
    for s in sorted(solutions, key=lambda s: -s.quality):
        same = False
        for t in out:
            if (
                t.system == s.system
                and t.centring == s.centring
                and np.allclose(t.lattice.abc, s.lattice.abc, rtol=1e-4)
            ):
                same = True
                break
        if not same:
            out.append(s)
    return out


def _prefer(s):
    """Sort key among near-equal solutions: symmetry, centring, volume."""
    primitive = s.lattice.volume / len(CENTRING_POINTS[s.centring])
    return (
        0 if s.system == "cubic" else 1,
        _CENTRING_RANK[s.centring],
        primitive,
    )


def _rank(solutions):
    by_quality = sorted(solutions, key=lambda s: -s.quality)
    best = by_quality[0]
    near = [s for s in by_quality if s.quality >= 0.98 * best.quality]
    top = min(near, key=_prefer)
    if top.system != "cubic":
        cubic = [
            s
            for s in by_quality
            if s.system == "cubic"
            and s.unindexed <= top.unindexed
            and s.quality >= 0.7 * top.quality
            and _prefer(s)[2] <= _prefer(top)[2] * 1.01
        ]
        if cubic:
            top = min(cubic, key=lambda s: (-s.quality, _prefer(s)))
    return [top] + [s for s in by_quality if s is not top]


def _refusal(solutions, tried, n, n_found, min_m20, max_unindexed, tolerance):
    what = ", ".join(
        f"{system} {centring} ({count} trial cells)"
        for (system, centring), count in tried.items()
        if not isinstance(count, str)
    )
    msg = (
        f"no cell indexes the first {n} of {n_found} peaks with M20 >= "
        f"{min_m20:g} and at most {max_unindexed} unindexed lines within "
        f"{tolerance:.3g} deg (tried {what})"
    )
    if solutions:
        best = max(solutions, key=lambda s: s.quality)
        msg += f"; best attempt: {best.describe()}"
    msg += (
        ". The pattern may belong to another crystal system, contain "
        "impurity peaks, or have too few peaks. Give the cell instead "
        "(--lattice a=5.43 for cubic, --lattice a=4.14,c=28.6 for "
        "hexagonal axes, or --cell a,b,c,alpha,beta,gamma)"
    )
    return msg


# --------------------------------------------------------------------------
# user-given cells


def cell_from_parameters(a, b, c, alpha, beta, gamma, source="cell"):
    """Build a pymatgen Lattice from six cell parameters, with checks.

    Parameters
    ----------
    a, b, c : float
        Cell lengths in angstrom (0.5-200).
    alpha, beta, gamma : float
        Cell angles in degrees, each in (0, 180), forming a cell with a
        positive volume.
    source : str, optional
        Name used in error messages.

    Returns
    -------
    pymatgen.core.Lattice

    Raises
    ------
    CrystalNetInputError
        For lengths or angles out of range or a cell without volume.
    """
    from pymatgen.core import Lattice

    values = {}
    for name, value in zip(
        ("a", "b", "c", "alpha", "beta", "gamma"),
        (a, b, c, alpha, beta, gamma),
    ):
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise CrystalNetInputError(
                f"{name} must be a number, not {value!r}", source
            ) from None
        if not math.isfinite(v):
            raise CrystalNetInputError(f"{name} is {value!r}", source)
        values[name] = v
    for name in ("a", "b", "c"):
        if not 0.5 <= values[name] <= 200.0:
            raise CrystalNetInputError(
                f"{name} = {values[name]:g} angstrom is outside 0.5-200 "
                "(lengths are in angstrom)",
                source,
            )
    for name in ("alpha", "beta", "gamma"):
        if not 0.0 < values[name] < 180.0:
            raise CrystalNetInputError(
                f"{name} = {values[name]:g} degrees is outside (0, 180)",
                source,
            )
    ca, cb, cg = (
        math.cos(math.radians(values[k])) for k in ("alpha", "beta", "gamma")
    )
    g = 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg
    if g <= 1e-6:
        raise CrystalNetInputError(
            "the angles alpha = {alpha:g}, beta = {beta:g}, gamma = "
            "{gamma:g} do not form a cell (no volume)".format(**values),
            source,
        )
    return Lattice.from_parameters(
        values["a"],
        values["b"],
        values["c"],
        values["alpha"],
        values["beta"],
        values["gamma"],
    )


_PAIR = re.compile(r"^\s*([A-Za-z]+)\s*[=:]\s*([^=:]+?)\s*$")


def parse_lattice(text, source="--lattice"):
    """Parse a cell given on the command line.

    Parameters
    ----------
    text : str
        ``"a=5.4"`` (cubic), ``"a=4.1,c=28.6"`` (hexagonal axes, trigonal
        or hexagonal), or all six of ``a, b, c, alpha, beta, gamma``
        (``"a=5,b=6,c=7,alpha=90,beta=100,gamma=90"``), separated by
        commas, semicolons or spaces.  Lengths in angstrom, angles in
        degrees.
    source : str, optional
        Name used in error messages.

    Returns
    -------
    pymatgen.core.Lattice

    Raises
    ------
    CrystalNetInputError
        For unknown keys, repeated keys, values that are not numbers or a
        combination of keys that does not define a cell.

    Examples
    --------
    >>> parse_lattice("a=5.4").abc
    (5.4, 5.4, 5.4)
    >>> lat = parse_lattice("a=4.1, c=28.6")
    >>> round(lat.gamma, 6)
    120.0
    """
    if not isinstance(text, str) or not text.strip():
        raise CrystalNetInputError(
            "empty lattice; give e.g. 'a=5.43' or 'a=4.14,c=28.6'", source
        )
    parts = [p for p in re.split(r"[,;\s]+(?=[A-Za-z])", text.strip()) if p]
    values = {}
    for part in parts:
        m = _PAIR.match(part.strip().rstrip(",;"))
        if m is None:
            raise CrystalNetInputError(
                f"cannot read {part!r}: write key=value, e.g. 'a=5.43' or "
                "'a=4.14,c=28.6'",
                source,
            )
        key = m.group(1).lower()
        if key not in ("a", "b", "c", "alpha", "beta", "gamma"):
            raise CrystalNetInputError(
                f"unknown lattice parameter {m.group(1)!r}; use a, b, c, "
                "alpha, beta, gamma",
                source,
            )
        if key in values:
            raise CrystalNetInputError(f"{key} given twice", source)
        try:
            values[key] = float(m.group(2))
        except ValueError:
            raise CrystalNetInputError(
                f"{key} = {m.group(2)!r} is not a number", source
            ) from None
    keys = set(values)
    if keys == {"a"}:
        a = values["a"]
        return cell_from_parameters(a, a, a, 90, 90, 90, source)
    if keys == {"a", "c"}:
        a, c = values["a"], values["c"]
        return cell_from_parameters(a, a, c, 90, 90, 120, source)
    if keys == {"a", "b", "c", "alpha", "beta", "gamma"}:
        return cell_from_parameters(
            *(values[k] for k in ("a", "b", "c", "alpha", "beta", "gamma")),
            source=source,
        )
    raise CrystalNetInputError(
        f"cannot build a cell from {', '.join(sorted(keys))}: give a "
        "(cubic), a and c (hexagonal axes) or all of a, b, c, alpha, beta, "
        "gamma",
        source,
    )


# End of file
