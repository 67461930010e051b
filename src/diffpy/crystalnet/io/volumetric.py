"""CMED grids as real-space volumetric data: CHGCAR, Gaussian cube, XSF.

A CMED grid is an ``(n, n, n)`` array of the density in e/angstrom**3 at the
fractional points ``(i/n, j/n, k/n)`` of a cell (see
:mod:`diffpy.crystalnet.density.cmed`).  The writers put it, with the atoms,
into files that VESTA, XCrySDen, Ovito or pymatgen open:

* **CHGCAR** (VASP): values are ``rho * V`` (VASP's convention), the grid
  has no periodic end points; the layout of pymatgen's ``Chgcar.write_file``
  (Fortran-style ``0.12345678901E+00`` numbers, five a line), formatted in
  numpy batches (``benchmarks/bench_volumetric.py``: many times faster).
* **Gaussian cube**: lengths in bohr, density in e/bohr**3, the grid has no
  periodic end points (voxel vectors are the cell vectors divided by n).
* **XSF** (XCrySDen ``DATAGRID_3D``): a *general* grid, which includes the
  periodic end points, so it stores ``(n+1)**3`` values (the last plane
  repeats the first); lengths in angstrom, density in e/angstrom**3.

Every writer is atomic (a temporary file in the same folder, then
``os.replace``) and refuses to overwrite an existing file unless
``force=True``.
"""

import os

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.value_text import fortran_block, lines_of

__all__ = [
    "BOHR",
    "read_chgcar",
    "read_cube",
    "read_xsf",
    "to_volumetric",
    "write_chgcar",
    "write_cube",
    "write_xsf",
]

#: one bohr in angstrom (CODATA 2018)
BOHR = 0.529177210903


def _check_grid(grid, structure):
    from pymatgen.core import Structure

    grid = np.asarray(grid, dtype=float)
    if grid.ndim != 3 or min(grid.shape) < 1:
        raise CrystalNetInputError(
            f"expected a 3D grid, got shape {grid.shape}", source="grid"
        )
    if not np.all(np.isfinite(grid)):
        raise CrystalNetInputError("the grid has NaN or inf", source="grid")
    if not isinstance(structure, Structure) or len(structure) == 0:
        raise CrystalNetInputError(
            "expected a pymatgen Structure with sites", source="structure"
        )
    return grid


def to_volumetric(grid, structure):
    """Wrap a CMED grid and its cell as a pymatgen ``Chgcar``.

    Parameters
    ----------
    grid : array_like
        ``(n1, n2, n3)`` density in e/angstrom**3 on ``structure``'s cell
        (for a grid from :func:`~diffpy.crystalnet.density.cmed`, pass the
        structure from ``cmed(..., return_structure=True)``).
    structure : pymatgen.core.Structure
        The crystal on the grid's cell.

    Returns
    -------
    pymatgen.io.vasp.Chgcar
        ``data["total"] = rho * V`` (VASP convention).
    """
    from pymatgen.io.vasp import Chgcar, Poscar

    grid = _check_grid(grid, structure)
    return Chgcar(Poscar(structure), {"total": grid * structure.volume})


def _target(path, force):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.exists(path) and not force:
        raise CrystalNetInputError(
            "exists; pass force=True to overwrite", source=path
        )
    if not os.path.isdir(folder):
        raise CrystalNetInputError("the folder does not exist", source=path)
    return path, folder


def _atomic(path, force, write):
    """Call ``write(tmp_path)`` and move the result onto ``path``."""
    from diffpy.crystalnet.io.files import atomic_output

    path, _ = _target(path, force)
    with atomic_output(path, force) as tmp:
        write(str(tmp))
    return path


