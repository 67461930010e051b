"""Wyckoff positions of a space group and the ways a composition fills them.

The tables come from pyxtal (International Tables, standard setting:
monoclinic unique axis b, cell choice 1; the origin pyxtal uses).  A
*configuration* puts every atom of the cell on a Wyckoff position: each
element's count in the cell is a sum of Wyckoff multiplicities, and a
position without free parameters holds at most one atom type.
"""

from dataclasses import dataclass
from functools import lru_cache
from itertools import islice

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = [
    "WyckoffSite",
    "configurations",
    "formula_units",
    "general_operations",
    "wyckoff_sites",
]

#: volumes per atom (angstrom^3) a cell may have
VOLUME_PER_ATOM = (6.0, 45.0)
#: ways to split one element's count over Wyckoff positions examined (the
#: general, most populous positions first, so the fewest sites come first;
#: groups with many special positions have astronomically many splits)
MAX_SPLITS = 2000


@dataclass(frozen=True)
class WyckoffSite:
    """One Wyckoff position of a space group.

    Attributes
    ----------
    letter : str
        Wyckoff letter.
    multiplicity : int
        Atoms the position puts in the conventional cell.
    rotations : numpy.ndarray
        ``(M, 3, 3)``: the ``k``-th atom of the orbit is at
        ``rotations[k] @ v + translations[k]`` for a generator ``v``.
    translations : numpy.ndarray
        ``(M, 3)``.
    free : numpy.ndarray
        ``(3,)`` bool: the components of ``v`` the position depends on
        (its free parameters).
    """

    letter: str
    multiplicity: int
    rotations: np.ndarray
    translations: np.ndarray
    free: np.ndarray

    @property
    def dof(self):
        """Number of free coordinates (int)."""
        return int(self.free.sum())

    @property
    def label(self):
        """e.g. ``"4a"``."""
        return f"{self.multiplicity}{self.letter}"

    def orbit(self, v):
        """Fractional coordinates ``(M, 3)`` of the orbit of ``v``."""
        v = np.asarray(v, dtype=float)
        return (self.rotations @ v + self.translations) % 1.0


def _check_number(number):
    try:
        n = int(number)
    except (TypeError, ValueError):
        n = 0
    if not 1 <= n <= 230 or n != number:
        raise CrystalNetInputError(
            f"space group number {number!r} is not 1-230", "space group"
        )
    return n


@lru_cache(maxsize=256)
def wyckoff_sites(number):
    """The Wyckoff positions of space group ``number``, general first.

    Parameters
    ----------
    number : int
        International Tables number (1-230).

    Returns
    -------
    tuple of WyckoffSite
    """
    from pyxtal.symmetry import Group

    group = Group(_check_number(number))
    out = []
    for wp in group.Wyckoff_positions:
        rot = np.array([op.rotation_matrix for op in wp.ops], dtype=float)
        tr = np.array([op.translation_vector for op in wp.ops], dtype=float)
        free = np.abs(rot[0]).sum(axis=0) > 1e-9
        out.append(
            WyckoffSite(
                letter=wp.letter,
                multiplicity=len(wp.ops),
                rotations=rot,
                translations=tr,
                free=free,
            )
        )
    return tuple(out)


@lru_cache(maxsize=256)
def general_operations(number):
    """Symmetry operations ``(R, t)`` of the general position.

    Returns
    -------
    rotations : numpy.ndarray
        ``(M, 3, 3)``.
    translations : numpy.ndarray
        ``(M, 3)``.
    """
    site = wyckoff_sites(number)[0]
    return site.rotations, site.translations


def formula_units(volume, amounts, number=None, max_z=3):
    """Formula units per cell, most plausible first.

    Candidates keep the volume per atom within :data:`VOLUME_PER_ATOM`
    and (with ``number``) can be placed on the group's Wyckoff positions;
    they are ordered by how close the volume per atom is to 17 A^3
    (typical of inorganic solids).

    Parameters
    ----------
    volume : float
        Conventional cell volume (angstrom^3).
    amounts : dict
        Element -> integer amount per formula unit.
    number : int, optional
        Space group whose multiplicities must add up.
    max_z : int, optional
        With ``number``: at most this many (the most plausible).

    Returns
    -------
    list of int
    """
    atoms_fu = sum(amounts.values())
    lo, hi = VOLUME_PER_ATOM
    zs = [
        z
        for z in range(1, int(volume / (lo * atoms_fu)) + 1)
        if lo <= volume / (z * atoms_fu) <= hi
    ]
    zs.sort(key=lambda z: abs(np.log(volume / (z * atoms_fu) / 17)))
    if number is None:
        return zs
    out = []
    for z in zs:
        counts = {e: n * z for e, n in amounts.items()}
        if configurations(number, counts, limit=1):
            out.append(z)
            if len(out) == max_z:
                break
    return out


def _splits(count, mults, start):
    """Multisets of position indices (>= start) whose multiplicities sum."""
    if count == 0:
        yield ()
        return
    for i in range(start, len(mults)):
        if mults[i] <= count:
            for rest in _splits(count - mults[i], mults, i):
                yield (i,) + rest


def configurations(number, counts, limit=2000):
    """Ways to put a cell's atoms on the Wyckoff positions of a group.

    Parameters
    ----------
    number : int
        Space group number.
    counts : dict
        Element -> atoms in the conventional cell.
    limit : int, optional
        At most this many configurations (the simplest first).

    Returns
    -------
    list of tuple
        Each a tuple of ``(element, site_index)`` pairs into
        :func:`wyckoff_sites`, ordered by number of sites, then free
        parameters.
    """
    sites = wyckoff_sites(number)
    mults = [s.multiplicity for s in sites]
    fixed = [s.dof == 0 for s in sites]
    elements = sorted(counts, key=lambda e: -counts[e])
    per_element = []
    for el in elements:
        opts = []
        for combo in islice(_splits(int(counts[el]), mults, 0), MAX_SPLITS):
            used = [i for i in combo if fixed[i]]
            if len(used) == len(set(used)):
                opts.append(combo)
        if not opts:
            return []
        opts.sort(key=lambda c: (len(c), sum(sites[i].dof for i in c)))
        per_element.append(opts[:200])
    out = []

    def walk(k, taken, acc):
        if len(out) >= 20 * limit:
            return
        if k == len(elements):
            out.append(tuple(acc))
            return
        for combo in per_element[k]:
            fx = [i for i in combo if fixed[i]]
            if taken.intersection(fx):
                continue
            walk(
                k + 1,
                taken.union(fx),
                acc + [(elements[k], i) for i in combo],
            )

    walk(0, frozenset(), [])
    out.sort(key=lambda c: (len(c), sum(sites[i].dof for _, i in c)))
    return out[:limit]
