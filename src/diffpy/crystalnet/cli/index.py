"""``diffpy.crystalnet index``: the ranked cells of a powder pattern."""

import json
from pathlib import Path

import click

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.index.indexing import SYSTEMS as DEFAULT_SYSTEMS


def _extinctions(sol, limit=3):
    """The best extinction symbols of a solution as plain values."""
    from diffpy.crystalnet.index.extinction import rank_extinction_symbols

    return [
        dict(
            symbol=e.symbol,
            probability=e.probability,
            conditions=list(e.conditions),
            absent=e.absent,
        )
        for e in rank_extinction_symbols(sol, max_symbols=limit)
    ]


def _space_groups(sol, limit=5):
    """The likeliest space groups of a solution as plain values."""
    from diffpy.crystalnet.index.space_groups import rank_space_groups

    return [
        dict(
            number=g.number,
            symbol=g.symbol,
            probability=g.probability,
            setting=g.setting.tolist(),
            absent=g.absent,
        )
        for g in rank_space_groups(sol, max_groups=limit)
    ]


def solution_record(rank, sol):
    """One indexing solution as plain values (the ``--json`` record).

    Parameters
    ----------
    rank : int
        1 for the best.
    sol : IndexingSolution

    Returns
    -------
    dict
    """
    a, b, c, alpha, beta, gamma = (float(v) for v in sol.lattice.parameters)
    return dict(
        rank=rank,
        system=sol.system,
        centring=sol.centring,
        bravais=sol.symbol,
        cell=dict(a=a, b=b, c=c, alpha=alpha, beta=beta, gamma=gamma),
        volume=float(sol.lattice.volume),
        zero_shift=float(sol.zero_shift),
        m20=float(sol.m20),
        f_n=None if sol.f_n is None else float(sol.f_n),
        indexed=len(sol.indexed),
        unindexed=int(sol.unindexed),
        doubled_axes=dict(sol.details.get("doubled_axes") or {}),
        extinction_symbols=_extinctions(sol),
        space_groups=_space_groups(sol),
        lines=[
            dict(hkl=list(hkl), q_obs=q_obs, q_calc=q_calc)
            for hkl, q_obs, q_calc in sol.indexed
        ],
    )


def format_solutions(solutions):
    """The ranked solutions as a text table.

    Parameters
    ----------
    solutions : list of IndexingSolution

    Returns
    -------
    str
    """
    head = (
        f"{'rank':>4s}  {'lattice':7s}  {'a':>9s} {'b':>9s} {'c':>9s} "
        f"{'alpha':>7s} {'beta':>7s} {'gamma':>7s} {'volume':>9s} "
        f"{'M20':>7s} {'F_N':>7s} {'indexed':>8s}"
    )
    rows = [head, "-" * len(head)]
    for k, sol in enumerate(solutions, 1):
        a, b, c, al, be, ga = sol.lattice.parameters
        fn = "-" if sol.f_n is None else f"{sol.f_n:7.1f}"
        n = len(sol.indexed)
        rows.append(
            f"{k:4d}  {sol.symbol:7s}  {a:9.5f} {b:9.5f} {c:9.5f} "
            f"{al:7.3f} {be:7.3f} {ga:7.3f} {sol.lattice.volume:9.2f} "
            f"{sol.m20:7.1f} {fn:>7s} {n:4d}/{n + sol.unindexed:<3d}".rstrip()
        )
    return "\n".join(rows)


@click.command("index")
@click.argument("pattern", type=click.Path(path_type=Path))
@click.option(
    "--wavelength",
    "-w",
    default=None,
    help="Angstrom or a line name (CuKa1, MoKa); overrides the file.",
)
@click.option(
    "--systems",
    default=",".join(DEFAULT_SYSTEMS),
    show_default=True,
    help="Comma-separated crystal systems to search.",
)
@click.option(
    "--max-peaks",
    type=int,
    default=20,
    show_default=True,
    help="Index the first N peaks.",
)
@click.option(
    "--tolerance",
    type=float,
    default=None,
    help="Largest 2-theta error of an indexed line, degrees "
    "(default from the peak widths, at least 0.04).",
)
@click.option(
    "--solutions",
    type=int,
    default=5,
    show_default=True,
    help="Cells to list.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON instead of a table."
)
def index(
    pattern, wavelength, systems, max_peaks, tolerance, solutions, as_json
):
    """Index PATTERN: its ranked unit cells with figures of merit.

    Finds the peaks, tries every crystal system asked for and prints the cells
    best first (Bravais lattice, conventional cell, de Wolff M20, Smith-Snyder
    F_N, lines indexed), the extinction symbols that the absences of the
    best cell's reflections suggest, and the likeliest space groups (their
    absences and how common they are).  A pattern no cell indexes well
    enough is refused with the best attempt (exit status 2).
    """
    from diffpy.crystalnet.index.indexing import index_pattern
    from diffpy.crystalnet.io.patterns import load_pattern

    if not pattern.is_file():
        raise CrystalNetInputError("no such file", pattern)
    if solutions < 1:
        raise CrystalNetInputError("must be at least 1", "--solutions")
    chosen = tuple(s.strip() for s in systems.split(",") if s.strip())
    data = load_pattern(pattern, wavelength=wavelength)
    found = index_pattern(
        data,
        systems=chosen,
        max_peaks=max_peaks,
        tolerance=tolerance,
        max_solutions=solutions,
    )
    if as_json:
        payload = dict(
            pattern=str(pattern),
            wavelength=data.wavelength,
            systems=list(chosen),
            solutions=[solution_record(k, s) for k, s in enumerate(found, 1)],
        )
        click.echo(json.dumps(payload, indent=1))
        return
    wl = "none" if data.wavelength is None else f"{data.wavelength:g} A"
    click.echo(f"{pattern}: wavelength {wl}; {len(found)} cell(s)")
    click.echo(format_solutions(found))
    best = found[0]
    click.echo(f"best: {best.describe()}")
    symbols = ", ".join(
        f"{e['symbol']} ({e['probability']:.0%})" for e in _extinctions(best)
    )
    click.echo(f"extinction symbols of the best cell: {symbols}")
    groups = ", ".join(
        f"{g['number']} {g['symbol']} ({g['probability']:.0%})"
        for g in _space_groups(best)
    )
    click.echo(f"likeliest space groups (standard symbols): {groups}")
