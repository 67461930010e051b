"""Tests of the isotype library, decoration and search-match."""

import warnings

import numpy as np
import pytest

from diffpy.crystalnet.errors import CrystalNetInputError

pytest.importorskip("pymatgen")

from pymatgen.analysis.structure_matcher import StructureMatcher  # noqa: E402
from pymatgen.core import Composition, Lattice, Structure  # noqa: E402

from diffpy.crystalnet.isotypes.decorations import decorations  # noqa: E402
from diffpy.crystalnet.isotypes.library import (  # noqa: E402
    Prototype,
    expand_orbit,
    load_isotype_library,
)
from diffpy.crystalnet.isotypes.search import (  # noqa: E402
    IsotypeCandidate,
    search_isotypes,
)


def lab_pattern(structure, seed):
    """A Cu K-alpha lab profile: doublet, background, counting noise."""
    from diffpy.crystalnet.physics.simulator import simulate_pattern

    profile = {
        "u": 0.01,
        "v": -0.003,
        "w": 0.004,
        "crystallite_size": 150.0,
        "kalpha2": True,
        "zero_shift": 0.02,
        "background": (250.0, -60.0, 20.0),
        "noise": "poisson",
        "seed": seed,
        "intensity_max": 20000.0,
        "step": 0.02,
    }
    pattern = simulate_pattern(
        structure, "CuKa", (10, 110), profile=profile, b_factors=0.8
    )
    pattern.source = "simulated Cu Ka"
    return pattern


def _truths():
    cubic = Lattice.cubic
    return {
        "MgO": Structure.from_spacegroup(
            "Fm-3m", cubic(4.212), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]
        ),
        "SrTiO3": Structure.from_spacegroup(
            "Pm-3m",
            cubic(3.905),
            ["Sr", "Ti", "O"],
            [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]],
        ),
        "Cu2MnAl": Structure.from_spacegroup(
            "Fm-3m",
            cubic(5.95),
            ["Cu", "Mn", "Al"],
            [[0.25, 0.25, 0.25], [0, 0, 0], [0.5, 0.5, 0.5]],
        ),
        # pymatgen's Fd-3m is origin choice 1: Mg 8a (0,0,0), Al 16d
        "MgAl2O4": Structure.from_spacegroup(
            "Fd-3m",
            cubic(8.083),
            ["Mg", "Al", "O"],
            [[0, 0, 0], [0.625, 0.625, 0.625], [0.387, 0.387, 0.387]],
        ),
    }


TRUTHS = _truths()
EXPECTED = {
    "MgO": "AB_cF8_225_a_b",
    "SrTiO3": "AB3C_cP5_221_a_c_b",
    "Cu2MnAl": "AB2C_cF16_225_a_c_b",
    "MgAl2O4": "A2BC4_cF56_227_d_a_e",
}


@pytest.fixture(scope="module")
def library():
    return load_isotype_library()


def test_truths_are_real_crystals():
    # the test structures themselves: right multiplicities, no overlaps
    from diffpy.crystalnet.datasets.decorate import min_distance_ratio

    counts = {"MgO": 8, "SrTiO3": 5, "Cu2MnAl": 16, "MgAl2O4": 56}
    for formula, structure in TRUTHS.items():
        assert len(structure) == counts[formula]
        assert (
            structure.composition.reduced_formula
            == Composition(formula).reduced_formula
        )
        assert min_distance_ratio(structure) > 0.8


def test_library_contents(library):
    assert len(library) > 280
    labels = {p.label for p in library}
    assert len(labels) == len(library)
    names = " | ".join(f"{p.name} {p.label}" for p in library)
    for needed in (
        "Rock Salt",
        "Zincblende",
        "Fluorite",
        "Perovskite",
        "half-Heusler",
        "Spinel",
        "Corundum",
        "Garnet",
        "Y3Au3Sb4",
        "Th3P4",
    ):
        assert needed in names, needed
    for label in ("AB_cP2_221_b_a", "AB_hP4_194_c_a", "AB2_hP3_164_a_d"):
        assert label in labels
    sources = {p.source for p in library}
    assert sources == {"aflow", "generated", "csv"}
    # cached: the same objects twice
    assert load_isotype_library()[0] is library[0]


