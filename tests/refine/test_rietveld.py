"""Tests of the Rietveld refinement (simulated patterns, no files)."""

import math

import numpy as np
import pytest

from diffpy.crystalnet.errors import CrystalNetInputError

pytest.importorskip("pymatgen")

#: a realistic Cu K-alpha lab profile without noise
PROFILE = dict(
    u=0.01,
    v=-0.003,
    w=0.004,
    crystallite_size=150.0,
    microstrain=2e-4,
    kalpha2=True,
    zero_shift=0.02,
    background=(200.0, -60.0, 20.0),
    intensity_max=2e4,
    step=0.02,
)


def _pyrite(a=5.417, x=0.385):
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup(
        "Pa-3", Lattice.cubic(a), ["Fe", "S"], [[0, 0, 0], [x, x, x]]
    )


def _corundum(a=4.759, c=12.991, z=0.3522, x=0.3064):
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup(
        "R-3c",
        Lattice.hexagonal(a, c),
        ["Al", "O"],
        [[0, 0, z], [x, 0, 0.25]],
    )


def _pattern(structure, b_iso, two_theta=(10, 110), noise=None):
    from diffpy.crystalnet.physics.simulator import simulate_pattern

    profile = dict(PROFILE)
    if noise:
        profile.update(noise="poisson", seed=7)
    return simulate_pattern(
        structure, "CuKa", two_theta, profile=profile, b_factors=b_iso
    )


