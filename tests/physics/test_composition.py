"""Tests for the composition prior (diffpy.crystalnet.physics.composition)."""

import numpy as np
import pytest
from pymatgen.core import Composition, Element

from diffpy.crystalnet import CrystalNetInputError, composition_vector
from diffpy.crystalnet.physics.composition import (
    N_ELEMENTS,
    parse_formula,
    vector_to_formula,
)


def z(symbol):
    return Element(symbol).Z - 1


def test_full_mode_atom_fractions():
    v = composition_vector("H2O")
    assert v.shape == (N_ELEMENTS,)
    assert v.dtype == float
    assert v.sum() == pytest.approx(1.0)
    assert v[z("H")] == pytest.approx(2 / 3)
    assert v[z("O")] == pytest.approx(1 / 3)
    assert np.count_nonzero(v) == 2


@pytest.mark.parametrize(
    "formula",
    ["Ce4O8", Composition("Ce2O4"), {"Ce": 1, "O": 2}, "Ce O2", "CeO2 "],
)
def test_same_vector_for_multiples_and_inputs(formula):
    np.testing.assert_allclose(
        composition_vector(formula), composition_vector("CeO2")
    )


def test_brackets_and_fractional_amounts():
    v = composition_vector("Ba(Fe0.9Co0.1)2As2")
    total = 1 + 1.8 + 0.2 + 2
    for symbol, amount in [("Ba", 1), ("Fe", 1.8), ("Co", 0.2), ("As", 2)]:
        assert v[z(symbol)] == pytest.approx(amount / total)
    v = composition_vector("Zr3Sb4Pt3")
    assert v[z("Sb")] == pytest.approx(0.4)


@pytest.mark.parametrize(
    "formula", ["Fe3+2O2-3", "Fe+3 2 O-2 3", {"Fe3+": 2, "O2-": 3}]
)
def test_oxidation_states_are_stripped(formula):
    np.testing.assert_allclose(
        composition_vector(formula), composition_vector("Fe2O3")
    )


def test_species_composition_becomes_elements():
    comp = Composition({"Fe2+": 1, "O2-": 1})
    parsed = parse_formula(comp)
    assert all(isinstance(sp, Element) for sp in parsed)
    assert parsed.reduced_formula == "FeO"


def test_deuterium_is_hydrogen():
    np.testing.assert_allclose(
        composition_vector("D2O"), composition_vector("H2O")
    )


@pytest.mark.parametrize(
    "bad", ["Zr3Xx4", "X", "Xx", "", "   ", "ceo2", "Uue", {"Fe": -1}, {}, 3]
)
def test_bad_formulas_raise_input_error(bad):
    with pytest.raises(CrystalNetInputError):
        composition_vector(bad)


def test_dummy_species_message_names_symbol():
    with pytest.raises(CrystalNetInputError, match="Xx"):
        parse_formula("Zr3Xx4")


def test_elements_mode_equal_weights():
    v = composition_vector("Zr3Sb4Pt3", mode="elements")
    nonzero = v[v > 0]
    np.testing.assert_allclose(nonzero, 1 / 3)
    assert v[z("Zr")] > 0 and v[z("Sb")] > 0 and v[z("Pt")] > 0


def test_drop_named_element_renormalises():
    v = composition_vector("SrTiO3", mode="drop", drop="O")
    assert v[z("O")] == 0
    assert v[z("Sr")] == pytest.approx(0.5)
    assert v[z("Ti")] == pytest.approx(0.5)
    assert v.sum() == pytest.approx(1.0)


def test_drop_random_is_seeded_and_drops_one(rng):
    seen = set()
    for seed in range(20):
        a = composition_vector("SrTiO3", mode="drop", rng=seed)
        b = composition_vector(
            "SrTiO3", mode="drop", rng=np.random.default_rng(seed)
        )
        np.testing.assert_array_equal(a, b)
        assert np.count_nonzero(a) == 2
        assert a.sum() == pytest.approx(1.0)
        seen.add(tuple(np.flatnonzero(a)))
    assert len(seen) == 3  # every element gets dropped for some seed
    v = composition_vector("NaCl", mode="drop", rng=rng)
    assert np.count_nonzero(v) == 1


def test_drop_single_element_gives_zeros():
    assert not composition_vector("Fe", mode="drop").any()


def test_drop_errors():
    with pytest.raises(CrystalNetInputError, match="not in the formula"):
        composition_vector("NaCl", mode="drop", drop="O")
    with pytest.raises(CrystalNetInputError):
        composition_vector("NaCl", mode="drop", drop="Qq")
    with pytest.raises(CrystalNetInputError, match="mode='drop'"):
        composition_vector("NaCl", drop="Na")


def test_none_mode_and_unknown_mode():
    assert not composition_vector("NaCl", mode="none").any()
    with pytest.raises(CrystalNetInputError, match="mode"):
        composition_vector("NaCl", mode="ratios")


@pytest.mark.parametrize(
    "formula", ["H2O", "CeO2", "Zr3Sb4Pt3", "Ba(Fe0.9Co0.1)2As2", "SrTiO3"]
)
def test_vector_to_formula_round_trip(formula):
    text = vector_to_formula(composition_vector(formula))
    assert "." not in text  # written with integers
    np.testing.assert_allclose(
        composition_vector(text), composition_vector(formula)
    )


def test_vector_to_formula_non_integer_and_zero():
    v = np.zeros(N_ELEMENTS)
    assert vector_to_formula(v) == ""
    v[z("Li")], v[z("O")] = 0.1234, 0.8766
    text = vector_to_formula(v)
    np.testing.assert_allclose(composition_vector(text), v, atol=1e-4)
    with pytest.raises(CrystalNetInputError):
        vector_to_formula(np.ones(10))
    with pytest.raises(CrystalNetInputError):
        vector_to_formula(-v)
