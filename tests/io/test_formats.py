"""One test group per file format; every file is written here."""

import numpy as np
import pytest

from diffpy.crystalnet import CrystalNetInputError, load_pattern
from diffpy.crystalnet.io.formats import axis_from_header, read_pattern_file


@pytest.fixture
def scan():
    x = np.round(np.arange(10.0, 30.0, 0.05), 4)
    y = np.round(50 + 900 * np.exp(-((x - 20.0) ** 2) / 0.02), 1)
    return x, y


def rows(x, y, sep=" "):
    return "\n".join(f"{a:g}{sep}{b:g}" for a, b in zip(x, y)) + "\n"


# -- text columns --


def test_csv_with_column_names(tmp_path, scan):
    x, y = scan
    path = tmp_path / "a.csv"
    path.write_text("angle,intensity\n" + rows(x, y, ","))
    pattern = load_pattern(path)
    assert np.allclose(pattern.x, x) and np.allclose(pattern.intensity, y)
    assert pattern.metadata["xtype_origin"] == "file"


def test_xye_third_column_is_sigma(tmp_path, scan):
    x, y = scan
    path = tmp_path / "a.xye"
    np.savetxt(path, np.c_[x, y, np.sqrt(y)], header="2theta I sigma")
    pattern = load_pattern(path)
    assert np.allclose(pattern.sigma, np.sqrt(y))


def test_latin1_header_and_trailing_text(tmp_path, scan):
    x, y = scan
    path = tmp_path / "b.txt"
    text = "# 2θ (°) Intensität\n# Wellenlänge λ = 1.5406 Å\n" + rows(x, y)
    path.write_bytes(text.encode("latin-1", "replace") + b"END\n")
    pattern = load_pattern(path)
    assert len(pattern) == x.size
    assert pattern.metadata["ignored_lines_after_data"] == 1


def test_wavelength_from_file_name(tmp_path, scan):
    x, y = scan
    path = tmp_path / "BaTiO3_wl=0.1665.txt"
    path.write_text(rows(x / 10, y))
    pattern = load_pattern(path)
    assert pattern.wavelength == pytest.approx(0.1665)
    assert "file name" in pattern.metadata["wavelength_origin"]


@pytest.mark.parametrize(
    "label, xtype, scale",
    [
        ("#  2th_deg  I", "tth", 1.0),
        ("#  q_nm^-1  I", "q", 0.1),
        ("#  q_A^-1  I", "q", 1.0),
        ("# chi_Q chi_I", "q", 1.0),
        ("Q (Angstroms-1)", "q", 1.0),
        ("# 2theta intensity", "tth", 1.0),
        ("# Quartz sample, angle  counts", "tth", 1.0),
    ],
)
def test_axis_from_header(label, xtype, scale):
    found, factor, _ = axis_from_header(["# title", label])
    assert (found, factor) == (xtype, scale)


# -- .chi --


def test_fit2d_chi_in_two_theta_and_q(tmp_path, scan):
    x, y = scan
    head = "sample.tif\n{}\nIntensity\n  Azimuth (Degrees)\n{:6d}\n"
    tth = tmp_path / "t.chi"
    tth.write_text(head.format("2-Theta Angle (Degrees)", x.size) + rows(x, y))
    q = tmp_path / "q.chi"
    q.write_text(head.format("Q (Angstroms-1)", x.size) + rows(x / 10, y))
    assert load_pattern(tth).xtype == "tth"
    pattern = load_pattern(q)
    assert pattern.xtype == "q" and pattern.metadata["format"] == "chi"
    assert pattern.q_range == pytest.approx((x[0] / 10, x[-1] / 10))


def test_pyfai_chi_wavelength_in_metres_and_q_in_nm(tmp_path, scan):
    x, y = scan
    path = tmp_path / "p.chi"
    path.write_text(
        "# == pyFAI calibration ==\n# Wavelength: 1.0332e-11 m\n"
        "#  q_nm^-1  I\n" + rows(x, y)
    )
    pattern = load_pattern(path)
    assert pattern.wavelength == pytest.approx(0.10332)
    assert pattern.xtype == "q"
    assert pattern.x[0] == pytest.approx(x[0] / 10)


def test_chi_radial_distance_refused(tmp_path, scan):
    x, y = scan
    path = tmp_path / "r.chi"
    path.write_text(
        "s\nRadial distance (mm)\nIntensity\nAzimuth\n 400\n" + rows(x, y)
    )
    with pytest.raises(CrystalNetInputError, match="not 2-theta or Q"):
        load_pattern(path)


# -- start step end --


def test_start_step_end(tmp_path, scan):
    _, y = scan
    path = tmp_path / "sse.dat"
    path.write_text("5 0.02 12.98\n" + "\n".join(f"{v:g}" for v in y) + "\n")
    pattern = load_pattern(path, wavelength="CuKa")
    assert pattern.metadata["format"] == "start-step-end"
    assert pattern.x[0] == 5 and pattern.x[-1] == pytest.approx(12.98)
    assert np.allclose(pattern.intensity, y)


