"""PDF: reading G(r) files, computing G(r), refining against it."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.patterns import load_pattern
from diffpy.crystalnet.io.pdf_files import load_pdf
from diffpy.crystalnet.physics.pdf import (
    PDFParameters,
    calculate_pdf,
    pair_table,
    rw_factor,
    scattering_weights,
)
from diffpy.crystalnet.physics.pdf_data import (
    NotAPowderPattern,
    PairDistribution,
)
from diffpy.crystalnet.refine.pdf_refine import refine_pdf


def _nickel(a=3.52):
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), ["Ni"], [[0, 0, 0]]
    )


def _rutile(a=4.594, c=2.959, x=0.3049):
    return Structure.from_spacegroup(
        "P4_2/mnm",
        Lattice.tetragonal(a, c),
        ["Ti", "O"],
        [[0, 0, 0], [x, x, 0]],
    )


def _write_gr(path, r, g, header, dg=None):
    lines = list(header)
    for k in range(r.size):
        row = f"{r[k]:.4f} {g[k]:.6f}"
        if dg is not None:
            row += f" 0.0 {dg[k]:.6f}"
        lines.append(row)
    path.write_text("\n".join(lines) + "\n")
    return path


PDFGETX3_HEADER = [
    "[DEFAULT]",
    "version = pdfgetx-2.1.1",
    "[PDF]",
    "wavelength = 0.1839",
    "composition = Ni",
    "mode = xray",
    "qmaxinst = 28.0",
    "qmin = 0.5",
    "qmax = 25.0",
    "qdamp = 0.045",
    "#### start data",
    "#S 1",
    "#L r($\\AA$)  G($\\AA^{-2}$)",
]


def test_reads_pdfgetx3_header_and_columns(tmp_path):
    r = np.arange(0.01, 10.0, 0.01)
    g = np.sin(r)
    path = _write_gr(tmp_path / "ni.gr", r, g, PDFGETX3_HEADER)
    data = load_pdf(path)
    assert isinstance(data, PairDistribution)
    assert data.qmax == 25.0  # not qmaxinst
    assert data.qdamp == 0.045
    assert data.radiation == "X"
    assert data.composition == "Ni"
    assert data.metadata["wavelength"] == pytest.approx(0.1839)
    np.testing.assert_allclose(data.g, np.round(g, 6))
    assert data.sigma is None


def test_reads_pdfgetn_style_with_long_header_and_dg(tmp_path):
    header = [
        "History written: Fri Apr 30 13:05:36 2004",
        "##### Sample Material     numElements=2",
        "Element relAtomNum atomMass atomCoherCS",
        "   O        0.6667   15.999      4.2320",
        "  Ti        0.3333   47.867      1.4850",
        "density=     effDensity=3.4138",
        "## Damp     Qmin=2.0     Qmax=32   startDampQ=32",
        "numRpoints=2000     maxR=20.0",
        "##### start data",
        "#S 1 - PDF from PDFgetN",
        "#L r G(r) dr dG(r)",
    ]
    r = np.arange(0.01, 5.0, 0.01)
    path = _write_gr(tmp_path / "x.gr", r, np.cos(r), header, 0.1 + 0 * r)
    data = load_pattern(path)  # load_pattern hands G(r) files on
    assert isinstance(data, PairDistribution)
    assert (data.qmax, data.radiation) == (32.0, "N")
    assert data.composition == "O0.6667Ti0.3333"
    np.testing.assert_allclose(data.sigma, 0.1)


@pytest.mark.parametrize(
    "rows, problem",
    [
        (["1 2", "2 3", "x y"], "not 2-4 numbers"),
        (["1 2", "2 3 4"], "different number of columns"),
        ([], "no r, G.r. data"),
    ],
)
def test_bad_data_blocks_are_refused(tmp_path, rows, problem):
    path = tmp_path / "bad.gr"
    path.write_text("##### start data\n#L r G\n" + "\n".join(rows) + "\n")
    with pytest.raises(CrystalNetInputError, match=problem):
        load_pdf(path)


def test_uneven_grid_is_refused(tmp_path):
    r = np.sort(np.random.default_rng(0).uniform(0.1, 10, 200))
    path = _write_gr(tmp_path / "u.gr", r, np.sin(r), ["#L r G"])
    with pytest.raises(CrystalNetInputError, match="not evenly spaced"):
        load_pdf(path)


def test_pxrd_steps_refuse_a_pdf(tmp_path):
    from diffpy.crystalnet.index.indexing import index_pattern

    r = np.arange(0.01, 10.0, 0.01)
    path = _write_gr(tmp_path / "ni.gr", r, np.sin(r), PDFGETX3_HEADER)
    data = load_pattern(path)
    with pytest.raises(NotAPowderPattern, match="pair distribution"):
        data.q
    with pytest.raises(CrystalNetInputError, match="PairDistribution"):
        index_pattern(data)
    assert not hasattr(data, "to_model_input")


def test_weights_follow_the_radiation():
    np.testing.assert_allclose(scattering_weights(["Ni", "O"], "X"), [28, 8])
    b = scattering_weights(["Ni", "Mn", "D"], "N")
    assert b[0] == pytest.approx(10.3, abs=0.1) and b[1] < 0  # Mn negative
    with pytest.raises(CrystalNetInputError, match="radiation"):
        scattering_weights(["Ni"], "E")


def test_pair_table_counts_fcc_shells():
    ni = _nickel()
    i, j, d = pair_table(ni.lattice.matrix, ni.frac_coords, 3.6)
    per_atom = np.bincount(np.rint(d / 0.01).astype(int))[::1]
    nn = np.sum(np.abs(d - 3.52 / np.sqrt(2)) < 1e-6) / 4
    second = np.sum(np.abs(d - 3.52) < 1e-6) / 4
    assert (nn, second) == (12, 6)
    assert per_atom.sum() == d.size


def test_gr_peaks_and_baseline_are_physical():
    """First-shell area of the RDF is the coordination number, and below
    the first peak G(r) is the line -4 pi rho0 r."""
    ni = _nickel()
    r = np.arange(0.01, 6.0, 0.005)
    g = calculate_pdf(ni, r, PDFParameters(), "X", uiso=0.003)
    rho0 = 4 / 3.52**3
    low = r < 2.0
    np.testing.assert_allclose(g[low], -4 * np.pi * rho0 * r[low], atol=1e-9)
    rdf = r * g + 4 * np.pi * rho0 * r**2
    shell = (r > 2.0) & (r < 3.0)
    assert np.trapezoid(rdf[shell], r[shell]) == pytest.approx(12, rel=1e-3)
    first = np.argmax(np.where(r < 3, g, -np.inf))
    assert r[first] == pytest.approx(3.52 / np.sqrt(2), abs=0.01)


def test_termination_damping_and_particle_envelope():
    ni = _nickel()
    r = np.arange(0.01, 30.0, 0.01)
    bulk = calculate_pdf(ni, r, PDFParameters(qmax=25), uiso=0.004)
    damped = calculate_pdf(ni, r, PDFParameters(qmax=25, qdamp=0.1))
    nano = calculate_pdf(ni, r, PDFParameters(qmax=25, spdiameter=20))
    far = r > 22
    assert np.abs(nano[far]).max() < 0.05 * np.abs(bulk[far]).max()
    assert np.abs(damped[far]).max() < 0.5 * np.abs(bulk[far]).max()
    # termination ripples: G oscillates below the first peak
    low = (r > 0.5) & (r < 2.0)
    baseline = -4 * np.pi * 4 / 3.52**3 * r[low]
    assert np.abs(bulk[low] - baseline).max() > 0.05


def _pdffit2_or_skip():
    try:
        from diffpy.pdffit2 import PdfFit, redirect_stdout
    except ImportError:
        pytest.skip("diffpy.pdffit2 (compiled) is not installed")
    import io

    redirect_stdout(io.StringIO())
    return PdfFit


@pytest.mark.parametrize(
    "radiation, params",
    [
        ("X", dict(qmax=0.0)),
        ("X", dict(qmax=25.0, qdamp=0.05, delta2=2.0)),
        ("N", dict(qmax=30.0, qdamp=0.02, delta1=0.5, spdiameter=30.0)),
    ],
)
def test_gr_agrees_with_pdffit2(radiation, params):
    from diffpy.crystalnet.io.structures import to_diffpy

    PdfFit = _pdffit2_or_skip()
    rutile = _rutile()
    u = [0.006 if s.specie.symbol == "Ti" else 0.009 for s in rutile]
    rutile.add_site_property("Uiso", u)
    r = np.arange(0.01, 20.0001, 0.01)
    pf = PdfFit()
    pf.add_structure(to_diffpy(rutile))
    for name in ("delta1", "delta2", "spdiameter"):
        if name in params:
            pf.setvar(getattr(pf, name), params[name])
    pf.alloc(
        radiation,
        params["qmax"],
        params.get("qdamp", 0.0),
        0.01,
        20.0,
        r.size,
    )
    pf.calc()
    reference = np.array(pf.getpdf_fit())
    ours = calculate_pdf(rutile, r, PDFParameters(**params), radiation)
    keep = r > 1.0
    rel = np.abs(ours - reference)[keep].max() / np.abs(reference).max()
    assert rel < 1e-3


def test_refinement_recovers_a_perturbed_structure():
    """Data from rutile with x, a, c and U changed; the refinement from the
    textbook structure finds them back."""
    truth = _rutile(a=4.62, c=2.975, x=0.298)
    truth.add_site_property(
        "Uiso", [0.005 if s.specie.symbol == "Ti" else 0.008 for s in truth]
    )
    r = np.arange(0.01, 15.0, 0.01)
    params = PDFParameters(scale=0.8, delta2=1.5, qdamp=0.04, qmax=25)
    g = calculate_pdf(truth, r, params, "X")
    noise = np.random.default_rng(1).normal(0, 0.01, r.size)
    data = PairDistribution(
        r=r,
        g=g + noise,
        sigma=np.full(r.size, 0.01),
        qmax=25,
        radiation="X",
        source="simulated",
    )
    fit = refine_pdf(_rutile(), data, rmin=1.5, uiso_by="element")
    p = fit.parameters
    assert fit.rw < 0.02
    assert fit.chi2 < 1.5
    assert p["a"] == pytest.approx(4.62, abs=2e-3)
    assert p["c"] == pytest.approx(2.975, abs=2e-3)
    assert p["O1.x"] == pytest.approx(0.298, abs=2e-3)
    assert p["uiso.Ti"] == pytest.approx(0.005, abs=1e-3)
    assert p["scale"] == pytest.approx(0.8, rel=0.05)
    assert 0 < fit.esd["a"] < 2e-3
    assert fit.space_group == "P4_2/mnm"
    assert rw_factor(fit.g_obs, fit.g_calc, fit.sigma) == pytest.approx(fit.rw)


def test_refinement_refuses_a_powder_pattern():
    from diffpy.crystalnet.physics.pattern import Pattern

    pattern = Pattern(x=[10, 20, 30], intensity=[1, 2, 1], wavelength=1.54)
    with pytest.raises(CrystalNetInputError, match="needs a G"):
        refine_pdf(_nickel(), pattern)


def _run(args, capsys):
    from diffpy.crystalnet.cli import main

    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _simulated_gr(tmp_path, structure, name="sample.gr", rmax=12.0):
    r = np.arange(0.01, rmax, 0.01)
    params = PDFParameters(scale=0.9, delta2=1.0, qdamp=0.04, qmax=25)
    g = calculate_pdf(structure, r, params, "X", uiso=0.006)
    g += np.random.default_rng(3).normal(0, 0.005, r.size)
    header = [h for h in PDFGETX3_HEADER if "composition" not in h]
    return _write_gr(tmp_path / name, r, g, header)


def test_cli_index_refuses_a_gr_and_solve_needs_a_composition(
    tmp_path, capsys
):
    path = _simulated_gr(tmp_path, _nickel())
    code, out, err = _run(["index", path], capsys)
    assert code == 2 and "cannot be indexed" in err
    assert "Traceback" not in err
    code, out, err = _run(["solve", path, "--out", tmp_path / "o"], capsys)
    assert code == 2 and "needs --composition" in err
    assert not (tmp_path / "o").exists()


def test_cli_pdf_fit_writes_the_handoff_and_refuses_to_overwrite(
    tmp_path, capsys
):
    from diffpy.crystalnet.io.structures import read_structure, write_cif

    path = _simulated_gr(tmp_path, _rutile(a=4.61))
    cif = tmp_path / "rutile.cif"
    write_cif(_rutile(), cif)
    out = tmp_path / "fit"
    code, stdout, err = _run(
        ["pdf-fit", path, cif, "--rmin", "1.5", "--out", out], capsys
    )
    assert code == 0, err
    assert "TiO2 P4_2/mnm: Rw" in stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "pdf-fit.json",
        "rank1-TiO2.cif",
        "rank1-TiO2.fgr",
        "rank1-TiO2.json",
        "rank1-TiO2.png",
        "rank1-TiO2.stru",
        "rank1-TiO2_pdffit2.py",
    ]
    refined = read_structure(out / "rank1-TiO2.stru")
    assert refined.lattice.a == pytest.approx(4.61, abs=0.01)
    assert refined.site_properties["Uiso"][0] == pytest.approx(0.006, 0.2)
    compile((out / "rank1-TiO2_pdffit2.py").read_text(), "script", "exec")
    before = (out / "rank1-TiO2.cif").read_bytes()
    code, stdout, err = _run(["pdf-fit", path, cif, "--out", out], capsys)
    assert code == 2 and "--force" in err
    assert (out / "rank1-TiO2.cif").read_bytes() == before


def test_solve_pdf_ranks_the_right_type_first_and_control(tmp_path):
    """The library's fcc type wins on a simulated Ni G(r); with a rutile
    G(r) and the formula Ni (wrong-pattern control) no Ni type fits."""
    from diffpy.crystalnet.io.pdf_files import load_pdf
    from diffpy.crystalnet.solver.pdf_solve import solve_pdf

    ni = load_pdf(_simulated_gr(tmp_path, _nickel(3.50), "ni.gr"))
    result = solve_pdf(ni, "Ni", top=4, top_coordinates=1)
    best = result.best
    assert best.fit.space_group == "Fm-3m"
    assert best.fit.parameters["a"] == pytest.approx(3.50, abs=0.01)
    assert best.rw < 0.1
    assert all(c.rw > 3 * best.rw for c in result.candidates[1:])
    wrong = load_pdf(_simulated_gr(tmp_path, _rutile(), "tio2.gr"))
    control = solve_pdf(wrong, "Ni", top=4, top_coordinates=1)
    assert control.best.rw > 5 * best.rw


def test_joint_ranking_with_a_pdf_prefers_the_structure_both_fit(tmp_path):
    """Two PXRD candidates with close Rwp; the G(r) of the sample decides."""
    from types import SimpleNamespace

    from diffpy.crystalnet.cli.solve_pdf import joint_table
    from diffpy.crystalnet.solver.pdf_solve import rank_with_pdf

    path = _simulated_gr(tmp_path, _rutile(a=4.60), "tio2.gr")
    anatase = Structure.from_spacegroup(
        "I4_1/amd",
        Lattice.tetragonal(3.785, 9.514),
        ["Ti", "O"],
        [[0, 0.75, 0.125], [0, 0.75, 0.3333]],
    )

    def candidate(structure, rwp):
        return SimpleNamespace(
            structure=structure,
            rwp=rwp,
            formula=structure.composition.reduced_formula,
            spacegroup=structure.get_space_group_info()[0],
        )

    result = [candidate(anatase, 0.100), candidate(_rutile(), 0.104)]
    rows = rank_with_pdf(result, path)
    assert rows[0]["candidate"].spacegroup == "P4_2/mnm"
    assert rows[0]["fit"].rw < 0.5 * rows[1]["fit"].rw
    table = joint_table(rows)
    assert "P4_2/mnm" in table.splitlines()[1]


def test_cli_solve_on_a_gr_writes_ranked_candidates(tmp_path, capsys):
    path = _simulated_gr(tmp_path, _nickel(3.50), "ni.gr")
    out = tmp_path / "solved"
    code, stdout, err = _run(
        ["solve", path, "--composition", "Ni", "--out", out], capsys
    )
    assert code == 0, err
    lines = stdout.splitlines()
    assert (
        "Fm-3m"
        in lines[
            lines.index(next(ln for ln in lines if ln.startswith("rank"))) + 1
        ]
    )
    assert (out / "rank1-Ni.stru").is_file()
    assert (out / "candidates.json").is_file()
    code, stdout, err = _run(
        ["solve", path, "--composition", "Ni", "--out", out], capsys
    )
    assert code == 2 and "--force" in err


def test_cli_leaves_no_output_when_nothing_fits(tmp_path, capsys):
    path = _simulated_gr(tmp_path, _nickel(), "ni.gr")
    out = tmp_path / "none"
    code, stdout, err = _run(
        ["solve", path, "--composition", "Na97Cl3", "--out", out], capsys
    )
    assert code == 2 and "no structure type" in err
    assert not out.exists()


def test_solve_pdf_on_a_given_lattice_keeps_its_system():
    from diffpy.crystalnet.solver.pdf_solve import solve_pdf

    r = np.arange(0.01, 12.0, 0.01)
    g = calculate_pdf(_nickel(3.50), r, PDFParameters(qmax=25), uiso=0.005)
    data = PairDistribution(r=r, g=g, qmax=25, radiation="X")
    result = solve_pdf(
        data, "Ni", lattice=Lattice.cubic(3.51), top=3, top_coordinates=1
    )
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    systems = {
        SpacegroupAnalyzer(c.structure, 0.01).get_crystal_system()
        for c in result.candidates
    }
    assert systems == {"cubic"}
    assert result.best.fit.space_group == "Fm-3m"
    assert result.best.fit.parameters["a"] == pytest.approx(3.50, abs=0.005)


def test_handoff_of_a_disordered_structure(tmp_path):
    """A mixed site (Fe/Co) goes through the refinement and the handoff:
    one Uiso per element in the pdffit2 script, both atoms in the .stru."""
    from diffpy.crystalnet.refine.pdf_handoff import write_pdf_fit

    alloy = Structure.from_spacegroup(
        "Im-3m", Lattice.cubic(2.86), [{"Fe": 0.5, "Co": 0.5}], [[0, 0, 0]]
    )
    r = np.arange(0.01, 10.0, 0.01)
    g = calculate_pdf(alloy, r, PDFParameters(qmax=25), uiso=0.006)
    data = PairDistribution(r=r, g=g, qmax=25, radiation="X")
    fit = refine_pdf(alloy, data, rmin=1.5, uiso_by="element")
    assert fit.rw < 0.01
    paths = write_pdf_fit(fit, tmp_path, "alloy", "alloy.gr", plot=False)
    script = paths["script"].read_text()
    assert "elements = ['Co', 'Fe']" in script
    stru = paths["stru"].read_text()
    assert "CO" in stru.upper() and "FE" in stru.upper()
