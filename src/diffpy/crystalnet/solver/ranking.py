"""Ranking candidates by Rwp and merging those that are the same structure."""

import numpy as np

__all__ = [
    "SAME_FIT",
    "contact_notes",
    "dedupe",
    "prefer_simpler",
    "rank",
    "rank_key",
]


def rank_key(cand):
    return (cand.rwp is None, cand.rwp if cand.rwp is not None else 0.0)


#: candidates whose Rwp differ by less than this fraction fit equally well
SAME_FIT = 0.01


def _formula(cand):
    return cand.structure.composition.reduced_formula


def prefer_simpler(candidates, same_fit=SAME_FIT, reduced=None):
    """Order candidates that fit equally well by simplicity (in place).

    Candidates sorted by Rwp whose Rwp differ by less than ``same_fit`` of
    their own (e.g. 6.37 % and 6.38 %: a structure type and an ordered
    superstructure decoration of another type that computes almost the same
    pattern) and the same formula are put in the order of fewer atoms in
    the primitive cell, then higher space-group number: with the same fit,
    the model with fewer parameters is the better answer.  A candidate of
    another formula (a decoding that lost its hydrogen atoms, which X-rays
    hardly see) is never preferred for being smaller.  ``reduced`` caches
    the primitive cells (shared with :func:`dedupe`).  Returns
    ``candidates``.
    """
    cache = {} if reduced is None else reduced
    changed = True
    while changed:
        changed = False
        for i in range(1, len(candidates)):
            a, b = candidates[i - 1], candidates[i]
            if a.rwp is None or b.rwp is None:
                continue
            if b.rwp - a.rwp > same_fit * a.rwp:
                continue
            if _formula(a) != _formula(b):  # e.g. a decoding without its H
                continue
            key_a = (len(_reduced(a, cache)), -(a.spacegroup_number or 0))
            key_b = (len(_reduced(b, cache)), -(b.spacegroup_number or 0))
            if key_b < key_a:
                candidates[i - 1], candidates[i] = b, a
                changed = True
    return candidates


def _neighbour_signature(structure):
    """Sorted nearest-neighbour distance of the sites of each element."""
    dist = np.array(structure.distance_matrix, dtype=float)
    np.fill_diagonal(dist, np.inf)
    nearest = dist.min(axis=1)
    symbols = np.array([site.specie.symbol for site in structure])
    return {el: np.sort(nearest[symbols == el]) for el in set(symbols)}


def _similar_neighbours(a, b, cache, tol=0.3):
    """Whether two candidates' neighbour signatures agree within ``tol``."""
    sig = []
    for cand in (a, b):
        key = id(cand.structure)
        if key not in cache:
            cache[key] = _neighbour_signature(cand.structure)
        sig.append(cache[key])
    if sig[0].keys() != sig[1].keys():
        return False
    return all(
        len(sig[0][el]) == len(sig[1][el])
        and np.all(np.abs(sig[0][el] - sig[1][el]) <= tol)
        for el in sig[0]
    )


def _reduced(cand, cache):
    """The primitive Niggli cell StructureMatcher compares, once per
    candidate (pymatgen's own cache compares whole structures to find it,
    which cost more than the matching)."""
    key = id(cand.structure)
    if key not in cache:
        cache[key] = (
            cand.structure.get_primitive_structure().get_reduced_structure()
        )
    return cache[key]


def dedupe(candidates, reduced=None):
    """Merge candidates that are the same structure (keep the first).

    ``reduced`` caches the primitive Niggli cells (shared with
    :func:`prefer_simpler`).
    """
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5)
    kept = []
    signatures = {}
    reduced = {} if reduced is None else reduced
    for cand in candidates:
        for other in kept:
            # the same structure has the same refined conventional cell and
            # the same nearest-neighbour distances: compare only those
            # (StructureMatcher is slow on big P1 cells)
            if (
                other.formula == cand.formula
                and other.spacegroup_number == cand.spacegroup_number
                and len(other.structure) == len(cand.structure)
                and _similar_neighbours(other, cand, signatures)
                and matcher.fit(
                    _reduced(other, reduced),
                    _reduced(cand, reduced),
                    skip_structure_reduction=True,
                )
            ):
                other.also_from.append(cand.source)
                break
        else:
            kept.append(cand)
    return kept


def rank(candidates, merge=True):
    """Candidates best first: by Rwp, the same structure merged (with
    ``merge``), equal fits by simplicity (:func:`prefer_simpler`)."""
    candidates = sorted(candidates, key=rank_key)
    reduced = {}
    if merge:
        candidates = dedupe(candidates, reduced)
    return prefer_simpler(candidates, reduced=reduced)


def contact_notes(candidates):
    """One warning about impossible interatomic distances, not one each."""
    bad = [
        cand
        for cand in candidates
        if any(n.startswith("impossible distance") for n in cand.warnings)
    ]
    if not bad:
        return []
    notes = []
    if candidates and bad[0] is candidates[0]:
        first = next(
            n for n in bad[0].warnings if n.startswith("impossible distance")
        )
        notes.append(
            f"the best candidate ({bad[0].source}) has an {first}: do not "
            "refine it as it is"
        )
    notes.append(
        f"{len(bad)} of {len(candidates)} candidates have impossible "
        "interatomic distances (listed per candidate in candidates.json)"
    )
    return notes
