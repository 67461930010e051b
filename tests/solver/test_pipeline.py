"""The solve pipeline, its outputs and the ``solve`` command.

No trained model is shipped yet, so the end-to-end test of the command
uses a tiny untrained network that the test builds and saves: an honest
plumbing test (every step runs and every output is written), not a test
of what a trained model finds.  What the pipeline can find is tested with
the "oracle" path: the true density of the example passed as
``densities=``, which must give back Zr3Sb4Pt3 (I-43d) with a low Rwp.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.cli import main
from diffpy.crystalnet.density.cmed import cmed
from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.model.checkpoint import save_checkpoint
from diffpy.crystalnet.model.metrics import structure_match
from diffpy.crystalnet.solver.lattices import primitive_cmed_lattice
from diffpy.crystalnet.solver.pipeline import STEPS, solve
from diffpy.crystalnet.solver.settings import SolveSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PATTERN = EXAMPLES / "Zr3Sb4Pt3_CuKa.xye"


def solve_with(pattern, composition=None, densities=None, **options):
    """solve() with settings from flat option names (the ab initio step
    off unless asked: it is tested in tests/abinitio)."""
    options.setdefault("ab_initio", "off")
    settings = SolveSettings.from_options(**options)
    return solve(pattern, composition, settings, densities=densities)


@pytest.fixture(scope="module")
def truth():
    return Structure.from_file(EXAMPLES / "Zr3Sb4Pt3.cif")


def test_oracle_density_solves_the_example(truth):
    """Decode-only ceiling: the true density gives the true structure."""
    swapped = truth.copy()
    swapped.replace_species({"Pt": "Zr", "Zr": "Pt"})
    grids = [cmed(swapped, n=50), cmed(truth, n=50)]
    with pytest.warns(UserWarning, match="does not fit|not decoded") as rec:
        result = solve_with(
            PATTERN,
            "Zr3Sb4Pt3",
            lattice=Lattice.cubic(9.33),
            densities=grids + [np.zeros((50, 50, 50))],
            improve=False,
            isotypes=False,
            refine=False,
        )
    assert any("given density 3: not decoded" in str(w.message) for w in rec)
    assert len(result) == 2
    assert result.best.produced_by == "given density"
    assert result.best.steps == ["given density", "decode", "quick fit", "fit"]
    assert [s for s, _ in result.best.rwp_history] == ["quick fit", "fit"]
    best = result.best
    assert best.source == "given density 2"  # the right one ranks first
    assert structure_match(best.structure, truth)[0]
    assert best.spacegroup_number == 220
    assert best.rwp < 0.08 and best.rwp < 0.5 * result[1].rwp
    assert best.fit.chi2 < 2.0
    prov = result.provenance
    assert prov["lattice"]["origin"] == "given"
    assert prov["lattice"]["centring"] == "I"
    assert prov["wavelength"] == pytest.approx(1.54056)
    assert "header" in prov["wavelength_origin"]
    assert set(result.timings) >= {
        "load",
        "improve",
        "decode",
        "fit",
        "isotypes",
        "refine",
        "total",
    }
    # the density's cell is the CMED cell of the body-centred lattice
    assert best.lattice.volume == pytest.approx(9.33**3 / 2)
    assert len(best.cell_structure) == 20
    assert best.to_diffpy().lattice.a == pytest.approx(
        best.structure.lattice.a
    )


def test_primitive_cmed_lattice_matches_cmed_cell(truth):
    from diffpy.crystalnet.physics.cells import cmed_cell

    cell = cmed_cell(truth)
    prim = primitive_cmed_lattice(truth.lattice, "I")
    assert np.allclose(prim.matrix, cell.lattice.matrix, atol=1e-6)


def test_warnings_a_user_can_act_on():
    # a cell far too small for the formula, and no composition at all
    with pytest.warns(UserWarning) as rec:
        result = solve_with(
            PATTERN,
            "Zr3Sb4Pt3",
            lattice=Lattice.cubic(3.0),
            centring="P",
            densities=[np.zeros((8, 8, 8))],
        )
    assert len(result) == 0
    assert any("does not fit the cell" in w for w in result.warnings)
    with pytest.warns(UserWarning, match="no composition given"):
        solve_with(
            PATTERN,
            lattice=[9.33, 9.33, 9.33, 90, 90, 90],
            densities=[np.zeros((8, 8, 8))],
        )
    assert rec


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import torch

    from diffpy.crystalnet.model.config import CrystalNetConfig
    from diffpy.crystalnet.model.network import CrystalNet

    torch.manual_seed(0)
    net = CrystalNet(CrystalNetConfig.preset("tiny"))
    with torch.no_grad():
        # untrained outputs are ~0; make them structured and positive so
        # that the decoder has maxima to work on (plumbing only)
        net.regressor.out.weight.mul_(30.0)
        net.regressor.out.bias.fill_(0.5)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(path, net)
    return path


def test_cli_writes_every_output(tiny_model, tmp_path, capsys):
    """Plumbing: a tiny untrained model runs through every step."""
    out = tmp_path / "run"
    args = [
        "solve",
        str(PATTERN),
        "--composition",
        "Zr3Sb4Pt3",
        "--cell",
        *"9.33 9.33 9.33 90 90 90".split(),
        "--samples",
        "1",
        "--model",
        str(tiny_model),
        "--out",
        str(out),
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "rank" in text and "space group" in text and "Rwp" in text
    assert "network sample 1" in text
    names = {p.name for p in out.iterdir()}
    assert {
        "candidate-01.cif",
        "candidate-01.CHGCAR",
        "candidate-01.cube",
        "candidates.json",
        "report.png",
    } <= names
    data = json.loads((out / "candidates.json").read_text())
    prov = data["provenance"]
    assert prov["model"]["path"] == str(tiny_model)
    assert len(prov["model"]["sha256"]) == 64
    assert prov["package_version"]
    assert prov["composition"] == "Zr3Sb4Pt3"
    assert prov["lattice"]["centring"] == "I"
    cand = data["candidates"][0]
    assert cand["rank"] == 1 and cand["rwp"] > 0
    assert cand["files"]["cif"] == "candidate-01.cif"
    assert Structure.from_file(out / "candidate-01.cif").composition
    # never overwrite without --force
    before = (out / "candidates.json").read_text()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "exists" in err
    assert (out / "candidates.json").read_text() == before
    # every candidate says which step produced and changed it
    steps = {c["produced_by"] for c in data["candidates"]}
    assert steps <= {"network", "isotypes"}
    # the steps of issue 7 switched off: network candidates only
    bare = tmp_path / "bare"
    flags = ["--no-improve", "--no-isotypes", "--no-refine"]
    flags += ["--ab-initio", "off"]
    assert main(args[:-1] + [str(bare)] + flags) == 0
    capsys.readouterr()
    data = json.loads((bare / "candidates.json").read_text())
    for cand in data["candidates"]:
        assert cand["produced_by"] == "network"
        assert "improve" not in cand["steps"]
        assert cand["refinement"] is None and cand["isotype"] is None


def test_cli_bad_input(tmp_path, capsys):
    assert main(["solve", str(tmp_path / "missing.xy")]) == 2
    assert "missing.xy: no such file" in capsys.readouterr().err
    args = ["solve", str(PATTERN), "--composition", "Zr3Xx4"]
    args += ["--out", str(tmp_path / "o")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: --composition 'Zr3Xx4': ") and "Xx" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "species, centring", [(["Na", "Cl"], "F"), (["Cs", "Cl"], "P")]
)
def test_centring_of_a_given_lattice_from_the_peaks(species, centring):
    from diffpy.crystalnet.physics.simulator import simulate_pattern
    from diffpy.crystalnet.solver.lattices import infer_centring

    group = "Fm-3m" if centring == "F" else "Pm-3m"
    lattice = Lattice.cubic(5.64 if centring == "F" else 4.12)
    s = Structure.from_spacegroup(
        group, lattice, species, [[0, 0, 0], [0.5] * 3]
    )
    profile = {"w": 0.005, "noise": "poisson", "seed": 1, "step": 0.02}
    profile.update(intensity_max=2e4, background=(100.0,))
    pattern = simulate_pattern(s, "CuKa1", (15, 100), profile=profile)
    found, explained = infer_centring(lattice, pattern)
    assert found == centring and explained == 1.0


def test_lattice_as_text_uses_the_indexing_parser(truth):
    pytest.importorskip("diffpy.crystalnet.index.indexing")
    with pytest.warns(UserWarning):
        result = solve_with(
            PATTERN,
            "Zr3Sb4Pt3",
            lattice="a=9.33",
            densities=[np.zeros((8, 8, 8))],
        )
    assert result.provenance["lattice"]["conventional"][0] == 9.33
    assert result.provenance["lattice"]["centring"] == "I"


def test_oracle_with_indexed_lattice(truth):
    """No lattice given: the pattern is indexed (cubic I, a = 9.33)."""
    result = solve_with(
        PATTERN,
        "Zr3Sb4Pt3",
        densities=[cmed(truth, n=50)],
        lattice_solutions=1,
    )
    assert not result.warnings
    lat = result.provenance["lattice"]
    assert lat["origin"] == "indexed" and lat["centring"] == "I"
    assert lat["m20"] > 10
    assert lat["conventional"][0] == pytest.approx(9.33, abs=0.01)
    assert structure_match(result.best.structure, truth)[0]
    assert result.best.rwp < 0.08


def test_isotypes_and_refinement_solve_the_example_without_a_density(
    truth, tmp_path
):
    """Search-match finds the Y3Au3Sb4 type; the refinement lowers Rwp."""
    from diffpy.crystalnet.solver.report import write_outputs

    with pytest.warns(UserWarning, match="not decoded"):
        result = solve_with(
            PATTERN,
            "Zr3Sb4Pt3",
            lattice="a=9.33",
            densities=[np.zeros((8, 8, 8))],
        )
    best = result.best
    assert best.produced_by == "isotypes"
    assert best.isotype.prototype and best.spacegroup_number == 220
    assert structure_match(best.structure, truth)[0]
    assert best.steps == ["isotypes", "fit", "refine"]
    (_, fitted), (_, refined) = best.rwp_history
    assert refined < fitted and best.rwp == refined < 0.06
    ref = best.refinement
    assert ref.rwp_before >= ref.rwp and ref.esd
    summary = best.summary()
    assert summary["produced_by"] == "isotypes"
    assert summary["refinement"]["rwp"] == pytest.approx(best.rwp)
    assert summary["isotype"]["prototype"] == best.isotype.prototype
    written = write_outputs(result, tmp_path / "out", plot=False)
    names = {p.name for p in written["files"]}
    assert {"candidate-01.cif", "candidate-01.cube"} <= names
    cif = (tmp_path / "out" / "candidate-01.cif").read_text()
    assert "_pd_proc_ls_prof_wR_factor" in cif
    assert Structure.from_file(tmp_path / "out" / "candidate-01.cif")
    # the isotype's density is its IAM density on its CMED cell
    grid, cell = best.density_on_cell()
    assert grid.shape == (50, 50, 50) and len(cell) == 20


def test_steps_can_be_switched_off():
    kwargs = dict(lattice="a=9.33", densities=[np.zeros((8, 8, 8))])
    with pytest.warns(UserWarning):
        result = solve_with(PATTERN, "Zr3Sb4Pt3", isotypes=False, **kwargs)
    assert len(result) == 0
    with pytest.warns(UserWarning):
        result = solve_with(PATTERN, "Zr3Sb4Pt3", refine=False, **kwargs)
    assert result.best.steps == ["isotypes", "fit"]
    assert result.best.refinement is None


def test_improvement_recycles_a_damaged_density(truth):
    """With ``improve``, each density is also decoded after Fourier
    recycling against the extracted intensities (plumbing and the
    agreement with the observed amplitudes; what recycling gains is
    measured in benchmarks/bench_improve.py)."""
    grid = cmed(truth, n=50)
    rng = np.random.default_rng(3)
    f = np.fft.fftn(grid)
    phase = np.exp(1j * rng.normal(0.0, np.radians(30.0), f.shape))
    damaged = np.clip(np.real(np.fft.ifftn(f * phase)), 0.0, None)
    kwargs = dict(lattice="a=9.33", densities=[damaged], isotypes=False)
    with pytest.warns(UserWarning):
        result = solve_with(PATTERN, "Zr3Sb4Pt3", refine=False, **kwargs)
    sources = [c.source for c in result] + sum(
        (c.also_from for c in result), []
    )
    assert "given density 1, improved" in sources
    assert "given density 1" in sources
    improved = [c for c in result if c.improvement]
    assert improved  # the two maps decode to different structures here
    for cand in improved:
        assert cand.steps[:3] == ["given density", "improve", "decode"]
        diag = cand.improvement
        assert diag["r_after"] < diag["r_before"]
        assert diag["extraction_rwp"] < 0.1
        assert cand.summary()["improvement"] == diag
    with pytest.warns(UserWarning):
        plain = solve_with(
            PATTERN, "Zr3Sb4Pt3", refine=False, improve=False, **kwargs
        )
    assert all("improve" not in c.steps for c in plain)


def test_keep_writes_the_best_candidates_only(truth, tmp_path):
    from diffpy.crystalnet.solver.report import write_outputs

    grids = [cmed(truth, n=50), np.roll(cmed(truth, n=50), 7, axis=0)]
    result = solve_with(
        PATTERN,
        "Zr3Sb4Pt3",
        lattice="a=9.33",
        densities=grids + [cmed(truth, n=50) ** 0.5],
        improve=False,
        refine=False,
        dedupe=False,
    )
    assert len(result) >= 2
    write_outputs(result, tmp_path / "o", plot=False, keep=1)
    names = {p.name for p in (tmp_path / "o").iterdir()}
    assert "candidate-01.cif" in names and "candidate-02.cif" not in names
    data = json.loads((tmp_path / "o" / "candidates.json").read_text())
    assert len(data["candidates"]) == len(result)
    assert data["candidates"][1]["files"] == {}


def test_settings_group_the_options():
    settings = SolveSettings.from_options(
        lattice="a=9.33", samples=2, improve=False, refine_top=1, keep=3
    )
    assert settings.lattice.lattice == "a=9.33"
    assert settings.sampling.samples == 2
    assert not settings.improve.enabled and settings.isotypes.enabled
    assert settings.refine.top == 1 and settings.output.keep == 3
    assert settings.as_dict()["sampling"]["samples"] == 2
    with pytest.raises(CrystalNetInputError, match="unknown solve option"):
        SolveSettings.from_options(sample=2)
    with pytest.raises(CrystalNetInputError, match="sampling.samples"):
        SolveSettings.from_options(samples=0)
    with pytest.raises(CrystalNetInputError, match="sampling.precision"):
        SolveSettings.from_options(precision="float16")
    with pytest.raises(CrystalNetInputError, match="SolveSettings"):
        solve(PATTERN, "Zr3Sb4Pt3", {"samples": 2})


def test_every_step_is_timed_in_order(truth):
    with pytest.warns(UserWarning):
        result = solve_with(
            PATTERN,
            "Zr3Sb4Pt3",
            densities=[np.zeros((8, 8, 8))],
            lattice="a=9.33",
            isotypes=False,
            ab_initio="on",
            ab_initio_budget=2,
            ab_initio_groups=1,
        )
    names = [step.NAME for step in STEPS]
    assert list(result.timings)[: len(names)] == names
    assert {"total", "cpu_total"} <= set(result.timings)


def test_cli_names_the_option_of_a_bad_count(tmp_path, capsys):
    for flag, value in (("--keep", "0"), ("--samples", "0")):
        out = tmp_path / flag.strip("-")
        assert (
            main(["solve", str(PATTERN), flag, value, "--out", str(out)]) == 2
        )
        assert f"{flag}: must be at least 1" in capsys.readouterr().err
        assert not out.exists()


def test_cli_ranks_with_a_pdf_of_the_sample(
    tiny_model, truth, tmp_path, capsys
):
    """``--pdf``: the best candidates are refined against G(r) too; a
    simulated G(r) of the true structure puts it first, with its files."""
    from diffpy.crystalnet.physics.pdf import PDFParameters, calculate_pdf

    r = np.arange(0.01, 12.0, 0.01)
    g = calculate_pdf(truth, r, PDFParameters(qmax=25, qdamp=0.03), "X")
    gr = tmp_path / "sample.gr"
    gr.write_text(
        "qmax = 25\nmode = xray\n#### start data\n#L r G\n"
        + "\n".join(f"{a:.3f} {b:.6f}" for a, b in zip(r, g))
        + "\n"
    )
    out = tmp_path / "run"
    args = [
        "solve",
        str(PATTERN),
        "--composition",
        "Zr3Sb4Pt3",
        "--cell",
        *"9.33 9.33 9.33 90 90 90".split(),
        "--samples",
        "1",
        "--model",
        str(tiny_model),
        "--no-densities",
        "--pdf",
        str(gr),
        "--out",
        str(out),
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "ranked with the PDF" in text
    first = text.split("ranked with the PDF")[1].splitlines()[2]
    assert "I-43d" in first
    assert (out / "pdf" / "joint-ranking.txt").is_file()
    assert (out / "pdf" / "joint1-Zr3Sb4Pt3.stru").is_file()
