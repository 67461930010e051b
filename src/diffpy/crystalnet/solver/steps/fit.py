"""Step ``fit``: every decoded structure becomes a ranked candidate.

Each gets a quick fit to the observed profile (scales and background with
the profile of its cell's Pawley extraction, or a few evaluations of the
profile fit); the candidates are ranked, merged when they are the same
structure, and the best ``fit_top`` distinct ones are fitted to
convergence.  The isotype step runs before this one, so its (fitted)
candidates take part in the ranking: decoded densities that rank below
``fit_top`` isotypes, or whose quick-fit Rwp is over :data:`FULL_FIT_RATIO`
times the best isotype's, keep their quick fit.
"""

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["FULL_FIT_RATIO", "NAME", "run"]

NAME = "fit"

#: a decoded candidate whose quick-fit Rwp is above this many times the
#: best fitted (isotype) Rwp is not fitted to convergence: refining the
#: zero, widths and displacements of a structure lowers its Rwp by a few
#: per cent of itself, never by half
FULL_FIT_RATIO = 2.0


def _candidate(state, dec, grid, source, prim, info, steps, improvement):
    """The candidate of one decoded density, quick-fitted if asked."""
    from diffpy.crystalnet.solver.candidates import Candidate
    from diffpy.crystalnet.solver.fitting import quick_fit

    cand_notes = list(dec.warnings)
    result, structure = None, dec.structure
    if state.settings.rank.fit:
        try:
            result = quick_fit(
                structure, state.pattern, state.profiles.get(id(prim))
            )
        except CrystalNetInputError as err:
            cand_notes.append(f"fit failed: {err.problem}")
    return Candidate(
        structure=structure,
        rwp=None if result is None else float(result.rwp),
        rp=None if result is None else float(result.rp),
        chi2=None if result is None else float(result.chi2),
        spacegroup=dec.spacegroup_symbol,
        spacegroup_number=dec.spacegroup_number,
        symprec=dec.symprec,
        density=grid,
        lattice=prim,
        cell_structure=dec.cell_structure,
        source=source,
        decoded=dec,
        fit=result,
        warnings=cand_notes,
        lattice_info=info,
        produced_by=state.produced_by,
        steps=steps + (["quick fit"] if result is not None else []),
        rwp_history=(
            [] if result is None else [("quick fit", float(result.rwp))]
        ),
        improvement=improvement,
    )


def run(state):
    """Set ``state.candidates`` from ``state.decoded``."""
    from diffpy.crystalnet.solver.fitting import full_fit
    from diffpy.crystalnet.solver.ranking import dedupe, rank_key

    candidates = [_candidate(state, *item) for item in state.decoded]
    # the isotype step ran first: its candidates are fitted to convergence
    candidates += state.candidates
    rank = state.settings.rank
    if rank.fit:
        # the quick fits rank the candidates; the best distinct ones get
        # the full fit (most decoded densities are far off and a full fit
        # of each would dominate the run time); a decoded density that
        # ranks below fitted isotypes is not refitted
        candidates.sort(key=rank_key)
        if rank.dedupe:
            candidates = dedupe(candidates)
        fitted = [c.rwp for c in candidates if "fit" in c.steps and c.rwp]
        hopeless = FULL_FIT_RATIO * min(fitted) if fitted else float("inf")
        for cand in candidates[: max(0, int(rank.fit_top))]:
            if cand.fit is None or "fit" in cand.steps:
                continue
            if cand.rwp > hopeless:
                break
            full_fit(cand, state.pattern)
    state.candidates = candidates
