"""Step ``decode``: each density becomes a structure (atom sites)."""

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["NAME", "run"]

NAME = "decode"


def run(state):
    """Set ``state.decoded``; a density that cannot be decoded is noted."""
    from diffpy.crystalnet.density.decode import (
        DEFAULT_SYMPRECS,
        decode_density,
    )

    symprec = state.settings.decode.symprec
    decoded = []
    for grid, source, prim, info, steps, improvement in state.inputs:
        try:
            dec = decode_density(
                grid,
                prim,
                state.composition,
                symprec=symprec or DEFAULT_SYMPRECS,
                max_formula_units=info["max_formula_units"],
            )
        except CrystalNetInputError as err:
            state.notes.append(f"{source}: not decoded ({err.problem})")
            continue
        decoded.append(
            (dec, grid, source, prim, info, steps + ["decode"], improvement)
        )
    if not decoded:
        state.notes.append("no density could be decoded into a structure")
    state.decoded = decoded
