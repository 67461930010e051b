"""Atoms and elements of a decoded density: steps 3 and 4 of decoding.

Given the maxima of a density and the electrons in their basins
(:mod:`diffpy.crystalnet.density.decode`), :func:`assign_elements` picks
the number of formula units ``Z`` and the maxima kept as atoms, and gives
each kept maximum an element: an assignment problem
(:func:`scipy.optimize.linear_sum_assignment`) of maxima to element slots
costing ``|electrons - Z_element|``, replaced by a per-orbit assignment
(spglib orbits of coarse electron-count labels) when one has the exact
stoichiometry.  Without a composition, each maximum with at least half an
electron becomes the element whose atomic number is nearest its electron
count.
"""

import numpy as np

__all__ = ["assign_elements"]


def _atomic_numbers(symbols):
    from pymatgen.core import Element

    return np.array([Element(s).Z for s in symbols], dtype=float)


def _assign(electrons, slots_z):
    """Optimal one-to-one assignment of sites to element slots."""
    from scipy.optimize import linear_sum_assignment

    cost = np.abs(electrons[:, None] - slots_z[None, :])
    rows, cols = linear_sum_assignment(cost)
    out = np.empty(len(electrons), dtype=int)
    out[rows] = cols
    return out, float(cost[rows, cols].sum())


def _choose_formula_units(electrons, amounts, z_max=None):
    """Pick Z, the kept maxima and their slots; see the module docstring."""
    symbols = list(amounts)
    per_fu = np.array([amounts[s] for s in symbols])
    z_el = _atomic_numbers(symbols)
    atoms_fu = int(per_fu.sum())
    electrons_fu = float(per_fu @ z_el)
    total = float(electrons.sum())
    order = np.argsort(-electrons, kind="stable")
    best = None
    limit = len(electrons) // atoms_fu
    if z_max is not None:
        limit = min(limit, int(z_max))
    for z in range(1, limit + 1):
        n = z * atoms_fu
        scale = z * electrons_fu / total if total > 0 else 1.0
        kept = order[:n]
        slots = np.repeat(np.arange(len(symbols)), per_fu * z)
        col, cost = _assign(electrons[kept] * scale, z_el[slots])
        dropped = float(electrons[order[n:]].sum()) * scale
        score = (cost + dropped) / (z * electrons_fu)
        if best is None or score < best[0] - 1e-9:
            best = (score, z, kept, [symbols[slots[c]] for c in col], scale)
    return best


def _coarse_labels(electrons, rel=0.25, floor=3.0):
    """Integer labels grouping maxima with similar electron counts."""
    order = np.argsort(electrons)
    labels = np.empty(len(electrons), dtype=int)
    label, start = 0, None
    for i in order:
        e = electrons[i]
        if start is not None and e - start > max(floor, rel * start):
            label += 1
            start = None
        if start is None:
            start = e
        labels[i] = label + 1
    return labels


def _orbits(matrix, frac, labels, symprec):
    import spglib

    try:
        data = spglib.get_symmetry_dataset(
            (matrix, frac, labels), symprec=symprec
        )
    except Exception:  # spglib >= 2.5 may raise instead of None
        data = None
    if data is None:
        return None
    return np.asarray(data.equivalent_atoms)


def _orbit_assignment(electrons, orbits, amounts, z):
    """Elements per orbit with the exact stoichiometry, or None."""
    symbols = list(amounts)
    z_el = _atomic_numbers(symbols)
    need = tuple(int(amounts[s] * z) for s in symbols)
    groups = [np.flatnonzero(orbits == o) for o in np.unique(orbits)]
    if len(groups) > 24:
        return None
    sizes = [len(g) for g in groups]
    means = [float(electrons[g].mean()) for g in groups]
    memo = {}

    def best(i, remaining):
        if i == len(groups):
            return (0.0, ()) if not any(remaining) else (np.inf, ())
        key = (i, remaining)
        if key in memo:
            return memo[key]
        result = (np.inf, ())
        for k in range(len(symbols)):
            if remaining[k] >= sizes[i]:
                rest = list(remaining)
                rest[k] -= sizes[i]
                cost, tail = best(i + 1, tuple(rest))
                cost += sizes[i] * abs(means[i] - z_el[k])
                if cost < result[0]:
                    result = (cost, (k,) + tail)
        memo[key] = result
        return result

    cost, choice = best(0, need)
    if not np.isfinite(cost):
        return None
    out = [None] * len(electrons)
    for group, k in zip(groups, choice):
        for i in group:
            out[i] = symbols[k]
    return out, cost