def test_start_step_end_count_mismatch(tmp_path, scan):
    _, y = scan
    path = tmp_path / "sse.dat"
    path.write_text("5 0.02 90\n" + "\n".join(f"{v:g}" for v in y) + "\n")
    with pytest.raises(CrystalNetInputError, match="4251 points"):
        load_pattern(path)


# -- GSAS --


def gsas_std(y, counts=None):
    fields = []
    for i, value in enumerate(y):
        prefix = "  " if counts is None else f"{counts[i]:2d}"
        fields.append(f"{prefix}{value:6.0f}")
    lines = ["".join(fields[i : i + 10]) for i in range(0, len(fields), 10)]
    bank = f"BANK 1 {len(y)} {len(lines)} CONST 1000 5 0 0 STD"
    return "Title: test Cu Ka\n" + bank + "\n" + "\n".join(lines) + "\n"


def test_gsas_std_with_counts(tmp_path, scan):
    _, y = scan
    counts = np.where(np.arange(y.size) % 2, 4, 1)
    path = tmp_path / "a.gsas"
    path.write_text(gsas_std(y, counts))
    pattern = load_pattern(path)
    assert pattern.metadata["format"] == "GSAS STD"
    assert pattern.x[0] == 10.0 and pattern.x[1] == pytest.approx(10.05)
    assert np.allclose(pattern.intensity, np.round(y))
    assert np.allclose(pattern.sigma, np.sqrt(np.round(y) / counts))


def test_gsas_esd_and_fxye(tmp_path, scan):
    x, y = scan
    sigma = np.sqrt(y)
    pairs = "".join(f"{a:8.1f}{b:8.2f}" for a, b in zip(y, sigma))
    body = "\n".join(pairs[i : i + 80] for i in range(0, len(pairs), 80))
    esd = tmp_path / "e.gsa"
    esd.write_text(f"title\nBANK 1 {y.size} 80 CONST 1000 5 0 0 ESD\n{body}\n")
    fxye = tmp_path / "f.fxye"
    fxye.write_text(
        f"title\nBANK 1 {y.size} {y.size} CONS 1000 5 0 0 FXYE\n"
        + "\n".join(
            f"{a * 100:.2f} {b:.2f} {c:.3f}" for a, b, c in zip(x, y, sigma)
        )
        + "\n"
    )
    for path in (esd, fxye):
        pattern = load_pattern(path)
        assert np.allclose(pattern.x, x)
        assert np.allclose(pattern.intensity, y, atol=0.05)
        assert np.allclose(pattern.sigma, sigma, atol=0.01)


def test_gsas_time_of_flight_refused(tmp_path):
    path = tmp_path / "tof.gsas"
    path.write_text("t\nBANK 1 20 2 SLOG 1000 20000 0.001 0 FXYE\n1 2 3\n")
    with pytest.raises(CrystalNetInputError, match="time-of-flight"):
        load_pattern(path)


def test_gsas_raw_text_versus_bruker_binary(tmp_path, scan):
    _, y = scan
    text = tmp_path / "a.raw"
    text.write_text(gsas_std(y))
    assert load_pattern(text).metadata["format"] == "GSAS STD"
    binary = tmp_path / "b.raw"
    binary.write_bytes(b"RAW1.01\x00" + bytes(300))
    with pytest.raises(CrystalNetInputError, match="Bruker RAW.*export"):
        load_pattern(binary)


# -- pdCIF --


def cif_profile(x, y, su=True):
    values = "\n".join(
        f"{a:.3f} {b:.0f}({max(1, int(np.sqrt(b))):d})" if su else f"{a} {b}"
        for a, b in zip(x, y)
    )
    return f"loop_\n_pd_meas_2theta_scan\n_pd_meas_counts_total\n{values}\n"


def test_pdcif_measured_profile_with_su(tmp_path, scan):
    x, y = scan
    path = tmp_path / "m.cif"
    path.write_text(
        "data_I\n_diffrn_radiation_probe x-ray\n"
        "_diffrn_radiation_wavelength 1.540598\n" + cif_profile(x, y)
    )
    pattern = load_pattern(path)
    assert pattern.metadata["format"] == "pdCIF"
    assert pattern.wavelength == pytest.approx(1.540598)
    assert np.allclose(pattern.intensity, np.round(y))
    assert np.allclose(pattern.sigma, np.maximum(1, np.sqrt(y).astype(int)))


