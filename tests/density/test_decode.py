"""Decoding densities into structures: the decode-only ceiling.

The ground-truth IAM densities (``cmed`` on ``cmed_cell``) of known cubic
and trigonal crystals, centrosymmetric or not, must decode into structures
that pymatgen's StructureMatcher (ltol 0.2, stol 0.3, angle_tol 5) matches
to the truth.
"""

import functools
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.density.cmed import cmed
from diffpy.crystalnet.density.decode import (
    basin_electrons,
    close_contacts,
    decode_density,
    find_symmetry,
)
from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.model.metrics import structure_match
from diffpy.crystalnet.physics.cells import cmed_cell

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _sg(symbol, lattice, species, coords, atoms):
    s = Structure.from_spacegroup(symbol, lattice, species, coords)
    # hand-typed Wyckoff coordinates can silently use another origin
    # choice: check the multiplicities
    assert len(s) == atoms, (symbol, s.composition)
    return s


def known_structures():
    """Name -> structure (conventional cells), with checked atom counts."""
    return {k: v.copy() for k, v in _known_structures().items()}


@functools.lru_cache(maxsize=1)
def _known_structures():
    cub, hexa = Lattice.cubic, Lattice.hexagonal
    half, quarter = [0.5] * 3, [0.25] * 3
    return {
        "NaCl": _sg("Fm-3m", cub(5.64), ["Na", "Cl"], [[0, 0, 0], half], 8),
        "CsCl": _sg("Pm-3m", cub(4.12), ["Cs", "Cl"], [[0, 0, 0], half], 2),
        "CaF2": _sg("Fm-3m", cub(5.46), ["Ca", "F"], [[0, 0, 0], quarter], 12),
        # non-centrosymmetric
        "ZnS": _sg("F-43m", cub(5.41), ["Zn", "S"], [[0, 0, 0], quarter], 8),
        "SrTiO3": _sg(
            "Pm-3m",
            cub(3.905),
            ["Sr", "Ti", "O"],
            [[0, 0, 0], half, [0.5, 0.5, 0]],
            5,
        ),
        # Fd-3m origin choice 1: Mg 8a (0,0,0), Al 16d (5/8), O 32e (x,x,x)
        "MgAl2O4": _sg(
            "Fd-3m",
            cub(8.08),
            ["Mg", "Al", "O"],
            [[0, 0, 0], [5 / 8] * 3, [0.387] * 3],
            56,
        ),
        # non-centrosymmetric, I-43d, 40 atoms
        "Zr3Sb4Pt3": Structure.from_file(EXAMPLES / "Zr3Sb4Pt3.cif"),
        "Bi2Se3": _sg(
            "R-3m",
            hexa(4.14, 28.64),
            ["Bi", "Se", "Se"],
            [[0, 0, 0.4008], [0, 0, 0], [0, 0, 0.2117]],
            15,
        ),
        "Al2O3": _sg(
            "R-3c",
            hexa(4.759, 12.99),
            ["Al", "O"],
            [[0, 0, 0.3523], [0.3064, 0, 0.25]],
            30,
        ),
        # chiral, P3_221
        "SiO2": _sg(
            "P3_221",
            hexa(4.913, 5.405),
            ["Si", "O"],
            [[0.4697, 0, 2 / 3], [0.4135, 0.2669, 0.1191 + 2 / 3]],
            9,
        ),
    }


SPACEGROUPS = {
    "NaCl": 225,
    "CsCl": 221,
    "CaF2": 225,
    "ZnS": 216,
    "SrTiO3": 221,
    "MgAl2O4": 227,
    "Zr3Sb4Pt3": 220,
    "Bi2Se3": 166,
    "Al2O3": 167,
    "SiO2": 154,
}


