"""The console script: version, help, error handling."""

import shutil
import subprocess
import sys

import pytest

from diffpy.crystalnet import __version__
from diffpy.crystalnet.cli import main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage:" in out and "diffpy.crystalnet" in out


def test_unknown_command_is_usage_error(capsys):
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


@pytest.mark.skipif(
    shutil.which("diffpy.crystalnet") is None,
    reason="console script not installed",
)
def test_console_script_resolves():
    done = subprocess.run(
        ["diffpy.crystalnet", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert __version__ in done.stdout


def test_module_import_is_lazy():
    """Importing the package must not import torch or pymatgen."""
    code = (
        "import sys, diffpy.crystalnet;"
        "print('torch' in sys.modules, 'pymatgen.core' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True
    )
    assert done.stdout.split() == ["False", "False"], done.stderr
