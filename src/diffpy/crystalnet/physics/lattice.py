"""Crystal systems, centrings and lattice checks: the one home of each table.

The seven crystal systems with their space-group number ranges, the lattice
points of each Bravais centring of a conventional cell, the sensible volume
per atom of an inorganic crystal, and the check every module applies to a
lattice argument.
"""

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = [
    "CENTRING_POINTS",
    "CRYSTAL_SYSTEMS",
    "SPACE_GROUP_RANGES",
    "VOLUME_PER_ATOM",
    "crystal_system_of",
    "lattice_matrix",
    "lattice_points",
]

#: the seven crystal systems with their international space-group numbers
SPACE_GROUP_RANGES = {
    "triclinic": (1, 2),
    "monoclinic": (3, 15),
    "orthorhombic": (16, 74),
    "tetragonal": (75, 142),
    "trigonal": (143, 167),
    "hexagonal": (168, 194),
    "cubic": (195, 230),
}
#: the seven crystal systems, lowest symmetry first
CRYSTAL_SYSTEMS = tuple(SPACE_GROUP_RANGES)

#: sensible volume per atom in angstrom^3 (H-rich to heavy, open to dense)
VOLUME_PER_ATOM = (5.0, 60.0)

#: lattice points (fractions of the conventional cell) of each centring;
#: R is the obverse rhombohedral centring of the hexagonal cell
CENTRING_POINTS = {
    "P": ((0.0, 0.0, 0.0),),
    "I": ((0.0, 0.0, 0.0), (0.5, 0.5, 0.5)),
    "F": (
        (0.0, 0.0, 0.0),
        (0.0, 0.5, 0.5),
        (0.5, 0.0, 0.5),
        (0.5, 0.5, 0.0),
    ),
    "R": ((0.0, 0.0, 0.0), (2 / 3, 1 / 3, 1 / 3), (1 / 3, 2 / 3, 2 / 3)),
    "C": ((0.0, 0.0, 0.0), (0.5, 0.5, 0.0)),
    "A": ((0.0, 0.0, 0.0), (0.0, 0.5, 0.5)),
    "B": ((0.0, 0.0, 0.0), (0.5, 0.0, 0.5)),
}


def crystal_system_of(number):
    """Crystal system of an international space-group number.

    Parameters
    ----------
    number : int
        Space-group number, 1-230.

    Returns
    -------
    str
        One of :data:`CRYSTAL_SYSTEMS`.

    Raises
    ------
    CrystalNetInputError
        When the number is outside 1-230 (a :class:`ValueError`).

    Examples
    --------
    >>> crystal_system_of(225)
    'cubic'
    """
    number = int(number)
    for name, (first, last) in SPACE_GROUP_RANGES.items():
        if first <= number <= last:
            return name
    raise CrystalNetInputError(
        f"space group number {number} is outside 1-230", "spacegroup"
    )


def lattice_points(centring):
    """Fractional lattice points of a conventional cell's centring.

    Parameters
    ----------
    centring : {"P", "I", "F", "R", "C", "A", "B"}
        R is the obverse rhombohedral centring of the hexagonal cell; C, A
        and B the one-face centrings.

    Returns
    -------
    numpy.ndarray
        ``(m, 3)`` fractional coordinates.

    Examples
    --------
    >>> lattice_points("I").tolist()
    [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]]
    """
    if centring not in CENTRING_POINTS:
        raise CrystalNetInputError(
            f"unknown centring {centring!r}; use one of "
            f"{sorted(CENTRING_POINTS)}",
            "centring",
        )
    return np.array(CENTRING_POINTS[centring], dtype=float)


def lattice_matrix(lattice, where="lattice"):
    """The 3x3 matrix of cell vectors (rows) of a lattice, checked.

    Parameters
    ----------
    lattice : pymatgen.core.Lattice or array_like
        A lattice or a 3x3 matrix of cell vectors (rows), in angstrom.
    where : str, optional
        What to name in the error message.

    Returns
    -------
    numpy.ndarray
        ``(3, 3)`` float array.

    Raises
    ------
    CrystalNetInputError
        When the argument is not a 3x3 matrix of finite numbers or the cell
        has no volume.
    """
    try:
        matrix = np.asarray(getattr(lattice, "matrix", lattice), dtype=float)
    except (TypeError, ValueError):
        matrix = None
    if matrix is None or matrix.shape != (3, 3):
        raise CrystalNetInputError(
            "expected a pymatgen Lattice or a 3x3 matrix of cell vectors "
            "(rows), "
            f"not {type(lattice).__name__}",
            where,
        )
    if not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix)) < 1e-8:
        raise CrystalNetInputError("the lattice has no volume", where)
    return matrix
