"""Step ``abinitio``: direct-space search when no candidate fits.

When no candidate of the earlier steps (network densities, isotypes)
reaches ``rwp_threshold`` (or always, with ``mode="on"``), the composition
is placed on the Wyckoff positions of the most likely space groups of the
cell and the arrangement that best fits the Pawley-extracted intensities
is searched
(:func:`~diffpy.crystalnet.abinitio.direct_space.solve_direct_space`).
The space groups come from the systematic absences of the indexing
solution (:func:`~diffpy.crystalnet.index.space_groups.rank_space_groups`,
each in its setting on the indexed cell), or, for a given lattice (taken
to be in the standard setting), from the absences of its Pawley-extracted
intensities
(:func:`~diffpy.crystalnet.abinitio.absences.rank_by_absences`);
``space_group`` fixes one.  The best arrangements are fitted to the
profile like every other candidate and ranked with them.
"""

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["NAME", "run", "space_group_trials"]

NAME = "abinitio"

#: a search stops early once an arrangement fits the extracted
#: intensities this well (weighted R); its profile fit then decides
STOP_R = 0.05


def _metric_system(lattice, tol=1e-3, angle_tol=0.1):
    """Crystal family of a conventional cell from its parameters alone."""
    a, b, c, alpha, beta, gamma = lattice.parameters
    eq = lambda x, y: abs(x - y) <= tol * max(x, y)  # noqa: E731
    right = [abs(t - 90) <= angle_tol for t in (alpha, beta, gamma)]
    if all(right):
        if eq(a, b) and eq(b, c):
            return ("cubic",)
        if eq(a, b):
            return ("tetragonal",)
        return ("orthorhombic",)
    if right[0] and right[1] and abs(gamma - 120) <= angle_tol and eq(a, b):
        return ("hexagonal", "trigonal")
    if sum(right) == 2 and right[0] and right[2]:
        return ("monoclinic",)
    return ("triclinic",)


def _extract(pattern, lattice):
    from diffpy.crystalnet.refine.pawley import extract_intensities

    return extract_intensities(pattern, lattice, "P", cycles=1, max_nfev=30)


def _groups_of_given_cell(pattern, lattice, count):
    """The likeliest groups of a given cell's family (standard settings),
    by the absences of its extracted intensities; and the extraction."""
    from diffpy.crystalnet.abinitio.absences import rank_by_absences
    from diffpy.crystalnet.physics.lattice import SPACE_GROUP_RANGES

    numbers = []
    for system in _metric_system(lattice):
        lo, hi = SPACE_GROUP_RANGES[system]
        numbers += list(range(lo, hi + 1))
    extracted = _extract(pattern, lattice)
    ranked = rank_by_absences(extracted, numbers)[:count]
    return extracted, [(n, f"absences (p={p:.2f})") for n, _, p in ranked]


def space_group_trials(state, groups):
    """``(lattice, number, how, extraction or None)`` to try.

    The lattice is in the group's standard setting.

    Parameters
    ----------
    state : SolveState
        After the ``lattice`` step.
    groups : int
        At most this many.

    Returns
    -------
    list of tuple
    """
    from pymatgen.core import Lattice

    from diffpy.crystalnet.index.space_groups import rank_space_groups

    fixed = state.settings.abinitio.space_group
    if not state.trials:
        return []
    conventional, _, info = state.trials[0]
    if fixed is not None:
        return [(conventional, int(fixed), "given", None)]
    if info.get("origin") == "indexed" and state.solutions:
        rank = info.get("indexing_rank", 1)
        if state.lattices:
            rank = state.lattices[0][1].get("indexing_rank", rank)
        solution = state.solutions[rank - 1]
        out = []
        for cand in rank_space_groups(solution, max_groups=groups):
            matrix = np.asarray(cand.setting) @ solution.lattice.matrix
            out.append(
                (
                    Lattice(matrix),
                    cand.number,
                    f"absences (p={cand.probability:.2f})",
                    None,
                )
            )
        return out
    extracted, ranked = _groups_of_given_cell(
        state.pattern, conventional, groups
    )
    return [(conventional, n, how, extracted) for n, how in ranked]


def _budgets(total, n):
    """The first group gets half the time, the others share the rest."""
    if n == 1:
        return [total]
    return [total / 2] + [total / 2 / (n - 1)] * (n - 1)


# long: per space group: extract, search, fit and wrap the candidates
def _search(state, trial, budget, bar):
    from pymatgen.symmetry.groups import SpaceGroup

    from diffpy.crystalnet.abinitio.direct_space import solve_direct_space
    from diffpy.crystalnet.solver.candidates import Candidate
    from diffpy.crystalnet.solver.fitting import (
        full_fit,
        pawley_profile,
        quick_fit,
    )

    settings = state.settings.abinitio
    lattice, number, how, extracted = trial
    if extracted is None:
        extracted = _extract(state.pattern, lattice)
    profile = pawley_profile(extracted)

    def on_best(seconds, cost, r_i, structure):
        bar.set_postfix_str(f"SG {number}: R_I {r_i:.3f}")

    result = solve_direct_space(
        extracted,
        number,
        state.composition,
        budget=budget,
        seed=state.settings.sampling.seed,
        top=settings.top,
        on_best=on_best,
        stop_r=STOP_R,
    )
    out = []
    for sol in result.solutions:
        fit = quick_fit(sol.structure, state.pattern, profile)
        cand = Candidate(
            structure=sol.structure,
            rwp=float(fit.rwp),
            rp=float(fit.rp),
            chi2=float(fit.chi2),
            spacegroup=None,
            spacegroup_number=number,
            symprec=None,
            density=None,
            lattice=None,
            cell_structure=None,
            source=f"direct space, SG {number} ({how}): {sol.wyckoff}",
            fit=fit,
            produced_by="abinitio",
            steps=["abinitio", "quick fit"],
            rwp_history=[("quick fit", float(fit.rwp))],
            lattice_info={"space_group_origin": how},
        )
        cand.spacegroup = SpaceGroup.from_int_number(number).symbol
        full_fit(cand, state.pattern)
        cand.steps.append("fit")
        cand.rwp_history.append(("fit", cand.rwp))
        out.append(cand)
    return out


def run(state):
    """Add direct-space candidates to ``state.candidates`` when needed."""
    from tqdm.auto import tqdm

    settings = state.settings.abinitio
    if settings.mode == "off":
        return
    if state.composition is None:
        state.notes.append(
            "ab initio search skipped: it needs the composition"
        )
        return
    fitted = [c.rwp for c in state.candidates if c.rwp is not None]
    if settings.mode == "auto" and fitted:
        if min(fitted) <= settings.rwp_threshold:
            return
    trials = space_group_trials(state, settings.groups)
    if not trials:
        state.notes.append("ab initio search skipped: no lattice")
        return
    budgets = _budgets(float(settings.budget), len(trials))
    found = []
    with tqdm(
        total=len(trials), desc="ab initio", unit="group", leave=False
    ) as bar:
        for trial, budget in zip(trials, budgets):
            number = trial[1]
            try:
                found += _search(state, trial, budget, bar)
            except CrystalNetInputError as err:
                state.notes.append(
                    f"ab initio search in space group {number} failed: "
                    f"{err.problem}"
                )
            bar.update(1)
    state.provenance["abinitio"] = {
        "space_groups": [[int(t[1]), t[2]] for t in trials],
        "budget_s": float(settings.budget),
        "candidates": len(found),
    }
    state.candidates += found
