"""Atomic output: complete files only, no clobbering, normal permissions."""

import os
import stat

import pytest

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.files import atomic_output, write_json, write_text


def test_write_and_permissions(tmp_path):
    path = write_text(tmp_path / "a.txt", "hello")
    assert path.read_text() == "hello"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_failure_leaves_old_file_and_no_temporary(tmp_path):
    path = write_json(tmp_path / "a.json", {"x": 1})
    with pytest.raises(RuntimeError):
        with atomic_output(path) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("crash while writing")
    assert path.read_text() == '{"x": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_refuses_overwrite_and_missing_folder(tmp_path):
    path = write_text(tmp_path / "a.txt", "one")
    with pytest.raises(CrystalNetInputError, match="exists"):
        write_text(path, "two", force=False)
    assert path.read_text() == "one"
    with pytest.raises(CrystalNetInputError, match="folder"):
        write_text(tmp_path / "nope" / "a.txt", "x")
