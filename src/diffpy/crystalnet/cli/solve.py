"""``diffpy.crystalnet solve``: structure candidates from a powder pattern."""

import warnings
from pathlib import Path

import click

from diffpy.crystalnet.errors import CrystalNetInputError

#: options of a solve run that ``solve`` and ``solve-batch`` share: the
#: lattice and the network's samples ...
LATTICE_OPTIONS = (
    click.option(
        "--lattice",
        default=None,
        help='Conventional cell as text, e.g. "a=5.4" or "a=4.1,c=28.6".',
    ),
    click.option(
        "--cell",
        nargs=6,
        type=float,
        default=None,
        help="Conventional cell: a b c alpha beta gamma.",
    ),
    click.option(
        "--centring",
        type=click.Choice(["P", "I", "F", "R"]),
        default=None,
        help="Centring of --lattice/--cell (default: from the peaks).",
    ),
    click.option(
        "--systems",
        default="all",
        show_default=True,
        help="Crystal systems the indexing tries (without --lattice/--cell): "
        "'all' or any of cubic, trigonal, hexagonal, tetragonal, "
        "orthorhombic, monoclinic, triclinic.",
    ),
    click.option(
        "--lattice-solutions",
        type=int,
        default=3,
        show_default=True,
        help="Indexing solutions to decode on (without --lattice/--cell).",
    ),
    click.option("--samples", type=int, default=5, show_default=True),
    click.option("--seed", type=int, default=0, show_default=True),
    click.option(
        "--model",
        type=click.Path(path_type=Path),
        default=None,
        help="Checkpoint; default the shipped model.",
    ),
)

#: ... and the steps and files
STEP_OPTIONS = (
    click.option(
        "--no-densities", is_flag=True, help="Skip CHGCAR and cube files."
    ),
    click.option(
        "--keep",
        type=int,
        default=10,
        show_default=True,
        help="Write CIF and density files for the best N candidates "
        "(candidates.json lists all).",
    ),
    click.option(
        "--precision",
        type=click.Choice(["auto", "float32", "bfloat16"]),
        default="auto",
        show_default=True,
        help="Arithmetic of the network's queries (auto: bfloat16 where the "
        "CPU has it natively, about 2x faster).",
    ),
    click.option(
        "--no-improve",
        is_flag=True,
        help="Decode the network's densities as they are (no Fourier "
        "recycling with the observed intensities).",
    ),
    click.option(
        "--no-isotypes",
        is_flag=True,
        help="No search-match against the shipped structure-type library.",
    ),
    click.option(
        "--ab-initio",
        type=click.Choice(["auto", "on", "off"]),
        default="auto",
        show_default=True,
        help="Direct-space search on the Wyckoff positions of the likely "
        "space groups (auto: only when no candidate reaches Rwp 15 %).",
    ),
    click.option(
        "--ab-initio-budget",
        type=float,
        default=60.0,
        show_default=True,
        help="Seconds of the ab initio search (all space groups).",
    ),
    click.option(
        "--space-group",
        type=int,
        default=None,
        help="Ab initio search in this space group only (number, standard "
        "setting on the cell).",
    ),
    click.option(
        "--no-refine", is_flag=True, help="No Rietveld refinement of the best."
    ),
    click.option(
        "--refine-top",
        type=int,
        default=2,
        show_default=True,
        help="Best candidates to refine.",
    ),
)


