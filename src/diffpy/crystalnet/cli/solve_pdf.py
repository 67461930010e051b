"""The PDF side of ``diffpy.crystalnet solve``: a ``.gr`` file given as the
pattern, and a PDF of the same sample given with ``--pdf``."""

from pathlib import Path

import click

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["solve_gr", "joint_table"]


def _lattice(opts):
    from diffpy.crystalnet.index.lattice_text import (
        cell_from_parameters,
        parse_lattice,
    )

    if opts.get("cell"):
        return cell_from_parameters(*opts["cell"], source="--cell")
    if opts.get("lattice"):
        return parse_lattice(opts["lattice"], "--lattice")
    return None


def _out(opts, pattern):
    """The output folder, checked (made only once there is output)."""
    out = Path(opts["out"] or pattern.with_name(pattern.stem + "-solve"))
    if out.exists() and not opts["force"]:
        raise CrystalNetInputError("exists; pass --force to replace it", out)
    if out.exists() and not out.is_dir():
        raise CrystalNetInputError("exists and is not a folder", out)
    return out


def solve_gr(opts, pattern):
    """``solve`` on a G(r) file: library structure types ranked by Rw.

    The composition is required; ``--lattice``/``--cell`` keep the types of
    that cell (a PDF cannot be indexed).
    """
    from diffpy.crystalnet.io.files import write_json, write_text
    from diffpy.crystalnet.io.pdf_files import load_pdf
    from diffpy.crystalnet.refine.pdf_handoff import fit_record, write_pdf_fit
    from diffpy.crystalnet.solver.pdf_solve import solve_pdf

    if not opts.get("composition"):
        raise CrystalNetInputError(
            "solving from a PDF needs --composition", pattern
        )
    data = load_pdf(pattern)
    lattice = _lattice(opts)
    out = _out(opts, pattern)
    result = solve_pdf(data, opts["composition"], lattice=lattice)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for k, c in enumerate(result.candidates, 1):
        stem = f"rank{k}-{c.structure.composition.reduced_formula}"
        paths = write_pdf_fit(c.fit, out, stem, str(pattern), force=True)
        record = dict(rank=k, label=c.label, screen_rw=c.screen_rw)
        record.update(fit_record(c.fit))
        record["files"] = {kind: p.name for kind, p in paths.items()}
        records.append(record)
    write_json(out / "candidates.json", records, force=True, indent=1)
    table = result.table()
    write_text(out / "ranking.txt", table + "\n", force=True)
    probe = {"X": "X-ray", "N": "neutron"}.get(data.radiation, "?")
    click.echo(
        f"{pattern}: G(r), {probe}, Qmax {data.qmax}; "
        f"{result.screened} candidates screened and ranked in "
        f"{result.seconds:.1f} s"
    )
    click.echo(table)
    for note in result.warnings:
        click.echo(f"Warning: {note}", err=True)
    click.echo(f"wrote {len(records)} candidates to {out}")


def joint_table(rows):
    """The joint PXRD + PDF ranking as text."""
    lines = ["joint  formula      space group   Rwp(%)   Rw(PDF)  score"]
    for k, r in enumerate(rows, 1):
        c, fit = r["candidate"], r["fit"]
        rw = f"{fit.rw:8.4f}" if fit is not None else "       -"
        rwp = f"{100 * c.rwp:7.2f}" if c.rwp else "      -"
        score = f"{r['score']:6.3f}" if "score" in r else "     -"
        lines.append(
            f"{k:>5}  {c.formula:<12} {c.spacegroup:<12} "
            f"{rwp} {rw} {score} {r['note']}".rstrip()
        )
    return "\n".join(lines)
