"""``diffpy.crystalnet solve-batch``: solve many patterns on Dask.

Exit status: 0 when every pattern was solved or skipped (already solved),
1 when some failed (the others are solved all the same; the summary says
which and why), 2 for bad input before any solve (no pattern found, a bad
composition table, two patterns with the same stem, bad options, an
unreachable scheduler).
"""

from pathlib import Path

import click

from diffpy.crystalnet.cli.solve import (
    LATTICE_OPTIONS,
    STEP_OPTIONS,
    settings_from_options,
    with_options,
)
from diffpy.crystalnet.errors import CrystalNetInputError


@click.command("solve-batch")
@click.argument("patterns", nargs=-1, required=True)
@click.option(
    "--composition",
    "-c",
    default=None,
    help="Formula of every pattern, e.g. NaCl (a ratio).",
)
@click.option(
    "--compositions",
    type=click.Path(path_type=Path),
    default=None,
    help="CSV table with the header pattern,composition[,wavelength]: "
    "one row per pattern (file name, stem or path).",
)
@click.option(
    "--wavelength",
    "-w",
    default=None,
    help="Angstrom or a line name (CuKa1, MoKa); overrides the files "
    "and the table.",
)
@with_options(LATTICE_OPTIONS)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Output folder: one folder per pattern (named after its stem, "
    "as solve --out writes it) and summary.csv.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Solve again the patterns already solved in --out (default: "
    "skip them, so that a stopped run resumes).",
)
@with_options(STEP_OPTIONS)
@click.option(
    "--scheduler",
    default=None,
    help="Address of a running Dask scheduler, e.g. tcp://host:8786 "
    "(dask-jobqueue, dask-scheduler); default: a local cluster.",
)
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Worker processes of the local cluster (default: one per core, "
    "at most one per pattern).",
)
@click.option(
    "--threads-per-worker",
    type=int,
    default=None,
    help="Patterns each local worker solves at once (default 1).",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def solve_batch(**opts):
    """Solve every pattern of PATTERNS (files, folders, globs) on Dask.

    Each pattern is solved as "solve PATTERN --out OUT/<stem>" would,
    with the same options; patterns already solved in --out are skipped.
    A failed pattern does not stop the others.  Prints a summary table and
    writes it to OUT/summary.csv; the exit status is 1 if some pattern
    failed.
    """
    from diffpy.crystalnet.solver.batch import SUMMARY_NAME, solve_many
    from diffpy.crystalnet.solver.batch_records import (
        find_patterns,
        format_summary,
    )

    compositions, wavelength, exclude = _per_pattern(opts)
    cluster = _cluster(opts)
    out = opts["out"]
    patterns = find_patterns(
        opts["patterns"], exclude=exclude + [out / SUMMARY_NAME]
    )
    records = solve_many(
        patterns,
        compositions,
        settings_from_options(opts),
        out,
        wavelength=wavelength,
        progress=not opts["no_progress"],
        **cluster,
    )
    click.echo(format_summary(records))
    click.echo(f"wrote {out / SUMMARY_NAME}")
    if any(record.status == "failed" for record in records):
        click.get_current_context().exit(1)


def _per_pattern(opts):
    """Compositions, wavelength(s) and the files that are no patterns."""
    from diffpy.crystalnet.solver.batch_records import read_composition_table

    wavelength = opts["wavelength"]
    table = opts["compositions"]
    if table is None:
        if opts["composition"] is None:
            click.echo(
                "Warning: no --composition or --compositions: every "
                "pattern is solved without a composition",
                err=True,
            )
        return opts["composition"], wavelength, []
    if opts["composition"] is not None:
        raise CrystalNetInputError(
            "give --composition or --compositions, not both", "--compositions"
        )
    compositions, wavelengths = read_composition_table(table)
    return compositions, wavelength or wavelengths, [table]


def _cluster(opts):
    """The keyword arguments of solve_many that choose the cluster."""
    local = {
        "--workers": opts["workers"],
        "--threads-per-worker": opts["threads_per_worker"],
    }
    for flag, value in local.items():
        if value is not None and value < 1:
            raise CrystalNetInputError("must be at least 1", flag)
    if opts["scheduler"] is not None:
        given = [flag for flag, value in local.items() if value is not None]
        if given:
            raise CrystalNetInputError(
                "sets the local cluster; the workers of --scheduler are "
                "set where the cluster is started",
                given[0],
            )
        return {"client": opts["scheduler"]}
    return {
        "workers": opts["workers"],
        "threads_per_worker": opts["threads_per_worker"] or 1,
    }
