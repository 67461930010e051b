"""Solving many patterns on Dask: folders, failures, summary, resume.

Three small patterns: NaCl and CsCl simulated (CsCl without a wavelength
in its file, the table gives it) and a file that is not a pattern.  The
solves are the cheapest the settings allow (one network sample on a 24^3
grid, no improvement, no refinement), on a local cluster of two thread
workers (processes=False: no worker start-up; the command-line tests run
the default process cluster).
"""

import csv
import os
import time
import warnings

import pytest
from pymatgen.core import Lattice, Structure

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.physics.simulator import simulate_pattern
from diffpy.crystalnet.solver.batch import SUMMARY_NAME, solve_many
from diffpy.crystalnet.solver.batch_records import (
    COLUMNS,
    find_patterns,
    format_summary,
    read_composition_table,
)
from diffpy.crystalnet.solver.settings import SolveSettings

pytest.importorskip("distributed")

#: the cheapest solve that runs every kind of step
CHEAP = dict(
    samples=1,
    n=24,
    improve=False,
    refine=False,
    lattice_solutions=1,
    fit_top=2,
    densities=False,
    keep=1,
)


def _write_pattern(structure, path, header=True):
    profile = {"w": 0.005, "noise": "poisson", "seed": 1, "step": 0.02}
    profile.update(intensity_max=2e4, background=(100.0,))
    pattern = simulate_pattern(structure, "CuKa1", (15, 100), profile=profile)
    rows = "\n".join(
        f"{x:.4f} {y:.3f}" for x, y in zip(pattern.x, pattern.intensity)
    )
    path.write_text(("# wavelength = 1.54056\n" if header else "") + rows)


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    """A folder with NaCl.xy, CsCl.xy (no wavelength), bad.xy, table.csv."""
    folder = tmp_path_factory.mktemp("scans")
    half = [[0, 0, 0], [0.5, 0.5, 0.5]]
    nacl = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], half
    )
    cscl = Structure.from_spacegroup(
        "Pm-3m", Lattice.cubic(4.12), ["Cs", "Cl"], half
    )
    _write_pattern(nacl, folder / "NaCl.xy")
    _write_pattern(cscl, folder / "CsCl.xy", header=False)
    (folder / "bad.xy").write_text("this is not a powder pattern\n")
    (folder / "table.csv").write_text(
        "pattern,composition,wavelength\n"
        "# a comment\n"
        "NaCl.xy,NaCl,\n"
        "CsCl,CsCl,CuKa1\n"
        "bad.xy,NaCl,\n"
    )
    return folder


@pytest.fixture(scope="module")
def first_run(scans, tmp_path_factory):
    """The batch solved once: (out folder, records, seconds)."""
    out = tmp_path_factory.mktemp("batch") / "out"
    compositions, wavelengths = read_composition_table(scans / "table.csv")
    patterns = [scans / n for n in ("NaCl.xy", "CsCl.xy", "bad.xy")]
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # the solves' notes (thread workers)
        warnings.simplefilter("ignore", UserWarning)
        records = solve_many(
            patterns,
            compositions,
            SolveSettings.from_options(**CHEAP),
            out,
            wavelength=wavelengths,
            workers=2,
            processes=False,
        )
    return out, records, time.perf_counter() - t0


def test_find_patterns(scans, tmp_path):
    found = find_patterns([scans], exclude=[scans / "table.csv"])
    assert [p.name for p in found] == ["CsCl.xy", "NaCl.xy", "bad.xy"]
    # a .csv in a folder is a pattern unless excluded; hidden files never
    assert scans / "table.csv" in find_patterns([scans])
    (tmp_path / ".hidden.xy").write_text("1 2\n")
    (tmp_path / "notes.md").write_text("text\n")
    with pytest.raises(CrystalNetInputError, match="no pattern file"):
        find_patterns([tmp_path])
    # globs, and each file once
    found = find_patterns([str(scans / "*Cl.xy"), scans / "NaCl.xy"])
    assert [p.name for p in found] == ["CsCl.xy", "NaCl.xy"]
    with pytest.raises(CrystalNetInputError, match="matches no file"):
        find_patterns([str(scans / "*.gsas")])
    with pytest.raises(CrystalNetInputError, match="no such file"):
        find_patterns([scans / "missing.xy"])


