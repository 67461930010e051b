"""Round trips of CMED grids through CHGCAR, Gaussian cube and XSF."""

import re

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.density.cmed import cmed, cmed_from_cube
from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.volumetric import (
    BOHR,
    read_chgcar,
    read_cube,
    read_xsf,
    to_volumetric,
    write_chgcar,
    write_cube,
    write_xsf,
)


@pytest.fixture(scope="module")
def density():
    """Non-centrosymmetric ZnS CMED on its standard cell, 20^3."""
    zns = Structure.from_spacegroup(
        "F-43m", Lattice.cubic(5.41), ["Zn", "S"], [[0, 0, 0], [0.25] * 3]
    )
    return cmed(zns, n=20, return_structure=True)


def test_to_volumetric_is_rho_times_v(density):
    grid, cell = density
    chg = to_volumetric(grid, cell)
    np.testing.assert_allclose(chg.data["total"], grid * cell.volume)
    assert chg.structure == cell


def test_chgcar_round_trip(tmp_path, density):
    grid, cell = density
    path = write_chgcar(tmp_path / "CHGCAR", grid, cell)
    back, structure = read_chgcar(path)
    assert back.shape == grid.shape
    assert np.max(np.abs(back - grid)) < 1e-5 * grid.max()
    np.testing.assert_allclose(
        structure.frac_coords, cell.frac_coords, atol=1e-6
    )


def test_chgcar_is_what_pymatgen_writes(tmp_path):
    # an oblique cell, a grid of unequal edges, values of every magnitude
    cell = Structure(
        Lattice.from_parameters(5, 6, 7, 80, 95, 100),
        ["Na", "Cl", "Cl"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.1, 0.2, 0.3]],
    )
    grid = np.random.default_rng(1).random((7, 6, 5)) ** 4 * 30
    grid[0, 0, :4] = [0.0, 1e-12, 9.9999999999999e-3, 123456.789]
    grid[1, 0, 0] = -2.5e-3
    grid[2, 0, 0] = 1e-300  # below the two-digit exponent: written as 0
    ours = write_chgcar(tmp_path / "ours", grid, cell)
    theirs = tmp_path / "theirs"
    to_volumetric(grid, cell).write_file(theirs)
    a, b = open(ours).read().splitlines(), open(theirs).read().splitlines()
    head = a.index("   7   6   5")
    assert a[1 : head + 1] == b[1 : head + 1]  # line 0 is the comment
    assert len(a) == len(b)
    fortran = re.compile(r"^-?0?\.\d{11}E[+-]\d\d$")
    for x, y in zip(a[head + 1 :], b[head + 1 :]):
        assert len(x.split()) == len(y.split())
        assert all(fortran.match(token) for token in x.split())
    from pymatgen.io.vasp import Chgcar

    np.testing.assert_allclose(
        Chgcar.from_file(ours).data["total"],
        Chgcar.from_file(theirs).data["total"],
        rtol=1e-10,
        atol=1e-20,
    )


def test_cube_round_trip_units_and_atoms(tmp_path, density):
    grid, cell = density
    path = write_cube(tmp_path / "zns.cube", grid, cell)
    text = open(path).read().splitlines()
    # header in bohr, values in e/bohr^3
    step = np.array(text[3].split()[1:], dtype=float)
    np.testing.assert_allclose(
        step, cell.lattice.matrix[0] / 20 / BOHR, atol=1e-6
    )
    assert float(text[8].split()[0]) == pytest.approx(
        grid[0, 0, 0] * BOHR**3, rel=1e-4
    )
    back, structure = read_cube(path)
    assert back.shape == grid.shape
    assert np.max(np.abs(back - grid)) < 1e-4 * grid.max()
    np.testing.assert_allclose(
        structure.lattice.matrix, cell.lattice.matrix, atol=1e-5
    )
    assert [s.specie.symbol for s in structure] == ["S", "Zn"] or [
        s.specie.symbol for s in structure
    ] == [s.specie.symbol for s in cell]
    # through the CMED reader: same cell, regridded
    again = cmed_from_cube(path, n=20)
    assert np.max(np.abs(again - grid)) < 1e-3 * grid.max()


def test_cube_with_periodic_end_points(tmp_path, density):
    """A CRYSTAL-style cube (last plane repeats the first) is detected."""
    grid, cell = density
    full = np.pad(grid, [(0, 1)] * 3, mode="wrap") * BOHR**3
    step = cell.lattice.matrix / 20 / BOHR
    lines = ["title", "comment", "    2 0.0 0.0 0.0"]
    lines += [f"   21 {v[0]} {v[1]} {v[2]}" for v in step]
    for site in cell:
        xyz = site.coords / BOHR
        z = site.specie.Z
        lines.append(f"{z} {z}.0 {xyz[0]} {xyz[1]} {xyz[2]}")
    lines += [
        " ".join(f"{v:.8e}" for v in row) for row in full.reshape(-1, 21)
    ]
    path = tmp_path / "crystal.cube"
    path.write_text("\n".join(lines) + "\n")
    back, structure = read_cube(path)
    assert back.shape == grid.shape
    assert np.max(np.abs(back - grid)) < 1e-6 * grid.max()
    assert structure.volume == pytest.approx(cell.volume, rel=1e-6)


def test_xsf_general_grid(tmp_path, density):
    grid, cell = density
    path = write_xsf(tmp_path / "zns.xsf", grid, cell)
    text = open(path).read()
    assert "BEGIN_DATAGRID_3D" in text and "\n21 21 21\n" in text
    back, structure = read_xsf(path)
    assert np.max(np.abs(back - grid)) < 1e-5 * grid.max()
    np.testing.assert_allclose(
        structure.lattice.matrix, cell.lattice.matrix, atol=1e-6
    )
    ase_xsf = pytest.importorskip("ase.io.xsf")
    with open(path) as handle:
        data, origin, span, atoms = ase_xsf.read_xsf(handle, read_data=True)
    # an independent reader: general grid with end points, same ordering
    assert data.shape == (21, 21, 21)
    assert np.max(np.abs(data[:-1, :-1, :-1] - grid)) < 1e-5 * grid.max()
    np.testing.assert_array_equal(data[-1], data[0])


def test_no_overwrite_and_atomic(tmp_path, density):
    grid, cell = density
    for writer, name in (
        (write_chgcar, "CHGCAR"),
        (write_cube, "a.cube"),
        (write_xsf, "a.xsf"),
    ):
        path = tmp_path / name
        writer(path, grid, cell)
        with pytest.raises(CrystalNetInputError, match="force"):
            writer(path, grid, cell)
        writer(path, 2 * grid, cell, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["CHGCAR", "a.cube", "a.xsf"]
    )
    with pytest.raises(CrystalNetInputError, match="folder"):
        write_cube(tmp_path / "nope" / "a.cube", grid, cell)
    with pytest.raises(CrystalNetInputError):
        write_cube(tmp_path / "b.cube", grid[0], cell)


def test_bad_files(tmp_path):
    bad = tmp_path / "bad.cube"
    bad.write_text("x\ny\n 1 0 0 0\n")
    with pytest.raises(CrystalNetInputError, match="cube"):
        read_cube(bad)
    with pytest.raises(CrystalNetInputError, match="DATAGRID"):
        read_xsf(bad)
    with pytest.raises(CrystalNetInputError, match="no such file"):
        read_cube(tmp_path / "missing.cube")