def test_library_entries_are_consistent(library):
    from diffpy.crystalnet.isotypes.library import stoichiometry_of
    from diffpy.crystalnet.physics.lattice import crystal_system_of

    for p in library:
        coords, slots = p.positions()
        assert len(coords) == p.n_atoms == sum(s.multiplicity for s in p.sites)
        counts = p.slot_counts
        assert stoichiometry_of(counts.values()) == p.stoichiometry
        assert crystal_system_of(p.spacegroup_number) == p.system
        assert set(p.slot_elements) == set(p.slots)
        assert tuple(p.slots) in p.slot_symmetries
    # round trip through the file format
    p = library[0]
    again = Prototype.from_dict(p.to_dict())
    assert again.to_dict() == p.to_dict()


def test_prototype_rebuilds_its_example(library):
    # the stored orbits give back the AFLOW structure
    from pymatgen.analysis.prototypes import AFLOW_PROTOTYPE_LIBRARY

    wanted = {"A2BC4_cF56_227_d_a_e", "A2B3_hR10_167_c_e"}
    by_label = {p.label: p for p in library}
    matcher = StructureMatcher()
    for entry in AFLOW_PROTOTYPE_LIBRARY:
        label = entry["tags"]["aflow"]
        if label in wanted:
            rebuilt = by_label[label].structure()
            assert matcher.fit(rebuilt, entry["snl"].structure)


def test_expand_orbit_multiplicity():
    # Fd-3m origin choice 2 (Hall 526): 8a, 16c, 32e, 96g
    assert len(expand_orbit((0.125, 0.125, 0.125), 526)) == 8
    assert len(expand_orbit((0.0, 0.0, 0.0), 526)) == 16
    assert len(expand_orbit((0.26, 0.26, 0.26), 526)) == 32
    assert len(expand_orbit((0.1, 0.1, 0.3), 526)) == 96


def test_decorations_counts_and_symmetry():
    # half-Heusler: 6 maps of three elements, 3 distinct structures
    structures = decorations("ABC_cF12_216_b_c_a", "TiNiSn")
    assert len(structures) == 3
    middles = set()
    for s in structures:
        assert s.composition.reduced_formula == "TiNiSn"
        assert len(s) == 12
        middles.add(s.properties["decoration"]["B"])
    assert middles == {"Ti", "Ni", "Sn"}
    matcher = StructureMatcher()
    for i in range(3):
        for j in range(i):
            assert not matcher.fit(structures[i], structures[j])
    # rock salt: both maps are the same structure
    assert len(decorations("AB_cF8_225_a_b", "NaCl")) == 1


def test_decorations_formula_forms():
    lattice = Lattice.cubic(3.9)
    for formula in ("SrTiO3", "Sr2Ti2O6", Composition("SrTiO3"), "Sr+2Ti4+O3"):
        structures = decorations("AB3C_cP5_221_a_c_b", formula, lattice)
        assert len(structures) == 2
        for s in structures:
            assert s.composition.reduced_formula == "SrTiO3"
            assert s.lattice.a == pytest.approx(3.9)
    # another stoichiometry or element count: nothing
    assert decorations("AB3C_cP5_221_a_c_b", "SrTiO2") == []
    assert decorations("AB3C_cP5_221_a_c_b", "Fe3Al") == []
    assert decorations("AB_cF8_225_a_b", "Fe0.5Ni0.5") != []
    with pytest.raises(CrystalNetInputError):
        decorations("AB_cF8_225_a_b", "Xx2O")
    with pytest.raises(CrystalNetInputError):
        decorations("no-such-prototype", "NaCl")


@pytest.fixture(scope="module")
def patterns():
    return {
        f: lab_pattern(s, seed) for seed, (f, s) in enumerate(TRUTHS.items())
    }


@pytest.mark.parametrize("formula", sorted(TRUTHS))
def test_search_finds_the_prototype(formula, patterns):
    truth = TRUTHS[formula]
    timings = {}
    # two cases with the lattice given, two indexed
    lattices = None
    if formula in ("SrTiO3", "MgAl2O4"):
        lattices = [Lattice.cubic(truth.lattice.a * 1.001)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = search_isotypes(
            patterns[formula], formula, lattices=lattices, timings=timings
        )
    assert found, formula
    best = found[0]
    assert isinstance(best, IsotypeCandidate)
    assert best.prototype == EXPECTED[formula]
    assert (
        best.structure.composition.reduced_formula
        == truth.composition.reduced_formula
    )
    matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5)
    assert matcher.fit(best.structure, truth)
    assert best.rwp < 0.15
    assert best.fit is not None and best.fit.rwp == best.rwp
    assert best.spacegroup_number == truth.get_space_group_info()[1]
    assert set(best.decoration.values()) == {
        el.symbol for el in truth.composition
    }
    rwps = [c.rwp for c in found]
    assert rwps == sorted(rwps)
    assert timings["screened"] >= 1 and timings["fitted"] >= 1
    origins = ["given"] if lattices else ["indexed", "prototype scan"]
    assert best.lattice_info["origin"] in origins


