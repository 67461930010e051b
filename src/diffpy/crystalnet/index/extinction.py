"""Extinction symbols from the systematic absences of the indexed lines.

For an indexed cell, every calculated reflection up to the last observed
line is either seen (an observed line lies within tolerance) or not.  A
reflection condition (for example ``0kl: k + l = 2n``, an n-glide normal to
a) forbids some of them; its evidence is:

* a **contradiction** when an observed line can only be explained by
  forbidden reflections: the condition is impossible;
* **support** from each forbidden reflection that would give a line of its
  own (no allowed reflection within tolerance) and is not observed.

Weak reflections are missed too, so one absence proves little: with ``p``
the fraction of such resolvable, allowed reflections that are not observed
(measured on the same pattern), ``n`` missing forbidden reflections are
``(1/p)^n`` times likelier under the condition than without it.  The
log-likelihood of an extinction symbol is the sum over its conditions, and
the symbols are ranked by it, with probabilities normalised over those
listed.  Orthorhombic symbols follow the International Tables' notation
(lattice letter, then the glide normal to a, b and c, ``-`` for none;
``P n - a`` for Pnma and Pn2_1a); monoclinic ones give the glide normal to
b and the 2_1 axis (``P 1 21/c 1``).  Other systems list their conditions.
Internal to :mod:`diffpy.crystalnet.index`; reached through
:func:`rank_extinction_symbols`.
"""

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.index import metric

__all__ = ["ExtinctionSymbol", "rank_extinction_symbols"]


def _axis(hkl, keep):
    others = [i for i in range(3) if i != keep]
    return np.all(hkl[:, others] == 0, axis=1)


#: reflection conditions: name -> (class mask, condition that must hold)
def _conditions(system):
    h = lambda x: x[:, 0]  # noqa: E731
    k = lambda x: x[:, 1]  # noqa: E731
    l = lambda x: x[:, 2]  # noqa: E731,E741
    even = lambda v: v % 2 == 0  # noqa: E731
    zone_0kl = lambda x: x[:, 0] == 0  # noqa: E731
    zone_h0l = lambda x: x[:, 1] == 0  # noqa: E731
    zone_hk0 = lambda x: x[:, 2] == 0  # noqa: E731
    out = {
        "0kl: k=2n": (zone_0kl, lambda x: even(k(x)), ("a", "b")),
        "0kl: l=2n": (zone_0kl, lambda x: even(l(x)), ("a", "c")),
        "0kl: k+l=2n": (zone_0kl, lambda x: even(k(x) + l(x)), ("a", "n")),
        "h0l: h=2n": (zone_h0l, lambda x: even(h(x)), ("b", "a")),
        "h0l: l=2n": (zone_h0l, lambda x: even(l(x)), ("b", "c")),
        "h0l: h+l=2n": (zone_h0l, lambda x: even(h(x) + l(x)), ("b", "n")),
        "hk0: h=2n": (zone_hk0, lambda x: even(h(x)), ("c", "a")),
        "hk0: k=2n": (zone_hk0, lambda x: even(k(x)), ("c", "b")),
        "hk0: h+k=2n": (zone_hk0, lambda x: even(h(x) + k(x)), ("c", "n")),
        "h00: h=2n": (
            lambda x: _axis(x, 0),
            lambda x: even(h(x)),
            ("a21", "21"),
        ),
        "0k0: k=2n": (
            lambda x: _axis(x, 1),
            lambda x: even(k(x)),
            ("b21", "21"),
        ),
        "00l: l=2n": (
            lambda x: _axis(x, 2),
            lambda x: even(l(x)),
            ("c21", "21"),
        ),
    }
    if system == "triclinic":  # P1 and P-1: no reflection condition
        return {}
    if system == "monoclinic":
        keep = ("h0l: h=2n", "h0l: l=2n", "h0l: h+l=2n", "0k0: k=2n")
        return {name: out[name] for name in keep}
    if system in ("hexagonal", "trigonal"):
        third = lambda v: v % 3 == 0  # noqa: E731
        sixth = lambda v: v % 6 == 0  # noqa: E731
        hhl = lambda x: (x[:, 0] == x[:, 1]) & (x[:, 0] != 0)  # noqa: E731
        hh0l = lambda x: (x[:, 0] == -x[:, 1]) & (x[:, 0] != 0)  # noqa
        return {
            "00l: l=2n": out["00l: l=2n"],
            "00l: l=3n": (
                lambda x: _axis(x, 2),
                lambda x: third(l(x)),
                ("c21", "31"),
            ),
            "00l: l=6n": (
                lambda x: _axis(x, 2),
                lambda x: sixth(l(x)),
                ("c21", "61"),
            ),
            "hhl: l=2n": (hhl, lambda x: even(l(x)), ("110", "c")),
            "h-h0l: l=2n": (hh0l, lambda x: even(l(x)), ("100", "c")),
        }
    return out


