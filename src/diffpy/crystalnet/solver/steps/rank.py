"""Step ``rank``: all candidates by Rwp, the same structure merged."""

__all__ = ["NAME", "run"]

NAME = "rank"


def run(state):
    """Sort ``state.candidates`` best first; merge duplicates."""
    from diffpy.crystalnet.solver.ranking import (
        dedupe,
        prefer_simpler,
        rank_key,
    )

    state.candidates.sort(key=rank_key)
    if state.settings.rank.dedupe:
        state.candidates = dedupe(state.candidates)
    prefer_simpler(state.candidates)
