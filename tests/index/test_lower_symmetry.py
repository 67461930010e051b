"""Indexing of tetragonal, orthorhombic, monoclinic and triclinic
patterns."""

import json

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.cli import main
from diffpy.crystalnet.index import metric
from diffpy.crystalnet.index.indexing import (
    SYSTEMS,
    IndexingError,
    index_pattern,
)
from diffpy.crystalnet.physics.simulator import simulate_pattern

ALL = SYSTEMS

CASES = {
    "rutile": (
        "P4_2/mnm",
        Lattice.tetragonal(4.594, 2.959),
        ["Ti", "O"],
        [[0, 0, 0], [0.305, 0.305, 0]],
        "tP",
    ),
    "anatase": (
        "I4_1/amd",
        Lattice.tetragonal(3.785, 9.514),
        ["Ti", "O"],
        [[0, 0.75, 0.125], [0, 0.75, 0.3333]],
        "tI",
    ),
    "Cmcm": (
        "Cmcm",
        Lattice.orthorhombic(3.9, 10.2, 4.3),
        ["Sr", "Ni"],
        [[0, 0.1, 0.25], [0, 0.4, 0.25]],
        "oC",
    ),
    "P2_1/c": (
        "P2_1/c",
        Lattice.monoclinic(5.1, 6.3, 7.4, 104.0),
        ["Zn", "Cl"],
        [[0.21, 0.13, 0.33], [0.71, 0.42, 0.12]],
        "mP",
    ),
    "C2/m": (
        "C2/m",
        Lattice.monoclinic(9.7, 3.8, 6.1, 112.0),
        ["Ba", "S"],
        [[0.13, 0, 0.31], [0.42, 0, 0.77]],
        "mC",
    ),
    "P-1": (
        "P-1",
        Lattice.from_parameters(5.3, 6.1, 7.2, 78.0, 84.0, 98.0),
        ["Ca", "Cl", "O"],
        [[0.13, 0.27, 0.31], [0.62, 0.18, 0.77], [0.35, 0.71, 0.12]],
        "aP",
    ),
}


def _structure(name):
    group, lattice, species, coords, _ = CASES[name]
    return Structure.from_spacegroup(group, lattice, species, coords)


def _conventional(structure):
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    sga = SpacegroupAnalyzer(structure, symprec=0.01)
    return sga.get_conventional_standard_structure().lattice.parameters


def _lab(structure, seed):
    """A Cu K-alpha lab scan: doublet, background, zero shift, noise."""
    profile = dict(
        u=0.004,
        v=-0.002,
        w=0.0015,
        crystallite_size=150.0,
        zero_shift=0.03,
        background=(260, -110, 45),
        noise="poisson",
        seed=seed,
        intensity_max=2e4,
        kalpha2=True,
    )
    return simulate_pattern(structure, "CuKa", (10, 90), profile=profile)


def _same_cell(sol, truth, rtol=1e-3):
    got = sol.lattice.parameters
    return all(abs(g / t - 1) <= rtol for g, t in zip(got[:3], truth[:3]))


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_bravais_type_from_exact_positions(name):
    structure = _structure(name)
    sticks = simulate_pattern(structure, "CuKa1", (10, 90)).to_pattern()
    best = index_pattern(sticks, systems=ALL)[0]
    assert best.symbol == CASES[name][4]
    assert _same_cell(best, _conventional(structure), rtol=1e-4)
    assert best.unindexed == 0 and best.m20 > 100


def test_orthorhombic_lab_scan_with_zero_shift():
    pbso4 = Structure.from_spacegroup(
        "Pnma",
        Lattice.orthorhombic(8.48, 5.40, 6.96),
        ["Pb", "S", "O", "O", "O"],
        [
            [0.188, 0.25, 0.167],
            [0.437, 0.25, 0.684],
            [0.595, 0.25, 0.597],
            [0.319, 0.25, 0.543],
            [0.420, 0.027, 0.810],
        ],
    )
    best = index_pattern(_lab(pbso4, 1), systems=ALL)[0]
    assert best.symbol == "oP"
    assert _same_cell(best, _conventional(pbso4))
    assert best.zero_shift == pytest.approx(0.03, abs=0.02)
    assert best.m20 > 20 and best.f_n is not None