@dataclass
class ExtinctionSymbol:
    """One ranked extinction symbol.

    Attributes
    ----------
    symbol : str
        ``"P n - a"``, ``"P 1 21/c 1"``, or the conditions joined by ``;``.
    conditions : list of str
        The reflection conditions it implies.
    log_likelihood : float
        Natural log of its likelihood relative to no condition.
    probability : float
        Normalised over the symbols listed.
    absent : int
        Forbidden, resolvable reflections not observed (the support).
    """

    symbol: str
    conditions: list
    log_likelihood: float
    probability: float = 0.0
    absent: int = 0
    details: dict = field(default_factory=dict)


def _reflections(solution, tol_q):
    """Calculated reflections up to the last observed line, and which
    observed line (or -1) each one matches."""
    q_obs = np.array([q for _, q, _ in solution.indexed])
    s_obs = (q_obs / (2 * math.pi)) ** 2
    s_calc, hkl = metric.lattice_lines(
        solution.lattice, solution.centring, float(s_obs.max()) * 1.001
    )
    q_calc = 2 * math.pi * np.sqrt(s_calc)
    dist = np.abs(q_calc[:, None] - q_obs[None, :])
    near = dist <= tol_q
    seen = near.any(axis=1)
    return q_calc, hkl, near, seen


def _forbidden(rules, hkl):
    """Reflections forbidden by any of the rules."""
    out = np.zeros(len(hkl), dtype=bool)
    for in_class, holds, _ in rules:
        out |= in_class(hkl) & ~holds(hkl)
    return out


def _support(forbidden, q_calc, near, seen, tol_q):
    """Absent forbidden reflections that would be resolved, or None when an
    observed line is explained only by forbidden reflections."""
    if not forbidden.any():
        return np.zeros_like(forbidden)
    allowed = ~forbidden
    explained = near.any(axis=0)
    by_allowed = (near & allowed[:, None]).any(axis=0)
    if np.any(explained & ~by_allowed):
        return None
    gap = np.abs(q_calc[:, None] - q_calc[None, allowed])
    resolved = forbidden & ~np.any(gap <= 2 * tol_q, axis=1)
    return resolved & ~seen


def _weak_fraction(q_calc, seen, tol_q):
    """Fraction of resolvable calculated reflections that are not seen."""
    gap = np.abs(q_calc[:, None] - q_calc[None, :])
    np.fill_diagonal(gap, np.inf)
    alone = ~np.any(gap <= 2 * tol_q, axis=1)
    if not alone.any():
        return 0.5
    return float(np.clip(np.mean(~seen[alone]), 0.05, 0.9))


