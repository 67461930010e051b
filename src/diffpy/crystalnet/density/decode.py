"""Decode a crystal electron density (CMED) into an atomic structure.

A density on the fractional grid of a cell (the CMED convention of
:mod:`diffpy.crystalnet.density.cmed`) becomes a symmetrised pymatgen structure
in five steps:

1. **Maxima**: :func:`~diffpy.crystalnet.density.maxima.find_density_maxima`
   finds the periodic local maxima with non-maximum suppression (maxima closer
   than ``min_distance`` are one) and refines them to sub-voxel precision.
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

Steps 3 and 4 are :func:`~diffpy.crystalnet.density.sites.assign_elements`.
"""

import itertools
from dataclasses import dataclass, field

import numpy as np

from diffpy.crystalnet.density.maxima import (
    DEFAULT_THRESHOLD,
    find_density_maxima,
)
from diffpy.crystalnet.density.sites import assign_elements
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
    from pymatgen.core import Lattice, Structure

    grid = np.asarray(grid, dtype=float)
    if grid.ndim != 3 or not np.all(np.isfinite(grid)):
        raise CrystalNetInputError("expected a finite 3D grid", "density")
    matrix = lattice_matrix(lattice)
    symprecs = (float(symprec),) if np.ndim(symprec) == 0 else tuple(symprec)
    amounts = None if composition is None else integer_formula(composition)
    frac, heights = find_density_maxima(
        grid, matrix, min_distance=min_distance, threshold=threshold
    )
    if len(frac) == 0:
        raise CrystalNetInputError(
            f"no density maximum above {threshold:g} e/A^3", "density"
        )
    electrons = basin_electrons(grid, matrix, frac)
    total = float(electrons.sum())
    keep, symbols, formula_units, dropped, notes = assign_elements(
        matrix, frac, electrons, amounts, symprecs, max_formula_units
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


# End of file
