"""Space groups compatible with an indexed pattern, most likely first.

:func:`rank_space_groups` goes one step beyond the extinction symbols of
:mod:`~diffpy.crystalnet.index.extinction`: every space group of the
indexed lattice (230 in all, each in the settings that the lattice allows)
forbids the reflections that its symmetry operations make vanish, and it is
scored on the same evidence:

* a reflection ``h`` is systematically absent in a group when one of its
  operations ``(R, t)`` leaves it fixed (``h R = h``) with a phase
  ``h . t`` that is not an integer (so ``F(h) = F(h) exp(2 pi i h.t)`` is
  zero); this covers every condition, 2n and 4n alike (d-glides of Fdd2 and
  Fd-3m, the 4_1 axes of I4_1/amd), with the operations of pymatgen's
  space-group tables;
* a group is impossible when an observed line can only be indexed by
  reflections it forbids; each forbidden reflection that would give a line
  of its own and is not observed multiplies its likelihood by ``1/p``,
  ``p`` the fraction of resolvable allowed reflections that are not
  observed in the same pattern (weak reflections are missed too);
* the prior is how often the group occurs among inorganic crystals
  (:mod:`~diffpy.crystalnet.index.space_group_prior`, plus one for every
  group), so that among groups with the same absences (Pnma and Pn2_1a,
  P2_1/c and P2_1/n in another cell choice) the common one comes first.

Settings: the six axis permutations of an orthorhombic cell, the six
choices of the ``a``, ``c`` axes of a monoclinic cell (b unique; cell
choices 1-3 and their swaps, which turn a c-glide into an a- or n-glide),
and the standard setting otherwise.  A setting must keep the lattice's
centring (a C-centred cell is not tried as an A-centred group).
"""

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from diffpy.crystalnet.index import metric
from diffpy.crystalnet.index.extinction import _evidence, _support
from diffpy.crystalnet.index.space_group_prior import COUNTS
from diffpy.crystalnet.physics.lattice import SPACE_GROUP_RANGES

__all__ = ["SpaceGroupCandidate", "rank_space_groups"]

#: space-group numbers of each lattice family
_FAMILY = {
    "cubic": ("cubic",),
    "tetragonal": ("tetragonal",),
    "hexagonal": ("trigonal", "hexagonal"),
    "trigonal": ("trigonal", "hexagonal"),
    "orthorhombic": ("orthorhombic",),
    "monoclinic": ("monoclinic",),
    "triclinic": ("triclinic",),
}


@dataclass
class SpaceGroupCandidate:
    """One space group compatible with the indexed lines.

    Attributes
    ----------
    number : int
        International Tables number.
    symbol : str
        Hermann-Mauguin symbol of the standard setting.
    setting : numpy.ndarray
        ``M`` with ``h_standard = M h`` (the indexed cell's ``hkl`` in the
        group's standard setting).
    log_likelihood : float
        Natural log of the likelihood of the absences, relative to a group
        without conditions.
    log_prior : float
        Natural log of the prior (normalised over all 230 groups).
    probability : float
        Posterior, normalised over the compatible groups.
    absent : int
        Forbidden, resolvable reflections not observed.
    """

    number: int
    symbol: str
    setting: np.ndarray
    log_likelihood: float
    log_prior: float
    probability: float = 0.0
    absent: int = 0
    details: dict = field(default_factory=dict)


def _settings(family):
    """Unimodular ``M`` (``h_standard = M h``) tried for a lattice family."""
    eye = np.eye(3, dtype=int)
    if family == "orthorhombic":
        perms = ((0, 1, 2), (1, 2, 0), (2, 0, 1), (1, 0, 2), (0, 2, 1))
        perms += ((2, 1, 0),)
        return [eye[list(p)] for p in perms]
    if family == "monoclinic":
        # the six ways to map (h, l) parities onto each other, b fixed
        plane = ([[1, 0], [0, 1]], [[0, 1], [1, 0]], [[1, 0], [1, 1]])
        plane += ([[1, 1], [0, 1]], [[0, 1], [1, 1]], [[1, 1], [1, 0]])
        return [
            np.array([[p, 0, q], [0, 1, 0], [r, 0, s]])
            for (p, q), (r, s) in plane
        ]
    return [eye]


