"""Tests for structure reading, writing and diffpy conversion."""

import json
import warnings

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

from diffpy.crystalnet import CrystalNetInputError
from diffpy.crystalnet.io.structures import (
    from_diffpy,
    read_structure,
    to_diffpy,
    write_cif,
)
from diffpy.structure import Structure as DStructure


def cubic():
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3]
    )


def hexagonal():
    return Structure.from_spacegroup(
        "P6_3mc",
        Lattice.hexagonal(3.25, 5.21),
        ["Zn", "O"],
        [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]],
    )


def monoclinic():
    lat = Lattice.monoclinic(5.15, 5.21, 5.31, 99.2)
    return Structure(
        lat,
        ["Zr4+", "Zr4+", "O2-", "O2-"],
        [[0.276, 0.040, 0.208], [0.724, 0.540, 0.292]]
        + [[0.070, 0.332, 0.345], [0.449, 0.758, 0.479]],
    )


def triclinic():
    lat = Lattice.from_parameters(4.1, 5.3, 6.7, 81.0, 97.5, 112.3)
    return Structure(
        lat,
        ["Ca", "Si", "O", "O"],
        [[0.1, 0.2, 0.3], [0.6, 0.7, 0.15], [0.33, 0.9, 0.71], [0, 0.5, 0.5]],
    )


def partial():
    s = Structure(
        Lattice.hexagonal(3.2, 5.1),
        [{"Fe2+": 0.5, "Co2+": 0.5}, "O2-", {"Li": 0.25}],
        [[1 / 3, 2 / 3, 0.1], [0, 0, 0.3], [0.5, 0.5, 0.5]],
    )
    return s


STRUCTURES = {
    "cubic": cubic,
    "hexagonal": hexagonal,
    "monoclinic": monoclinic,
    "triclinic": triclinic,
    "partial": partial,
}


def assert_same(a, b):
    np.testing.assert_allclose(
        a.lattice.matrix, b.lattice.matrix, atol=1e-10, rtol=0
    )
    assert len(a) == len(b)
    for sa, sb in zip(a, b):
        np.testing.assert_allclose(sa.frac_coords, sb.frac_coords, atol=1e-12)
        assert sa.species == sb.species


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_diffpy_round_trip_is_lossless(name):
    original = STRUCTURES[name]()
    dstru = to_diffpy(original)
    assert isinstance(dstru, DStructure)
    # Cartesian positions agree (same orientation of the cell)
    n_atoms = sum(len(site.species) for site in original)
    assert len(dstru) == n_atoms
    cart = [site.coords for site in original for _ in range(len(site.species))]
    np.testing.assert_allclose(dstru.xyz_cartn, cart, atol=1e-10)
    assert_same(original, from_diffpy(dstru))


def test_partial_occupancy_and_oxidation_in_diffpy():
    dstru = to_diffpy(partial())
    assert [a.element for a in dstru] == ["Fe2+", "Co2+", "O2-", "Li"]
    np.testing.assert_allclose(dstru.occupancy, [0.5, 0.5, 1.0, 0.25])


def test_hexagonal_orientation_differs_from_abc_angles():
    # the reason for Lattice(base=...): pymatgen puts a hexagonal a along x
    s = hexagonal()
    dstru = to_diffpy(s)
    np.testing.assert_allclose(dstru.lattice.base, s.lattice.matrix)
    np.testing.assert_allclose(
        dstru.lattice.abcABG(), s.lattice.parameters, atol=1e-9
    )


def test_uiso_is_carried():
    s = cubic()
    s.add_site_property("Uiso", [0.01 * (i + 1) for i in range(len(s))])
    dstru = to_diffpy(s)
    np.testing.assert_allclose(
        [a.Uisoequiv for a in dstru], s.site_properties["Uiso"]
    )
    back = from_diffpy(dstru)
    np.testing.assert_allclose(
        back.site_properties["Uiso"], s.site_properties["Uiso"]
    )
    assert "Uiso" not in from_diffpy(to_diffpy(cubic())).site_properties


