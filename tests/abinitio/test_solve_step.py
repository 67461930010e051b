"""The ``abinitio`` step of solve: when it runs, what it adds, options."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.model.metrics import structure_match
from diffpy.crystalnet.physics.simulator import simulate_pattern
from diffpy.crystalnet.solver.pipeline import solve
from diffpy.crystalnet.solver.settings import SolveSettings
from diffpy.crystalnet.solver.steps.abinitio import _metric_system


def _rutile_pattern():
    rutile = Structure.from_spacegroup(
        "P4_2/mnm",
        Lattice.tetragonal(4.594, 2.959),
        ["Ti", "O"],
        [[0, 0, 0], [0.3053, 0.3053, 0]],
    )
    conv = SpacegroupAnalyzer(rutile, 0.01).get_refined_structure()
    profile = {"w": 0.005, "noise": "poisson", "seed": 2, "step": 0.02}
    profile.update(intensity_max=5e4, background=(100.0,))
    return conv, simulate_pattern(conv, "CuKa1", (15, 120), profile=profile)


def test_solve_with_ab_initio_on_finds_rutile_without_the_library():
    conv, pattern = _rutile_pattern()
    settings = SolveSettings.from_options(
        lattice=conv.lattice,
        samples=1,
        improve=False,
        isotypes=False,
        refine=False,
        ab_initio="on",
        ab_initio_budget=6,
        space_group=136,
    )
    result = solve(pattern, "TiO2", settings)
    best = result[0]
    assert best.produced_by == "abinitio"
    assert structure_match(best.structure, conv)[0]
    assert best.rwp < 0.15 and best.spacegroup == "P4_2/mnm"
    assert result.provenance["abinitio"]["space_groups"] == [[136, "given"]]
    assert "abinitio" in result.timings


def test_space_groups_of_a_given_cell_from_the_absences():
    from diffpy.crystalnet.abinitio.absences import (
        absent_reflections,
        rank_by_absences,
    )
    from diffpy.crystalnet.refine.pawley import extract_intensities

    hkl = np.array([[1, 0, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [2, 0, 0]])
    # P4_2/mnm: h00 with h odd and 00l with l odd are absent
    assert absent_reflections(136, hkl).tolist() == [
        True,
        True,
        False,
        False,
        False,
    ]
    assert not absent_reflections(123, hkl).any()
    conv, pattern = _rutile_pattern()
    extracted = extract_intensities(
        pattern, conv.lattice, "P", cycles=1, max_nfev=30
    )
    ranked = rank_by_absences(extracted, range(75, 143))
    assert ranked[0][0] == 136
    assert abs(sum(p for _, _, p in ranked) - 1) < 1e-9


def test_auto_mode_skips_the_search_when_a_candidate_fits():
    from types import SimpleNamespace

    from diffpy.crystalnet.solver.state import SolveState
    from diffpy.crystalnet.solver.steps import abinitio

    fitted = SimpleNamespace(rwp=0.08)
    state = SolveState(source="x", composition="TiO2")
    state.candidates = [fitted]
    abinitio.run(state)  # auto: a candidate fits, nothing is searched
    assert state.candidates == [fitted] and "abinitio" not in state.provenance
    state.settings = SolveSettings.from_options(ab_initio="off")
    fitted.rwp = 0.9
    abinitio.run(state)  # off: never
    assert state.candidates == [fitted] and "abinitio" not in state.provenance
    state.settings = SolveSettings.from_options(ab_initio="on")
    state.composition = None
    abinitio.run(state)  # no composition: a note, no search
    assert any("needs the composition" in n for n in state.notes)


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("ab_initio", "maybe", "'auto', 'on' or 'off'"),
        ("ab_initio_budget", -1, "positive number of seconds"),
        ("ab_initio_budget", "soon", "positive number of seconds"),
        ("space_group", 231, "1-230"),
        ("ab_initio_groups", 0, "at least 1"),
    ],
)
def test_ab_initio_settings_are_checked(option, value, message):
    with pytest.raises(CrystalNetInputError, match=message):
        SolveSettings.from_options(**{option: value})


def test_space_groups_of_a_given_lattice_by_its_metric():
    assert _metric_system(Lattice.cubic(4)) == ("cubic",)
    assert _metric_system(Lattice.tetragonal(4, 6)) == ("tetragonal",)
    assert _metric_system(Lattice.hexagonal(3, 5)) == (
        "hexagonal",
        "trigonal",
    )
    mono = Lattice.from_parameters(5, 6, 7, 90, 105, 90)
    assert _metric_system(mono) == ("monoclinic",)
    assert _metric_system(Lattice.from_parameters(5, 6, 7, 80, 95, 100)) == (
        "triclinic",
    )


def test_cli_refuses_a_bad_space_group(tmp_path, capsys):
    from diffpy.crystalnet.cli import main

    conv, pattern = _rutile_pattern()
    path = tmp_path / "rutile.xy"
    path.write_text(
        "# wavelength = 1.54056\n"
        + "\n".join(
            f"{x:.4f} {y:.3f}" for x, y in zip(pattern.x, pattern.intensity)
        )
    )
    out = tmp_path / "out"
    code = main(
        [
            "solve",
            str(path),
            "--composition",
            "TiO2",
            "--space-group",
            "500",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "--space-group" in err and "1-230" in err
    assert "Traceback" not in err and not out.exists()
    assert np.isfinite(pattern.intensity).all()
