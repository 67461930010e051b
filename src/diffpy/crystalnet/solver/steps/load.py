"""Step ``load``: the observed pattern, from a file or as given."""

import os

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["NAME", "load", "run"]

NAME = "load"


def load(pattern_or_path, wavelength):
    """The observed pattern: read from a file, or the given one.

    Parameters
    ----------
    pattern_or_path : str or os.PathLike or Pattern
        A pattern file or a :class:`Pattern`.
    wavelength : float or str or None
        Overrides the file's (or the pattern's) wavelength.

    Returns
    -------
    Pattern
    """
    from diffpy.crystalnet.io.patterns import load_pattern
    from diffpy.crystalnet.physics.pattern import Pattern

    if isinstance(pattern_or_path, Pattern):
        pattern = pattern_or_path
        if wavelength is not None:
            from dataclasses import replace

            from diffpy.crystalnet.physics.wavelengths import (
                resolve_wavelength,
            )

            meta = dict(pattern.metadata)
            meta["wavelength_origin"] = "argument"
            pattern = replace(
                pattern,
                wavelength=resolve_wavelength(wavelength, "wavelength"),
                metadata=meta,
            )
        return pattern
    if isinstance(pattern_or_path, (str, os.PathLike)):
        return load_pattern(pattern_or_path, wavelength=wavelength)
    raise CrystalNetInputError(
        "expected a file path or a Pattern, not "
        f"{type(pattern_or_path).__name__}",
        "pattern",
    )


def run(state):
    """Load the pattern into ``state.pattern``."""
    state.pattern = load(state.source, state.wavelength)
    state.where = state.pattern.source or "pattern"
