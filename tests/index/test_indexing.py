"""Powder indexing: simulated cubic and trigonal patterns, refusals, cells."""

from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from test_peak_search import LAB as PEAK_LAB

from diffpy.crystalnet import CrystalNetInputError, simulate_pattern
from diffpy.crystalnet.index.indexing import IndexingError, index_pattern
from diffpy.crystalnet.index.lattice_text import (
    cell_from_parameters,
    parse_lattice,
)
from diffpy.crystalnet.index.peak_search import find_peaks
from diffpy.crystalnet.io.patterns import load_pattern
from diffpy.crystalnet.physics.cells import cmed_cell
from diffpy.crystalnet.physics.pattern import Pattern

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

LAB = dict(PEAK_LAB, seed=11)


def _structures():
    cub, hexa = Lattice.cubic, Lattice.hexagonal
    fs = Structure.from_spacegroup
    return {
        "NaCl": (
            fs("Fm-3m", cub(5.64), ["Na", "Cl"], [[0] * 3, [0.5] * 3]),
            "cubic",
            "F",
        ),
        "CsCl": (
            fs("Pm-3m", cub(4.12), ["Cs", "Cl"], [[0] * 3, [0.5] * 3]),
            "cubic",
            "P",
        ),
        "W": (fs("Im-3m", cub(3.165), ["W"], [[0] * 3]), "cubic", "I"),
        "Si": (fs("Fd-3m", cub(5.431), ["Si"], [[0] * 3]), "cubic", "F"),
        "CaF2": (
            fs("Fm-3m", cub(5.463), ["Ca", "F"], [[0] * 3, [0.25] * 3]),
            "cubic",
            "F",
        ),
        "spinel": (
            fs(
                "Fd-3m",
                cub(8.083),
                ["Mg", "Al", "O"],
                [[0] * 3, [0.625] * 3, [0.3874] * 3],
            ),
            "cubic",
            "F",
        ),
        "Zr3Sb4Pt3": (
            Structure.from_file(EXAMPLES / "Zr3Sb4Pt3.cif"),
            "cubic",
            "I",
        ),
        "Bi2Se3": (
            fs(
                "R-3m",
                hexa(4.143, 28.636),
                ["Bi", "Se", "Se"],
                [[0, 0, 0.4008], [0, 0, 0], [0, 0, 0.2117]],
            ),
            "trigonal",
            "R",
        ),
        "corundum": (
            fs(
                "R-3c",
                hexa(4.759, 12.991),
                ["Al", "O"],
                [[0, 0, 0.35216], [0.30624, 0, 0.25]],
            ),
            "trigonal",
            "R",
        ),
        "quartz": (
            fs(
                "P3_221",
                hexa(4.913, 5.405),
                ["Si", "O"],
                [[0.4697, 0, 0], [0.4135, 0.2669, 0.1191]],
            ),
            "trigonal",
            "P",
        ),
        "CdI2": (
            fs(
                "P-3m1",
                hexa(4.24, 6.84),
                ["Cd", "I"],
                [[0, 0, 0], [1 / 3, 2 / 3, 0.25]],
            ),
            "trigonal",
            "P",
        ),
    }


STRUCTURES = _structures()


def _check(solution, name):
    structure, system, centring = STRUCTURES[name]
    assert solution.system == system
    assert solution.centring == centring
    assert solution.a == pytest.approx(structure.lattice.a, rel=1e-3)
    assert solution.c == pytest.approx(structure.lattice.c, rel=1e-3)
    assert solution.m20 >= 10


@pytest.mark.parametrize(
    "name", ["NaCl", "CsCl", "W", "Si", "CaF2", "spinel", "Zr3Sb4Pt3"]
)
def test_cubic_sticks(name):
    structure = STRUCTURES[name][0]
    sticks = simulate_pattern(structure, "CuKa1", (10, 120)).to_pattern()
    _check(index_pattern(sticks)[0], name)


@pytest.mark.parametrize(
    "name, line",
    [
        ("NaCl", "CuKa"),
        ("W", "CuKa"),
        ("W", "MoKa"),
        ("spinel", "MoKa"),
        ("Zr3Sb4Pt3", "CuKa"),
        ("Bi2Se3", "CuKa"),
        ("corundum", "MoKa"),
        ("quartz", "CuKa"),
        ("CdI2", "MoKa"),
    ],
)
def test_lab_profiles(name, line):
    """Ka1+Ka2, background, Poisson noise and a 0.05 deg zero shift."""
    structure = STRUCTURES[name][0]
    pattern = simulate_pattern(structure, line, (10, 90), profile=LAB)
    best = index_pattern(pattern)[0]
    _check(best, name)
    assert best.zero_shift == pytest.approx(0.05, abs=0.01)


@pytest.mark.parametrize("name", ["Bi2Se3"])
def test_trigonal_sticks_at_mo(name):
    structure = STRUCTURES[name][0]
    sticks = simulate_pattern(structure, "MoKa1", (5, 60)).to_pattern()
    _check(index_pattern(sticks)[0], name)


