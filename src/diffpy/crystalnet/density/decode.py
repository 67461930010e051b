"""Decode a crystal electron density (CMED) into an atomic structure.

A density on the fractional grid of a cell (the CMED convention of
:mod:`diffpy.crystalnet.density.cmed`) becomes a symmetrised pymatgen structure
in five steps:

1. **Maxima**: :func:`~diffpy.crystalnet.density.maxima.find_density_maxima`
finds the
   periodic local maxima with non-maximum suppression (maxima closer than
   ``min_distance`` are one) and refines them to sub-voxel precision.
2. **Electrons per maximum**: every voxel is given to the maximum its
   steepest-ascent path ends at (an on-grid Bader partition, a watershed of
   the density; Henkelman et al., Comput. Mater. Sci. 36, 354 (2006)), basins
   of suppressed or weak maxima join the nearest kept maximum (periodic
   minimum image), and ``sum(rho) * V / n**3`` over a basin is its electron
   count.
3. **Atoms per cell**: for each number of formula units ``Z`` whose atoms
   fit in the maxima found, the ``Z x atoms-per-formula`` maxima with the
   most electrons are kept and the others dropped as spurious; ``Z`` is the
   one with the smallest cost, the electrons of dropped maxima plus the
   electron mismatch of the best element assignment (step 4), both after
   scaling the density to ``Z`` formula units' worth of electrons.
4. **Elements**: an assignment problem
   (:func:`scipy.optimize.linear_sum_assignment`) of the kept maxima to
   element "slots" (each element repeated by its multiplicity), costing
   ``|electrons - Z_element|``.  The maxima are also grouped into orbits
   with spglib using coarse labels (maxima whose electron counts are close
   share a label), and when every orbit can hold one element with the exact
   stoichiometry, the elements are given per orbit instead (this separates
   neighbours of the periodic table, Mg and Al in spinel, whose basins
   differ by less than their partition error).
5. **Symmetry**: spglib (through pymatgen's ``SpacegroupAnalyzer``) is run
   at each tolerance of ``symprec``, tight to loose; the space group with
   the most operations wins (ties: the tighter tolerance) and is imposed:
   the returned structure is the refined (idealised, conventional)
   structure.  Interatomic distances below ``0.7 x`` the sum of covalent
   radii give a warning.

Without a composition, each maximum with at least half an electron becomes
the element whose atomic number is nearest its electron count: a rough
guess that only suits well-separated elements.
"""

import itertools
from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.density.maxima import (
    DEFAULT_THRESHOLD,
    find_density_maxima,
)
from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.composition import integer_formula
from diffpy.crystalnet.physics.lattice import lattice_matrix

__all__ = [
    "DEFAULT_SYMPRECS",
    "DecodedCandidate",
    "basin_electrons",
    "close_contacts",
    "decode_density",
    "find_symmetry",
]

#: spglib distance tolerances (angstrom) tried, tight to loose
DEFAULT_SYMPRECS = (0.01, 0.05, 0.1, 0.2)
#: default smallest distance between two atoms of a decoded structure
DEFAULT_MIN_DISTANCE = 0.9
#: distances below this fraction of the sum of covalent radii are flagged
CONTACT_FACTOR = 0.7


@dataclass
class DecodedCandidate:
    """A structure decoded from a density.

    Attributes
    ----------
    structure : pymatgen.core.Structure
        The symmetrised structure (refined conventional cell of the space
        group found).
    cell_structure : pymatgen.core.Structure
        The decoded atoms on the density's own cell, before symmetrisation
        (the cell the grid is defined on).
    spacegroup_symbol : str
        Hermann-Mauguin symbol of the space group imposed.
    spacegroup_number : int
        Its number (1 when no symmetry was found).
    symprec : float or None
        The spglib tolerance (angstrom) that found it.
    sites : list of dict
        Per decoded atom on the density's cell: ``element``, ``frac``,
        ``electrons`` (basin integral), ``height`` (density at the maximum).
    formula_units : int or None
        Formula units per density cell (None without a composition).
    electrons : float
        Electrons in the whole cell (integral of the density).
    dropped : int
        Maxima dropped as spurious.
    warnings : list of str
        Problems a user can act on (impossible distances, electron counts
        far from the composition, ...).
    """

    structure: object
    cell_structure: object
    spacegroup_symbol: str
    spacegroup_number: int
    symprec: float
    sites: list
    formula_units: int = None
    electrons: float = 0.0
    dropped: int = 0
    warnings: list = field(default_factory=list)

    @property
    def formula(self):
        """Reduced formula of the decoded structure (str)."""
        return self.structure.composition.reduced_formula