@pytest.mark.parametrize(
    "name, symbol",
    [
        ("P2_1/c", "P 1 21/c 1"),
        ("Cmcm", "C - c -"),
        ("C2/m", "C 1 2 1"),
        ("P-1", "P -"),
    ],
)
def test_extinction_symbols(name, symbol):
    from diffpy.crystalnet.index.extinction import rank_extinction_symbols

    structure = _structure(name)
    sticks = simulate_pattern(structure, "CuKa1", (10, 90)).to_pattern()
    best = index_pattern(sticks, systems=ALL)[0]
    ranked = rank_extinction_symbols(best)
    assert ranked[0].symbol == symbol
    assert ranked[0].probability > 0.5
    assert sum(e.probability for e in ranked) == pytest.approx(1.0)


def test_metric_round_trip():
    # parameters -> lattice -> reciprocal metric gives the same s values
    lattice = Lattice.monoclinic(5.1, 6.3, 7.4, 104.0)
    g = np.linalg.inv(lattice.metric_tensor)
    p = np.array([g[0, 0], g[1, 1], g[2, 2], 2 * g[0, 2]])
    back = metric.lattice_of("monoclinic", p)
    assert np.allclose(back.parameters, lattice.parameters)
    hkl = metric.hkl_table("monoclinic", 3)
    s = metric.design("monoclinic", hkl) @ p
    d = np.array([lattice.d_hkl(v) for v in hkl])
    assert np.allclose(s, 1 / d**2)
    # centring conditions
    assert metric.allowed(np.array([[1, 1, 0], [1, 0, 0]]), "C").tolist() == [
        True,
        False,
    ]


def test_line_windows_match_the_exact_search():
    # the binned windows find every line within tol, and none beyond tol
    # plus one bin
    rng = np.random.default_rng(2)
    s_obs = 0.01 + np.cumsum(rng.uniform(2.5e-3, 5e-3, 70))  # resolved
    tol = rng.uniform(2e-4, 1e-3, 70)
    calc = rng.uniform(0.0, 0.32, (50, 400))
    windows = metric._Windows(s_obs, tol)
    got = windows.mask(calc)
    dist = np.abs(calc[:, :, None] - s_obs[None, None, :])  # (m, c, n)
    inside = (dist <= tol).any(axis=1)
    near = (dist <= tol + windows.width).any(axis=1)
    assert got.shape == (50, 70) and got.any()
    assert np.all(got[inside]) and not np.any(got[~near])
    # the assigned column is the nearest calculated line (lines whose
    # windows do not overlap)
    near_col = windows.assigned(calc)
    m, j = np.nonzero(inside)
    best = np.argmin(dist[m, :, j], axis=1)
    assert np.array_equal(near_col[m, j], best)


def test_reach_and_volumes_of_an_oblique_cell():
    lattice = Lattice.from_parameters(5.1, 6.3, 7.4, 78.0, 104.0, 95.0)
    g = np.linalg.inv(lattice.metric_tensor)
    p = [g[0, 0], g[1, 1], g[2, 2], 2 * g[1, 2], 2 * g[0, 2], 2 * g[0, 1]]
    assert metric.volumes("triclinic", [p])[0] == pytest.approx(lattice.volume)
    assert np.isnan(metric.volumes("triclinic", [-np.array(p)])[0])
    # |h| <= sqrt(s_max) * a for every line up to s_max
    s_max = 0.3
    s, hkl = metric.calc_lines("triclinic", p, "P", s_max)
    reach = metric.reach("triclinic", p, s_max)[0]
    assert np.abs(hkl).max() <= reach
    d = np.array([lattice.d_hkl(v) for v in metric.hkl_table("triclinic", 6)])
    assert s.size == np.count_nonzero(1 / d**2 <= s_max)


def test_noise_is_refused_with_all_systems():
    rng = np.random.default_rng(5)
    from diffpy.crystalnet.physics.pattern import Pattern

    q = np.sort(rng.uniform(1.0, 5.0, 20))
    sticks = Pattern(
        x=q,
        intensity=rng.uniform(0.1, 1.0, 20),
        xtype="q",
        kind="sticks",
        source="random sticks",
    )
    with pytest.raises(IndexingError, match="random sticks"):
        index_pattern(sticks, systems=ALL)