def write_chgcar(path, grid, structure, force=False):
    """Write a CMED grid as a VASP CHGCAR (``rho * V``).

    Parameters
    ----------
    path : str or os.PathLike
        Output file.
    grid : array_like
        Density in e/angstrom**3 on ``structure``'s cell.
    structure : pymatgen.core.Structure
        The crystal on the grid's cell.
    force : bool, optional
        Overwrite an existing file.

    Returns
    -------
    str
        The path written.

    Notes
    -----
    The file is what pymatgen's ``Chgcar.write_file`` writes (POSCAR
    header, grid dimensions, values with the first index fastest, five a
    line in Fortran style), read back by pymatgen and VESTA.
    """
    from pymatgen.io.vasp import Poscar

    grid = _check_grid(grid, structure)
    poscar = Poscar(structure)
    head = [poscar.comment, "   1.00000000000000"]
    for vec in structure.lattice.matrix:
        head.append(f" {vec[0]:12.6f}{vec[1]:12.6f}{vec[2]:12.6f}")
    head.append("".join(f"{s:5}" for s in poscar.site_symbols))
    head.append("".join(f"{x:6}" for x in poscar.natoms))
    head.append("Direct")
    for a, b, c in structure.frac_coords:
        head.append(f"{a:10.6f}{b:10.6f}{c:10.6f}")
    head.append(" ")
    head.append("   " + "   ".join(str(n) for n in grid.shape))
    values = (grid * structure.volume).ravel(order="F")

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write("\n".join(head) + "\n")
            handle.write(fortran_block(values, 5))

    return _atomic(path, force, write)


def read_chgcar(path):
    """Read a VASP CHGCAR or CHG file.

    Parameters
    ----------
    path : str or os.PathLike
        The file (gzip allowed).

    Returns
    -------
    rho : numpy.ndarray
        Total density in e/angstrom**3 on the file's grid and cell.
    structure : pymatgen.core.Structure
        The crystal in the file.

    Raises
    ------
    CrystalNetInputError
        If the file is missing or not a readable CHGCAR.
    """
    from pymatgen.io.vasp import Chgcar

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CrystalNetInputError("no such file", source=path)
    try:
        chg = Chgcar.from_file(path)
        data = np.asarray(chg.data["total"], dtype=float)
        structure = chg.structure
    except Exception as err:
        raise CrystalNetInputError(
            f"cannot read as a VASP CHGCAR ({type(err).__name__}: {err})",
            source=path,
        ) from None
    if data.ndim != 3 or not np.all(np.isfinite(data)):
        raise CrystalNetInputError(
            "the density block is not a finite 3D grid", source=path
        )
    return data / structure.volume, structure


def _atomic_numbers(structure):
    numbers = []
    for site in structure:
        # majority element of a (possibly disordered) site
        sp = max(site.species.items(), key=lambda item: item[1])[0]
        numbers.append(int(sp.Z))
    return numbers


def write_cube(path, grid, structure, force=False, comment=""):
    """Write a CMED grid as a Gaussian cube file (bohr, e/bohr**3).

    Parameters
    ----------
    path : str or os.PathLike
        Output file.
    grid : array_like
        Density in e/angstrom**3 on ``structure``'s cell.
    structure : pymatgen.core.Structure
        The crystal on the grid's cell; the atoms are written with their
        atomic numbers (majority element for disordered sites).
    force : bool, optional
        Overwrite an existing file.
    comment : str, optional
        Text for the second title line.

    Returns
    -------
    str
        The path written.

    Notes
    -----
    Origin at 0, voxel vectors = cell vectors / n (no periodic end
    points), values in e/bohr**3, six per line and a new line after each
    innermost (c-axis) row, as Gaussian writes them.
    """
    grid = _check_grid(grid, structure)
    matrix = structure.lattice.matrix / BOHR
    lines = [
        f"CMED density (e/bohr^3) of {structure.composition.reduced_formula}"
        " by diffpy.crystalnet",
        " ".join(str(comment).split()) or "periodic grid, no end points",
        f"{len(structure):5d} {0.0:12.6f} {0.0:12.6f} {0.0:12.6f}",
    ]
    for count, vector in zip(grid.shape, matrix):
        step = vector / count
        lines.append(
            f"{count:5d} {step[0]:12.6f} {step[1]:12.6f} {step[2]:12.6f}"
        )
    for z, xyz in zip(_atomic_numbers(structure), structure.cart_coords):
        xyz = xyz / BOHR
        lines.append(
            f"{z:5d} {float(z):12.6f} {xyz[0]:12.6f} {xyz[1]:12.6f} "
            f"{xyz[2]:12.6f}"
        )
    data = (grid * BOHR**3).ravel()
    # six values a line and a new line after each innermost (c-axis) row
    row = [
        " ".join(["%13.5E"] * min(6, grid.shape[2] - start)) + "\n"
        for start in range(0, grid.shape[2], 6)
    ]
    template = "".join(row) * (grid.shape[0] * grid.shape[1])

    def write(tmp):
        with open(tmp, "w", encoding="ascii") as handle:
            handle.write("\n".join(lines) + "\n")
            handle.write(template % tuple(data.tolist()))

    return _atomic(path, force, write)


