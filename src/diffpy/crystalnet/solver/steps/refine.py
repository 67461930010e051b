"""Step ``refine``: Rietveld refinement of the best candidates.

The ``top`` best candidates are refined with space-group constraints; a
refinement is kept when it lowers Rwp, then the candidates are ranked
again.
"""

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.threads import one_blas_thread

__all__ = ["NAME", "REFINE_MAX_SITES", "refine_candidates", "run"]

NAME = "refine"

#: candidates with more symmetry-independent sites are not refined
REFINE_MAX_SITES = 10


def _independent_sites(structure, symprec=0.01):
    """Number of symmetry-independent sites (Wyckoff orbits)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        sym = SpacegroupAnalyzer(structure, symprec=symprec)
        return len(sym.get_symmetrized_structure().equivalent_sites)
    except Exception:  # spglib failure: count every site
        return len(structure)


def refine_candidates(candidates, pattern, top, max_sites=REFINE_MAX_SITES):
    """Rietveld-refine the ``top`` best candidates in place; keep what helps.

    Candidates with more than ``max_sites`` independent sites (typically
    P1 decodings of a poor density) are skipped: their many free
    coordinates make the refinement slow and, from a guess far off, it does
    not converge to a structure.

    Parameters
    ----------
    candidates : list of Candidate
        Ranked, best first; refined in place.
    pattern : Pattern
        The observed pattern.
    top : int
        How many of the best are refined.
    max_sites : int, optional
        Largest number of symmetry-independent sites refined.
    """
    from diffpy.crystalnet.refine.rietveld import refine_structure

    for cand in candidates[: max(0, int(top))]:
        if cand.rwp is None:
            continue
        sites = _independent_sites(cand.structure)
        if sites > max_sites:
            cand.warnings.append(
                f"not refined: {sites} symmetry-independent sites (more "
                f"than {max_sites}; a low-symmetry guess is not worth a "
                "Rietveld refinement)"
            )
            continue
        try:
            with one_blas_thread():
                ref = refine_structure(
                    cand.structure,
                    pattern,
                    symprec=min(cand.symprec or 0.01, 0.01),
                    # the structure already carries the fit's strain
                    start=dict(cand.fit.parameters, strain=0.0),
                    # the fit already refined the cell (isotropic strain):
                    # the coarse cell search (most of the time) is not needed
                    coarse=False,
                )
        except (CrystalNetInputError, np.linalg.LinAlgError) as err:
            problem = getattr(err, "problem", str(err))
            cand.warnings.append(f"refinement failed: {problem}")
            continue
        if not np.isfinite(ref.rwp) or ref.rwp >= cand.rwp:
            cand.warnings.append(
                f"refinement did not lower Rwp ({100 * ref.rwp:.2f} % vs "
                f"{100 * cand.rwp:.2f} %): not kept"
            )
            continue
        cand.structure = ref.structure
        cand.rwp, cand.rp, cand.chi2 = (
            float(ref.rwp),
            float(ref.rp),
            float(ref.chi2),
        )
        cand.fit = ref.fit
        cand.spacegroup = ref.spacegroup_symbol
        cand.spacegroup_number = ref.spacegroup_number
        cand.refinement = ref
        cand.steps.append("refine")
        cand.rwp_history.append(("refine", float(ref.rwp)))
        cand.warnings.extend(f"refinement: {w}" for w in ref.warnings)


def run(state):
    """Refine the best of ``state.candidates`` in place; rank again."""
    from diffpy.crystalnet.solver.ranking import rank

    settings = state.settings
    if not (settings.refine.enabled and settings.rank.fit):
        return
    refine_candidates(state.candidates, state.pattern, settings.refine.top)
    state.candidates = rank(state.candidates, settings.rank.dedupe)
