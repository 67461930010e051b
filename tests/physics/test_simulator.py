"""The numpy simulator against pymatgen's XRDCalculator, and its API."""

import numpy as np
import pytest
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet import CrystalNetInputError
from diffpy.crystalnet.physics.pattern import Pattern
from diffpy.crystalnet.physics.simulator import simulate_pattern


def _sg(group, lattice, species, coords):
    return Structure.from_spacegroup(group, lattice, species, coords)


def _structures():
    """Test structures of every crystal system, built here."""
    yield "NaCl rocksalt", _sg(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3]
    )
    yield "CsCl", _sg(
        "Pm-3m", Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5] * 3]
    )
    yield "CaF2 fluorite", _sg(
        "Fm-3m", Lattice.cubic(5.46), ["Ca", "F"], [[0, 0, 0], [0.25] * 3]
    )
    yield "SrTiO3 perovskite", _sg(
        "Pm-3m",
        Lattice.cubic(3.905),
        ["Sr", "Ti", "O"],
        [[0, 0, 0], [0.5] * 3, [0.5, 0.5, 0]],
    )
    yield "ZnO wurtzite (non-centrosymmetric)", _sg(
        "P6_3mc",
        Lattice.hexagonal(3.25, 5.21),
        ["Zn", "O"],
        [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]],
    )
    yield "Bi2Se3 R-3m", _sg(
        "R-3m",
        Lattice.hexagonal(4.14, 28.64),
        ["Bi", "Se", "Se"],
        [[0, 0, 0.4008], [0, 0, 0], [0, 0, 0.2097]],
    )
    yield "TiO2 rutile (tetragonal)", _sg(
        "P4_2/mnm",
        Lattice.tetragonal(4.594, 2.959),
        ["Ti", "O"],
        [[0, 0, 0], [0.305, 0.305, 0]],
    )
    yield "Pnma (orthorhombic)", _sg(
        "Pnma",
        Lattice.orthorhombic(10.5, 3.7, 4.4),
        ["Ge", "S"],
        [[0.121, 0.25, 0.106], [0.852, 0.25, 0.479]],
    )
    yield "P2_1/c (monoclinic)", _sg(
        "P2_1/c",
        Lattice.monoclinic(5.1, 5.2, 5.3, 99.2),
        ["Zr", "O", "O"],
        [[0.276, 0.040, 0.208], [0.070, 0.332, 0.345], [0.450, 0.757, 0.479]],
    )
    yield "P-1 (triclinic)", _sg(
        "P-1",
        Lattice.from_parameters(4.1, 5.3, 6.2, 82.0, 97.0, 105.0),
        ["Cu", "O", "H"],
        [[0.2, 0.3, 0.1], [0.7, 0.1, 0.4], [0.35, 0.85, 0.75]],
    )
    yield "FeSi P2_13 (chiral)", _sg(
        "P2_13", Lattice.cubic(4.49), ["Fe", "Si"], [[0.137] * 3, [0.842] * 3]
    )
    yield "Na0.5K0.5Cl0.9 (partial occupancy)", _sg(
        "Fm-3m",
        Lattice.cubic(6.0),
        [{"Na": 0.5, "K": 0.5}, {"Cl": 0.9}],
        [[0, 0, 0], [0.5] * 3],
    )


STRUCTURES = list(_structures())


def _families(hkls):
    return [{(f["hkl"], f["multiplicity"]) for f in peak} for peak in hkls]


def assert_agrees(ours, ref):
    """Our sticks agree with a pymatgen DiffractionPattern."""
    assert len(ours.x) == len(ref.x)
    np.testing.assert_allclose(ours.x, ref.x, rtol=0, atol=1e-3)
    np.testing.assert_allclose(ours.y, ref.y, rtol=0, atol=0.1)
    np.testing.assert_allclose(ours.d_hkls, ref.d_hkls, rtol=1e-9)
    assert _families(ours.hkls) == _families(ref.hkls)


@pytest.mark.parametrize(
    "name,structure", STRUCTURES, ids=[n for n, _ in STRUCTURES]
)
def test_agrees_with_xrdcalculator_mo_full_range(name, structure):
    ref = XRDCalculator("MoKa").get_pattern(
        structure, scaled=True, two_theta_range=(0, 180)
    )
    ours = simulate_pattern(structure, "MoKa", (0, 180))
    assert_agrees(ours, ref)


@pytest.mark.parametrize("index", [0, 4, 5, 8])
def test_agrees_with_debye_waller_and_cu_range(index):
    _, structure = STRUCTURES[index]
    elements = sorted({e.symbol for e in structure.composition})
    dw = {el: 0.3 + 0.4 * i for i, el in enumerate(elements)}
    ref = XRDCalculator("CuKa", debye_waller_factors=dw).get_pattern(
        structure, two_theta_range=(15, 100)
    )
    ours = simulate_pattern(structure, "CuKa", (15, 100), b_factors=dw)
    assert_agrees(ours, ref)
    assert ours.x.min() >= 15 and ours.x.max() <= 100


def test_unscaled_intensities_match():
    _, structure = STRUCTURES[3]
    ref = XRDCalculator(0.8).get_pattern(structure, scaled=False)
    ours = simulate_pattern(structure, 0.8, (0, 90), scaled=False)
    np.testing.assert_allclose(ours.y, ref.y, rtol=1e-9)


