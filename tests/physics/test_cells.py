"""Tests for the standard CMED cell."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.cells import cmed_cell


def _fcc_nacl():
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3]
    )


def test_cubic_f_is_rhombohedral_60():
    cell = cmed_cell(_fcc_nacl())
    assert len(cell) == 2
    np.testing.assert_allclose(cell.lattice.abc, [5.64 / np.sqrt(2)] * 3)
    np.testing.assert_allclose(cell.lattice.angles, [60.0] * 3)
    assert cell.composition.reduced_formula == "NaCl"


def test_cubic_i_and_p():
    bcc = Structure.from_spacegroup(
        "Im-3m", Lattice.cubic(3.0), ["Fe"], [[0] * 3]
    )
    cell = cmed_cell(bcc)
    assert len(cell) == 1
    np.testing.assert_allclose(cell.lattice.angles, [109.4712206] * 3)
    cscl = Structure.from_spacegroup(
        "Pm-3m", Lattice.cubic(4.11), ["Cs", "Cl"], [[0] * 3, [0.5] * 3]
    )
    np.testing.assert_allclose(cmed_cell(cscl).lattice.abc, [4.11] * 3)


def test_trigonal_r_and_p():
    corundum = Structure.from_spacegroup(
        "R-3c",
        Lattice.hexagonal(4.759, 12.991),
        ["Al", "O"],
        [[0, 0, 0.35216], [0.30624, 0, 0.25]],
    )
    cell = cmed_cell(corundum)
    assert len(cell) == 10
    a, b, c = cell.lattice.abc
    assert a == pytest.approx(b) == pytest.approx(c)
    assert len(set(np.round(cell.lattice.angles, 6))) == 1
    # P-trigonal (Bi2Se3 is R; use a P-3m1 CdI2-type) stays hexagonal
    cdi2 = Structure.from_spacegroup(
        "P-3m1",
        Lattice.hexagonal(4.24, 6.84),
        ["Cd", "I"],
        [[0, 0, 0], [1 / 3, 2 / 3, 0.25]],
    )
    cell = cmed_cell(cdi2)
    a, b, c = cell.lattice.abc
    assert a == pytest.approx(b) and c == pytest.approx(6.84)
    assert cell.lattice.angles[2] == pytest.approx(120.0)


def _key(structure):
    frac = np.mod(np.round(structure.frac_coords, 4), 1.0)
    return sorted(
        (str(site.species), tuple(x)) for site, x in zip(structure, frac)
    )


def test_canonical_idempotent_and_setting_independent():
    """Same crystal in other settings -> the same cell, atoms and origin."""
    zns = Structure.from_spacegroup(
        "F-43m", Lattice.cubic(5.41), ["Zn", "S"], [[0, 0, 0], [0.25] * 3]
    )
    spinel = Structure.from_spacegroup(
        "Fd-3m",
        Lattice.cubic(8.08),
        ["Mg", "Al", "O"],
        [[0, 0, 0], [0.625] * 3, [0.387] * 3],
    )
    assert spinel.composition.reduced_formula == "MgAl2O4"
    for crystal in (_fcc_nacl(), zns, spinel):
        one = cmed_cell(crystal)
        other = crystal.get_primitive_structure()
        other.translate_sites(range(len(other)), [0.37, 0.11, 0.5])
        two = cmed_cell(other)
        np.testing.assert_allclose(
            one.lattice.matrix, two.lattice.matrix, atol=1e-8
        )
        assert _key(one) == _key(two)
        assert _key(cmed_cell(one)) == _key(one)
        # origin on an atom of the rarest species
        assert np.any(np.all(np.abs(one.frac_coords) < 1e-8, axis=1))


def test_keeps_oxidation_states_and_rejects_empty():
    nacl = _fcc_nacl()
    nacl.add_oxidation_state_by_element({"Na": 1, "Cl": -1})
    cell = cmed_cell(nacl)
    assert sorted(str(s.specie) for s in cell) == ["Cl-", "Na+"]
    with pytest.raises(CrystalNetInputError):
        cmed_cell("NaCl")
