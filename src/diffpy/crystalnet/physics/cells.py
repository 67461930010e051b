"""The cell the crystal electron density (CMED) is defined on.

One convention, used everywhere a CMED is computed, stored or compared:
**spglib's standardised primitive cell** (``spglib.standardize_cell`` with
``to_primitive=True`` and idealisation on), found with ``symprec = 0.1``
angstrom, the tolerance the Materials Project uses for its space-group labels.

What that cell looks like:

* cubic P: the cube, a = b = c, 90 degrees;
* cubic F: the rhombohedral primitive cell, a = b = c, 60 degrees;
* cubic I: the rhombohedral primitive cell, a = b = c, 109.47 degrees;
* trigonal R (R-3m, R3c, ...): the rhombohedral cell, a = b = c,
  alpha = beta = gamma;
* trigonal P (P-3m1, P3121, ...) and hexagonal: a = b != c, gamma = 120;
* other systems: spglib's standard primitive cell of that system.

spglib also *idealises* the cell: the lattice is symmetrised and put into
spglib's standard Cartesian orientation, and the atoms are moved onto their
exact symmetric positions (moves of at most about ``symprec``).

spglib's choice among equivalent descriptions depends on the input (NaCl can
come out with Na or Cl at the origin; ZnS with S at 1/4 or 3/4 of the body
diagonal, a rotated copy).  To make the cell a function of the crystal alone,
:func:`cmed_cell` then picks one description canonically: over the proper
rotations that map the lattice onto itself (integer basis changes with
determinant +1 that keep the metric) and origins on each atom of the least
abundant species (ties: the species name that sorts first), it takes the one
whose sorted list of (species, fractional coordinates rounded to 1e-4) is
smallest.  So the origin is always on an atom, the lattice matrix is
spglib's, and ``cmed_cell(cmed_cell(s))`` equals ``cmed_cell(s)``.
"""

import functools

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["DEFAULT_SYMPREC", "cmed_cell"]

#: symmetry tolerance in angstrom used to find the standard cell
DEFAULT_SYMPREC = 0.1


def _site_labels(structure):
    """Integer label per site, ordered by the sorted species keys."""
    keys = [
        tuple(
            sorted(
                (str(sp), round(float(oc), 6))
                for sp, oc in site.species.items()
            )
        )
        for site in structure
    ]
    rank = {key: i + 1 for i, key in enumerate(sorted(set(keys)))}
    labels = np.array([rank[key] for key in keys])
    species = {rank[key]: structure[i].species for i, key in enumerate(keys)}
    return labels, species


@functools.lru_cache(maxsize=1)
def _unimodular():
    """All integer 3x3 matrices with entries -1, 0, 1 and determinant +1."""
    vals = np.array([-1, 0, 1])
    mats = np.stack(np.meshgrid(*[vals] * 9, indexing="ij"), -1)
    mats = mats.reshape(-1, 3, 3)
    return mats[np.rint(np.linalg.det(mats)).astype(int) == 1]


def _automorphisms(lattice):
    """Proper integer basis changes W (entries -1, 0, 1) keeping the metric."""
    g = lattice @ lattice.T
    mats = _unimodular()
    metric = np.einsum("nij,jk,nlk->nil", mats, g, mats)
    tol = 1e-5 * np.abs(g).max()
    return mats[np.all(np.abs(metric - g) < tol, axis=(1, 2))]


def _canonical(lattice, frac, labels):
    """Canonical fractional coordinates over automorphisms and origins."""
    counts = {label: np.sum(labels == label) for label in set(labels)}
    rarest = min(counts, key=lambda label: (counts[label], label))
    anchors = np.flatnonzero(labels == rarest)
    best, best_key = None, None
    for mat in _automorphisms(lattice):
        moved = frac @ np.linalg.inv(mat)
        for j in anchors:
            y = np.mod(moved - moved[j], 1.0)
            y[np.abs(y - 1.0) < 5e-5] = 0.0
            key = sorted(
                zip(labels.tolist(), map(tuple, np.round(y, 4).tolist()))
            )
            if best_key is None or key < best_key:
                best, best_key = y, key
    return best


def cmed_cell(structure, symprec=DEFAULT_SYMPREC, angle_tolerance=-1.0):
    """Return the structure on the standard primitive cell used for the CMED.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        The crystal, in any cell (conventional, primitive, supercell).
        Species may carry oxidation states and partial occupancies: sites
        with identical species and occupancies are treated as one kind.
    symprec : float, optional
        Distance tolerance in angstrom for the symmetry search (default
        0.1, as the Materials Project uses).
    angle_tolerance : float, optional
        Angle tolerance in degrees; -1 lets spglib choose (its default).

    Returns
    -------
    pymatgen.core.Structure
        The crystal on spglib's standardised, idealised primitive cell,
        with the original species (and occupancies) per site.

    Raises
    ------
    CrystalNetInputError
        If the input is not a 3D periodic structure with sites, or spglib
        cannot find its symmetry at this tolerance.
    """
    import spglib
    from pymatgen.core import Structure

    if not isinstance(structure, Structure) or len(structure) == 0:
        raise CrystalNetInputError(
            "expected a pymatgen Structure with at least one site",
            source="structure",
        )
    if not np.isfinite(structure.lattice.volume) or structure.volume <= 0:
        raise CrystalNetInputError("the lattice has no volume", "structure")
    labels, species = _site_labels(structure)
    cell = (
        np.asarray(structure.lattice.matrix, dtype=float),
        np.asarray(structure.frac_coords, dtype=float),
        labels,
    )
    try:
        result = spglib.standardize_cell(
            cell,
            to_primitive=True,
            no_idealize=False,
            symprec=symprec,
            angle_tolerance=angle_tolerance,
        )
    except Exception as err:  # spglib >= 2.5 may raise instead of None
        result = None
        reason = str(err)
    else:
        reason = "spglib found no symmetry"
    if result is None:
        raise CrystalNetInputError(
            f"cannot standardise the cell at symprec={symprec}: {reason}",
            source="structure",
        )
    lattice, frac, numbers = result
    frac = _canonical(lattice, frac, np.asarray(numbers))
    order = np.lexsort((frac[:, 2], frac[:, 1], frac[:, 0], numbers))
    return Structure(
        lattice,
        [species[int(numbers[i])] for i in order],
        frac[order],
    )


# End of file
