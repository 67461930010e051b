"""Composition priors drawn per training item.

:class:`CompositionPrior` draws one of the paper's composition-prior modes
(``full``, ``elements``, ``drop``, ``none``; see
:func:`~diffpy.crystalnet.physics.composition.composition_vector`) per item,
so one model serves all four.
"""

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["CompositionPrior"]


class CompositionPrior:
    """Draw a composition-prior mode per item (the dataset's callable).

    Parameters
    ----------
    probabilities : dict, optional
        ``{mode: probability}`` over ``full``, ``elements``, ``drop`` and
        ``none`` (normalised; default 0.55 / 0.15 / 0.15 / 0.15).

    Notes
    -----
    Works on the stored atom-fraction vector and gives the same vectors as
    :func:`~diffpy.crystalnet.physics.composition.composition_vector` does
    from the formula: ``elements`` puts ``1 / n`` on each present element,
    ``drop`` removes one present element (uniformly drawn) and renormalises,
    ``none`` is all zeros.
    """

    MODES = ("full", "elements", "drop", "none")

    def __init__(self, probabilities=None):
        if probabilities is None:
            probabilities = {
                "full": 0.55,
                "elements": 0.15,
                "drop": 0.15,
                "none": 0.15,
            }
        if isinstance(probabilities, str):
            probabilities = {probabilities: 1.0}
        unknown = set(probabilities) - set(self.MODES)
        if unknown:
            raise CrystalNetInputError(
                f"unknown composition modes {sorted(unknown)}; use "
                f"{self.MODES}",
                "composition modes",
            )
        p = np.array([float(probabilities.get(m, 0.0)) for m in self.MODES])
        if np.any(p < 0) or not p.sum() > 0:
            raise CrystalNetInputError(
                "need non-negative probabilities with a positive sum",
                "composition modes",
            )
        self.probabilities = p / p.sum()

    def to_dict(self):
        """Return ``{mode: probability}``."""
        return {m: float(p) for m, p in zip(self.MODES, self.probabilities)}

    @staticmethod
    def apply(vector, mode, rng=None):
        """Apply one mode to a composition vector.

        Parameters
        ----------
        vector : numpy.ndarray
            (118,) atom fractions.
        mode : str
            ``full``, ``elements``, ``drop`` or ``none``.
        rng : numpy.random.Generator, optional
            Chooses the dropped element.

        Returns
        -------
        numpy.ndarray
            (118,) float32.
        """
        v = np.asarray(vector, dtype=np.float64)
        present = np.flatnonzero(v > 0)
        if mode == "full":
            out = v
        elif mode == "none" or present.size == 0:
            out = np.zeros_like(v)
        elif mode == "elements":
            out = np.zeros_like(v)
            out[present] = 1.0 / present.size
        elif mode == "drop":
            rng = rng if rng is not None else np.random.default_rng()
            out = v.copy()
            out[present[int(rng.integers(present.size))]] = 0.0
            total = out.sum()
            out = out / total if total > 0 else out
        else:
            raise CrystalNetInputError(
                f"unknown composition mode {mode!r}", "mode"
            )
        return out.astype(np.float32)

    def __call__(self, vector, rng):
        mode = self.MODES[int(rng.choice(4, p=self.probabilities))]
        return self.apply(vector, mode, rng)