@pytest.mark.parametrize("name", sorted(SPACEGROUPS))
def test_true_density_decodes_to_the_structure(name):
    truth = known_structures()[name]
    cell = cmed_cell(truth)
    grid = cmed(truth, n=50)
    found = decode_density(
        grid, cell.lattice, truth.composition.reduced_formula
    )
    matched, rms = structure_match(found.structure, truth)
    assert matched, (name, found.formula, found.spacegroup_symbol)
    assert rms < 0.05
    assert found.spacegroup_number == SPACEGROUPS[name]
    assert found.symprec is not None
    assert found.dropped == 0
    assert not found.warnings
    # the formula units per cell follow from the atoms in the CMED cell
    assert found.formula_units * sum(
        truth.composition.reduced_composition.values()
    ) == len(cell)
    # the basin integrals hold every electron of the cell
    assert found.electrons == pytest.approx(
        sum(site.specie.Z for site in truth) * len(cell) / len(truth),
        rel=1e-3,
    )


def test_basin_electrons_close_to_atomic_numbers():
    truth = known_structures()["SrTiO3"]
    grid, cell = cmed(truth, n=40, return_structure=True)
    electrons = basin_electrons(grid, cell.lattice, cell.frac_coords)
    z = np.array([site.specie.Z for site in cell], dtype=float)
    assert electrons.sum() == pytest.approx(z.sum(), rel=1e-3)
    assert np.all(np.abs(electrons - z) < 2.0)


def test_noisy_scaled_density_with_spurious_maxima(rng):
    """Weak bumps, noise and a wrong overall scale do not fool the decoder."""
    truth = known_structures()["ZnS"]
    cell = cmed_cell(truth)
    grid = 0.8 * cmed(truth, n=50)
    # three weak spurious blobs between the atoms
    bumps = Structure(
        cell.lattice, ["H", "H", "H"], rng.uniform(0, 1, size=(3, 3))
    )
    bumps_grid = cmed(bumps, n=50, standardize=False, b_iso=10.0)
    grid = grid + bumps_grid + rng.normal(0, 0.02, grid.shape)
    found = decode_density(grid, cell.lattice, "ZnS")
    assert structure_match(found.structure, truth)[0]
    assert found.spacegroup_number == 216


def test_formula_given_as_multiple_and_missing_elements_warns():
    truth = known_structures()["CaF2"]
    grid, cell = cmed(truth, n=40, return_structure=True)
    found = decode_density(grid, cell.lattice, "Ca4F8")
    assert structure_match(found.structure, truth)[0]
    # a composition that is far off in electrons is reported
    wrong = decode_density(grid, cell.lattice, "LiF2")
    assert any("electrons" in w for w in wrong.warnings)


def test_without_composition_guesses_elements_by_electrons():
    truth = known_structures()["CsCl"]
    grid, cell = cmed(truth, n=40, return_structure=True)
    found = decode_density(grid, cell.lattice)
    assert found.formula_units is None
    assert any("rough" in w for w in found.warnings)
    zs = sorted(site.specie.Z for site in found.cell_structure)
    assert abs(zs[0] - 17) <= 2 and abs(zs[1] - 55) <= 2


def test_impossible_distances_are_reported():
    s = Structure(Lattice.cubic(6.0), ["Si", "Si"], [[0, 0, 0], [0.2, 0, 0]])
    assert close_contacts(s)  # 1.2 A < 0.7 x 2 x 1.11 A
    grid = cmed(s, n=48, standardize=False)
    found = decode_density(grid, s.lattice, "Si", min_distance=0.5)
    assert len(found.cell_structure) == 2
    assert any("impossible distance Si-Si" in w for w in found.warnings)


def test_empty_density_and_bad_inputs():
    lattice = Lattice.cubic(4.0)
    with pytest.raises(CrystalNetInputError, match="no density maximum"):
        decode_density(np.zeros((10, 10, 10)), lattice, "NaCl")
    with pytest.raises(CrystalNetInputError, match="3D"):
        decode_density(np.zeros((10, 10)), lattice, "NaCl")
    grid = cmed(known_structures()["NaCl"], n=20)
    with pytest.raises(CrystalNetInputError):
        decode_density(grid, lattice, "NaXx")


def test_find_symmetry_prefers_most_symmetric_tolerance(rng):
    truth = known_structures()["SrTiO3"]
    shaken = truth.copy()
    shaken.perturb(0.05, min_distance=0.02)
    _, symbol, number, tol = find_symmetry(shaken, (0.001, 0.2))
    assert number == 221 and tol == 0.2
    _, _, number, tol = find_symmetry(shaken, (0.001,))
    assert number < 221
