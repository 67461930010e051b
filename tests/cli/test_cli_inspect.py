"""``diffpy.crystalnet inspect``."""

import numpy as np
import pytest

from diffpy.crystalnet.cli import main


@pytest.fixture
def scan(tmp_path):
    x = np.arange(10.0, 90.0, 0.02)
    y = 100.0 + sum(
        1000.0 * np.exp(-((x - c) ** 2) / 0.005) for c in (28.4, 47.3, 56.1)
    )
    path = tmp_path / "si.xy"
    np.savetxt(path, np.c_[x, y], header="2theta intensity")
    return path


def test_inspect_reports_everything(scan, capsys):
    assert main(["inspect", str(scan), "--wavelength", "CuKa1"]) == 0
    out = capsys.readouterr().out
    assert "format" in out and "columns" in out
    assert "points" in out and "4000" in out
    assert "1.54056 A (from argument)" in out
    assert "Q range" in out and "grid coverage" in out
    peaks_line = next(ln for ln in out.splitlines() if "peaks found" in ln)
    assert peaks_line.split(":")[1].split()[0] == "3"


def test_inspect_without_wavelength_says_so(scan, capsys):
    assert main(["inspect", str(scan)]) == 0
    out = capsys.readouterr().out
    assert "none (give --wavelength)" in out
    assert "model input : not possible" in out


def test_inspect_bad_file_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.xy"
    bad.write_bytes(b"\x00\x01\x02" * 100)
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {bad}: binary file")


def test_inspect_bad_wavelength_exit_2(scan, capsys):
    assert main(["inspect", str(scan), "--wavelength", "12 keV"]) == 2
    assert "Error: wavelength:" in capsys.readouterr().err


def test_inspect_plot_atomic_and_no_overwrite(scan, tmp_path, capsys):
    png = tmp_path / "out.png"
    args = ["inspect", str(scan), "-w", "CuKa", "--plot", str(png)]
    assert main(args) == 0
    content = png.read_bytes()
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(args) == 2
    assert "use --force" in capsys.readouterr().err
    assert png.read_bytes() == content
    assert main(args + ["--force"]) == 0
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".png"] == [
        "out.png"
    ]
