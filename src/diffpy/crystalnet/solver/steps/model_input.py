"""Step ``model_input``: the network's two inputs.

The pattern binned onto the CrystalNet grid (with a check that it has
peaks) and the formula as a 118-vector composition prior; without a formula
the prior is all zeros, as the paper's ablation allows, with a warning.
"""

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["NAME", "run"]

NAME = "model_input"


def run(state):
    """Set ``state.model_input`` and the composition fields."""
    from diffpy.crystalnet.physics.composition import composition_vector
    from diffpy.crystalnet.physics.model_input import find_grid_peaks
    from diffpy.crystalnet.solver.lattices import formula_atoms

    state.model_input = state.pattern.to_model_input()
    n_peaks = len(find_grid_peaks(state.model_input))
    if n_peaks == 0:
        raise CrystalNetInputError(
            "no peaks found in the pattern", state.where
        )
    if n_peaks < 3:
        state.notes.append(
            f"only {n_peaks} peak(s) found in the pattern: the solution is "
            "poorly constrained"
        )
    composition = state.composition
    if composition is None:
        state.composition_vector = composition_vector("H", mode="none")
        state.amounts, state.atoms_fu = None, None
        state.notes.append(
            "no composition given: the network runs without its "
            "composition prior and elements are guessed from electron "
            "counts (rough); give --composition"
        )
        state.formula = None
    else:
        state.composition_vector = composition_vector(composition)
        state.amounts, state.atoms_fu = formula_atoms(composition)
        state.formula = "".join(
            f"{el}{k if k != 1 else ''}" for el, k in state.amounts.items()
        )