def test_index_command(tmp_path, capsys):
    structure = _structure("Cmcm")
    pattern = _lab(structure, 3)
    path = tmp_path / "cmcm.xye"
    rows = "\n".join(
        f"{x:.4f} {y:.3f}" for x, y in zip(pattern.x, pattern.intensity)
    )
    path.write_text("# wavelength = 1.54184\n" + rows + "\n")
    assert main(["index", str(path), "--solutions", "3"]) == 0
    out = capsys.readouterr().out
    assert "oC" in out and "best: orthorhombic C" in out
    assert "extinction symbols of the best cell: C - c -" in out
    assert main(["index", str(path), "--json", "--solutions", "1"]) == 0
    record = json.loads(capsys.readouterr().out)["solutions"][0]
    assert record["bravais"] == "oC" and record["unindexed"] == 0
    assert record["extinction_symbols"][0]["symbol"] == "C - c -"
    assert record["cell"]["b"] == pytest.approx(10.2, rel=1e-3)
    assert main(["index", str(tmp_path / "missing.xy")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "bravais, count",
    [
        (("cubic", "P"), 15),
        (("cubic", "F"), 11),
        (("tetragonal", "I"), 19),
        (("hexagonal", "P"), 45),
        (("trigonal", "R"), 7),
        (("orthorhombic", "P"), 30),
        (("orthorhombic", "C"), 15),
        (("monoclinic", "C"), 5),
        (("triclinic", "P"), 2),
    ],
)
def test_space_groups_of_each_bravais_lattice(bravais, count):
    # as many as the International Tables list for the lattice
    from diffpy.crystalnet.index.space_groups import _candidates

    assert len({n for n, _ in _candidates(*bravais)}) == count


@pytest.mark.parametrize(
    "name, number", [("rutile", 136), ("anatase", 141), ("Cmcm", 63)]
)
def test_space_group_ranking_from_absences(name, number):
    from diffpy.crystalnet.index.space_groups import rank_space_groups

    sticks = simulate_pattern(_structure(name), "CuKa1", (10, 90))
    best = index_pattern(sticks.to_pattern(), systems=ALL)[0]
    ranked = rank_space_groups(best)
    assert ranked[0].number == number and ranked[0].probability > 0.5
    assert sum(g.probability for g in ranked) <= 1.0 + 1e-9


def test_space_group_ranking_reads_a_4n_condition():
    # diamond: 00l (hence h00 in cubic) only l = 4n, the d-glide
    from diffpy.crystalnet.index.space_groups import rank_space_groups

    si = Structure.from_spacegroup(
        "Fd-3m", Lattice.cubic(5.43), ["Si"], [[0, 0, 0]]
    )
    sticks = simulate_pattern(si, "CuKa1", (10, 120)).to_pattern()
    ranked = rank_space_groups(index_pattern(sticks)[0])
    assert [g.number for g in ranked[:2]] == [227, 203]  # both Fd..


def test_an_axis_doubled_by_one_line_is_flagged():
    from diffpy.crystalnet.index.solution import IndexingSolution

    lattice = Lattice.tetragonal(4.0, 6.0)  # c doubled from 3.0
    s, hkl = metric.lattice_lines(lattice, "P", 1.0)
    even = hkl[:, 2] % 2 == 0
    q = 2 * np.pi * np.sqrt(s)
    lines = [
        (tuple(h), float(v), float(v)) for h, v in zip(hkl[even], q[even])
    ]
    lines = lines[:12]

    def solution(indexed):
        return IndexingSolution(
            system="tetragonal",
            centring="P",
            lattice=lattice,
            zero_shift=0.0,
            m20=50.0,
            f_n=None,
            indexed=indexed,
            unindexed=0,
            n_lines=len(indexed),
        )

    assert solution(lines).doubled_axes() == {}
    odd = (0, 0, 1), 2 * np.pi / 6.0, 2 * np.pi / 6.0
    assert solution(lines + [odd]).doubled_axes() == {"c": 1}
