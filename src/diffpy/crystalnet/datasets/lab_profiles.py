"""Random laboratory profiles for benchmarks and datasets.

:func:`random_lab_profile` draws the settings of a laboratory Cu K-alpha
scan (Caglioti widths, crystallite size, microstrain, K-alpha2, zero shift,
Chebyshev background, Poisson noise) and an overall B, the recipe of the
benchmarks' simulated "measured" patterns; the settings are a
:class:`~diffpy.crystalnet.physics.profiles.Profile` dict.
:func:`lab_pattern` simulates such a scan of a structure.
"""

__all__ = ["lab_pattern", "random_lab_profile"]


def lab_pattern(structure, rng):
    """A seeded laboratory Cu K-alpha scan (10-110 deg) of a structure.

    Parameters
    ----------
    structure : pymatgen.core.Structure
        The crystal.
    rng : numpy.random.Generator
        Draws the settings (:func:`random_lab_profile`) and the noise.

    Returns
    -------
    diffpy.crystalnet.physics.pattern.Pattern
        The profile, with ``source`` "simulated Cu Ka".
    """
    from diffpy.crystalnet.physics.simulator import simulate_pattern

    profile, b_iso = random_lab_profile(rng)
    pattern = simulate_pattern(
        structure, "CuKa", (10, 110), profile=profile, b_factors=b_iso
    )
    pattern.source = "simulated Cu Ka"
    return pattern


def random_lab_profile(rng, noise="poisson"):
    """Draw the settings of a laboratory Cu K-alpha scan and an overall B.

    The recipe of the benchmarks' simulated "measured" patterns: a
    K-alpha doublet with Caglioti, size and strain broadening, a zero
    shift, a three-term Chebyshev background and counting noise.  The
    values are drawn from ``rng`` in this order, each uniformly:

    ========================  =====================  ===============
    setting                   range                  units
    ========================  =====================  ===============
    ``u``                     0.002 - 0.02           deg^2
    ``v``                     -0.006 - 0             deg^2
    ``w``                     0.002 - 0.006          deg^2
    ``crystallite_size``      60 - 300               nm
    ``microstrain``           0 - 5e-4
    ``zero_shift``            -0.03 - 0.03           deg 2-theta
    ``background``            (100 - 400,            counts
                              -120 - 0, 0 - 50)
    ``seed`` (of the noise)   integer 0 - 2**31 - 1
    ``intensity_max``         5e3 - 5e4              counts
    B (returned second)       0.5 - 1.2              A^2
    ========================  =====================  ===============

    with ``kalpha2=True`` and ``step=0.02`` degrees fixed.

    Parameters
    ----------
    rng : numpy.random.Generator
        The source of the draws (the same state gives the same settings).
    noise : str or None, optional
        The ``noise`` setting (default ``"poisson"``; None for a noiseless
        profile: the noise seed is drawn all the same, so the other
        settings do not depend on it).

    Returns
    -------
    (dict, float)
        The profile settings (see
        :class:`~diffpy.crystalnet.physics.profiles.Profile`) and an
        isotropic B in A^2 for every atom.

    Examples
    --------
    >>> import numpy as np
    >>> profile, b_iso = random_lab_profile(np.random.default_rng(0))
    >>> profile["kalpha2"], profile["noise"], 0.5 <= b_iso <= 1.2
    (True, 'poisson', True)
    """
    profile = {
        "u": float(rng.uniform(0.002, 0.02)),
        "v": float(rng.uniform(-0.006, 0.0)),
        "w": float(rng.uniform(0.002, 0.006)),
        "crystallite_size": float(rng.uniform(60, 300)),
        "microstrain": float(rng.uniform(0, 5e-4)),
        "kalpha2": True,
        "zero_shift": float(rng.uniform(-0.03, 0.03)),
        "background": (
            float(rng.uniform(100, 400)),
            float(rng.uniform(-120, 0)),
            float(rng.uniform(0, 50)),
        ),
        "noise": noise,
        "seed": int(rng.integers(2**31)),
        "intensity_max": float(rng.uniform(5e3, 5e4)),
        "step": 0.02,
    }
    return profile, float(rng.uniform(0.5, 1.2))