def with_options(options):
    """A decorator that adds click options, the first one on top.

    Parameters
    ----------
    options : sequence of callable
        ``click.option(...)`` decorators.

    Returns
    -------
    callable
        The decorator of a click command.
    """

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@click.command("solve")
@click.argument("pattern", type=click.Path(path_type=Path))
@click.option(
    "--composition",
    "-c",
    default=None,
    help="Formula, e.g. Zr3Sb4Pt3 (a ratio; strongly recommended).",
)
@click.option(
    "--wavelength",
    "-w",
    default=None,
    help="Angstrom or a line name (CuKa1, MoKa); overrides the file.",
)
@with_options(LATTICE_OPTIONS)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output folder (default: <pattern stem>-solve).",
)
@click.option("--force", is_flag=True, help="Replace an existing --out.")
@click.option(
    "--pdf",
    type=click.Path(path_type=Path),
    default=None,
    help="A G(r) of the same sample: the best candidates are refined "
    "against it too and ranked by both fits.",
)
@with_options(STEP_OPTIONS)
def solve(**opts):
    """Solve the structure of PATTERN (a powder X-ray profile, or a G(r)).

    Writes ranked symmetrised CIFs, densities, candidates.json and
    report.png to --out and prints the ranking.  A pair distribution
    function (.gr) as PATTERN ranks the structure types of the library that
    fit --composition by Rw (no indexing: --cell or --lattice narrows the
    types) and writes, per candidate, a CIF, a PDFgui .stru and a pdffit2
    script.
    """
    from diffpy.crystalnet.io.formats.gr import is_gr_file
    from diffpy.crystalnet.solver.pipeline import solve as run
    from diffpy.crystalnet.solver.report import format_table, write_outputs

    pattern = opts["pattern"]
    if not pattern.is_file():
        raise CrystalNetInputError("no such file", pattern)
    _check_formula_and_cell(opts)
    if is_gr_file(pattern):
        from diffpy.crystalnet.cli.solve_pdf import solve_gr

        return solve_gr(opts, pattern)
    if opts["pdf"] is not None and not opts["pdf"].is_file():
        raise CrystalNetInputError("no such file", opts["pdf"])
    settings = _settings(opts, pattern)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        try:
            result = run(
                pattern,
                composition=opts["composition"],
                settings=settings,
                wavelength=opts["wavelength"],
            )
        except CrystalNetInputError as error:
            source = error.source
            if source in (None, "pattern", str(pattern)) or (
                Path(source).exists()
            ):
                raise
            raise CrystalNetInputError(
                f"{error.source}: {error.problem}", pattern
            ) from None
    output = settings.output
    written = write_outputs(
        result,
        output.out,
        force=output.force,
        densities=output.densities,
        keep=output.keep,
    )
    lat = result.provenance.get("lattice", {})
    origin = lat.get("origin", "?")
    if origin == "indexed" and lat.get("m20") is not None:
        origin += f", M20 = {lat['m20']:.1f}"
    click.echo(
        f"{pattern}: wavelength {result.pattern.wavelength:g} A "
        f"({result.provenance.get('wavelength_origin')}), lattice "
        f"{_abc(lat.get('conventional'))} {lat.get('centring', '')} "
        f"({origin})"
    )
    click.echo(format_table(result))
    for note in result.warnings:
        click.echo(f"Warning: {note}", err=True)
    times = ", ".join(
        f"{k} {v:.1f} s" for k, v in result.timings.items() if k != "cpu_total"
    )
    click.echo(f"time: {times}")
    click.echo(f"wrote {len(written['files'])} files to {written['folder']}")
    if opts["pdf"] is not None:
        _joint(result, opts["pdf"], Path(written["folder"]))


def _joint(result, pdf, folder):
    """Refine the best candidates against the G(r) and rank by both."""
    from diffpy.crystalnet.cli.solve_pdf import joint_table
    from diffpy.crystalnet.io.files import write_text
    from diffpy.crystalnet.refine.pdf_handoff import write_pdf_fit
    from diffpy.crystalnet.solver.pdf_solve import rank_with_pdf

    rows = rank_with_pdf(result, pdf)
    table = joint_table(rows)
    sub = folder / "pdf"
    sub.mkdir(exist_ok=True)
    for k, row in enumerate(rows, 1):
        if row["fit"] is not None:
            stem = f"joint{k}-{row['candidate'].formula}"
            write_pdf_fit(row["fit"], sub, stem, str(pdf), force=True)
    write_text(sub / "joint-ranking.txt", table + "\n", force=True)
    click.echo(f"ranked with the PDF {pdf}:")
    click.echo(table)


