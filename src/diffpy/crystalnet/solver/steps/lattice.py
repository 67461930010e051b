"""Step ``lattice``: the cells to decode on.

A given conventional lattice (its centring inferred from the peaks unless
given) or the indexing solutions of the pattern; each becomes the CMED
(standard primitive) cell the densities are defined on, and cells that
cannot hold the composition with a sensible volume per atom are dropped.
"""

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.lattice import VOLUME_PER_ATOM

__all__ = ["NAME", "run"]

NAME = "lattice"


def _given_trial(state):
    """The given lattice as ``(conventional, centring, info)``."""
    from diffpy.crystalnet.solver.lattices import infer_centring, user_lattice

    settings = state.settings.lattice
    info = {}
    conventional = user_lattice(settings.lattice)
    centring = settings.centring
    if centring is None:
        centring, explained = infer_centring(conventional, state.pattern)
        info["centring_origin"] = (
            f"inferred from the peaks ({explained:.0%} explained)"
        )
        if explained < 0.9:
            state.notes.append(
                f"the given lattice explains only {explained:.0%} of "
                "the peaks: check it (or impurity peaks)"
            )
    else:
        info["centring_origin"] = "given"
    info.update(origin="given", centring=centring)
    return conventional, centring, info


def _indexed_trials(state):
    """The indexing solutions as ``(conventional, centring, info)``."""
    from diffpy.crystalnet.index.indexing import index_pattern

    systems = state.settings.lattice.systems
    state.solutions = index_pattern(state.pattern, systems=tuple(systems))
    if not state.solutions:
        raise CrystalNetInputError(
            "indexing found no lattice; give one with lattice=", state.where
        )
    trials = []
    for rank, sol in enumerate(state.solutions, 1):
        info = dict(
            origin="indexed",
            indexing_rank=rank,
            system=sol.system,
            centring=sol.centring,
            m20=None if sol.m20 is None else float(sol.m20),
            zero_shift=float(getattr(sol, "zero_shift", 0.0) or 0.0),
            description=sol.describe(),
            unindexed=int(sol.unindexed),
        )
        trials.append((sol.lattice, sol.centring, info))
    return trials


def _cmed_lattices(state):
    """``(primitive CMED lattice, info)`` of every trial."""
    from diffpy.crystalnet.solver.lattices import (
        formula_units_possible,
        primitive_cmed_lattice,
    )

    lattices = []
    for conventional, cent, info in state.trials:
        prim = (
            primitive_cmed_lattice(conventional, cent)
            if info["origin"] == "given"
            else state.solutions[info["indexing_rank"] - 1].primitive_lattice()
        )
        info["conventional"] = [
            round(float(v), 5) for v in conventional.parameters
        ]
        info["cmed_cell"] = [round(float(v), 5) for v in prim.parameters]
        info["max_formula_units"] = None
        if state.atoms_fu:
            z_fit = formula_units_possible(prim.volume, state.atoms_fu)
            info["formula_units_possible"] = z_fit
            info["fits_composition"] = bool(z_fit)
            info["max_formula_units"] = max(z_fit) if z_fit else None
        lattices.append((prim, info))
    return lattices


def _fitting_composition(state, lattices):
    """The lattices that can hold the composition (or the first one)."""
    fitting = [item for item in lattices if item[1]["fits_composition"]]
    if not fitting:
        prim, info = lattices[0]
        lo, hi = VOLUME_PER_ATOM
        state.notes.append(
            f"the composition {state.formula} does not fit the cell: "
            f"{prim.volume:.1f} A^3 (primitive) holds "
            f"{prim.volume / state.atoms_fu:.1f} A^3 per atom for one formula "
            f"unit, outside the usual {lo:g}-{hi:g} A^3 per atom; check "
            "the formula and the lattice"
        )
        fitting = lattices[:1]
    elif fitting[0] is not lattices[0]:
        state.notes.append(
            "the best indexing solution cannot hold the composition "
            f"{state.formula} with 5-60 A^3 per atom; using indexing "
            f"solution {fitting[0][1]['indexing_rank']} first"
        )
    return fitting


def _undominated(lattices):
    """Drop indexing solutions that a better-ranked one beats on both
    counts: it leaves fewer of the first lines unindexed and its cell is
    not larger (a supercell that still misses lines explains nothing the
    better cell does not).  Given lattices are kept."""
    kept = []
    for prim, info in lattices:
        dominated = info.get("origin") == "indexed" and any(
            other.get("origin") == "indexed"
            and other["unindexed"] < info["unindexed"]
            and other_prim.volume <= prim.volume * (1 + 1e-6)
            for other_prim, other in kept
        )
        if not dominated:
            kept.append((prim, info))
    return kept


def run(state):
    """Set ``state.trials``, ``state.lattices``, ``state.isotype_lattices``."""
    given = state.settings.lattice.lattice is not None
    if given:
        state.trials = [_given_trial(state)]
    else:
        state.trials = _indexed_trials(state)
    lattices = _cmed_lattices(state)
    if state.atoms_fu:
        lattices = _fitting_composition(state, lattices)
    lattices = _undominated(lattices)
    state.lattices = lattices[: max(1, int(state.settings.lattice.solutions))]
    # the cells the isotype search puts prototypes on: the given one, or
    # (None) its own indexing of the systems its prototypes need plus its
    # scans of every prototype on the cell its strong reflections suggest,
    # which find types the indexing misses (tetragonal, failed indexing)
    state.isotype_lattices = [state.trials[0][0]] if given else None
