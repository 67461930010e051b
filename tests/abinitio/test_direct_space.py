"""Ab initio direct-space search: Wyckoff configurations, cost, solving."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from diffpy.crystalnet.abinitio.direct_space import solve_direct_space
from diffpy.crystalnet.abinitio.target import intensity_target
from diffpy.crystalnet.abinitio.trial import TrialBatch
from diffpy.crystalnet.abinitio.wyckoff import (
    configurations,
    formula_units,
    general_operations,
    wyckoff_sites,
)
from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.model.metrics import structure_match
from diffpy.crystalnet.physics.simulator import simulate_pattern
from diffpy.crystalnet.refine.pawley import extract_intensities

HALF = [[0, 0, 0], [0.5, 0.5, 0.5]]


def _rutile(x=0.3053):
    return Structure.from_spacegroup(
        "P4_2/mnm",
        Lattice.tetragonal(4.594, 2.959),
        ["Ti", "O"],
        [[0, 0, 0], [x, x, 0]],
    )


def _nacl():
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], HALF
    )


def _extracted(structure, seed=1):
    conv = SpacegroupAnalyzer(structure, 0.01).get_refined_structure()
    profile = {"w": 0.005, "noise": "poisson", "seed": seed, "step": 0.02}
    profile.update(intensity_max=5e4, background=(100.0,))
    pattern = simulate_pattern(conv, "CuKa1", (15, 120), profile=profile)
    return conv, extract_intensities(
        pattern, conv.lattice, "P", cycles=1, max_nfev=30
    )


@pytest.fixture(scope="module")
def rutile():
    return _extracted(_rutile())


def test_wyckoff_sites_of_fm3m_and_their_orbits():
    sites = wyckoff_sites(225)
    assert sites[0].multiplicity == 192 and sites[0].dof == 3
    a = next(s for s in sites if s.letter == "a")
    assert a.multiplicity == 4 and a.dof == 0
    fcc = {tuple(np.round(p, 6)) for p in a.orbit([0.3, 0.2, 0.1])}
    assert fcc == {(0, 0, 0), (0, 0.5, 0.5), (0.5, 0, 0.5), (0.5, 0.5, 0)}
    f = next(s for s in sites if s.letter == "f")  # x, x, x
    orbit = f.orbit([0.1, 0.7, 0.4])
    assert len({tuple(np.round(p, 6)) for p in orbit}) == 32
    with pytest.raises(CrystalNetInputError, match="1-230"):
        wyckoff_sites(231)


def test_configurations_fill_the_cell_with_each_special_site_once():
    found = configurations(225, {"Na": 4, "Cl": 4})
    sites = wyckoff_sites(225)
    labels = {
        tuple(sorted(f"{el}{sites[i].letter}" for el, i in c)) for c in found
    }
    assert ("Cla", "Nab") in labels and ("Clb", "Naa") in labels
    for config in found:
        fixed = [i for _, i in config if sites[i].dof == 0]
        assert len(fixed) == len(set(fixed))
        for el in ("Na", "Cl"):
            assert (
                sum(sites[i].multiplicity for e, i in config if e == el) == 4
            )
    # PbSO4 in Pnma: the true arrangement is among them
    pnma = configurations(62, {"Pb": 4, "S": 4, "O": 16})
    letters = {
        tuple(sorted(f"{e}{wyckoff_sites(62)[i].letter}" for e, i in c))
        for c in pnma
    }
    assert ("Oc", "Oc", "Od", "Pbc", "Sc") in letters
    assert configurations(225, {"Na": 3}) == []


def test_formula_units_keep_a_sensible_volume_per_atom():
    assert formula_units(179.4, {"Na": 1, "Cl": 1}, 225)[0] == 4
    assert formula_units(179.4, {"Na": 1, "Cl": 1}, 225) == [4, 8]
    assert formula_units(10.0, {"Na": 1, "Cl": 1}) == []


def test_reflection_classes_of_the_target(rutile):
    conv, extracted = rutile
    rot, _ = general_operations(136)
    target = intensity_target(extracted, rot, d_min=1.0)
    # every kept reflection is in one class; classes merge equivalents
    assert target.counts.sum() > len(target.hkl)
    assert np.all(target.counts.sum(1) >= 1)
    assert target.observed.shape == target.weight.shape
    assert np.all((target.group_s2 > 0) & (target.group_s2 <= 0.25 + 1e-9))


def test_cost_is_lowest_at_the_true_structure_and_bumps_collisions(rutile):
    from diffpy.crystalnet.abinitio.direct_space import _form_factor_table
    from diffpy.crystalnet.physics.lattice import lattice_matrix

    conv, extracted = rutile
    rot, _ = general_operations(136)
    target = intensity_target(extracted, rot)
    sites = wyckoff_sites(136)
    f_site = next(i for i, s in enumerate(sites) if s.letter == "f")
    a_site = next(i for i, s in enumerate(sites) if s.letter == "a")
    config = (("O", f_site), ("Ti", a_site))
    elements = ["O", "Ti"]
    ftable = _form_factor_table(elements, target.s2)
    batch = TrialBatch(
        136,
        [config] * 3,
        elements,
        ftable,
        target,
        lattice_matrix(extracted.lattice),
        0.5,
    )
    v = np.zeros((3, 2, 3))
    v[0, 0] = [0.3053, 0.3053, 0]  # the truth
    v[1, 0] = [0.20, 0.20, 0]  # O too close to Ti
    v[2, 0] = [0.40, 0.40, 0]  # a wrong but open arrangement
    cost, r_i, bump = batch.cost(v)
    assert r_i[0] < 0.1 and r_i[0] < r_i[2] and r_i[0] < r_i[1]
    assert bump[0] == 0 and bump[1] > 0
    structure = batch.structure(0, v[0], extracted.lattice)
    assert structure_match(structure, conv)[0]


def test_solve_direct_space_finds_rutile_and_rocksalt(rutile):
    conv, extracted = rutile
    seen = []
    result = solve_direct_space(
        extracted,
        136,
        "TiO2",
        budget=8,
        seed=0,
        on_best=lambda *args: seen.append(args),
    )
    assert structure_match(result.best.structure, conv)[0]
    assert result.best.r_intensity < 0.1 and result.best.z == 2
    assert "Ti" in result.best.wyckoff and seen
    assert result.history and result.evaluations > 0
    nacl, extracted = _extracted(_nacl())
    result = solve_direct_space(extracted, 225, "NaCl", budget=3, seed=0)
    assert structure_match(result.best.structure, nacl)[0]


def test_wrong_composition_gives_a_worse_fit(rutile):
    """The wrong-pattern control in small: the data, not the formula,
    make the answer (SnO2's fit to rutile's intensities is worse)."""
    conv, extracted = rutile
    right = solve_direct_space(extracted, 136, "TiO2", budget=4, seed=0)
    wrong = solve_direct_space(extracted, 136, "PbO2", budget=4, seed=0)
    assert wrong.best.r_intensity > 2 * right.best.r_intensity


def test_seeds_start_replicas_at_the_seed_atoms(rutile):
    conv, extracted = rutile
    seeds = [([s.specie.symbol for s in conv], conv.frac_coords)]
    result = solve_direct_space(
        extracted, 136, "TiO2", budget=2, seed=3, seeds=seeds
    )
    assert structure_match(result.best.structure, conv)[0]


def test_bad_input_is_refused_with_a_message(rutile):
    conv, extracted = rutile
    with pytest.raises(CrystalNetInputError, match="cannot fill"):
        solve_direct_space(extracted, 225, "TiO2", budget=1)
    with pytest.raises(CrystalNetInputError, match="not a chemical element"):
        solve_direct_space(extracted, 136, "Xx2", budget=1)
    with pytest.raises(CrystalNetInputError, match="too few"):
        solve_direct_space(extracted, 136, "TiO2", budget=1, d_min=5.0)


def test_stop_r_ends_the_search_early(rutile):
    conv, extracted = rutile
    result = solve_direct_space(
        extracted, 136, "TiO2", budget=30, seed=0, stop_r=0.2
    )
    assert result.seconds < 15 and result.best.r_intensity <= 0.2


def test_a_space_group_that_is_not_a_number_is_refused(rutile):
    conv, extracted = rutile
    for bad in ("P4_2/mnm", 0, 231, 136.5):
        with pytest.raises(CrystalNetInputError, match="1-230"):
            solve_direct_space(extracted, bad, "TiO2", budget=1)