def test_read_composition_table(scans, tmp_path):
    compositions, wavelengths = read_composition_table(scans / "table.csv")
    assert compositions == {
        "NaCl.xy": "NaCl",
        "CsCl": "CsCl",
        "bad.xy": "NaCl",
    }
    assert wavelengths == {"CsCl": pytest.approx(1.54056)}
    table = tmp_path / "t.csv"
    table.write_text("pattern,composition\na.xy,\n")
    assert read_composition_table(table) == ({"a.xy": None}, {})
    for text, match in (
        ("file,formula\na.xy,NaCl\n", "header row"),
        ("pattern,composition\na.xy,NaCl\na.xy,KCl\n", "listed twice"),
        ("pattern,composition,wavelength\na.xy,NaCl,Xx\n", "row 2"),
        ("pattern,composition\n,NaCl\n", "no pattern name"),
    ):
        table.write_text(text)
        with pytest.raises(CrystalNetInputError, match=match):
            read_composition_table(table)


def test_two_patterns_with_one_stem_are_refused(scans, tmp_path):
    (tmp_path / "NaCl.xye").write_text((scans / "NaCl.xy").read_text())
    with pytest.raises(CrystalNetInputError, match="both be solved into"):
        solve_many(
            [scans / "NaCl.xy", tmp_path / "NaCl.xye"], "NaCl", None, tmp_path
        )
    assert not (tmp_path / SUMMARY_NAME).exists()


def test_one_folder_per_pattern_and_the_failure_reported(first_run):
    out, records, _ = first_run
    by_name = {os.path.basename(r.pattern): r for r in records}
    assert [os.path.basename(r.pattern) for r in records] == [
        "NaCl.xy",
        "CsCl.xy",
        "bad.xy",
    ]
    for name, formula in (("NaCl.xy", "NaCl"), ("CsCl.xy", "CsCl")):
        record = by_name[name]
        assert record.status == "solved", record.message
        assert record.formula == formula and record.rwp > 0
        assert record.seconds > 0
        folder = out / name[:-3]
        assert record.folder == str(folder)
        assert {"candidates.json", "candidate-01.cif", "report.png"} <= {
            p.name for p in folder.iterdir()
        }
    bad = by_name["bad.xy"]
    assert bad.status == "failed" and not (out / "bad").exists()
    assert bad.message == "no numeric data found"
    assert "\n" not in bad.message and not bad.traceback
    assert {p.name for p in out.iterdir()} == {"NaCl", "CsCl", SUMMARY_NAME}


def test_summary_table_and_csv(first_run):
    out, records, _ = first_run
    with open(out / SUMMARY_NAME, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == COLUMNS
    assert [r["status"] for r in rows] == ["solved", "solved", "failed"]
    assert rows[0]["formula"] == "NaCl" and float(rows[0]["rwp"]) > 0
    assert rows[2]["message"] == "no numeric data found"
    text = format_summary(records)
    assert text.splitlines()[0].split()[:3] == ["pattern", "status", "formula"]
    assert text.endswith("2 solved, 0 skipped, 1 failed")


def test_second_run_skips_the_finished_patterns(first_run, scans):
    out, _, first_seconds = first_run
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    t0 = time.perf_counter()
    records = solve_many(
        [scans],  # the folder: its table.csv is tried, and fails
        {"NaCl": "NaCl", "CsCl": "CsCl", "bad": "NaCl"},
        SolveSettings.from_options(**CHEAP),
        out,
        wavelength={"CsCl": "CuKa1"},
        workers=1,
        processes=False,
    )
    seconds = time.perf_counter() - t0
    status = {os.path.basename(r.pattern): r.status for r in records}
    assert status == {
        "CsCl.xy": "skipped",
        "NaCl.xy": "skipped",
        "bad.xy": "failed",
        "table.csv": "failed",
    }
    table = [r for r in records if r.pattern.endswith("table.csv")][0]
    assert table.message == "not in the composition table"
    skipped = [r for r in records if r.status == "skipped"]
    assert all(r.formula and r.rwp and r.seconds == 0 for r in skipped)
    for path, stamp in stamps.items():  # nothing solved was rewritten
        if path.name != SUMMARY_NAME:
            assert path.stat().st_mtime_ns == stamp, path
    assert seconds < 0.5 * first_seconds
