"""Hand a PDF fit on to the tools PDF users know.

:func:`write_pdf_fit` writes, for one :class:`PDFFitResult`:

- ``<stem>.cif``: the refined structure (all atoms, P1 listing, with
  Uiso), for any program;
- ``<stem>.stru``: the same in PDFfit format, loadable by PDFgui and
  ``diffpy.pdffit2`` (``read_struct``);
- ``<stem>_pdffit2.py``: a ready-to-run diffpy.pdffit2 script that reads the
  data and the ``.stru`` and refines scale, lattice (constrained by the
  crystal system), one Uiso per element, delta2 and Qdamp over the same
  range, from our refined values;
- ``<stem>.fgr``: r, G observed, G calculated, difference (columns);
- ``<stem>.png``: data, fit and difference curve;
- ``<stem>.json``: Rw, parameters, esds and sites.

Every file is written atomically and none is overwritten without ``force``.
"""

import os
from pathlib import Path

import numpy as np

from diffpy.crystalnet.io.files import atomic_output, write_json, write_text

__all__ = ["pdffit2_script", "write_pdf_fit", "plot_pdf_fit", "fit_record"]

_LATTICE_TIES = {
    "cubic": ["@1", "@1", "@1"],
    "tetragonal": ["@1", "@1", "@3"],
    "hexagonal": ["@1", "@1", "@3"],
    "trigonal": ["@1", "@1", "@3"],
    "orthorhombic": ["@1", "@2", "@3"],
    "monoclinic": ["@1", "@2", "@3"],
    "triclinic": ["@1", "@2", "@3"],
}


def _system(fit):
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        return SpacegroupAnalyzer(fit.structure, 0.01).get_crystal_system()
    except Exception:  # noqa: BLE001 - fall back to free edges
        return "triclinic"


# long: the script is one template with the fit's values filled in
def pdffit2_script(fit, data_file, stru_file):
    """A diffpy.pdffit2 script that continues the refinement.

    Parameters
    ----------
    fit : PDFFitResult
    data_file, stru_file : str
        Paths of the G(r) data and the ``.stru`` file, as the script will
        see them.

    Returns
    -------
    str
        Python source.
    """
    p = fit.parameters
    ties = _LATTICE_TIES[_system(fit)]
    # every element of every site (a disordered site has several)
    members = {}
    for site in fit.structure:
        for element in site.species.elements:
            members.setdefault(element.symbol, []).append(
                site.properties["Uiso"]
            )
    elements = sorted(members)
    u = {e: float(np.mean(members[e])) for e in elements}
    rmin, rmax = fit.fit_range
    lines = [
        '"""Continue the diffpy.crystalnet PDF refinement in PDFfit2.',
        "",
        f"Our fit: Rw = {fit.rw:.4f} over {rmin:g}-{rmax:g} A, space group "
        f"{fit.space_group}.",
        "PDFfit2 does not impose the space group on coordinates: they stay",
        "fixed here (constrain them, e.g. with diffpy.srfit's",
        "constrainAsSpaceGroup, before refining them).",
        '"""',
        "",
        "import os",
        "",
        "from diffpy.pdffit2 import PdfFit",
        "",
        "os.chdir(os.path.dirname(os.path.abspath(__file__)))",
        "pf = PdfFit()",
        f"pf.read_struct({stru_file!r})",
        f"pf.read_data({data_file!r}, {fit.radiation!r}, {fit.qmax:g}, "
        f"{p['qdamp']:.6g})",
        f"pf.pdfrange(1, {rmin:g}, {rmax:g})",
    ]
    for k, tie in enumerate(ties, 1):
        lines.append(f"pf.constrain(pf.lat({k}), {tie!r})")
    for k, edge in enumerate("abc", 1):
        if f"@{k}" in ties:
            lines.append(f"pf.setpar({k}, {p[edge]:.6f})")
    if _system(fit) in ("monoclinic", "triclinic"):
        lines.append("# the cell angles stay fixed; free them if needed")
    lines.append("elements = " + repr(elements))
    lines.append("for i in range(1, pf.num_atoms() + 1):")
    lines.append("    e = pf.get_atoms()[i - 1].capitalize()")
    lines.append("    for u in (pf.u11, pf.u22, pf.u33):")
    lines.append("        pf.constrain(u(i), f'@{10 + elements.index(e)}')")
    for k, e in enumerate(elements):
        lines.append(f"pf.setpar({10 + k}, {u[e]:.6f})  # Uiso {e}")
    lines += [
        "pf.constrain(pf.dscale, '@4')",
        f"pf.setpar(4, {p['scale']:.6f})",
        "pf.constrain(pf.delta2, '@5')",
        f"pf.setpar(5, {p['delta2']:.6f})",
        "pf.constrain(pf.qdamp, '@6')",
        f"pf.setpar(6, {p['qdamp']:.6f})",
        "pf.refine()",
        "print('Rw =', pf.getrw())",
        "pf.save_struct(1, 'pdffit2-refined.stru')",
        "pf.save_pdf(1, 'pdffit2-refined.fgr')",
        "",
    ]
    return "\n".join(lines)