def _max_site_error(true, refined):
    """Largest distance (angstrom) from a refined atom to a true atom of
    the same element, allowing for the origin choices of the group."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    matcher = StructureMatcher(
        ltol=0.05, stol=0.1, angle_tol=2, primitive_cell=False, scale=False
    )
    rms = matcher.get_rms_dist(true, refined)
    assert rms is not None, "the refined structure does not match"
    return rms[1] * (refined.volume / len(refined)) ** (1.0 / 3.0)


def _check_recovery(true, start, pattern, b_true):
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from diffpy.crystalnet.refine.rietveld import refine_structure

    result = refine_structure(start, pattern)
    number = SpacegroupAnalyzer(true, symprec=0.01).get_space_group_number()
    assert result.spacegroup_number == number
    refined = result.structure
    # symmetry is exact: spglib finds the group at a tight tolerance
    sga = SpacegroupAnalyzer(refined, symprec=1e-4)
    assert sga.get_space_group_number() == number
    conv = SpacegroupAnalyzer(true, symprec=0.01).get_refined_structure()
    rel = np.abs(
        np.array(refined.lattice.abc) / np.array(conv.lattice.abc) - 1.0
    )
    assert rel.max() < 1e-4
    assert _max_site_error(conv, refined) < 0.02
    assert result.rwp < 0.2 * result.rwp_before
    assert result.rwp < 0.02
    for name in result.parameters["refined"]:
        assert name in result.esd
        assert np.isfinite(result.esd[name]) and result.esd[name] > 0
    for key, value in result.parameters.items():
        if key.startswith("b_iso."):
            assert value == pytest.approx(b_true, abs=0.1)
    assert result.fit.calculated.shape == pattern.intensity.shape
    assert result.gof == pytest.approx(math.sqrt(result.chi2))
    return result


@pytest.fixture(scope="module")
def pyrite_result():
    true = _pyrite()
    pattern = _pattern(true, 0.9)
    # cell 0.5 % off, S moved 0.11 angstrom along x, x, x, B off
    start = _pyrite(a=5.417 * 1.005, x=0.397)
    return true, start, pattern, _check_recovery(true, start, pattern, 0.9)


def test_recovers_cubic_pyrite(pyrite_result):
    true, start, pattern, result = pyrite_result
    # S on 8c (x, x, x): one free coordinate, Fe on 4a: none
    refined = result.parameters["refined"]
    assert "S1.x" in refined
    assert "S1.y" not in refined and "Fe1.x" not in refined
    assert result.parameters["S1.x"] == pytest.approx(0.385, abs=2e-4)
    assert result.esd["S1.y"] == result.esd["S1.x"]
    assert result.parameters["b"] == result.parameters["a"]
    assert result.warnings == []


def test_recovers_trigonal_corundum():
    true = _corundum()
    pattern = _pattern(true, 0.6, two_theta=(15, 100))
    start = _corundum(a=4.759 * 0.995, c=12.991 * 1.004, z=0.3572, x=0.3164)
    result = _check_recovery(true, start, pattern, 0.6)
    refined = result.parameters["refined"]
    assert {"a", "c", "Al1.z"} <= set(refined)
    # O on 18e (x, 0, 1/4 or an equivalent): one free coordinate
    assert len([n for n in refined if n.startswith("O1.")]) == 1
    assert "gamma" not in refined
    assert result.parameters["gamma"] == pytest.approx(120.0)


def test_noisy_pattern_esd_covers_error():
    from diffpy.crystalnet.refine.rietveld import refine_structure

    true = _pyrite()
    pattern = _pattern(true, 0.9, noise=True)
    result = refine_structure(_pyrite(a=5.42, x=0.39), pattern)
    assert result.gof == pytest.approx(1.0, abs=0.2)
    error = abs(result.parameters["S1.x"] - 0.385)
    assert error < 5 * result.esd["S1.x"] + 1e-5
    assert abs(result.parameters["a"] - 5.417) < 5 * result.esd["a"] + 1e-5


def test_start_from_fit_and_fixed_groups(pyrite_result):
    from diffpy.crystalnet.refine.profile_fit import fit_candidate
    from diffpy.crystalnet.refine.rietveld import refine_structure

    true, start, pattern, _ = pyrite_result
    fit = fit_candidate(true, pattern, max_nfev=30)
    result = refine_structure(
        true,
        pattern,
        refine=("scale", "background", "coordinates"),
        start=fit,
        coarse=False,
    )
    assert set(result.parameters["refined"]) >= {"S1.x", "scale"}
    assert "a" not in result.parameters["refined"]
    assert result.parameters["a"] == pytest.approx(5.417, rel=1e-9)
    assert result.parameters["zero_shift"] == fit.parameters["zero_shift"]
    assert result.rwp <= result.rwp_before + 1e-12


def test_polar_group_fixes_origin():
    from pymatgen.core import Lattice, Structure

    from diffpy.crystalnet.refine.symmetry import _Symmetry

    zno = Structure.from_spacegroup(
        "P6_3mc",
        Lattice.hexagonal(3.25, 5.207),
        ["Zn", "O"],
        [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]],
    )
    sym = _Symmetry(zno, 0.01, "zno")
    free = [o["directions"].shape[1] for o in sym.orbits]
    # z of one orbit is free, the other fixes the origin along c
    assert sorted(free) == [0, 1]


def test_restraints_push_atoms_apart():
    from diffpy.crystalnet.refine.rietveld import refine_structure

    # pyrite with the S-S dimer squeezed to 1.3 angstrom (0.8 x 2 x 1.05
    # = 1.68 angstrom is the limit); only the coordinate is refined
    # against a pattern of the same squeezed structure, which the soft
    # restraint resists
    squeezed = _pyrite(x=0.4307)
    pattern = _pattern(squeezed, 0.5, two_theta=(20, 80))
    free = refine_structure(
        squeezed,
        pattern,
        refine=("scale", "background", "coordinates"),
        restraints=False,
        coarse=False,
        max_nfev=20,
    )
    assert any("close contact" in w for w in free.warnings)
    held = refine_structure(
        squeezed,
        pattern,
        refine=("scale", "background", "coordinates"),
        coarse=False,
        max_nfev=20,
    )

    def shortest(result):
        n = len(result.structure)
        return (result.structure.distance_matrix + 10 * np.eye(n)).min()

    # the soft restraint moves the pair apart against the data
    assert shortest(held) > shortest(free) + 0.03
    assert held.rwp > free.rwp


def test_write_refined_cif_reads_back(pyrite_result, tmp_path):
    from pymatgen.core import Structure

    from diffpy.crystalnet.refine.cif import write_refined_cif
    from diffpy.structure import loadStructure

    result = pyrite_result[3]
    path = tmp_path / "refined.cif"
    write_refined_cif(result, path)
    text = path.read_text()
    for key in (
        "_pd_proc_ls_prof_wR_factor",
        "_pd_proc_ls_prof_R_factor",
        "_refine_ls_goodness_of_fit_all",
        "_refine_ls_number_parameters",
        "_diffrn_radiation_wavelength",
        "_pd_meas_2theta_range_min",
    ):
        assert key in text
    assert "_cell_length_a 5.4" in text and "(" in text
    back = Structure.from_file(path)
    assert len(back) == len(result.structure)
    assert back.lattice.a == pytest.approx(result.parameters["a"], abs=1e-5)
    dstru = loadStructure(str(path))
    assert len(dstru) == len(result.structure)
    b_fe = result.parameters["b_iso.Fe"]
    fe = [a for a in dstru if a.element == "Fe"][0]
    assert fe.Uisoequiv == pytest.approx(b_fe / (8 * math.pi**2), abs=1e-5)
    with pytest.raises(CrystalNetInputError, match="exists"):
        write_refined_cif(result, path)
    write_refined_cif(result, path, force=True)
    with pytest.raises(CrystalNetInputError):
        write_refined_cif("not a result", tmp_path / "x.cif")


def test_esd_formatting():
    from diffpy.crystalnet.refine.cif import _with_esd

    assert _with_esd(5.41701, 0.00012) == "5.41701(12)"
    assert _with_esd(5.41701, 0.0003) == "5.4170(3)"
    assert _with_esd(0.25, None) == "0.250000"


def test_bad_input(pyrite_result):
    from diffpy.crystalnet.physics.pattern import Pattern
    from diffpy.crystalnet.refine.rietveld import refine_structure

    true, _, pattern, _ = pyrite_result
    sticks = Pattern(
        x=[20.0, 30.0], intensity=[1.0, 2.0], kind="sticks", wavelength=1.5
    )
    with pytest.raises(CrystalNetInputError, match="sticks"):
        refine_structure(true, sticks)
    nowave = Pattern(x=pattern.x, intensity=pattern.intensity)
    with pytest.raises(CrystalNetInputError, match="wavelength"):
        refine_structure(true, nowave)
    with pytest.raises(CrystalNetInputError, match="unknown"):
        refine_structure(true, pattern, refine=("scale", "occupancy"))
    with pytest.raises(CrystalNetInputError):
        refine_structure("FeS2", pattern)
    with pytest.raises(CrystalNetInputError, match="symprec"):
        refine_structure(true, pattern, symprec=0)
    with pytest.raises(CrystalNetInputError, match="pattern"):
        refine_structure(true, [1, 2, 3])