@lru_cache(maxsize=256)
def _group(number):
    """Symbol, centring letter and operations ``(R, t)`` of a group."""
    from pymatgen.symmetry.groups import SpaceGroup

    sg = SpaceGroup.from_int_number(number)
    ops = list(sg.symmetry_ops)
    rot = np.array([np.rint(op.rotation_matrix) for op in ops], dtype=int)
    trans = np.array([op.translation_vector for op in ops], dtype=float)
    return sg.symbol, sg.full_symbol[0], rot, trans


def _absent(number, hkl, lattice_only=False):
    """Reflections (rows of ``hkl``, standard setting) that the group's
    operations make vanish (only its centring translations with
    ``lattice_only``)."""
    _, _, rot, trans = _group(number)
    if lattice_only:
        pure = np.all(rot == np.eye(3, dtype=int), axis=(1, 2))
        rot, trans = rot[pure], trans[pure]
    hkl = np.asarray(hkl, dtype=int)
    out = np.zeros(len(hkl), dtype=bool)
    for r, t in zip(rot, trans):
        fixed = np.all(hkl @ r == hkl, axis=1)
        phase = hkl @ t
        out |= fixed & (np.abs(phase - np.rint(phase)) > 1e-6)
    return out


@lru_cache(maxsize=1)
def _test_hkl():
    """Every ``hkl`` up to 3, for the centring check."""
    r = np.arange(-3, 4)
    return np.array(np.meshgrid(r, r, r, indexing="ij")).reshape(3, -1).T


def _lattice_absent(hkl, centring):
    """Reflections extinct by a lattice centring (R: obverse, hexagonal
    axes)."""
    if centring == "R":
        h, k, l = np.asarray(hkl).T  # noqa: E741
        return (-h + k + l) % 3 != 0
    return ~metric.allowed(hkl, centring)


def _candidates(system, centring):
    """(number, setting) pairs whose lattice is the indexed one."""
    test = _test_hkl()
    want = _lattice_absent(test, centring)
    from pymatgen.symmetry.groups import sg_symbol_from_int_number

    letters = "CAB" if centring in "CAB" else centring
    out = []
    for family in _FAMILY[system]:
        lo, hi = SPACE_GROUP_RANGES[family]
        for number in range(lo, hi + 1):
            if sg_symbol_from_int_number(number)[0] not in letters:
                continue  # a cheap look before the operations are built
            for m in _settings(system):
                # the group's centring in this setting is the lattice's
                absent = _absent(number, test @ m.T, lattice_only=True)
                if np.array_equal(absent, want):
                    out.append((number, m))
    return out


def rank_space_groups(solution, tolerance=None, max_groups=10):
    """Space groups compatible with an indexed cell, most likely first.

    Parameters
    ----------
    solution : IndexingSolution
        The indexed cell, as ``index_pattern`` gives it.
    tolerance : float, optional
        Q tolerance of a match, as for
        :func:`~diffpy.crystalnet.index.extinction.rank_extinction_symbols`.
    max_groups : int, optional
        How many to return.

    Returns
    -------
    list of SpaceGroupCandidate
        Best first; probabilities are normalised over every compatible
        group (so the list may sum to less than one).

    Examples
    --------
    For a lab pattern of PbSO4 (Pnma, indexed as a < b < c) the first
    candidate is ``62`` (Pnma in the Pmcn setting).
    """
    q_calc, hkl, near, seen, tolerance, p_weak = _evidence(solution, tolerance)
    per_absent = math.log(1.0 / p_weak)
    total = sum(COUNTS.values()) + 230
    best = {}
    for number, m in _candidates(solution.system, solution.centring):
        forbidden = _absent(number, hkl @ m.T)
        support = _support(forbidden, q_calc, near, seen, tolerance)
        if support is None:
            continue
        absent = int(np.count_nonzero(support))
        log_prior = math.log((COUNTS.get(number, 0) + 1) / total)
        score = absent * per_absent + log_prior
        if number not in best or score > best[number][0]:
            best[number] = (score, absent * per_absent, log_prior, m, absent)
    if not best:
        return []
    top = max(v[0] for v in best.values())
    norm = sum(math.exp(v[0] - top) for v in best.values())
    out = [
        SpaceGroupCandidate(
            number=number,
            symbol=_group(number)[0],
            setting=m,
            log_likelihood=float(llr),
            log_prior=float(log_prior),
            probability=math.exp(score - top) / norm,
            absent=absent,
        )
        for number, (score, llr, log_prior, m, absent) in best.items()
    ]
    out.sort(key=lambda c: (-c.probability, c.number))
    return out[: int(max_groups)]


# End of file