def test_search_hexagonal_lattice_text():
    nias = Structure.from_spacegroup(
        "P6_3/mmc",
        Lattice.hexagonal(3.619, 5.034),
        ["Ni", "As"],
        [[0, 0, 0], [1 / 3, 2 / 3, 0.25]],
    )
    pattern = lab_pattern(nias, 7)
    found = search_isotypes(pattern, "NiAs", lattices=["a=3.619,c=5.034"])
    assert found[0].prototype == "AB_hP4_194_c_a"
    matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5)
    assert matcher.fit(found[0].structure, nias)
    # peaks found once can be passed in
    from diffpy.crystalnet.index.peak_search import find_peaks

    again = search_isotypes(
        pattern,
        "NiAs",
        lattices=["a=3.619,c=5.034"],
        peaks=find_peaks(pattern),
    )
    assert again[0].rwp == pytest.approx(found[0].rwp)
    # the screen alone ranks it first too
    quick = search_isotypes(
        pattern, "NiAs", lattices=["a=3.619,c=5.034"], fit=False, top=2
    )
    assert quick[0].prototype == "AB_hP4_194_c_a"
    assert quick[0].rwp is None and quick[0].fit is None
    assert quick[0].screen <= quick[1].screen


def test_search_without_matching_prototype(patterns):
    # no prototype has the stoichiometry (3, 5, 7): empty, no crash
    timings = {}
    assert search_isotypes(patterns["MgO"], "Na3Mg5Cl7", timings=timings) == []
    assert timings["screened"] == 0
    # a fitting stoichiometry but a cell that cannot hold the atoms
    assert (
        search_isotypes(patterns["MgO"], "MgO", lattices=[Lattice.cubic(30.0)])
        == []
    )
    # a lattice of another family than every matching prototype
    assert (
        search_isotypes(
            patterns["SrTiO3"],
            "SrTiO3",
            lattices=[Lattice.hexagonal(3.9, 9.6)],
            systems=["cubic"],
        )
        == []
    )


def test_search_bad_input(patterns):
    pattern = patterns["MgO"]
    sticks = pattern.__class__(
        x=[30.0, 40.0], intensity=[1.0, 2.0], kind="sticks", wavelength=1.54
    )
    bad = [
        dict(pattern=np.zeros(10), composition="MgO"),
        dict(pattern=sticks, composition="MgO"),
        dict(pattern=pattern, composition="Xx2O"),
        dict(pattern=pattern, composition=""),
        dict(pattern=pattern, composition="MgO", top=0),
        dict(pattern=pattern, composition="MgO", top=2.5),
        dict(pattern=pattern, composition="MgO", systems=["cubicc"]),
        dict(pattern=pattern, composition="MgO", lattices=[42]),
        dict(pattern=pattern, composition="MgO", lattices=["a=b"]),
    ]
    for kwargs in bad:
        with pytest.raises(CrystalNetInputError):
            search_isotypes(**kwargs)
    nowl = pattern.__class__(x=pattern.x, intensity=pattern.intensity)
    with pytest.raises(CrystalNetInputError):
        search_isotypes(nowl, "MgO")


def test_merged_decorations():
    # binary Mn2O3 on bixbyite (Mn on both cation slots), only when merging
    bixbyite = "AB3C6_cI80_206_a_d_e"
    merged = decorations(bixbyite, "Mn2O3")
    assert len(merged) == 1
    assert merged[0].composition.reduced_formula == "Mn2O3"
    assert len(merged[0]) == 80
    assert decorations(bixbyite, "Mn2O3", merge=False) == []
    # Fe3Al on the Heusler type is the D0_3 structure
    d03 = decorations("AB3_cF16_225_a_bc", "Fe3Al", merge=False)
    heusler = decorations("AB2C_cF16_225_a_c_b", "Fe3Al")
    assert len(d03) == 1
    assert any(StructureMatcher().fit(d03[0], s) for s in heusler)