def _steepest_ascent_roots(grid, matrix):
    """Flat index of the local maximum each voxel's ascent path ends at."""
    shape = grid.shape
    size = grid.size
    flat_index = np.arange(size).reshape(shape)
    best_gain = np.zeros(shape)
    target = flat_index.copy()
    for step in itertools.product((-1, 0, 1), repeat=3):
        if step == (0, 0, 0):
            continue
        length = np.linalg.norm(np.array(step) / np.array(shape) @ matrix)
        # value of the neighbour at +step, for every voxel
        shifted = np.roll(grid, shift=tuple(-s for s in step), axis=(0, 1, 2))
        gain = (shifted - grid) / length
        better = gain > best_gain
        if np.any(better):
            best_gain = np.where(better, gain, best_gain)
            neighbour = np.roll(
                flat_index, shift=tuple(-s for s in step), axis=(0, 1, 2)
            )
            target = np.where(better, neighbour, target)
    pointer = target.ravel()
    for _ in range(64):  # pointer jumping: log2(path length) rounds
        nxt = pointer[pointer]
        if np.array_equal(nxt, pointer):
            break
        pointer = nxt
    return pointer


def basin_electrons(grid, lattice, frac):
    """Electrons in the basin of each given maximum.

    Every voxel goes to the grid maximum its steepest-ascent path reaches
    (gradients in angstrom, 26 neighbours); each such grid maximum goes to
    the nearest of the given positions (periodic minimum image).

    Parameters
    ----------
    grid : array_like
        ``(n1, n2, n3)`` density in e/angstrom**3 at fractional
        ``(i/n1, j/n2, k/n3)``.
    lattice : pymatgen.core.Lattice or array_like
        The cell (rows of the matrix are the cell vectors, angstrom).
    frac : array_like
        ``(m, 3)`` fractional coordinates of the maxima (m >= 1).

    Returns
    -------
    numpy.ndarray
        ``(m,)`` electrons per maximum; they sum to the electrons in the
        cell.
    """
    grid = np.asarray(grid, dtype=float)
    matrix = lattice_matrix(lattice)
    frac = np.atleast_2d(np.asarray(frac, dtype=float))
    if len(frac) == 0:
        raise CrystalNetInputError("no maxima to integrate", "density")
    shape = np.array(grid.shape)
    roots = _steepest_ascent_roots(grid, matrix)
    uniq, inverse = np.unique(roots, return_inverse=True)
    root_frac = np.column_stack(np.unravel_index(uniq, grid.shape)) / shape
    owner = np.empty(len(root_frac), dtype=int)
    step = max(1, 2_000_000 // (3 * len(frac)))  # bounds the memory
    for start in range(0, len(root_frac), step):
        d = root_frac[start : start + step, None, :] - frac[None, :, :]
        d -= np.rint(d)
        cart = d @ matrix
        dist = np.einsum("rmi,rmi->rm", cart, cart)
        owner[start : start + step] = np.argmin(dist, axis=1)
    dv = abs(np.linalg.det(matrix)) / grid.size
    per_root = np.bincount(inverse, weights=grid.ravel()) * dv
    return np.bincount(owner, weights=per_root, minlength=len(frac))


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


def find_symmetry(structure, symprecs=DEFAULT_SYMPRECS):
    """Find the highest symmetry over a range of tolerances and impose it.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        The structure (any cell).
    symprecs : sequence of float, optional
        spglib distance tolerances in angstrom, tried in order.

    Returns
    -------
    refined : pymatgen.core.Structure
        The refined structure (conventional standard cell, atoms on their
        exact symmetric positions) at the chosen tolerance; the input
        itself when no tolerance works.
    symbol : str
        Hermann-Mauguin symbol (``"P1"`` when nothing is found).
    number : int
        Space group number.
    symprec : float or None
        The tolerance chosen: the one with the most symmetry operations
        (ties: the tighter).
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    best = None
    for tol in symprecs:
        try:
            sga = SpacegroupAnalyzer(structure, symprec=float(tol))
            ops = len(sga.get_symmetry_operations())
            number = sga.get_space_group_number()
        except Exception:  # spglib gives up at this tolerance
            continue
        if best is None or ops > best[0]:
            best = (ops, float(tol), sga, number)
    if best is None:
        return structure.copy(), "P1", 1, None
    _, tol, sga, number = best
    try:
        refined = sga.get_refined_structure()
    except Exception:
        return structure.copy(), "P1", 1, None
    return refined, sga.get_space_group_symbol(), number, tol


def close_contacts(structure, factor=CONTACT_FACTOR):
    """Pairs of atoms closer than ``factor`` times their covalent radii.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        The structure.
    factor : float, optional
        Fraction of the sum of covalent radii (default 0.7).

    Returns
    -------
    list of tuple
        ``(element_i, element_j, distance)`` per distinct contact, shortest
        first (each pair of species reported once, at its shortest
        distance).
    """
    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius

    radii = CovalentRadius.radius
    symbols = [site.specie.symbol for site in structure]
    r = np.array([radii.get(s, 1.5) for s in symbols])
    dist = structure.distance_matrix.copy()
    np.fill_diagonal(dist, np.inf)
    limit = factor * (r[:, None] + r[None, :])
    found = {}
    for i, j in zip(*np.nonzero(dist < limit)):
        if i > j:
            continue
        key = tuple(sorted((symbols[i], symbols[j])))
        if key not in found or dist[i, j] < found[key]:
            found[key] = float(dist[i, j])
    return sorted(
        ((a, b, d) for (a, b), d in found.items()), key=lambda t: t[2]
    )


def decode_density(
    grid,
    lattice,
    composition=None,
    symprec=DEFAULT_SYMPRECS,
    min_distance=DEFAULT_MIN_DISTANCE,
    threshold=DEFAULT_THRESHOLD,
    max_formula_units=None,
    symmetrize=True,
):
    """Decode a density on a cell into a symmetrised crystal structure.

    Parameters
    ----------
    grid : array_like
        ``(n1, n2, n3)`` density in e/angstrom**3, element ``[i, j, k]`` at
        fractional ``(i/n1, j/n2, k/n3)`` of ``lattice``.
    lattice : pymatgen.core.Lattice or array_like
        The cell of the grid (for CrystalNet output: the CMED cell, see
        :func:`~diffpy.crystalnet.physics.cells.cmed_cell`).
    composition : str or pymatgen.core.Composition or dict, optional
        The formula (a ratio: ``"CeO2"`` and ``"Ce4O8"`` are the same).
        Without it, elements are guessed from electron counts alone (rough).
    symprec : float or sequence of float, optional
        spglib tolerances in angstrom tried tight to loose (default 0.01,
        0.05, 0.1, 0.2); the one giving the most symmetry is used.
    min_distance : float, optional
        Maxima closer than this (angstrom) are merged (default 0.9).
    threshold : float, optional
        Smallest density of a maximum, e/angstrom**3 (default 0.1).
    max_formula_units : int, optional
        Largest number of formula units per cell to consider.
    symmetrize : bool, optional
        Impose the space group found (default).  With False the structure
        is the decoded P1 cell.

    Returns
    -------
    DecodedCandidate
        The structure, its space group and tolerance, the sites with their
        electron counts, and warnings.

    Raises
    ------
    CrystalNetInputError
        For a grid that is not a finite 3D array, a bad lattice or formula,
        or a density without any maximum above ``threshold``.
    """
    from pymatgen.core import Element, Lattice, Structure

    grid = np.asarray(grid, dtype=float)
    if grid.ndim != 3 or not np.all(np.isfinite(grid)):
        raise CrystalNetInputError("expected a finite 3D grid", "density")
    matrix = lattice_matrix(lattice)
    symprecs = (float(symprec),) if np.ndim(symprec) == 0 else tuple(symprec)
    amounts = None if composition is None else integer_formula(composition)
    notes = []
    frac, heights = find_density_maxima(
        grid, matrix, min_distance=min_distance, threshold=threshold
    )
    if len(frac) == 0:
        raise CrystalNetInputError(
            f"no density maximum above {threshold:g} e/A^3", "density"
        )
    electrons = basin_electrons(grid, matrix, frac)
    total = float(electrons.sum())
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
    frac_kept = frac[keep]
    cell = Structure(Lattice(matrix), symbols, frac_kept)
    sites = [
        dict(
            element=s,
            frac=[float(v) for v in f],
            electrons=float(e),
            height=float(h),
        )
        for s, f, e, h in zip(
            symbols, frac_kept, electrons[keep], heights[keep]
        )
    ]
    if symmetrize:
        refined, sg_symbol, sg_number, used = find_symmetry(cell, symprecs)
    else:
        refined, sg_symbol, sg_number, used = cell.copy(), "P1", 1, None
    for a, b, d in close_contacts(refined):
        notes.append(
            f"impossible distance {a}-{b} {d:.2f} A (below "
            f"{CONTACT_FACTOR} x the sum of covalent radii)"
        )
    return DecodedCandidate(
        structure=refined,
        cell_structure=cell,
        spacegroup_symbol=sg_symbol,
        spacegroup_number=int(sg_number),
        symprec=used,
        sites=sites,
        formula_units=formula_units,
        electrons=total,
        dropped=int(dropped),
        warnings=notes,
    )


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


# End of file
