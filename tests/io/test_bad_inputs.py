"""The bad-input corpus (``bad_inputs.py``) through every loader and the
command line: one line naming the file (or option) and the problem, exit
status 2, no traceback, nothing written."""

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from bad_inputs import (
    CASES,
    CELL_CASES,
    FORMULA_CASES,
    LATTICE_CASES,
    PATTERN_CASES,
    columns,
    scan,
)

from diffpy.crystalnet.cli import main
from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.index.lattice_text import (
    cell_from_parameters,
    parse_lattice,
)
from diffpy.crystalnet.io.patterns import load_pattern
from diffpy.crystalnet.io.structures import read_structure
from diffpy.crystalnet.io.volumetric import read_cube, read_xsf
from diffpy.crystalnet.physics.composition import integer_formula


def _ids(case):
    return f"{case.kind}-{case.name}".replace(" ", "-")


def _load(case, value):
    """Run the case's loader on what ``case.make`` returned."""
    if case.kind == "pattern":
        pattern = load_pattern(value)
        return pattern.q if case.needs_wavelength else pattern
    if case.kind == "structure":
        return read_structure(value)
    if case.kind == "volumetric":
        return (read_cube if value.suffix == ".cube" else read_xsf)(value)
    if case.kind == "formula":
        return integer_formula(value)
    if case.kind == "lattice":
        return parse_lattice(value)
    return cell_from_parameters(*value)


def test_corpus_size():
    assert len(CASES) >= 25
    assert len({_ids(case) for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_loader_names_the_input_and_the_problem(case, tmp_path):
    value = case.make(tmp_path)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(CrystalNetInputError) as info:
            _load(case, value)
    assert time.perf_counter() - start < 5  # sparse GB files: not read
    error = info.value
    assert case.problem in error.problem
    assert "\n" not in str(error) and "\r" not in str(error)
    if case.kind in ("pattern", "structure", "volumetric"):
        assert error.source == str(value)
        assert str(error) == f"{value}: {error.problem}"
    else:
        assert error.source  # the argument: formula, --lattice, cell


def _run(args, capsys):
    code = main([os.fspath(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_refused(code, out, err, source, problem):
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"Error: {source}: "), err
    assert problem in lines[0]


def _files(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))


@pytest.mark.parametrize("command", ["inspect", "index", "solve"])
@pytest.mark.parametrize("case", PATTERN_CASES, ids=_ids)
def test_cli_refuses_bad_pattern(case, command, tmp_path, capsys):
    path = case.make(tmp_path)
    before = _files(tmp_path)
    args = [command, path]
    if not case.needs_wavelength:
        args += ["--wavelength", "CuKa1"]
    if command == "inspect":
        args += ["--plot", tmp_path / "plot.png"]
    if command == "solve":
        args += ["--composition", "NaCl", "--out", tmp_path / "solved"]
    code, out, err = _run(args, capsys)
    if command == "inspect" and case.needs_wavelength:
        assert code == 0, err  # inspect says what is missing
        assert "none (give --wavelength)" in out
        assert _files(tmp_path) == before + [Path("plot.png")]
        return
    _assert_refused(code, out, err, path, case.problem)
    assert _files(tmp_path) == before  # no output folder, plot or temp file


@pytest.fixture
def good_pattern(tmp_path):
    path = tmp_path / "good.xy"
    path.write_text("# 2theta intensity\n" + columns(*scan()))
    return path


@pytest.mark.parametrize(
    "case", FORMULA_CASES + LATTICE_CASES + CELL_CASES, ids=_ids
)
def test_cli_solve_refuses_bad_argument(case, good_pattern, capsys):
    folder = good_pattern.parent
    value = case.make(folder)
    args = ["solve", good_pattern, "-w", "CuKa1", "--out", folder / "out"]
    if case.kind == "formula":
        args += ["--composition", value]
        source = f"--composition {value!r}"
    else:
        args += ["--composition", "NaCl"]
        if case.kind == "lattice":
            args += ["--lattice", value]
            source = "--lattice"
        else:
            args += ["--cell", *value]
            source = "--cell"
    code, out, err = _run(args, capsys)
    _assert_refused(code, out, err, source, case.problem)
    assert _files(folder) == [Path("good.xy")]


def _case(name, kind="pattern"):
    return next(c for c in CASES if c.name == name and c.kind == kind)


@pytest.mark.parametrize(
    "name, command",
    [
        ("binary", "inspect"),
        ("truncated pdCIF", "index"),
        ("gigabyte", "solve"),
        ("GSAS STD without CONST binning", "solve"),
    ],
)
def test_console_process_prints_one_line(name, command, tmp_path):
    """The real process: exit 2, one line on stderr (no traceback, no
    warning), nothing on stdout."""
    case = _case(name)
    path = case.make(tmp_path)
    args = [command, str(path), "-w", "CuKa1"]
    if command == "solve":
        args += ["--out", str(tmp_path / "solved")]
    code = (
        "import sys; from diffpy.crystalnet.cli import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"Error: {path}: ")
    assert case.problem in lines[0]
    assert not (tmp_path / "solved").exists()