def test_uiso_equals_b_over_8pi2_and_per_site_b():
    _, structure = STRUCTURES[3]
    by_b = simulate_pattern(structure, b_factors=0.8)
    by_u = simulate_pattern(structure, u_iso=0.8 / (8 * np.pi**2))
    np.testing.assert_allclose(by_b.y, by_u.y, rtol=1e-12)
    per_site = simulate_pattern(structure, b_factors=[0.8] * len(structure))
    np.testing.assert_allclose(per_site.y, by_b.y, rtol=1e-12)
    cold = simulate_pattern(structure)
    # displacement damps high angles relative to low angles
    assert by_b.y[-1] / by_b.y[0] < cold.y[-1] / cold.y[0]


def test_primitive_cell_gives_the_same_pattern():
    _, structure = STRUCTURES[0]
    conv = simulate_pattern(structure, "CuKa", (10, 120))
    prim = simulate_pattern(
        structure.get_primitive_structure(), "CuKa", (10, 120)
    )
    np.testing.assert_allclose(prim.x, conv.x, atol=1e-9)
    np.testing.assert_allclose(prim.y, conv.y, atol=1e-9)


def test_conversions():
    _, structure = STRUCTURES[4]
    sticks = simulate_pattern(structure, "CuKa1", (10, 90))
    pattern = sticks.to_pattern()
    assert isinstance(pattern, Pattern)
    assert pattern.kind == "sticks" and pattern.xtype == "tth"
    assert pattern.wavelength == pytest.approx(1.54056)
    np.testing.assert_allclose(pattern.intensity, sticks.y)
    assert pattern.hkls == sticks.hkls
    assert len(pattern.hkls[0][0]["hkl"]) == 4  # hexagonal Miller-Bravais
    pmg = sticks.to_pymatgen()
    np.testing.assert_allclose(pmg.x, sticks.x)
    assert pmg.hkls == sticks.hkls


def test_profile_returns_pattern_on_the_requested_grid():
    _, structure = STRUCTURES[0]
    pattern = simulate_pattern(
        structure,
        "CuKa",
        (10, 80),
        profile={"w": 0.01, "step": 0.02, "kalpha2": True},
    )
    assert pattern.kind == "profile"
    assert pattern.x[0] == pytest.approx(10) and pattern.x[-1] == 80
    assert np.allclose(np.diff(pattern.x), 0.02)
    assert pattern.wavelength == pytest.approx(1.54056)  # Ka1 of the doublet
    assert pattern.intensity.max() == pytest.approx(100.0)
    # the strongest peak is NaCl (200) near 31.7 degrees (Cu Ka1)
    assert abs(pattern.x[np.argmax(pattern.intensity)] - 31.69) < 0.05


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"wavelength": "XxKa"}, "unknown wavelength"),
        ({"two_theta_range": (50, 20)}, "not inside"),
        ({"b_factors": {"Xe": 1.0}}, "not in the structure"),
        ({"b_factors": [1.0, 2.0, 3.0]}, "3 values for 8 sites"),
        ({"b_factors": -1.0}, ">= 0"),
        ({"profile": {"widht": 0.1}}, "unknown profile setting"),
        ({"profile": {"eta": 2}}, "outside 0-1"),
        (
            {"wavelength": 0.5, "profile": {"kalpha2": True}},
            "K-alpha wavelength",
        ),
    ],
)
def test_bad_input_raises_crystalnet_error(kwargs, match):
    _, structure = STRUCTURES[0]
    with pytest.raises(CrystalNetInputError, match=match):
        simulate_pattern(structure, **kwargs)


def test_dummy_species_is_rejected():
    structure = Structure(Lattice.cubic(4), ["X0+"], [[0, 0, 0]])
    with pytest.raises(CrystalNetInputError, match="no X-ray scattering"):
        simulate_pattern(structure)


def test_shipped_example_matches_its_structure():
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples"
    structure = Structure.from_file(examples / "Zr3Sb4Pt3.cif")
    assert len(structure) == 40
    assert structure.composition.reduced_formula == "Zr3Sb4Pt3"
    data = np.loadtxt(examples / "Zr3Sb4Pt3_CuKa.xye")
    header = (examples / "Zr3Sb4Pt3_CuKa.xye").read_text().splitlines()[0]
    assert header == "# wavelength = 1.54056"
    sticks = simulate_pattern(structure, "CuKa1", (10, 120))
    top = sticks.x[np.argmax(sticks.y)]
    assert abs(data[np.argmax(data[:, 1]), 0] - top) < 0.05
    np.testing.assert_allclose(
        data[:, 2], np.sqrt(np.maximum(data[:, 1], 1)), atol=0.01
    )


def test_friedel_half_maps_every_reflection_to_itself_or_its_mate():
    from diffpy.crystalnet.physics.scattering import _friedel_half

    r = np.arange(-3, 4)
    hkl = np.array(np.meshgrid(r, r, r, indexing="ij")).reshape(3, -1).T
    hkl = hkl[np.random.default_rng(0).permutation(len(hkl))]
    rep, back = _friedel_half(hkl)
    assert rep.size == (len(hkl) + 1) // 2  # one of each pair, and 000
    mate = hkl[rep][back]
    assert np.all(np.all(mate == hkl, axis=1) | np.all(mate == -hkl, axis=1))


def test_hkl_families_are_built_on_first_read_and_equal_the_list():
    from diffpy.crystalnet.physics.simulator import HklFamilies

    nacl = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3]
    )
    sticks = simulate_pattern(nacl, "CuKa1", (10, 90))
    assert isinstance(sticks.hkls, HklFamilies)
    assert sticks.hkls._list is None  # nothing built yet
    first = sticks.hkls[0]
    assert first == [{"hkl": (1, 1, 1), "multiplicity": 8}]
    assert sticks.hkls == list(sticks.hkls) and len(sticks.hkls) == len(sticks)
