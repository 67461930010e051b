"""Step ``improve``: densities improved against the observed intensities.

Every density is listed for decoding on every cell; with improvement on
(the default), the observed reflection intensities are extracted once per
cell (Pawley) and each density's phases are combined with the observed
amplitudes (Fourier recycling): both the raw and the improved map are then
decoded.
"""

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["NAME", "improved_inputs", "run"]

NAME = "improve"


def _extract(pattern, prim, info, notes, profiles):
    """The Pawley extraction on one cell, or None (with a note)."""
    from diffpy.crystalnet.refine.pawley import extract_intensities
    from diffpy.crystalnet.solver.fitting import pawley_profile

    try:
        extracted = extract_intensities(
            pattern,
            prim,
            profile={"zero_shift": info.get("zero_shift", 0.0) or 0.0},
        )
    except CrystalNetInputError as err:
        notes.append(f"density improvement skipped: {err.problem}")
        return None
    profiles[id(prim)] = pawley_profile(extracted)
    return extracted


def improved_inputs(pattern, lattices, inputs, notes, profiles):
    """Fourier-recycled copies of the densities, one extraction per cell.

    Parameters
    ----------
    pattern : Pattern
        The observed pattern.
    lattices : list of tuple
        ``(primitive lattice, info)`` of the cells.
    inputs : list of tuple
        ``(grid, source, lattice, info, steps, improvement)`` to decode.
    notes : list of str
        Warnings, extended here.
    profiles : dict
        The profile each extraction refined (zero shift, widths, strain of
        the cell) is stored here under ``id(primitive lattice)``.

    Returns
    -------
    list of tuple
        The improved inputs, in the form of ``inputs``.
    """
    from diffpy.crystalnet.solver.recycle import fourier_recycle

    improved = []
    for prim, info in lattices:
        mine = [item for item in inputs if item[2] is prim]
        if not mine:
            continue
        extracted = _extract(pattern, prim, info, notes, profiles)
        if extracted is None:
            continue
        for grid, source, _, _, steps, _ in mine:
            try:
                out = fourier_recycle(grid, prim, extracted)
            except CrystalNetInputError as err:
                notes.append(f"{source}: not improved ({err.problem})")
                continue
            diagnostics = dict(
                extraction_rwp=float(extracted.rwp),
                reflections_observed=int(out.n_observed),
                r_before=float(out.r_before),
                r_after=float(out.r_after),
                scale=float(out.scale),
            )
            improved.append(
                (
                    out.density,
                    source + ", improved",
                    prim,
                    info,
                    steps + ["improve"],
                    diagnostics,
                )
            )
    return improved


def run(state):
    """Set ``state.inputs`` (and ``state.profiles`` when improving)."""
    lattices = state.lattices
    inputs = []  # (grid, source, prim, info, steps, improvement)
    for k, (prim, info) in enumerate(lattices):
        suffix = "" if len(lattices) == 1 else f", lattice {k + 1}"
        for grid, source in zip(state.grids, state.grid_sources):
            inputs.append(
                (grid, source + suffix, prim, info, [state.produced_by], None)
            )
    if state.settings.improve.enabled:
        inputs += improved_inputs(
            state.pattern, lattices, inputs, state.notes, state.profiles
        )
    state.inputs = inputs