def assign_elements(
    matrix, frac, electrons, amounts, symprecs, max_formula_units=None
):
    """Choose the maxima kept as atoms and their elements.

    Parameters
    ----------
    matrix : numpy.ndarray
        ``(3, 3)`` cell matrix (rows are the cell vectors, angstrom).
    frac : numpy.ndarray
        ``(m, 3)`` fractional coordinates of the maxima.
    electrons : numpy.ndarray
        ``(m,)`` electrons in the basin of each maximum.
    amounts : dict or None
        Integer formula (element symbol -> atoms per formula unit), or None
        to guess elements from electron counts alone.
    symprecs : tuple of float
        spglib tolerances (angstrom) for the per-orbit assignment.
    max_formula_units : int, optional
        Largest number of formula units per cell to consider.

    Returns
    -------
    keep : numpy.ndarray
        Indices of the maxima kept as atoms.
    symbols : list of str
        Element of each kept maximum.
    formula_units : int or None
        Formula units per cell (None without a composition or when the
        maxima are too few for one formula unit).
    dropped : int
        Maxima dropped as spurious.
    notes : list of str
        Warnings for the user.
    """
    from pymatgen.core import Element

    total = float(electrons.sum())
    notes = []
    dropped = 0
    formula_units = None
    if amounts is None:
        keep = np.flatnonzero(electrons >= 0.5)
        if len(keep) == 0:
            keep = np.array([int(np.argmax(electrons))])
        dropped = len(frac) - len(keep)
        z = np.clip(np.rint(electrons[keep]), 1, 98).astype(int)
        symbols = [Element.from_Z(int(v)).symbol for v in z]
        notes.append(
            "no composition given: elements guessed from electron counts "
            "alone (rough)"
        )
    else:
        choice = _choose_formula_units(electrons, amounts, max_formula_units)
        if choice is None:
            atoms_fu = sum(amounts.values())
            notes.append(
                f"only {len(frac)} density maxima for a formula unit of "
                f"{atoms_fu} atoms: elements given by nearest electron count"
            )
            keep = np.arange(len(frac))
            elems = list(amounts)
            z_el = _atomic_numbers(elems)
            symbols = [
                elems[int(np.argmin(np.abs(z_el - e)))] for e in electrons
            ]
        else:
            score, formula_units, keep, symbols, scale = choice
            dropped = len(frac) - len(keep)
            symbols = _orbit_symbols(
                matrix,
                frac[keep],
                electrons[keep] * scale,
                amounts,
                formula_units,
                symprecs,
                symbols,
            )
            expected = formula_units * sum(
                amounts[s] * Element(s).Z for s in amounts
            )
            if abs(total - expected) > 0.25 * expected:
                notes.append(
                    f"the density holds {total:.0f} electrons per cell, "
                    f"{formula_units} formula unit(s) of "
                    f"{_formula(amounts)} have {expected:.0f}"
                )
    return keep, symbols, formula_units, dropped, notes


def _formula(amounts):
    return "".join(f"{s}{n if n != 1 else ''}" for s, n in amounts.items())


def _orbit_symbols(matrix, frac, electrons, amounts, z, symprecs, symbols):
    """Per-orbit element assignment when one is consistent, else ``symbols``.

    Orbits come from spglib on coarse electron-count labels at each
    tolerance (loose to tight); the first tolerance whose orbits admit the
    exact stoichiometry with one element per orbit wins, and its assignment
    is used if it costs at most a few electrons per site more than the free
    assignment (it never does worse in practice; the check guards against
    a loose tolerance merging different atoms).
    """
    if len(amounts) < 2:
        return symbols
    labels = _coarse_labels(electrons)
    z_el = dict(zip(amounts, _atomic_numbers(list(amounts))))
    free_cost = float(
        sum(abs(e - z_el[s]) for e, s in zip(electrons, symbols))
    )
    best = None
    for tol in sorted(symprecs):
        orbits = _orbits(matrix, frac, labels, tol)
        if orbits is None:
            continue
        found = _orbit_assignment(electrons, orbits, amounts, z)
        if found is None:
            continue
        out, cost = found
        n_orbits = len(np.unique(orbits))
        # fewer orbits = more symmetry found
        if best is None or n_orbits < best[0]:
            best = (n_orbits, out, cost)
    if best is None:
        return symbols
    _, out, cost = best
    if cost > free_cost + 3.0 * len(electrons):
        return symbols
    return out