def read_cube(path, endpoints="auto"):
    """Read a Gaussian cube file of a periodic density.

    Parameters
    ----------
    path : str or os.PathLike
        The cube file.  Positive voxel counts mean bohr, negative counts
        angstrom (the Gaussian convention); values are taken as
        electrons per cubic length unit (e/bohr**3 for bohr files).
    endpoints : {"auto", True, False}, optional
        Whether the grid includes the periodic end points (last plane =
        first plane, as CRYSTAL writes; the cell is then ``(n - 1)`` voxels
        long) or not (as Gaussian, VESTA and :func:`write_cube` write; the
        cell is ``n`` voxels).  ``"auto"`` (default) takes end points when
        along every axis the last plane equals the first to 1e-4 relative.

    Returns
    -------
    rho : numpy.ndarray
        Density in e/angstrom**3, without end points, element ``[i, j, k]``
        at fractional ``(i/n, j/n, k/n)`` of the cell.
    structure : pymatgen.core.Structure
        The cell and atoms (element from the atomic number).

    Raises
    ------
    CrystalNetInputError
        If the file is missing, truncated or malformed.
    """
    from pymatgen.core import Element

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CrystalNetInputError("no such file", source=path)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read().splitlines()
        head = text[2].split()
        natoms = int(head[0])
        origin = np.array(head[1:4], dtype=float)
        counts, steps = [], []
        for line in text[3:6]:
            parts = line.split()
            counts.append(int(parts[0]))
            steps.append(np.array(parts[1:4], dtype=float))
        unit = BOHR if counts[0] > 0 else 1.0
        counts = [abs(c) for c in counts]
        body = 6 + abs(natoms)
        atoms = [line.split() for line in text[6:body]]
        numbers = [int(a[0]) for a in atoms]
        cart = np.array([a[2:5] for a in atoms], dtype=float)
        if natoms < 0:  # a line of molecular-orbital indices follows
            body += 1
        values = np.array(" ".join(text[body:]).split(), dtype=float)
        data = values.reshape(counts)
    except (IndexError, ValueError) as err:
        raise CrystalNetInputError(
            f"not a readable Gaussian cube file ({err})", source=path
        ) from None
    if not np.all(np.isfinite(data)):
        raise CrystalNetInputError("the data have NaN or inf", source=path)
    if min(counts) < 2:
        raise CrystalNetInputError(
            f"the grid {counts} has fewer than 2 points along an axis",
            source=path,
        )
    if endpoints == "auto":
        scale = max(np.abs(data).max(), 1e-300)
        endpoints = all(
            np.allclose(
                np.take(data, 0, axis=ax),
                np.take(data, -1, axis=ax),
                rtol=1e-4,
                atol=1e-4 * scale,
            )
            for ax in range(3)
        )
    steps = np.array(steps) * unit
    if endpoints:
        data = data[:-1, :-1, :-1]
        lengths = np.array(counts) - 1
    else:
        lengths = np.array(counts)
    try:
        species = [Element.from_Z(z) for z in numbers]
    except ValueError as err:
        raise CrystalNetInputError(
            f"bad atomic number ({err})", source=path
        ) from None
    structure = _crystal(
        steps * lengths[:, None], species, cart * unit - origin * unit, path
    )
    return np.ascontiguousarray(data) / unit**3, structure


def _crystal(matrix, species, cart, path):
    """The Structure of a volumetric file, refusing a cell without volume."""
    from pymatgen.core import Lattice, Structure

    matrix = np.asarray(matrix, dtype=float)
    cart = np.asarray(cart, dtype=float)
    if not species:  # a density without atoms
        cart = cart.reshape(0, 3)
    if cart.shape != (len(species), 3):
        raise CrystalNetInputError(
            "the atom positions are not x y z triples", source=path
        )
    if not (np.all(np.isfinite(matrix)) and np.all(np.isfinite(cart))):
        raise CrystalNetInputError(
            "the cell or the atom positions have NaN or inf", source=path
        )
    volume = abs(np.linalg.det(matrix))
    if volume < 1e-3:
        raise CrystalNetInputError(
            f"the cell has no volume ({volume:.3g} A^3)", source=path
        )
    return Structure(
        Lattice(matrix),
        species,
        cart,
        coords_are_cartesian=True,
        to_unit_cell=True,
    )