def _symbols(rules, ctx):
    """(log-likelihood, absent, names, combo, positions) of every symbol
    made of at most one condition per position, best first.

    Every condition of a symbol must add absences of its own (an implied
    screw axis adds none), and of symbols that forbid the same reflections
    the first made (fewest conditions, table order) is kept.
    """
    q_calc, hkl, near, seen, tol_q, per_absent = ctx
    positions = {}
    for name, rule in rules.items():
        positions.setdefault(rule[2][0], []).append((name, rule))
    order = sorted(positions)
    combos = itertools.product(*([None] + positions[k] for k in order))
    combos = sorted(combos, key=lambda c: sum(x is not None for x in c))
    out, seen_masks = [], set()
    for combo in combos:
        chosen = [c for c in combo if c is not None]
        forbidden = _forbidden([c[1] for c in chosen], hkl)
        key = forbidden.tobytes()
        if key in seen_masks:
            continue
        support = _support(forbidden, q_calc, near, seen, tol_q)
        if support is None:
            continue
        absent = int(np.count_nonzero(support))
        if any(
            np.count_nonzero(
                _support(
                    _forbidden([d[1] for d in chosen if d is not c], hkl),
                    q_calc,
                    near,
                    seen,
                    tol_q,
                )
            )
            >= absent
            for c in chosen
        ):
            continue  # a condition without absences of its own
        seen_masks.add(key)
        names = [c[0] for c in chosen]
        out.append((absent * per_absent, absent, names, combo, order))
    out.sort(key=lambda t: (-t[0], len(t[2])))
    return out


def _format(system, centring, combo, order):
    by_pos = {pos: c for pos, c in zip(order, combo) if c is not None}
    names = [c[0] for c in by_pos.values()]
    if system == "orthorhombic":
        parts = []
        for pos in ("a", "b", "c"):
            glide = by_pos.get(pos)
            if glide is not None:
                parts.append(glide[1][2][1])
            elif pos + "21" in by_pos:
                parts.append("21")
            else:
                parts.append("-")
        return f"{centring} " + " ".join(parts)
    if system == "monoclinic":
        glide = by_pos.get("b")
        screw = "21" if "b21" in by_pos else "2"
        if glide is not None:
            return f"{centring} 1 {screw}/{glide[1][2][1]} 1"
        return f"{centring} 1 {screw} 1"
    if system == "triclinic":
        return f"{centring} -"
    return f"{centring}: " + ("; ".join(names) if names else "no conditions")


def _evidence(solution, tolerance):
    """Calculated reflections, their matches, the tolerance (default three
    times the mean discrepancy of the indexed lines, at least 0.002
    1/angstrom) and the fraction of resolvable reflections not seen."""
    if tolerance is None:
        dq = [abs(qo - qc) for _, qo, qc in solution.indexed]
        tolerance = max(3 * float(np.mean(dq)) if dq else 0.0, 2e-3)
    q_calc, hkl, near, seen = _reflections(solution, tolerance)
    p_weak = _weak_fraction(q_calc, seen, tolerance)
    return q_calc, hkl, near, seen, tolerance, p_weak


def rank_extinction_symbols(solution, tolerance=None, max_symbols=5):
    """Extinction symbols compatible with the indexed lines, ranked.

    Parameters
    ----------
    solution : IndexingSolution
        An indexed cell (its standard conventional setting).
    tolerance : float, optional
        Largest Q difference (1/angstrom) of a matched line; default three
        times the mean discrepancy of the indexed lines, at least 0.002.
    max_symbols : int, optional
        How many to return.

    Returns
    -------
    list of ExtinctionSymbol
        Best first, with probabilities normalised over the list.

    Examples
    --------
    ``rank_extinction_symbols(index_pattern(pattern)[0])[0].symbol`` is
    ``"P n - a"`` for a lab pattern of PbSO4 (Pnma).
    """
    q_calc, hkl, near, seen, tolerance, p_weak = _evidence(solution, tolerance)
    per_absent = math.log(1.0 / p_weak)
    rules = _conditions(solution.system)
    ctx = (q_calc, hkl, near, seen, tolerance, per_absent)
    ranked = _symbols(rules, ctx)[: int(max_symbols)]
    top = max((r[0] for r in ranked), default=0.0)
    weights = [math.exp(r[0] - top) for r in ranked]
    total = sum(weights) or 1.0
    out = []
    for (llr, absent, names, combo, order), w in zip(ranked, weights):
        out.append(
            ExtinctionSymbol(
                symbol=_format(
                    solution.system, solution.centring, combo, order
                ),
                conditions=names,
                log_likelihood=float(llr),
                probability=w / total,
                absent=absent,
                details=dict(p_weak=p_weak, tolerance=tolerance),
            )
        )
    return out