@pytest.mark.parametrize("name", ["NaCl", "CsCl", "W", "Bi2Se3", "quartz"])
def test_primitive_lattice_is_the_cmed_cell(name):
    structure = STRUCTURES[name][0]
    sticks = simulate_pattern(structure, "CuKa1", (10, 120)).to_pattern()
    best = index_pattern(sticks)[0]
    expected = cmed_cell(structure).lattice.matrix
    np.testing.assert_allclose(
        best.primitive_lattice().matrix, expected, atol=1e-3
    )


def test_solution_contents():
    sticks = simulate_pattern(
        STRUCTURES["NaCl"][0], "CuKa1", (10, 120)
    ).to_pattern()
    best = index_pattern(sticks)[0]
    assert best.unindexed == 0 and len(best.indexed) == best.n_lines
    hkl, q_obs, q_calc = best.indexed[0]
    assert hkl == (1, 1, 1)
    assert q_obs == pytest.approx(q_calc, rel=1e-5)
    assert "cubic F" in best.describe() and "M" in best.describe()
    assert best.f_n > 10


def test_random_and_triclinic_patterns_are_refused(rng):
    peaks = np.sort(rng.uniform(10, 80, 20))
    random = Pattern(
        x=peaks,
        intensity=rng.uniform(10, 100, 20),
        kind="sticks",
        wavelength=1.5406,
        source="random.xy",
    )
    with pytest.raises(IndexingError, match="--lattice") as info:
        index_pattern(random)
    assert "random.xy" in str(info.value)
    assert isinstance(info.value, CrystalNetInputError)
    tric = Structure(
        Lattice.from_parameters(5.1, 6.3, 7.7, 81, 97, 103),
        ["Cu", "O", "Zn"],
        [[0, 0, 0], [0.3, 0.2, 0.7], [0.6, 0.7, 0.3]],
    )
    sticks = simulate_pattern(tric, "CuKa1", (10, 70)).to_pattern()
    with pytest.raises(IndexingError, match="M20"):
        index_pattern(sticks)


def test_needs_a_wavelength_and_valid_options():
    nowl = Pattern(x=[20.0, 30, 40, 50], intensity=[1.0] * 4, kind="sticks")
    with pytest.raises(CrystalNetInputError, match="wavelength"):
        index_pattern(nowl)
    sticks = Pattern(
        x=[20.0, 30, 40, 50],
        intensity=[1.0] * 4,
        kind="sticks",
        wavelength=1.54,
    )
    with pytest.raises(CrystalNetInputError, match="crystal system"):
        index_pattern(sticks, systems=("monoclinic",))
    with pytest.raises(CrystalNetInputError, match="PeakList"):
        index_pattern([20.0, 30.0])


def test_shipped_example_indexes_as_body_centred_cubic():
    pattern = load_pattern(EXAMPLES / "Zr3Sb4Pt3_CuKa.xye")
    best = index_pattern(pattern)[0]
    assert (best.system, best.centring) == ("cubic", "I")
    assert best.a == pytest.approx(9.33, rel=1e-3)
    peaks = find_peaks(pattern)
    assert index_pattern(peaks)[0].a == pytest.approx(best.a)


@pytest.mark.parametrize(
    "text, abc, angles",
    [
        ("a=5.4", (5.4, 5.4, 5.4), (90, 90, 90)),
        ("a=4.1,c=28.6", (4.1, 4.1, 28.6), (90, 90, 120)),
        ("a = 4.1; c = 28.6", (4.1, 4.1, 28.6), (90, 90, 120)),
        (
            "a=5 b=6 c=7 alpha=90 beta=100 gamma=90",
            (5, 6, 7),
            (90, 100, 90),
        ),
    ],
)
def test_parse_lattice(text, abc, angles):
    lattice = parse_lattice(text)
    np.testing.assert_allclose(lattice.abc, abc)
    np.testing.assert_allclose(lattice.angles, angles)


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty"),
        ("a=-5", "outside"),
        ("a=5,b=6", "cannot build"),
        ("x=5", "unknown"),
        ("a=five", "not a number"),
        ("a=5,a=6", "twice"),
        ("a=5 b=5 c=5 alpha=10 beta=10 gamma=150", "no volume"),
        ("a=5000", "outside"),
    ],
)
def test_parse_lattice_rejects_nonsense(text, match):
    with pytest.raises(CrystalNetInputError, match=match):
        parse_lattice(text)


def test_cell_from_parameters():
    lat = cell_from_parameters(4, 5, 6, 90, 95, 90)
    assert lat.volume == pytest.approx(4 * 5 * 6 * np.sin(np.radians(95)))
    with pytest.raises(CrystalNetInputError, match="alpha"):
        cell_from_parameters(4, 5, 6, 190, 95, 90)