def fit_record(fit):
    """Rw, parameters, esds and sites of a fit as plain values."""
    return dict(
        formula=fit.structure.composition.reduced_formula,
        space_group=fit.space_group,
        rw=fit.rw,
        chi2=fit.chi2,
        fit_range=list(fit.fit_range),
        radiation=fit.radiation,
        qmax=fit.qmax,
        refined=list(fit.refined),
        parameters=fit.parameters,
        esd=fit.esd,
        sites=fit.sites,
        info=fit.info,
    )


def plot_pdf_fit(fit, path, title=None, force=False):
    """Data, fit and difference (offset below) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    offset = fit.g_obs.min() - 0.6 * np.ptp(fit.g_diff) - 0.1
    ax.plot(fit.r, fit.g_obs, "o", ms=2, mfc="none", color="C0", label="data")
    ax.plot(fit.r, fit.g_calc, "-", lw=1, color="C3", label="fit")
    ax.plot(
        fit.r, fit.g_diff + offset, "-", lw=1, color="C2", label="difference"
    )
    ax.axhline(offset, color="0.6", lw=0.5)
    ax.set_xlabel(r"r ($\mathrm{\AA}$)")
    ax.set_ylabel(r"G ($\mathrm{\AA^{-2}}$)")
    ax.set_title(
        title
        or f"{fit.structure.composition.reduced_formula} "
        f"{fit.space_group}  Rw = {fit.rw:.3f}"
    )
    ax.legend(loc="upper right", frameon=False)
    fig.tight_layout()
    with atomic_output(path, force) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return Path(path)


def _check_free(paths, force):
    from diffpy.crystalnet.errors import CrystalNetInputError

    if force:
        return
    for path in paths:
        if path.exists():
            raise CrystalNetInputError(
                "exists; use --force to overwrite it", path
            )


def write_pdf_fit(fit, folder, stem, data_file, force=False, plot=True):
    """Write the handoff files of one fit into a folder.

    Parameters
    ----------
    fit : PDFFitResult
    folder : str or os.PathLike
        Existing folder.
    stem : str
        File name stem (``"rank1-Ni"``).
    data_file : str
        The G(r) file the fit used (named in the pdffit2 script).
    force : bool
        Overwrite existing files.
    plot : bool
        Also write the PNG plot.

    Returns
    -------
    dict
        Kind -> path of every file written.
    """
    from diffpy.crystalnet.io.structures import to_diffpy

    folder = Path(folder)
    names = dict(
        cif=f"{stem}.cif",
        stru=f"{stem}.stru",
        script=f"{stem}_pdffit2.py",
        curves=f"{stem}.fgr",
        json=f"{stem}.json",
    )
    if plot:
        names["plot"] = f"{stem}.png"
    paths = {k: folder / v for k, v in names.items()}
    _check_free(paths.values(), force)
    dstru = to_diffpy(fit.structure)
    dstru.title = (
        f"{fit.structure.composition.reduced_formula} {fit.space_group} "
        f"PDF fit Rw={fit.rw:.4f} (diffpy.crystalnet)"
    )
    write_text(paths["cif"], dstru.writeStr("cif"))
    write_text(paths["stru"], dstru.writeStr("pdffit"))
    data_rel = os.path.relpath(os.path.abspath(data_file), folder.resolve())
    write_text(paths["script"], pdffit2_script(fit, data_rel, names["stru"]))
    table = np.column_stack([fit.r, fit.g_obs, fit.g_calc, fit.g_diff])
    head = (
        f"# diffpy.crystalnet PDF fit, Rw = {fit.rw:.5f}\n"
        "# r(A) G_obs G_calc G_obs-G_calc\n"
    )
    body = "\n".join(" ".join(f"{v:.6g}" for v in row) for row in table)
    write_text(paths["curves"], head + body + "\n")
    write_json(paths["json"], fit_record(fit), indent=1)
    if plot:
        plot_pdf_fit(fit, paths["plot"], force=True)
    return paths
