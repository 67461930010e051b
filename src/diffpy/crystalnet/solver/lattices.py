"""The cells a solve run decodes on: given or indexed lattices, centring,
the CMED (primitive) cell, and how many formula units a cell can hold.
"""

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.lattice import VOLUME_PER_ATOM, lattice_points

__all__ = [
    "formula_atoms",
    "formula_units_possible",
    "infer_centring",
    "primitive_cmed_lattice",
    "user_lattice",
]


def user_lattice(lattice):
    """A conventional pymatgen Lattice from text, a Lattice or 6 numbers."""
    from pymatgen.core import Lattice

    if isinstance(lattice, Lattice):
        return lattice
    if isinstance(lattice, str):
        from diffpy.crystalnet.index.lattice_text import parse_lattice

        parsed = parse_lattice(lattice)
        return parsed if isinstance(parsed, Lattice) else Lattice(parsed)
    values = np.asarray(lattice, dtype=float).ravel()
    if values.size == 6:
        try:
            from diffpy.crystalnet.index.lattice_text import (
                cell_from_parameters,
            )

            return cell_from_parameters(*values)
        except ImportError:  # pragma: no cover - indexing not installed
            return Lattice.from_parameters(*values)
    if values.size == 9:
        return Lattice(values.reshape(3, 3))
    raise CrystalNetInputError(
        "give the lattice as text ('a=5.4', 'a=4.1,c=28.6'), a pymatgen "
        "Lattice, six numbers (a b c alpha beta gamma) or a 3x3 matrix",
        "lattice",
    )


def primitive_cmed_lattice(lattice, centring="P"):
    """The CMED cell (:func:`cmed_cell`) of a conventional lattice.

    Parameters
    ----------
    lattice : pymatgen.core.Lattice
        Conventional cell.
    centring : {"P", "I", "F", "R"}
        Its centring.

    Returns
    -------
    pymatgen.core.Lattice
        The standard primitive lattice, exactly as :func:`cmed_cell` gives
        it for a crystal with this lattice and centring.
    """
    from pymatgen.core import Structure

    from diffpy.crystalnet.physics.cells import cmed_cell

    points = lattice_points(centring)
    dummy = Structure(lattice, ["C"] * len(points), points)
    return cmed_cell(dummy).lattice


def _allowed_d(lattice, centring, q_max):
    """Sorted d-spacings of reflections allowed by the centring."""
    from diffpy.crystalnet.physics.scattering import enumerate_reflections

    hkl, g = enumerate_reflections(lattice.matrix, 0.0, q_max / (2 * np.pi))
    phase = hkl @ lattice_points(centring).T
    ok = np.all(np.abs(phase - np.rint(phase)) < 1e-6, axis=1)
    return np.sort(1.0 / g[ok & (g > 0)])


def infer_centring(lattice, pattern, candidates=None, tolerance=0.004):
    """The most centred lattice whose reflections explain the peaks.

    Parameters
    ----------
    lattice : pymatgen.core.Lattice
        The conventional cell.
    pattern : diffpy.crystalnet.physics.pattern.Pattern
        The observed pattern (peaks from
        :func:`diffpy.crystalnet.index.peak_search.find_peaks`).
    candidates : sequence of str, optional
        Centrings to try; default F, I, P for a cubic cell, R, P for a
        hexagonal one, P otherwise.
    tolerance : float, optional
        Largest relative d-spacing error of an explained peak.

    Returns
    -------
    centring : str
    explained : float
        Fraction of the peaks explained.
    """
    from diffpy.crystalnet.index.peak_search import find_peaks

    if candidates is None:
        a, b, c, al, be, ga = lattice.parameters
        cubic = np.allclose([a, b], c, rtol=1e-4) and np.allclose(
            [al, be, ga], 90, atol=1e-3
        )
        hexagonal = (
            abs(a - b) < 1e-4 * a
            and np.allclose([al, be], 90, atol=1e-3)
            and abs(ga - 120) < 1e-3
        )
        candidates = ("F", "I", "P") if cubic else ("R", "P")
        if not cubic and not hexagonal:
            candidates = ("P",)
    peaks = find_peaks(pattern)
    q = np.asarray(peaks.q, dtype=float)
    if q.size == 0:
        return candidates[-1], 0.0
    d_obs = 2 * np.pi / q
    scores = {}
    for centring in candidates:
        d_calc = _allowed_d(lattice, centring, float(q.max()) * 1.02)
        if d_calc.size == 0:
            scores[centring] = 0.0
            continue
        idx = np.clip(np.searchsorted(d_calc, d_obs), 1, len(d_calc) - 1)
        near = np.minimum(
            np.abs(d_calc[idx] - d_obs), np.abs(d_calc[idx - 1] - d_obs)
        )
        scores[centring] = float(np.mean(near / d_obs < tolerance))
    best = max(scores.values())
    for centring in candidates:  # most centred first
        if scores[centring] >= best - 1e-9 and scores[centring] >= 0.9:
            return centring, scores[centring]
    return max(scores, key=scores.get), best


def formula_atoms(composition):
    from diffpy.crystalnet.physics.composition import integer_formula

    amounts = None if composition is None else integer_formula(composition)
    return amounts, sum(amounts.values())


def formula_units_possible(volume, atoms_fu):
    """Formula units per cell giving a sensible volume per atom."""
    lo, hi = VOLUME_PER_ATOM
    return [
        z
        for z in range(1, int(volume / (lo * atoms_fu)) + 1)
        if lo <= volume / (z * atoms_fu) <= hi
    ]
