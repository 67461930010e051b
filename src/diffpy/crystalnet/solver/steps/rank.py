"""Step ``rank``: all candidates by Rwp, the same structure merged."""

__all__ = ["NAME", "run"]

NAME = "rank"


def run(state):
    """Sort ``state.candidates`` best first; merge duplicates."""
    from diffpy.crystalnet.solver.ranking import rank

    state.candidates = rank(state.candidates, state.settings.rank.dedupe)