def _check_formula_and_cell(opts):
    """Refuse a bad --composition, --lattice or --cell before any work,
    naming the option (the pipeline would name the pattern file)."""
    from diffpy.crystalnet.index.lattice_text import (
        cell_from_parameters,
        parse_lattice,
    )
    from diffpy.crystalnet.physics.composition import integer_formula

    formula = opts["composition"]
    if formula is not None:
        try:
            integer_formula(formula)
        except CrystalNetInputError as error:
            raise CrystalNetInputError(
                error.problem, f"--composition {formula!r}"
            ) from None
    if opts["lattice"]:
        parse_lattice(opts["lattice"], "--lattice")
    if opts["cell"]:
        cell_from_parameters(*opts["cell"], source="--cell")


def _settings(opts, pattern):
    """The SolveSettings of the command line's options (checked)."""
    out = opts["out"] or pattern.with_name(pattern.stem + "-solve")
    if out.exists() and not opts["force"]:
        raise CrystalNetInputError("exists; pass --force to replace it", out)
    return settings_from_options(opts, out)


def _systems(text):
    """The --systems option as a tuple of names (``all``: every system)."""
    from diffpy.crystalnet.solver.settings import LatticeSettings

    names = tuple(n.strip() for n in text.split(",") if n.strip())
    return LatticeSettings.systems if names == ("all",) else names


def settings_from_options(opts, out=None):
    """The SolveSettings of the options of ``solve`` (or ``solve-batch``).

    Parameters
    ----------
    opts : dict
        The click options: those of :data:`LATTICE_OPTIONS`,
        :data:`STEP_OPTIONS` and ``force``.
    out : pathlib.Path, optional
        The output folder.

    Returns
    -------
    SolveSettings

    Raises
    ------
    CrystalNetInputError
        For options that contradict each other or a count out of range,
        naming the option.
    """
    from diffpy.crystalnet.solver.settings import SolveSettings

    if opts["lattice"] and opts["cell"]:
        raise CrystalNetInputError(
            "give --lattice or --cell, not both", "cell"
        )
    lattice = opts["lattice"] or (list(opts["cell"]) if opts["cell"] else None)
    try:
        return SolveSettings.from_options(
            lattice=lattice,
            centring=opts["centring"],
            systems=_systems(opts["systems"]),
            lattice_solutions=opts["lattice_solutions"],
            samples=opts["samples"],
            seed=opts["seed"],
            model=opts["model"],
            precision=opts["precision"],
            improve=not opts["no_improve"],
            isotypes=not opts["no_isotypes"],
            ab_initio=opts["ab_initio"],
            ab_initio_budget=opts["ab_initio_budget"],
            space_group=opts["space_group"],
            refine=not opts["no_refine"],
            refine_top=opts["refine_top"],
            out=out,
            force=opts["force"],
            densities=not opts["no_densities"],
            keep=opts["keep"],
        )
    except CrystalNetInputError as error:  # name the option, not the field
        flag = _FLAGS.get(error.source, error.source)
        raise CrystalNetInputError(error.problem, flag) from None


#: settings field -> the command-line option that sets it
_FLAGS = {
    "lattice.solutions": "--lattice-solutions",
    "sampling.samples": "--samples",
    "refine.top": "--refine-top",
    "abinitio.mode": "--ab-initio",
    "abinitio.budget": "--ab-initio-budget",
    "abinitio.space_group": "--space-group",
    "output.keep": "--keep",
}


def _abc(values):
    if not values:
        return "?"
    a, b, c, al, be, ga = values
    return (
        f"a={a:.4f} b={b:.4f} c={c:.4f} "
        f"alpha={al:.2f} beta={be:.2f} gamma={ga:.2f}"
    )
