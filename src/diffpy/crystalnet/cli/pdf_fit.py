"""``diffpy.crystalnet pdf-fit``: refine structures against a measured G(r),
or rank the structure types of the library by their fit to it."""

import json
from pathlib import Path

import click

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.refine.pdf_refine import DEFAULT_PDF_REFINE, PDF_GROUPS


def _groups(text):
    groups = tuple(g.strip() for g in text.split(",") if g.strip())
    unknown = sorted(set(groups) - set(PDF_GROUPS))
    if unknown:
        raise CrystalNetInputError(
            f"unknown group(s) {unknown}; choose from {list(PDF_GROUPS)}",
            "--refine",
        )
    return groups


def _out_folder(out, force):
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CrystalNetInputError("exists and is not a folder", out)
    if out.exists() and any(out.iterdir()) and not force:
        raise CrystalNetInputError(
            "the output folder is not empty; use --force to overwrite", out
        )
    return out


def _load_structures(paths):
    from diffpy.crystalnet.io.structures import read_structure

    return [(Path(p).stem, read_structure(p)) for p in paths]


# long: options are read, checked and dispatched in one place
@click.command("pdf-fit")
@click.argument("data", type=click.Path(path_type=Path))
@click.argument("structures", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--composition",
    "-c",
    default=None,
    help="Formula: rank every structure type of the library that fits it "
    "(with or without STRUCTURES).",
)
@click.option("--rmin", type=float, default=None, help="Fit from (A).")
@click.option("--rmax", type=float, default=None, help="Fit to (A).")
@click.option(
    "--radiation",
    type=click.Choice(["X", "N"], case_sensitive=False),
    default=None,
    help="X-ray or neutron (overrides the file).",
)
@click.option("--qmax", type=float, default=None, help="Overrides the file.")
@click.option("--qdamp", type=float, default=None, help="Overrides the file.")
@click.option(
    "--refine",
    "groups",
    default=",".join(DEFAULT_PDF_REFINE),
    show_default=True,
    help=f"Parameter groups, from {', '.join(PDF_GROUPS)}.",
)
@click.option(
    "--uiso-by",
    type=click.Choice(["site", "element"]),
    default="site",
    show_default=True,
    help="One Uiso per Wyckoff orbit or per element.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for the CIF, .stru, pdffit2 script, curves, plot, JSON.",
)
@click.option("--force", is_flag=True, help="Overwrite existing outputs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def pdf_fit(
    data,
    structures,
    composition,
    rmin,
    rmax,
    radiation,
    qmax,
    qdamp,
    groups,
    uiso_by,
    out,
    force,
    as_json,
):
    """Fit structures to the pair distribution function in DATA (.gr).

    With STRUCTURES (CIF or any format pymatgen or diffpy.structure reads),
    each is refined against G(r) in its space group (scale, lattice,
    coordinates, Uiso, delta2, Qdamp) and the fits are ranked by Rw.  With
    --composition, the structure types of the shipped library that fit the
    formula are screened and the best refined too.  --out writes, per
    candidate, the refined CIF, a PDFgui .stru, a ready-to-run pdffit2
    script, the curves and a plot.
    """
    from diffpy.crystalnet.io.pdf_files import load_pdf
    from diffpy.crystalnet.refine.pdf_handoff import fit_record, write_pdf_fit
    from diffpy.crystalnet.refine.pdf_refine import refine_pdf
    from diffpy.crystalnet.solver.pdf_solve import solve_pdf

    if not structures and not composition:
        raise CrystalNetInputError(
            "give structure files to refine or --composition", "pdf-fit"
        )
    refine = _groups(groups)
    measured = load_pdf(data, qmax=qmax, qdamp=qdamp, radiation=radiation)
    given = _load_structures(structures)
    if out is not None:
        out = _out_folder(out, force)
    fits = []
    if composition:
        result = solve_pdf(
            measured, composition, candidates=given, rmin=rmin, rmax=rmax
        )
        fits = [(c.label, c.fit) for c in result.candidates]
        for w in result.warnings:
            click.echo(f"warning: {w}", err=True)
    else:
        for label, s in given:
            fits.append(
                (
                    label,
                    refine_pdf(
                        s,
                        measured,
                        refine=refine,
                        rmin=rmin,
                        rmax=rmax,
                        uiso_by=uiso_by,
                    ),
                )
            )
        fits.sort(key=lambda t: t[1].rw)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    records = []
    for k, (label, fit) in enumerate(fits, 1):
        record = dict(rank=k, label=label, **fit_record(fit))
        if out is not None:
            stem = f"rank{k}-{fit.structure.composition.reduced_formula}"
            paths = write_pdf_fit(fit, out, stem, str(data), force=force)
            record["files"] = {kind: str(p) for kind, p in paths.items()}
        records.append(record)
    if out is not None:
        from diffpy.crystalnet.io.files import write_json

        write_json(out / "pdf-fit.json", records, force=True, indent=1)
    if as_json:
        click.echo(json.dumps(records, indent=1))
        return
    click.echo(f"{data}: {measured!r}")
    for record, (label, fit) in zip(records, fits):
        click.echo(f"rank {record['rank']} ({label}): {fit.summary()}")
    if out is not None:
        click.echo(f"outputs in {out}")
