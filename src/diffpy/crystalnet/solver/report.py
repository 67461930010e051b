"""Outputs of a structure solution: CIFs, densities, JSON, figure, table.

:func:`write_outputs` writes one folder per run::

    candidate-01.cif      symmetrised structure, best candidate first
                          (a refined candidate: with esds and the Rietveld
                          figures of merit, _pd_proc_ls_prof_wR_factor...)
    candidate-01.CHGCAR   its density (VASP format, rho * V) on the CMED cell
                          (an isotype: the IAM density of its structure)
    candidate-01.cube     the same density as a Gaussian cube file
    ...
    candidates.json       space group, formula, sites, Rwp, fit parameters,
                          timings, warnings and input provenance
    report.png            observed vs calculated profiles with difference
                          curves for the best candidates, and a density
                          projection per candidate

The folder is first written under a temporary name next to it and then
renamed, so a run never leaves a half-written folder; an existing folder is
only replaced with ``force=True``.
"""

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["format_table", "plot_report", "text_table", "write_outputs"]


def _plain(value):
    """JSON default: numpy scalars and arrays, paths, other objects."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _steps(cand):
    """The steps that changed a candidate, e.g. ``improve, refine``."""
    shown = [s for s in cand.steps if s in ("improve", "refine")]
    return ", ".join(shown) or "-"


def format_table(result, limit=None):
    """The console table of a solution: rank, formula, space group, Rwp.

    Parameters
    ----------
    result : diffpy.crystalnet.solver.pipeline.SolveResult
        The candidates.
    limit : int, optional
        Show at most this many rows.

    Returns
    -------
    str
        A fixed-width text table (no trailing newline).
    """
    rows = [
        ("rank", "formula", "space group", "Rwp %", "atoms", "from", "steps")
    ]
    for rank, cand in enumerate(result[:limit] if limit else result, 1):
        rwp = "-" if cand.rwp is None else f"{100 * cand.rwp:.2f}"
        source = cand.source
        if cand.also_from:
            source += f" (+{len(cand.also_from)})"
        rows.append(
            (
                str(rank),
                cand.formula,
                f"{cand.spacegroup} ({cand.spacegroup_number})",
                rwp,
                str(len(cand.structure)),
                source,
                _steps(cand),
            )
        )
    if len(rows) == 1:
        return "no candidate structure"
    return text_table(rows, right=(0, 3, 4))


def text_table(rows, right=()):
    """A fixed-width text table with a rule under its header row.

    Parameters
    ----------
    rows : sequence of sequence of str
        The header row, then the rows.
    right : sequence of int, optional
        Columns aligned right (numbers); the others align left.

    Returns
    -------
    str
        The table (no trailing newline).
    """
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.rjust(w) if i in right else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths))
            ).rstrip()
        )
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def plot_report(result, path, best=3):
    """Draw the fits of the best candidates and their densities.

    Parameters
    ----------
    result : diffpy.crystalnet.solver.pipeline.SolveResult
        The candidates.
    path : str or os.PathLike
        The PNG to write (overwritten).
    best : int, optional
        Number of candidates whose fit is drawn (default 3).

    Returns
    -------
    pathlib.Path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fitted = [c for c in result if c.fit is not None][:best]
    shown = list(result[: max(best, 1)])
    n_fit = max(1, len(fitted))
    fig = plt.figure(figsize=(11, 3.2 * n_fit + 3.0))
    grid = fig.add_gridspec(n_fit + 1, max(1, len(shown)))
    for row, cand in enumerate(fitted):
        ax = fig.add_subplot(grid[row, :])
        fit = cand.fit
        x = fit.two_theta
        ax.plot(x, fit.observed, ".", ms=1.5, color="k", label="observed")
        ax.plot(x, fit.calculated, "-", lw=0.8, color="C3", label="calc.")
        offset = fit.observed.min() - 0.1 * np.ptp(fit.observed)
        ax.plot(
            x, fit.difference + offset, "-", lw=0.6, color="C0", label="diff."
        )
        ax.set_title(
            f"{cand.formula} {cand.spacegroup}  Rwp {100 * fit.rwp:.2f} %  "
            f"({cand.source})",
            fontsize=9,
        )
        ax.set_xlabel("2-theta (deg)")
        ax.set_ylabel("intensity")
        ax.legend(fontsize=7, loc="upper right")
    if not fitted:
        ax = fig.add_subplot(grid[0, :])
        ax.text(0.5, 0.5, "no fitted candidate", ha="center", va="center")
        ax.set_axis_off()
    for col, cand in enumerate(shown):
        ax = fig.add_subplot(grid[n_fit, col])
        projection = np.asarray(cand.density_on_cell()[0]).sum(axis=2)
        ax.imshow(projection.T, origin="lower", cmap="viridis")
        ax.set_title(f"density {col + 1}, sum along c", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _summary(result, files):
    candidates = []
    for rank, cand in enumerate(result, 1):
        entry = {"rank": rank}
        entry.update(cand.summary())
        entry["files"] = files.get(rank, {})
        candidates.append(entry)
    return dict(
        provenance=result.provenance,
        timings=result.timings,
        warnings=list(result.warnings),
        candidates=candidates,
    )


def write_outputs(
    result, out_dir, force=False, densities=True, plot=True, keep=None
):
    """Write every output of a solution into a folder.

    Parameters
    ----------
    result : diffpy.crystalnet.solver.pipeline.SolveResult
        The candidates and provenance from
        :func:`diffpy.crystalnet.solver.pipeline`.
    out_dir : str or os.PathLike
        The folder; it must not exist unless ``force`` is given.
    force : bool, optional
        Replace an existing folder.
    densities : bool, optional
        Write CHGCAR and cube files of the densities (default).
    plot : bool, optional
        Draw ``report.png`` (default).
    keep : int, optional
        Write the CIF and density files of the best ``keep`` candidates
        only (default: all); ``candidates.json`` lists every candidate.

    Returns
    -------
    dict
        ``{"folder": Path, "files": [Path, ...]}``.

    Raises
    ------
    CrystalNetInputError
        The folder exists and ``force`` is false, or its parent does not
        exist.
    """
    from diffpy.crystalnet.io.volumetric import write_chgcar, write_cube

    out_dir = Path(out_dir)
    if out_dir.exists() and not force:
        raise CrystalNetInputError(
            "exists; pass --force (force=True) to replace it", out_dir
        )
    if out_dir.exists() and not out_dir.is_dir():
        raise CrystalNetInputError("exists and is not a folder", out_dir)
    parent = out_dir.parent if str(out_dir.parent) else Path(".")
    if not parent.is_dir():
        raise CrystalNetInputError("the parent folder does not exist", out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=parent))
    try:
        files = {}
        for rank, cand in enumerate(result, 1):
            if keep is not None and rank > keep:
                break
            stem = f"candidate-{rank:02d}"
            entry = {"cif": f"{stem}.cif"}
            cand.write_cif(tmp / entry["cif"])
            if densities:
                entry["chgcar"] = f"{stem}.CHGCAR"
                entry["cube"] = f"{stem}.cube"
                grid, cell = cand.density_on_cell()
                write_chgcar(tmp / entry["chgcar"], grid, cell)
                write_cube(
                    tmp / entry["cube"],
                    grid,
                    cell,
                    comment=f"diffpy.crystalnet {cand.source}",
                )
            files[rank] = entry
        if plot:
            plot_report(result, tmp / "report.png")
        text = json.dumps(_summary(result, files), indent=2, default=_plain)
        (tmp / "candidates.json").write_text(text + "\n", encoding="utf-8")
        umask = os.umask(0)
        os.umask(umask)
        for item in tmp.iterdir():
            os.chmod(item, 0o666 & ~umask)
        os.chmod(tmp, 0o777 & ~umask)
        if out_dir.exists():
            old = Path(
                tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=parent)
            )
            os.replace(out_dir, old / "x")
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    written = sorted(out_dir.iterdir())
    return {"folder": out_dir, "files": written}


# End of file
