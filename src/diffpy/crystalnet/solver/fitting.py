"""Fitting candidates to the observed profile: the quick fit that ranks
them all and the full fit of the best.
"""

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.threads import one_blas_thread

__all__ = ["QUICK_FIT_NFEV", "full_fit", "profile_fit", "quick_fit"]


#: profile evaluations of the quick fit that ranks all decoded candidates
#: (when no Pawley extraction gave the profile)
QUICK_FIT_NFEV = 8


def full_fit(cand, pattern):
    """Continue a candidate's quick fit to convergence (in place)."""
    start = {
        k: cand.fit.parameters[k]
        for k in ("zero_shift", "u", "v", "w", "b_iso", "strain")
        if cand.fit.parameters.get(k) is not None
    }
    size = cand.fit.parameters.get("crystallite_size")
    start["inverse_size"] = 1.0 / size if size else 0.0
    try:
        result = profile_fit(cand.structure, pattern, start=start)
    except CrystalNetInputError as err:
        cand.warnings.append(f"full fit failed: {err.problem}")
        return
    if result.rwp > cand.rwp:  # keep the better of the two
        result = cand.fit
    cand.fit = result
    cand.structure = _strained(cand.structure, result)
    cand.rwp, cand.rp, cand.chi2 = (
        float(result.rwp),
        float(result.rp),
        float(result.chi2),
    )
    cand.steps.append("fit")
    cand.rwp_history.append(("fit", float(result.rwp)))


def _strained(structure, result):
    """The structure with the cell scaled by the fit's isotropic strain."""
    strain = result.parameters.get("strain", 0.0) or 0.0
    if not strain:
        return structure
    structure = structure.copy()
    structure.scale_lattice(structure.volume * (1 + strain) ** 3)
    return structure


def profile_fit(structure, pattern, max_nfev=60, start=None, refine=None):
    from diffpy.crystalnet.refine.profile_fit import (
        DEFAULT_REFINE,
        fit_candidate,
    )

    if refine is None:
        refine = tuple(DEFAULT_REFINE) + ("strain",)
    with one_blas_thread():
        return fit_candidate(
            structure,
            pattern,
            refine=refine,
            max_nfev=max_nfev,
            start=start,
        )


def quick_fit(structure, pattern, profile=None):
    """The ranking fit of a decoded candidate.

    With the profile of the cell's Pawley extraction (zero shift, widths,
    cell strain), only the linear parameters (scales, background) are
    solved for: one evaluation, a fraction of the cost of a profile fit.
    Without it, a few evaluations of the full profile fit.
    """
    if profile:
        return profile_fit(structure, pattern, start=profile, refine=())
    return profile_fit(structure, pattern, max_nfev=QUICK_FIT_NFEV)


def pawley_profile(extracted):
    """The profile a Pawley extraction refined, as a fit's start values.

    Parameters
    ----------
    extracted : ExtractedIntensities

    Returns
    -------
    dict
        ``zero_shift``, ``u``, ``v``, ``w``, ``inverse_size`` and
        ``strain`` (those that are set), for :func:`quick_fit`.
    """
    return {
        k: extracted.parameters[k]
        for k in ("zero_shift", "u", "v", "w", "inverse_size", "strain")
        if extracted.parameters.get(k) is not None
    }