def test_pdcif_multiblock_range_and_wavelength_elsewhere(tmp_path, scan):
    x, y = scan
    counts = "\n".join(f"{v:.1f}" for v in y)
    path = tmp_path / "rietveld.cif"
    path.write_text(
        "data_phase\n_cell_length_a 5.4\n"
        "loop_\n_diffrn_radiation_wavelength\n1.5406\n1.5444\n\n"
        "data_profile\n"
        f"_pd_meas_2theta_range_min {x[0]}\n"
        f"_pd_meas_2theta_range_max {x[-1]:.2f}\n"
        "_pd_meas_2theta_range_inc 0.05\n"
        f"loop_\n_pd_proc_intensity_total\n{counts}\n"
    )
    pattern = load_pattern(path)
    assert pattern.metadata["cif_block"].lower() == "profile"
    assert pattern.wavelength == pytest.approx(1.5406)
    assert np.allclose(pattern.x, x)


def test_pdcif_neutron_and_structure_only_refused(tmp_path, scan):
    x, y = scan
    neutron = tmp_path / "n.cif"
    neutron.write_text(
        "data_n\n_diffrn_radiation_probe neutron\n"
        "_diffrn_radiation_wavelength 1.594\n" + cif_profile(x, y)
    )
    with pytest.raises(CrystalNetInputError, match="neutron"):
        load_pattern(neutron)
    structure = tmp_path / "s.cif"
    structure.write_text(
        "data_NaCl\n_cell_length_a 5.64\nloop_\n_atom_site_label\n"
        "_atom_site_fract_x\nNa 0\nCl 0.5\n"
    )
    with pytest.raises(CrystalNetInputError, match="structure-only"):
        load_pattern(structure)


def test_read_pattern_file_detects_cif_by_content(tmp_path, scan):
    x, y = scan
    path = tmp_path / "profile.txt"
    path.write_text("data_x\n" + cif_profile(x, y, su=False))
    assert read_pattern_file(path).format == "pdCIF"


def cif_loop(columns):
    """A pdCIF loop from ``{tag: list of value strings}``."""
    rows = zip(*columns.values())
    body = "\n".join(" ".join(row) for row in rows)
    return "loop_\n" + "".join(f"{t}\n" for t in columns) + body + "\n"


def two_theta_with_d(x, y, d_values):
    return (
        "data_archive\n_diffrn_radiation_type 'Cu K\\a'\n"
        "_diffrn_radiation_wavelength 1.5406\n"
        + cif_loop(
            {
                "_pd_proc_d_spacing": d_values,
                "_pd_proc_2theta_corrected": [f"{a:.3f}" for a in x],
                "_pd_proc_intensity_net": [f"{b:.1f}" for b in y],
                "_pd_meas_intensity_total": [f"{b + 7:.1f}" for b in y],
            }
        )
    )


@pytest.mark.parametrize("unknown_d", [False, True])
def test_pdcif_two_theta_with_d_spacing_column(tmp_path, scan, unknown_d):
    x, y = scan
    d = 1.5406 / (2 * np.sin(np.radians(x / 2)))
    d_values = ["."] * x.size if unknown_d else [f"{v:.5f}" for v in d]
    path = tmp_path / "archive.cif"
    path.write_text(two_theta_with_d(x, y, d_values))
    pattern = load_pattern(path)
    assert pattern.metadata["x_tag"] == "_pd_proc_2theta_corrected"
    assert pattern.metadata["intensity_tag"] == "_pd_meas_intensity_total"
    assert np.allclose(pattern.x, x)
    assert np.allclose(pattern.intensity, y + 7, atol=0.05)
    assert pattern.wavelength == pytest.approx(1.5406)


def test_pdcif_angle_columns_in_documented_order(tmp_path, scan):
    x, y = scan
    path = tmp_path / "two_angles.cif"
    path.write_text(
        "data_a\n_diffrn_radiation_wavelength 1.5406\n"
        + cif_loop(
            {
                "_pd_proc_d_spacing": ["."] * x.size,
                "_pd_proc_2theta_corrected": [f"{a + 0.01:.3f}" for a in x],
                "_pd_meas_2theta_scan": [f"{a:.3f}" for a in x],
                "_pd_meas_counts_total": [f"{b:.0f}" for b in y],
            }
        )
    )
    pattern = load_pattern(path)
    assert pattern.metadata["x_tag"] == "_pd_meas_2theta_scan"
    assert np.allclose(pattern.x, x)


@pytest.mark.parametrize(
    "x_tag", ["_pd_proc_d_spacing", "_pd_meas_time_of_flight"]
)
def test_pdcif_d_spacing_or_tof_without_angles_refused(tmp_path, scan, x_tag):
    x, y = scan
    path = tmp_path / "tof.cif"
    path.write_text(
        "data_t\n"
        + cif_loop(
            {
                x_tag: [f"{a:.3f}" for a in x],
                "_pd_proc_intensity_total": [f"{b:.1f}" for b in y],
            }
        )
    )
    with pytest.raises(CrystalNetInputError, match="time-of-flight or d-"):
        load_pattern(path)
