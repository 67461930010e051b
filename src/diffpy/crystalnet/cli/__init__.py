"""The ``diffpy.crystalnet`` command line.

One click group; each subcommand lives in a module of this package named
after what it does and is registered in :data:`SUBCOMMANDS`.  Bad input
(:class:`~diffpy.crystalnet.errors.CrystalNetInputError`, which the loaders
raise for every problem with a user's file or argument; the bad-input corpus
and property tests of ``tests/io`` check that they raise nothing else) is
printed as one line ``Error: ...`` without a traceback, and the exit status
is 2.  Any other exception is a bug and keeps its traceback.
"""

import importlib
import sys

import click

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.version import __version__

#: ``(module, attribute)`` of each subcommand, imported lazily so that
#: ``--help`` stays fast and a broken optional dependency of one command
#: does not break the others.
SUBCOMMANDS = {
    "inspect": ("diffpy.crystalnet.cli.inspect", "inspect"),
    "index": ("diffpy.crystalnet.cli.index", "index"),
    "dataset": ("diffpy.crystalnet.cli.dataset", "dataset"),
    "train": ("diffpy.crystalnet.cli.train", "train"),
    "evaluate": ("diffpy.crystalnet.cli.evaluate", "evaluate"),
    "solve": ("diffpy.crystalnet.cli.solve", "solve"),
    "solve-batch": ("diffpy.crystalnet.cli.solve_batch", "solve_batch"),
    "pdf-fit": ("diffpy.crystalnet.cli.pdf_fit", "pdf_fit"),
}


class _LazyGroup(click.Group):
    """A click group that imports its subcommands on first use."""

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(SUBCOMMANDS))

    def get_command(self, ctx, name):
        command = super().get_command(ctx, name)
        if command is not None or name not in SUBCOMMANDS:
            return command
        module_name, attribute = SUBCOMMANDS[name]
        module = importlib.import_module(module_name)
        return getattr(module, attribute)


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="diffpy.crystalnet")
def cli():
    """Solve crystal structures from powder X-ray diffraction (CrystalNet).

    Run ``diffpy.crystalnet COMMAND --help`` for the options of a command.
    """


def main(argv=None):
    """Entry point of the ``diffpy.crystalnet`` console script.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        The exit status: 0 on success, 2 for bad input, 1 otherwise
        (``solve-batch``: 1 when some pattern failed).
    """
    try:
        status = cli.main(
            args=argv, prog_name="diffpy.crystalnet", standalone_mode=False
        )
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.exceptions.Exit as done:
        return done.exit_code
    except CrystalNetInputError as error:
        click.echo(f"Error: {error}", err=True)
        return 2
    # a command's ctx.exit(N) comes back as N (solve-batch: 1 when some
    # pattern failed); the commands return None
    if isinstance(status, int) and not isinstance(status, bool):
        return status
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
