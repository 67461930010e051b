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
exact symmetric positions (moves of at most about ``symprec``).  The result is
deterministic for a given input, but crystals whose origin is not unique
(NaCl with Na or Cl at the origin) can come out with either origin depending
on the input: compare densities with that in mind (see
:mod:`diffpy.crystalnet.metrics`).
"""

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["DEFAULT_SYMPREC", "cmed_cell"]

#: symmetry tolerance in angstrom used to find the standard cell
DEFAULT_SYMPREC = 0.1


def _site_labels(structure):
    """Integer label per site, equal for sites with the same species."""
    keys, labels = {}, []
    for site in structure:
        key = tuple(
            sorted(
                (str(sp), round(float(oc), 6))
                for sp, oc in site.species.items()
            )
        )
        labels.append(keys.setdefault(key, len(keys) + 1))
    species = {label: structure[i].species for i, label in enumerate(labels)}
    return np.array(labels), species


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
    frac = np.mod(frac, 1.0)
    frac[np.isclose(frac, 1.0, atol=1e-10)] = 0.0
    order = np.lexsort((frac[:, 2], frac[:, 1], frac[:, 0], numbers))
    return Structure(
        lattice,
        [species[int(numbers[i])] for i in order],
        frac[order],
    )


# End of file
