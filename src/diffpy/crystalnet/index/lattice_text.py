"""Cells given by the user, as text or as six numbers.

:func:`parse_lattice` reads a cell written on the command line
(``--lattice a=5.43``, ``a=4.14,c=28.6`` or all six parameters) and
:func:`cell_from_parameters` checks six cell parameters and builds the
pymatgen ``Lattice``.  They are the way around indexing
(:func:`~diffpy.crystalnet.index.indexing.index_pattern`) when the cell is
known or indexing fails.
"""

import math
import re

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["cell_from_parameters", "parse_lattice"]


def cell_from_parameters(a, b, c, alpha, beta, gamma, source="cell"):
    """Build a pymatgen Lattice from six cell parameters, with checks.

    Parameters
    ----------
    a, b, c : float
        Cell lengths in angstrom (0.5-200).
    alpha, beta, gamma : float
        Cell angles in degrees, each in (0, 180), forming a cell with a
        positive volume.
    source : str, optional
        Name used in error messages.

    Returns
    -------
    pymatgen.core.Lattice

    Raises
    ------
    CrystalNetInputError
        For lengths or angles out of range or a cell without volume.
    """
    from pymatgen.core import Lattice

    values = {}
    for name, value in zip(
        ("a", "b", "c", "alpha", "beta", "gamma"),
        (a, b, c, alpha, beta, gamma),
    ):
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise CrystalNetInputError(
                f"{name} must be a number, not {value!r}", source
            ) from None
        if not math.isfinite(v):
            raise CrystalNetInputError(f"{name} is {value!r}", source)
        values[name] = v
    for name in ("a", "b", "c"):
        if not 0.5 <= values[name] <= 200.0:
            raise CrystalNetInputError(
                f"{name} = {values[name]:g} angstrom is outside 0.5-200 "
                "(lengths are in angstrom)",
                source,
            )
    for name in ("alpha", "beta", "gamma"):
        if not 0.0 < values[name] < 180.0:
            raise CrystalNetInputError(
                f"{name} = {values[name]:g} degrees is outside (0, 180)",
                source,
            )
    ca, cb, cg = (
        math.cos(math.radians(values[k])) for k in ("alpha", "beta", "gamma")
    )
    g = 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg
    if g <= 1e-6:
        raise CrystalNetInputError(
            "the angles alpha = {alpha:g}, beta = {beta:g}, gamma = "
            "{gamma:g} do not form a cell (no volume)".format(**values),
            source,
        )
    return Lattice.from_parameters(
        values["a"],
        values["b"],
        values["c"],
        values["alpha"],
        values["beta"],
        values["gamma"],
    )


_PAIR = re.compile(r"^\s*([A-Za-z]+)\s*[=:]\s*([^=:]+?)\s*$")


def parse_lattice(text, source="--lattice"):
    """Parse a cell given on the command line.

    Parameters
    ----------
    text : str
        ``"a=5.4"`` (cubic), ``"a=4.1,c=28.6"`` (hexagonal axes, trigonal
        or hexagonal), or all six of ``a, b, c, alpha, beta, gamma``
        (``"a=5,b=6,c=7,alpha=90,beta=100,gamma=90"``), separated by
        commas, semicolons or spaces.  Lengths in angstrom, angles in
        degrees.
    source : str, optional
        Name used in error messages.

    Returns
    -------
    pymatgen.core.Lattice

    Raises
    ------
    CrystalNetInputError
        For unknown keys, repeated keys, values that are not numbers or a
        combination of keys that does not define a cell.

    Examples
    --------
    >>> parse_lattice("a=5.4").abc
    (5.4, 5.4, 5.4)
    >>> lat = parse_lattice("a=4.1, c=28.6")
    >>> round(lat.gamma, 6)
    120.0
    """
    if not isinstance(text, str) or not text.strip():
        raise CrystalNetInputError(
            "empty lattice; give e.g. 'a=5.43' or 'a=4.14,c=28.6'", source
        )
    parts = [p for p in re.split(r"[,;\s]+(?=[A-Za-z])", text.strip()) if p]
    values = {}
    for part in parts:
        m = _PAIR.match(part.strip().rstrip(",;"))
        if m is None:
            raise CrystalNetInputError(
                f"cannot read {part!r}: write key=value, e.g. 'a=5.43' or "
                "'a=4.14,c=28.6'",
                source,
            )
        key = m.group(1).lower()
        if key not in ("a", "b", "c", "alpha", "beta", "gamma"):
            raise CrystalNetInputError(
                f"unknown lattice parameter {m.group(1)!r}; use a, b, c, "
                "alpha, beta, gamma",
                source,
            )
        if key in values:
            raise CrystalNetInputError(f"{key} given twice", source)
        try:
            values[key] = float(m.group(2))
        except ValueError:
            raise CrystalNetInputError(
                f"{key} = {m.group(2)!r} is not a number", source
            ) from None
    keys = set(values)
    if keys == {"a"}:
        a = values["a"]
        return cell_from_parameters(a, a, a, 90, 90, 90, source)
    if keys == {"a", "c"}:
        a, c = values["a"], values["c"]
        return cell_from_parameters(a, a, c, 90, 90, 120, source)
    if keys == {"a", "b", "c", "alpha", "beta", "gamma"}:
        return cell_from_parameters(
            *(values[k] for k in ("a", "b", "c", "alpha", "beta", "gamma")),
            source=source,
        )
    raise CrystalNetInputError(
        f"cannot build a cell from {', '.join(sorted(keys))}: give a "
        "(cubic), a and c (hexagonal axes) or all of a, b, c, alpha, beta, "
        "gamma",
        source,
    )


# End of file