def test_search_prefers_the_plain_prototype():
    # Fe3Al: D0_3 also comes out of the Heusler type with Fe on two
    # slots; the search names the D0_3 prototype and finds it once
    fe3al = Structure.from_spacegroup(
        "Fm-3m",
        Lattice.cubic(5.79),
        ["Al", "Fe", "Fe"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]],
    )
    pattern = lab_pattern(fe3al, 11)
    found = search_isotypes(pattern, "Fe3Al", lattices=[fe3al.lattice])
    best = found[0]
    assert best.prototype == "AB3_cF16_225_a_bc"
    assert not best.merged
    assert "AB2C_cF16_225_a_c_b" in best.also
    matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5)
    assert sum(matcher.fit(c.structure, fe3al) for c in found) == 1


def test_cubic_scan_when_indexing_fails(monkeypatch, patterns):
    # without a usable indexing result the cubic prototypes still find
    # their own cell from the peaks
    import diffpy.crystalnet.index.indexing as indexing

    def no_cell(*args, **kwargs):
        raise indexing.IndexingError("no cell (test)")

    monkeypatch.setattr(indexing, "index_pattern", no_cell)
    found = search_isotypes(patterns["MgO"], "MgO")
    best = found[0]
    assert best.prototype == EXPECTED["MgO"]
    assert best.lattice_info["origin"] == "prototype scan"
    assert best.structure.lattice.a == pytest.approx(4.212, rel=2e-3)
    assert StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5).fit(
        best.structure, TRUTHS["MgO"]
    )
    assert (
        search_isotypes(
            patterns["MgO"], "MgO", cubic_scan=False, axial_scan=False
        )
        == []
    )


def test_axial_scan_finds_wurtzite_without_indexing(monkeypatch):
    # a hexagonal type with no indexed cell: the prototype's own cell,
    # scaled onto the strongest peaks (c/a refined by the screen), is
    # enough; with the scan off no candidate is wurtzite
    import diffpy.crystalnet.index.indexing as indexing

    def no_cell(*args, **kwargs):
        raise indexing.IndexingError("no cell (test)")

    monkeypatch.setattr(indexing, "index_pattern", no_cell)
    cds = Structure.from_spacegroup(
        "P6_3mc",
        Lattice.hexagonal(4.136, 6.713),
        ["Cd", "S"],
        [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.377]],
    )
    pattern = lab_pattern(cds, 5)
    matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5)
    found = search_isotypes(pattern, "CdS", top=3)
    best = found[0]
    assert best.prototype == "AB_hP4_186_b_b"
    assert best.lattice_info["origin"] == "prototype scan"
    assert matcher.fit(best.structure, cds)
    a, _, c = best.structure.lattice.abc
    assert a == pytest.approx(4.136, rel=0.01)
    assert c == pytest.approx(6.713, rel=0.01)
    assert best.rwp < 0.2
    off = search_isotypes(pattern, "CdS", top=3, axial_scan=False)
    assert not any(matcher.fit(x.structure, cds) for x in off)


def test_tetragonal_type_on_given_indexing_solutions():
    # BaFe2As2 (ThCr2Si2 type): the scans alone do not find it on a cell
    # this far from the prototype's axial ratio; the indexing does
    from diffpy.crystalnet.index.indexing import index_pattern

    bfa = Structure.from_spacegroup(
        "I4/mmm",
        Lattice.tetragonal(3.963, 13.017),
        ["Ba", "Fe", "As"],
        [[0, 0, 0], [0, 0.5, 0.25], [0, 0, 0.3545]],
    )
    pattern = lab_pattern(bfa, 7)
    solutions = index_pattern(pattern, systems=("cubic", "tetragonal"))
    assert solutions[0].system == "tetragonal"
    found = search_isotypes(
        pattern,
        "BaFe2As2",
        top=2,
        solutions=solutions,
        cubic_scan=False,
        axial_scan=False,
    )
    matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5)
    assert found and matcher.fit(found[0].structure, bfa)
    assert found[0].lattice_info["origin"] == "indexed"
    assert found[0].rwp < 0.15
