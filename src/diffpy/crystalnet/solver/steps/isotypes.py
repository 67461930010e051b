"""Step ``isotypes``: decorated structure types that match the data.

The structure types of the shipped prototype library whose decorated
patterns best match the data join the candidates (needs the composition
and the ranking fit).
"""

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["NAME", "isotype_candidates", "run"]

NAME = "isotypes"


def isotype_candidates(
    pattern, composition, lattices, top, notes, solutions=None
):
    """The isotype search's matches as candidates.

    Parameters
    ----------
    pattern : Pattern
        The observed pattern.
    composition : str or pymatgen.core.Composition
        The formula.
    lattices : list of pymatgen.core.Lattice or None
        Conventional cells to put the prototypes on (None: the search
        indexes and scans on its own).
    top : int
        Candidates kept.
    notes : list of str
        Warnings, extended here.
    solutions : list of IndexingSolution, optional
        The pattern's indexing solutions (without ``lattices``): the search
        puts prototypes on them instead of indexing again.

    Returns
    -------
    list of Candidate
    """
    from diffpy.crystalnet.isotypes.search import search_isotypes
    from diffpy.crystalnet.solver.candidates import Candidate

    try:
        found = search_isotypes(
            pattern,
            composition,
            lattices=lattices,
            top=top,
            solutions=None if lattices else solutions or None,
        )
    except CrystalNetInputError as err:
        notes.append(f"isotype search failed: {err.problem}")
        return []
    out = []
    for iso in found:
        name = f" ({iso.name})" if iso.name else ""
        fit = iso.fit
        out.append(
            Candidate(
                structure=iso.structure,
                rwp=None if fit is None else float(fit.rwp),
                rp=None if fit is None else float(fit.rp),
                chi2=None if fit is None else float(fit.chi2),
                spacegroup=iso.spacegroup_symbol,
                spacegroup_number=iso.spacegroup_number,
                symprec=None,
                density=None,
                lattice=None,
                cell_structure=None,
                source=f"isotype {iso.prototype}{name}",
                fit=fit,
                lattice_info=dict(iso.lattice_info),
                produced_by="isotypes",
                steps=["isotypes"] + (["fit"] if fit is not None else []),
                rwp_history=[] if fit is None else [("fit", float(fit.rwp))],
                isotype=iso,
            )
        )
    return out


def run(state):
    """Add the isotypic candidates to ``state.candidates``."""
    if not state.settings.isotypes.enabled:
        return
    if state.composition is None:
        state.notes.append("isotype search skipped: it needs the composition")
    elif state.settings.rank.fit:
        state.candidates += isotype_candidates(
            state.pattern,
            state.composition,
            state.isotype_lattices,
            state.settings.isotypes.top,
            state.notes,
            solutions=state.solutions,
        )