def test_from_diffpy_errors():
    from diffpy.structure import Atom
    from diffpy.structure import Lattice as DLattice

    with pytest.raises(CrystalNetInputError):
        from_diffpy(cubic())
    with pytest.raises(CrystalNetInputError, match="no atoms"):
        from_diffpy(DStructure(lattice=DLattice(4, 4, 4, 90, 90, 90)))
    d = DStructure(lattice=DLattice(4, 4, 4, 90, 90, 90))
    d.append(Atom("Na", [0, 0, 0], occupancy=0.8))
    d.append(Atom("K", [0, 0, 0], occupancy=0.8))
    with pytest.raises(CrystalNetInputError, match="sum to"):
        from_diffpy(d)
    d = DStructure(lattice=DLattice(4, 4, 4, 90, 90, 90))
    d.append(Atom("Qq", [0, 0, 0]))
    with pytest.raises(CrystalNetInputError, match="unknown element"):
        from_diffpy(d)
    with pytest.raises(CrystalNetInputError):
        to_diffpy("NaCl")


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_write_and_read_cif(tmp_path, name):
    s = STRUCTURES[name]()
    path = write_cif(s, tmp_path / f"{name}.cif")
    back = read_structure(path)
    assert back.composition.element_composition.almost_equals(
        s.composition.element_composition
    )
    np.testing.assert_allclose(
        back.lattice.parameters, s.lattice.parameters, atol=1e-5
    )


def test_write_cif_refuses_overwrite_and_symmetrises(tmp_path):
    path = tmp_path / "nacl.cif"
    write_cif(cubic(), path)
    with pytest.raises(CrystalNetInputError, match="force"):
        write_cif(cubic(), path)
    write_cif(cubic(), path, symprec=0.01, force=True)
    text = path.read_text()
    assert "Fm-3m" in text
    assert text.count("Na  Na") + text.count("Na1") >= 1
    assert len(read_structure(path)) == 8
    assert [p.name for p in tmp_path.iterdir()] == ["nacl.cif"]  # no temp
    with pytest.raises(CrystalNetInputError, match="folder"):
        write_cif(cubic(), tmp_path / "missing" / "x.cif")
    # a diffpy structure is accepted too
    write_cif(to_diffpy(hexagonal()), tmp_path / "zno.cif")
    assert len(read_structure(tmp_path / "zno.cif")) == 4


def test_read_cif_errors(tmp_path):
    with pytest.raises(CrystalNetInputError, match="no such file"):
        read_structure(tmp_path / "missing.cif")
    empty = tmp_path / "empty.cif"
    empty.write_text("")
    with pytest.raises(CrystalNetInputError, match="empty"):
        read_structure(empty)
    junk = tmp_path / "junk.cif"
    junk.write_text("this is not a cif\n")
    with pytest.raises(CrystalNetInputError, match="junk.cif"):
        read_structure(junk)
    nosites = tmp_path / "nosites.cif"
    nosites.write_text("data_x\n_cell_length_a 4.0\n")
    with pytest.raises(CrystalNetInputError, match="no crystal structure"):
        read_structure(nosites)


def test_multi_block_cif(tmp_path):
    text = (
        "data_profile\n_pd_block_id profile\n\n"
        + str(CifWriter(cubic())).replace("data_NaCl", "data_first")
        + "\n"
        + str(CifWriter(hexagonal())).replace("data_ZnO", "data_second")
    )
    path = tmp_path / "two.cif"
    path.write_text(text)
    with pytest.warns(UserWarning, match="first"):
        s = read_structure(path)
    assert s.composition.reduced_formula == "NaCl"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        s = read_structure(path, block="SECOND")
    assert s.composition.reduced_formula == "ZnO"
    with pytest.raises(CrystalNetInputError, match="no data block"):
        read_structure(path, block="third")
    with pytest.raises(CrystalNetInputError, match="no atom sites"):
        read_structure(path, block="profile")


def test_read_poscar_and_json(tmp_path):
    s = monoclinic()
    s.to(filename=str(tmp_path / "POSCAR"))
    assert read_structure(tmp_path / "POSCAR").composition.almost_equals(
        s.composition.element_composition
    )
    (tmp_path / "s.json").write_text(json.dumps(s.as_dict()))
    assert_same(read_structure(tmp_path / "s.json"), s)
    (tmp_path / "l.json").write_text(json.dumps([s.as_dict()] * 2))
    with pytest.warns(UserWarning):
        assert_same(read_structure(tmp_path / "l.json"), s)
    (tmp_path / "bad.json").write_text('{"a": 1}')
    with pytest.raises(CrystalNetInputError, match="bad.json"):
        read_structure(tmp_path / "bad.json")
    with pytest.raises(CrystalNetInputError, match="block"):
        read_structure(tmp_path / "s.json", block="x")
