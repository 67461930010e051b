"""Tests for the IAM electron density (CMED) and reading real densities."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.density.cmed import (
    cmed,
    cmed_from_chgcar,
    form_factor,
    form_factor_coefficients,
    regrid,
    transfer_to_cell,
)
from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.volumetric import read_chgcar, write_chgcar
from diffpy.crystalnet.physics.cells import cmed_cell


def zincblende():
    """ZnS, F-43m: not centrosymmetric, S at 1/4 1/4 1/4."""
    return Structure.from_spacegroup(
        "F-43m", Lattice.cubic(5.41), ["Zn", "S"], [[0, 0, 0], [0.25] * 3]
    )


def quartz():
    """alpha-quartz, P3_2 21, chiral (9 atoms)."""
    s = Structure.from_spacegroup(
        "P3_221",
        Lattice.hexagonal(4.913, 5.405),
        ["Si", "O"],
        [[0.4697, 0, 2 / 3], [0.4135, 0.2669, 0.1191 + 2 / 3]],
    )
    assert len(s) == 9
    return s


def realspace_density(structure, n, b_iso):
    """Direct periodic sum of the Gaussians (the analytic transform)."""
    lat = structure.lattice.matrix
    pts = np.stack(np.meshgrid(*[np.arange(n) / n] * 3, indexing="ij"), -1)
    pts = pts.reshape(-1, 3)
    rho = np.zeros(len(pts))
    images = np.array(np.meshgrid(*[np.arange(-2, 3)] * 3)).reshape(3, -1).T
    for site in structure:
        a, b, c = form_factor_coefficients(str(site.specie))
        amps = np.append(a, c)
        widths = np.append(b, 0.0) + b_iso
        for img in images:
            d = (pts - site.frac_coords - img) @ lat
            r2 = np.einsum("ij,ij->i", d, d)
            for amp, w in zip(amps, widths):
                rho += (
                    amp
                    * (4 * np.pi / w) ** 1.5
                    * np.exp(-4 * np.pi**2 * r2 / w)
                )
    return rho.reshape(n, n, n)


def test_form_factor_is_electron_count():
    for name, z in [("H", 1), ("O", 8), ("Fe", 26), ("Bi", 83), ("O2-", 10)]:
        assert form_factor(name, 0.0) == pytest.approx(z, abs=0.02)
    assert form_factor("Fe", 2.0) < 4.0 < form_factor("Fe", 1.0)
    with pytest.warns(UserWarning, match="neutral"):
        a, _, _ = form_factor_coefficients("Fe5+")
    np.testing.assert_array_equal(a, form_factor_coefficients("Fe")[0])
    with pytest.raises(CrystalNetInputError):
        form_factor_coefficients("Xx")


@pytest.mark.parametrize("b_iso", [0.5, 5.0])
def test_electron_count(b_iso):
    for structure in (zincblende(), quartz()):
        grid, cell = cmed(structure, n=40, b_iso=b_iso, return_structure=True)
        assert grid.shape == (40, 40, 40)
        count = grid.sum() * cell.volume / grid.size
        z = sum(form_factor(str(s.specie), 0.0) for s in cell)
        assert count == pytest.approx(z, rel=1e-9)  # F(000), exactly
        assert count == pytest.approx(
            cell.composition.total_electrons, rel=2e-3
        )


def test_matches_real_space_gaussian_sum():
    """FFT sum == analytic real-space density, non-centrosymmetric ZnS."""
    cell = cmed_cell(zincblende())
    grid = cmed(cell, n=24, b_iso=5.0, standardize=False)
    ref = realspace_density(cell, 24, 5.0)
    assert np.max(np.abs(grid - ref)) < 1e-4 * ref.max()


@pytest.mark.parametrize("make", [zincblende, quartz])
def test_maxima_on_atoms_not_minus_x(make):
    grid, cell = cmed(make(), n=48, return_structure=True)
    lat = cell.lattice
    n = grid.shape[0]
    ratios = []
    for site in cell:
        # density at the atom (nearest voxel) vs at -x
        i = tuple(np.rint(site.frac_coords * n).astype(int) % n)
        j = tuple(np.rint(-site.frac_coords * n).astype(int) % n)
        mirror = -site.frac_coords
        d = lat.get_all_distances(mirror, cell.frac_coords).min()
        if d > 0.5:  # -x is not itself an atom site
            assert grid[i] > 2 * grid[j]
            ratios.append(grid[i] / grid[j])
    assert np.mean(ratios) > 5
    # the global maximum is a Zn (or Si) site
    top = np.unravel_index(np.argmax(grid), grid.shape)
    d = lat.get_all_distances(np.array(top) / n, cell.frac_coords)[0]
    assert cell[int(np.argmin(d))].specie.symbol in ("Zn", "Si")
    assert d.min() < lat.abc[0] / n


def test_standardize_false_keeps_cell_and_input_errors():
    s = zincblende()
    grid = cmed(s, n=20, standardize=False)
    count = grid.sum() * s.volume / grid.size
    assert count == pytest.approx(4 * (30 + 16), rel=2e-3)
    with pytest.raises(CrystalNetInputError):
        cmed(s, n=1)
    with pytest.raises(CrystalNetInputError):
        cmed(s, b_iso=-1)


def test_transfer_to_rotated_rebased_shifted_cell():
    """Density on an odd cell -> standard cell equals the direct CMED."""
    target = cmed_cell(quartz())
    basis = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 1]])
    shift = np.array([0.13, 0.31, 0.07])
    angle = np.radians(35)
    rot = np.array(
        [
            [np.cos(angle), -np.sin(angle), 0],
            [np.sin(angle), np.cos(angle), 0],
            [0, 0, 1],
        ]
    )
    source = Structure(
        Lattice(basis @ target.lattice.matrix @ rot.T),
        target.species,
        target.frac_coords @ np.linalg.inv(basis) - shift,
    )
    moved = transfer_to_cell(
        cmed(source, n=40, standardize=False), source, target, n=32
    )
    direct = cmed(target, n=32, standardize=False)
    assert np.max(np.abs(moved - direct)) < 1e-3 * direct.max()
    # the mirror image of a chiral crystal is not the same crystal
    mirror = Structure(
        Lattice(target.lattice.matrix * [1, 1, -1]),
        target.species,
        target.frac_coords,
    )
    with pytest.raises(CrystalNetInputError, match="cannot map"):
        transfer_to_cell(direct, mirror, target)


def test_chgcar_round_trip(tmp_path):
    """CMED -> CHGCAR -> CMED -> CHGCAR, on a density this test writes."""
    grid, cell = cmed(quartz(), n=30, return_structure=True)
    first = write_chgcar(tmp_path / "CHGCAR", grid, cell)
    back, cell_back = cmed_from_chgcar(first, n=30, return_structure=True)
    assert np.max(np.abs(back - grid)) < 1e-4 * grid.max()
    np.testing.assert_allclose(
        cell_back.lattice.matrix, cell.lattice.matrix, atol=1e-5
    )
    second = write_chgcar(tmp_path / "CHGCAR2", back, cell_back)
    again, _ = read_chgcar(second)
    assert np.max(np.abs(again - grid)) < 1e-4 * grid.max()
    # regridding to 50 keeps the electron count and the values at
    # shared points (30 -> 60: every second point)
    fine = cmed_from_chgcar(first, n=60, standardize=False)
    assert fine.mean() == pytest.approx(grid.mean(), rel=1e-6)
    assert np.max(np.abs(fine[::2, ::2, ::2] - grid)) < 1e-3 * grid.max()


def test_regrid_and_bad_files(tmp_path):
    grid = cmed(zincblende(), n=24)
    back = regrid(regrid(grid, 48), 24)  # Nyquist planes differ slightly
    assert np.max(np.abs(back - grid)) < 1e-5 * grid.max()
    with pytest.raises(CrystalNetInputError, match="no such file"):
        cmed_from_chgcar(tmp_path / "missing")
    bad = tmp_path / "CHGCAR"
    bad.write_text("not a chgcar\n")
    with pytest.raises(CrystalNetInputError, match="CHGCAR"):
        cmed_from_chgcar(bad)
