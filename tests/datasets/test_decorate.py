"""Tests for prototype decoration (diffpy.crystalnet.datasets.decorate)."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet import CrystalNetInputError
from diffpy.crystalnet.datasets.decorate import (
    ELEMENT_CLASSES,
    Decorator,
    decorate_records,
    min_distance_ratio,
    passes_filters,
    predict_volume,
)
from diffpy.crystalnet.datasets.records import SourceStats, StructureRecord

FCC = [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]


def rocksalt():
    shifted = [[x + 0.5, y, z] for x, y, z in FCC]
    return Structure(
        Lattice.cubic(5.64), ["Na"] * 4 + ["Cl"] * 4, FCC + shifted
    )


def perovskite():
    return Structure(
        Lattice.cubic(3.905),
        ["Sr", "Ti", "O", "O", "O"],
        [[0, 0, 0], [0.5] * 3, [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )


def cu3au():
    return Structure(
        Lattice.cubic(3.75),
        ["Au", "Cu", "Cu", "Cu"],
        [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )


def parents():
    return [
        StructureRecord(rocksalt(), "test", "rocksalt"),
        StructureRecord(perovskite(), "test", "perovskite"),
        StructureRecord(cu3au(), "test", "cu3au"),
    ]


def _class_of(symbol):
    for name, members in ELEMENT_CLASSES.items():
        if symbol in members.split():
            return name


def test_modes():
    assert Decorator(rocksalt()).mode == "ionic"
    assert Decorator(perovskite()).oxidation_states == {
        "Sr": 2,
        "Ti": 4,
        "O": -2,
    }
    assert Decorator(cu3au()).mode == "intermetallic"


def test_decorations_are_valid_and_keep_geometry():
    stats = SourceStats()
    records = list(
        decorate_records(parents(), n_per_parent=6, seed=4, stats=stats)
    )
    assert len(records) >= 6
    assert stats.yielded == len(records)
    by_parent = {}
    for r in records:
        s = r.structure
        assert r.source == "decorate"
        assert r.parent in {"test:rocksalt", "test:perovskite", "test:cu3au"}
        assert r.id.startswith(r.parent + ">")
        assert isinstance(r.seed, int)
        assert passes_filters(s) is None
        assert min_distance_ratio(s) >= 0.75
        by_parent.setdefault(r.parent, []).append(s)
    assert set(by_parent) == {"test:rocksalt", "test:perovskite", "test:cu3au"}
    for s in by_parent["test:perovskite"]:
        # same geometry: 5 atoms, fractional coordinates unchanged
        assert len(s) == 5
        np.testing.assert_allclose(s.frac_coords, perovskite().frac_coords)
        assert s.composition.reduced_formula != "SrTiO3"
        # charge balanced with some integer oxidation states
        assert s.composition.oxi_state_guesses()
    for s in by_parent["test:cu3au"]:
        old = [sp.symbol for sp in cu3au().species]
        new = [sp.symbol for sp in s.species]
        assert [_class_of(a) for a in old] == [_class_of(b) for b in new]
        assert len(set(new)) == 2


def test_determinism_and_reproduction_from_record_seed():
    a = list(decorate_records(parents(), n_per_parent=4, seed=11))
    b = list(decorate_records(parents(), n_per_parent=4, seed=11))
    assert [r.id for r in a] == [r.id for r in b]
    for ra, rb in zip(a, b):
        np.testing.assert_array_equal(
            ra.structure.lattice.matrix, rb.structure.lattice.matrix
        )
    c = list(decorate_records(parents(), n_per_parent=4, seed=12))
    assert [r.id for r in a] != [r.id for r in c]
    # one record rebuilt alone from its stored seed
    r = a[-1]
    parent = {p.key: p for p in parents()}[r.parent].structure
    again = Decorator(parent).draw(np.random.default_rng(r.seed))
    assert again.composition == r.structure.composition
    np.testing.assert_allclose(
        again.lattice.matrix, r.structure.lattice.matrix
    )


def test_volume_prediction_is_sensible():
    # KCl from the NaCl parent: real KCl is 62.3 A^3 per formula unit
    kcl = rocksalt()
    kcl.replace_species({"Na": "K"})
    ionic = Decorator(rocksalt())
    assert ionic.volume == "rls"
    ox = kcl.copy()
    ox.add_oxidation_state_by_element({"K": 1, "Cl": -1})
    per_fu = predict_volume(ox, ionic.parent, "rls") / 4
    assert 0.85 < per_fu / 62.3 < 1.15
    # Ni3Al from the Cu3Au parent: real Ni3Al is 45.5 A^3 per cell
    ni3al = cu3au()
    ni3al.replace_species({"Au": "Al", "Cu": "Ni"})
    assert Decorator(cu3au()).volume == "dls"
    assert 0.85 < predict_volume(ni3al, cu3au(), "dls") / 45.5 < 1.15
    assert predict_volume(kcl, rocksalt(), "none") == rocksalt().volume
    with pytest.raises(CrystalNetInputError):
        predict_volume(kcl, rocksalt(), "magic")


def test_filters():
    squeezed = rocksalt()
    squeezed.scale_lattice(squeezed.volume * 0.2)
    assert "too close" in passes_filters(squeezed)
    charged = rocksalt()
    charged.add_oxidation_state_by_element({"Na": 2, "Cl": -1})
    assert passes_filters(charged) == "not charge balanced"
    assert passes_filters(rocksalt()) is None


def test_bad_parents_are_skipped_not_raised():
    big = rocksalt()
    big.make_supercell([3, 3, 3])  # primitive cell still 2 atoms
    disordered = rocksalt()
    disordered.replace(0, {"Na": 0.5, "K": 0.5})
    stats = SourceStats()
    records = list(
        decorate_records(
            [
                StructureRecord(disordered, "t", "dis"),
                StructureRecord(big, "t", "big"),
            ],
            n_per_parent=2,
            stats=stats,
        )
    )
    assert all(r.parent == "t:big" for r in records)
    assert sum(v for k, v in stats.skipped.items() if "parent" in k) == 1
    with pytest.raises(CrystalNetInputError, match="primitive"):
        Decorator(perovskite(), max_atoms=4)