def write_xsf(path, grid, structure, force=False):
    """Write a CMED grid as an XCrySDen XSF file (``DATAGRID_3D``).

    Parameters
    ----------
    path : str or os.PathLike
        Output file (``.xsf``), opened by XCrySDen and VESTA.
    grid : array_like
        Density in e/angstrom**3 on ``structure``'s cell.
    structure : pymatgen.core.Structure
        The crystal on the grid's cell.
    force : bool, optional
        Overwrite an existing file.

    Returns
    -------
    str
        The path written.

    Notes
    -----
    XSF grids are *general* grids: the ``n`` points per edge of the CMED
    become ``n + 1`` points that include the periodic end (the last plane
    repeats the first), spanning the full cell vectors from origin 0.
    Values are written with the first index fastest, as XSF requires.
    """
    grid = _check_grid(grid, structure)
    full = np.pad(grid, [(0, 1)] * 3, mode="wrap")
    lines = ["CRYSTAL", "PRIMVEC"]
    for vector in structure.lattice.matrix:
        lines.append(" ".join(f"{x:14.8f}" for x in vector))
    lines += ["PRIMCOORD", f"{len(structure)} 1"]
    for z, xyz in zip(_atomic_numbers(structure), structure.cart_coords):
        lines.append(f"{z:3d} " + " ".join(f"{x:14.8f}" for x in xyz))
    lines += [
        "BEGIN_BLOCK_DATAGRID_3D",
        "CMED_electron_density_e_per_A3",
        "BEGIN_DATAGRID_3D_density",
        " ".join(str(c) for c in full.shape),
        "0.0 0.0 0.0",
    ]
    for vector in structure.lattice.matrix:
        lines.append(" ".join(f"{x:14.8f}" for x in vector))
    values = full.ravel(order="F")

    def write(tmp):
        with open(tmp, "w", encoding="ascii") as handle:
            handle.write("\n".join(lines) + "\n")
            handle.write(lines_of(values, "%.6E", 6))
            handle.write("END_DATAGRID_3D\nEND_BLOCK_DATAGRID_3D\n")

    return _atomic(path, force, write)


def read_xsf(path):
    """Read the first ``DATAGRID_3D`` and the crystal of an XSF file.

    Parameters
    ----------
    path : str or os.PathLike
        The XSF file (periodic ``CRYSTAL`` with ``PRIMVEC`` and
        ``PRIMCOORD``).

    Returns
    -------
    rho : numpy.ndarray
        The grid without its periodic end points, ``[i, j, k]`` at
        fractional ``(i/n, j/n, k/n)``.
    structure : pymatgen.core.Structure
        The crystal.

    Raises
    ------
    CrystalNetInputError
        If the file is missing or has no periodic crystal and 3D grid.
    """
    from pymatgen.core import Element

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CrystalNetInputError("no such file", source=path)
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = [
            line.strip()
            for line in handle
            if line.strip() and not line.lstrip().startswith("#")
        ]
    try:
        i = lines.index("PRIMVEC")
        matrix = np.array(
            [lines[i + k].split() for k in (1, 2, 3)], dtype=float
        ).reshape(3, 3)
        i = lines.index("PRIMCOORD")
        natoms = int(lines[i + 1].split()[0])
        atoms = [lines[i + 2 + k].split() for k in range(natoms)]
        species = [
            Element.from_Z(int(a[0])) if a[0].isdigit() else Element(a[0])
            for a in atoms
        ]
        cart = np.array([a[1:4] for a in atoms], dtype=float)
        i = next(
            k
            for k, line in enumerate(lines)
            if line.upper().startswith("BEGIN_DATAGRID_3D")
        )
        counts = [int(c) for c in lines[i + 1].split()]
        end = next(
            k
            for k in range(i, len(lines))
            if lines[k].upper().startswith("END_DATAGRID_3D")
        )
        values = np.array(" ".join(lines[i + 6 : end]).split(), dtype=float)
        data = values.reshape(counts, order="F")
    except (ValueError, IndexError, StopIteration) as err:
        raise CrystalNetInputError(
            f"no periodic crystal with a DATAGRID_3D ({err})", source=path
        ) from None
    if len(counts) != 3 or min(counts) < 2:
        raise CrystalNetInputError(
            f"the grid {counts} is not 3D with at least 2 points per axis",
            source=path,
        )
    structure = _crystal(matrix, species, cart, path)
    return np.ascontiguousarray(data[:-1, :-1, :-1]), structure


# End of file
