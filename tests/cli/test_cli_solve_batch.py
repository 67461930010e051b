"""``diffpy.crystalnet solve-batch``: exit status, resume, --scheduler.

A finished solve is a folder holding ``candidates.json``, so the tests
that need a solved pattern lay one down by hand; one test solves a real
pattern (on a thread worker of a cluster the test starts, reached with
--scheduler).  The default local cluster of worker processes runs in
``test_a_failed_pattern_exits_1``.
"""

import csv
import json
import warnings

import pytest
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.cli import main
from diffpy.crystalnet.physics.simulator import simulate_pattern

pytest.importorskip("distributed")

CHEAP = [
    "--samples",
    "1",
    "--lattice-solutions",
    "1",
    "--no-improve",
    "--no-refine",
    "--no-densities",
    "--keep",
    "1",
]


@pytest.fixture
def scans(tmp_path):
    """scans/NaCl.xy, scans/bad.xy and out/NaCl/ as if already solved."""
    folder = tmp_path / "scans"
    folder.mkdir()
    nacl = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3]
    )
    profile = {"w": 0.005, "noise": "poisson", "seed": 1, "step": 0.02}
    profile.update(intensity_max=2e4, background=(100.0,))
    pattern = simulate_pattern(nacl, "CuKa1", (15, 100), profile=profile)
    rows = (f"{x:.4f} {y:.3f}" for x, y in zip(pattern.x, pattern.intensity))
    text = "# wavelength = 1.54056\n" + "\n".join(rows)
    (folder / "NaCl.xy").write_text(text)
    (folder / "bad.xy").write_text("not a pattern\n")
    done = tmp_path / "out" / "NaCl"
    done.mkdir(parents=True)
    finished = {"warnings": [], "candidates": [{"formula": "NaCl"}]}
    finished["candidates"][0].update(spacegroup="Fm-3m", rwp=0.05)
    (done / "candidates.json").write_text(json.dumps(finished))
    return folder


def _summary(out):
    with open(out / "summary.csv", newline="") as stream:
        return list(csv.DictReader(stream))


def test_a_failed_pattern_exits_1(scans, capsys):
    """Default local cluster (processes): NaCl skipped, bad.xy failed."""
    out = scans.parent / "out"
    args = ["solve-batch", str(scans), "-c", "NaCl", "--out", str(out)]
    assert main(args + ["--workers", "1"]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split()[:4] == ["pattern", "status", "formula", "space"]
    assert any(
        line.split()[:4] == ["NaCl.xy", "skipped", "NaCl", "Fm-3m"]
        for line in lines
    )
    assert any(
        line.startswith("bad.xy") and "failed" in line for line in lines
    )
    assert "0 solved, 1 skipped, 1 failed" in captured.out
    assert "1 pattern(s) already solved" in captured.err
    assert "bad.xy: failed: no numeric data found" in captured.err
    rows = _summary(out)
    assert [(r["pattern"], r["status"]) for r in rows] == [
        (str(scans / "NaCl.xy"), "skipped"),
        (str(scans / "bad.xy"), "failed"),
    ]
    # without the bad file every pattern is skipped: exit 0, no cluster
    (scans / "bad.xy").unlink()
    assert main(args + ["--no-progress"]) == 0
    assert "0 solved, 1 skipped, 0 failed" in capsys.readouterr().out


def test_bad_input_exits_2(scans, tmp_path, capsys):
    out = str(tmp_path / "o")
    table = tmp_path / "t.csv"
    table.write_text("pattern,composition\nNaCl,NaCl\n")
    for extra, message in (
        (["-c", "NaCl", "--compositions", str(table)], "not both"),
        (["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], "--workers"),
        (["--workers", "0"], "--workers: must be at least 1"),
        (["--samples", "0"], "--samples: must be at least 1"),
    ):
        args = ["solve-batch", str(scans / "NaCl.xy"), "--out", out]
        assert main(args + extra) == 2, extra
        assert message in capsys.readouterr().err
    missing = str(scans / "none-*.xy")
    assert main(["solve-batch", missing, "-c", "NaCl", "--out", out]) == 2
    assert "matches no file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_unreachable_scheduler_exits_2(scans, tmp_path, capsys):
    import dask

    args = ["solve-batch", str(scans / "bad.xy"), "-c", "NaCl"]
    args += ["--out", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:1"]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert main(args) == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err


def test_force_solves_again_on_a_scheduler(scans, capsys):
    from distributed import LocalCluster

    out = scans.parent / "out"
    before = (out / "NaCl" / "candidates.json").read_text()
    args = ["solve-batch", str(scans / "NaCl.xy"), "-c", "NaCl"]
    args += ["--out", str(out), "--force", "--no-progress", *CHEAP]
    with (
        LocalCluster(
            n_workers=1, processes=False, dashboard_address=None
        ) as cluster,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", UserWarning)
        assert main(args + ["--scheduler", cluster.scheduler_address]) == 0
    assert "1 solved, 0 skipped, 0 failed" in capsys.readouterr().out
    assert (out / "NaCl" / "candidates.json").read_text() != before
    data = json.loads((out / "NaCl" / "candidates.json").read_text())
    assert data["provenance"]["composition"] == "NaCl"
    assert data["provenance"]["samples"] == 1
    assert {p.name for p in (out / "NaCl").iterdir()} == {
        "candidate-01.cif",
        "candidates.json",
        "report.png",
    }
    (row,) = _summary(out)
    assert row["status"] == "solved" and row["formula"] == "NaCl"
