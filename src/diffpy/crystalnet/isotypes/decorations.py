"""Decorations of a prototype with a composition.

A composition fits a prototype when its reduced element counts, sorted, are
the prototype's anonymous stoichiometry (the reduced atom counts per slot,
sorted): ``SrTiO3`` (1, 1, 3) fits cubic perovskite (``AB3C``), ``Ce4O8``
fits fluorite.  The decorations are all maps of elements onto slots with
equal counts, less those related by a symmetry of the prototype that
permutes its slots (computed when the library is built): the half-Heusler
``ABC`` has six maps but only three distinct structures.  With ``merge``
(default) one element may also take several slots when the counts then fit:
binary Mn2O3 on both cation slots of bixbyite ``AB3C6``, Fe3Al on the
Heusler type.
"""

import itertools
import math
from fractions import Fraction

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.isotypes.library import _prototype
from diffpy.crystalnet.physics.composition import integer_formula

__all__ = ["MAX_ASSIGNMENTS", "decoration_maps", "decorations"]


def _integer_counts(composition):
    """Element -> smallest integer counts of a composition, or None."""
    try:
        return integer_formula(composition)
    except CrystalNetInputError:
        return None


def _as_composition(composition):
    from diffpy.crystalnet.physics.composition import parse_formula

    return parse_formula(composition)


#: most slot -> element assignments tried per prototype when merging slots
MAX_ASSIGNMENTS = 100_000


def _injective_maps(slots, per_unit, counts):
    """Maps of elements onto slots with equal counts (one element each)."""
    if sorted(per_unit.values()) != sorted(counts.values()):
        return []
    groups = {}
    for s in slots:
        groups.setdefault(per_unit[s], []).append(s)
    by_count = {}
    for el in sorted(counts):
        by_count.setdefault(counts[el], []).append(el)
    choices = [
        [
            dict(zip(group, perm))
            for perm in itertools.permutations(by_count[c])
        ]
        for c, group in sorted(groups.items())
    ]
    maps = []
    for parts in itertools.product(*choices):
        mapping = {}
        for part in parts:
            mapping.update(part)
        maps.append(mapping)
    return maps


def _merged_maps(slots, per_unit, counts):
    """Maps that put one element on several slots, counts proportional."""
    elements = sorted(counts)
    if len(elements) ** len(slots) > MAX_ASSIGNMENTS:
        return []
    maps = []
    for choice in itertools.product(range(len(elements)), repeat=len(slots)):
        if len(set(choice)) != len(elements) or len(set(choice)) == len(slots):
            continue
        total = [0] * len(elements)
        for s, e in zip(slots, choice):
            total[e] += per_unit[s]
        z = Fraction(total[0], counts[elements[0]])
        if all(Fraction(t, counts[el]) == z for t, el in zip(total, elements)):
            maps.append({s: elements[e] for s, e in zip(slots, choice)})
    return maps


def decoration_maps(prototype, composition, merge=True):
    """Distinct slot -> element maps of a composition onto a prototype.

    Parameters
    ----------
    prototype : diffpy.crystalnet.isotypes.library.Prototype
    composition : str or pymatgen.core.Composition or dict
        The formula; any multiple of the prototype's stoichiometry.
    merge : bool, optional
        Also put one element on several slots when the counts then fit
        (binary Mn2O3 on the two cation slots of bixbyite, Fe3Al on the
        Heusler type, Y3Al5O12 on the grossular garnet).  Default True;
        never for one element (the library's element prototypes cover
        those structures).

    Returns
    -------
    list of dict
        Slot -> element maps, one per distinct structure (maps related by
        :attr:`~diffpy.crystalnet.isotypes.library.Prototype.slot_symmetries`
        give one), those with one element per slot first; empty when the
        stoichiometry does not fit.
    """
    comp = _as_composition(composition)
    counts = _integer_counts(comp)
    if counts is None or len(counts) > len(prototype.slots):
        return []
    slot_counts = prototype.slot_counts
    slots = prototype.slots
    g = 0
    for c in slot_counts.values():
        g = math.gcd(g, c)
    per_unit = {s: c // g for s, c in slot_counts.items()}
    candidates = _injective_maps(slots, per_unit, counts)
    if merge and len(counts) > 1 and len(slots) > len(counts):
        candidates += _merged_maps(slots, per_unit, counts)
    perms = [dict(zip(slots, p)) for p in prototype.slot_symmetries] or [
        {s: s for s in slots}
    ]
    seen, maps = set(), []
    for mapping in candidates:
        # the images of this map under the prototype's slot symmetries
        key = min(tuple(mapping[p[s]] for s in slots) for p in perms)
        if key in seen:
            continue
        seen.add(key)
        maps.append(mapping)
    return maps


def decorations(prototype, composition, lattice=None, merge=True):
    """All distinct decorations of a prototype with a composition.

    Parameters
    ----------
    prototype : diffpy.crystalnet.isotypes.library.Prototype or str
        A prototype or the label of one in the shipped library.
    composition : str or pymatgen.core.Composition or dict
        The formula (``"SrTiO3"``, ``"Sr2Ti2O6"``): its reduced element
        counts, sorted, must be the prototype's stoichiometry, or, with
        ``merge``, that of the prototype with some slots merged.
    lattice : pymatgen.core.Lattice, optional
        Cell of the structures; default the prototype's own (the example
        compound's) lattice.
    merge : bool, optional
        Also put one element on several slots when the counts then fit
        (see :func:`decoration_maps`; default True).

    Returns
    -------
    list of pymatgen.core.Structure
        Conventional cells (Z formula units), one per distinct assignment
        of elements to slots; empty when the composition does not fit.
        Each structure's ``properties["decoration"]`` holds the slot ->
        element map and ``properties["prototype"]`` the label.

    Raises
    ------
    CrystalNetInputError
        For an invalid formula or an unknown prototype label.

    Examples
    --------
    >>> from diffpy.crystalnet.isotypes.decorations import decorations
    >>> [s.composition.reduced_formula
    ...  for s in decorations("AB_cF8_225_a_b", "MgO")]
    ['MgO']
    """
    prototype = _prototype(prototype)
    out = []
    for mapping in decoration_maps(prototype, composition, merge):
        s = prototype.structure(mapping, lattice)
        s.properties = dict(decoration=mapping, prototype=prototype.label)
        out.append(s)
    return out


def _merged(prototype, mapping):
    """Whether a map puts one element on several slots."""
    return len(set(mapping.values())) < len(prototype.slots)


def _spacegroup(structure, symbol, number):
    """Space group of a decorated structure (spglib, 0.01 angstrom)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        found = SpacegroupAnalyzer(structure, symprec=0.01)
        return found.get_space_group_symbol(), found.get_space_group_number()
    except Exception:  # noqa: BLE001 - keep the prototype's group
        return symbol, number
