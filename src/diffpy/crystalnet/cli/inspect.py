"""``diffpy.crystalnet inspect``: what a pattern file holds and how the model
will see it."""

import os

import click
import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.io.files import atomic_output


def summarize(pattern, strip_kalpha2=False):
    """Describe a pattern and its model input as (label, value) rows.

    Parameters
    ----------
    pattern : diffpy.crystalnet.physics.pattern.Pattern
        A loaded pattern.
    strip_kalpha2 : bool, optional
        Strip K-alpha2 when making the model input.

    Returns
    -------
    tuple of (list of (str, str), ModelInput or None)
        The rows to print and the model input (None when the pattern
        cannot be converted, e.g. 2-theta without a wavelength; a row then
        says why).
    """
    from diffpy.crystalnet.physics.model_input import N_BINS, find_grid_peaks

    meta = pattern.metadata
    unit = "deg 2theta" if pattern.xtype == "tth" else "1/A (Q)"
    rows = [
        ("file", pattern.source),
        ("format", str(meta.get("format", "?"))),
        ("points", str(len(pattern))),
        ("x range", f"{pattern.x[0]:g} - {pattern.x[-1]:g} {unit}"),
        ("x axis from", str(meta.get("xtype_origin", "?"))),
    ]
    if pattern.wavelength is None:
        rows.append(("wavelength", "none (give --wavelength)"))
    else:
        rows.append(
            (
                "wavelength",
                f"{pattern.wavelength:g} A "
                f"(from {meta.get('wavelength_origin') or '?'})",
            )
        )
    if meta.get("note"):
        rows.append(("note", str(meta["note"])))
    try:
        q_min, q_max = pattern.q_range
        rows.append(("Q range", f"{q_min:.3f} - {q_max:.3f} 1/A"))
        model_input = pattern.to_model_input(strip_kalpha2=strip_kalpha2)
    except CrystalNetInputError as error:
        rows.append(("model input", f"not possible: {error.problem}"))
        return rows, None
    covered = int(np.count_nonzero(model_input.mask))
    rows.append(
        (
            "grid coverage",
            f"{covered}/{N_BINS} bins ({100.0 * covered / N_BINS:.1f} %)",
        )
    )
    rows.append(
        (
            "peaks found",
            f"{find_grid_peaks(model_input).size} (prominence >= 2 % of "
            "max, on the model grid)",
        )
    )
    return rows, model_input


def _write_plot(pattern, model_input, out, force):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from diffpy.crystalnet.physics.model_input import grid_q

    out = os.fspath(out)
    if os.path.exists(out) and not force:
        raise CrystalNetInputError("exists; use --force to overwrite it", out)
    directory = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(directory):
        raise CrystalNetInputError("its folder does not exist", out)
    fig, axes = plt.subplots(2, 1, figsize=(8, 6), constrained_layout=True)
    top, bottom = axes
    top.plot(pattern.x, pattern.intensity, lw=0.7)
    top.set_xlabel(
        "2theta (deg)" if pattern.xtype == "tth" else "Q (1/angstrom)"
    )
    top.set_ylabel("intensity")
    top.set_title(f"measured: {os.path.basename(pattern.source or '')}")
    if model_input is not None:
        q = grid_q()
        bottom.plot(q, model_input.intensity, lw=0.8, drawstyle="steps-mid")
        masked = ~model_input.mask
        bottom.fill_between(
            q,
            0,
            1,
            where=masked,
            color="0.85",
            step="mid",
            label="not measured",
        )
        bottom.set_xlim(0, q[-1])
        bottom.legend(loc="upper right")
        bottom.set_title("model input (1024 bins, Mo Ka 2theta grid)")
    else:
        bottom.text(0.5, 0.5, "no model input (see the summary)", ha="center")
    bottom.set_xlabel("Q (1/angstrom)")
    bottom.set_ylabel("normalised intensity")
    try:
        with atomic_output(out) as temp:
            fig.savefig(temp, format="png", dpi=120)
    finally:
        plt.close(fig)
    return out


@click.command("inspect")
@click.argument("pattern_file", type=click.Path(dir_okay=False))
@click.option(
    "--wavelength",
    "-w",
    default=None,
    help="Wavelength in angstrom or a line name (CuKa1, MoKa, ...); "
    "overrides the file.",
)
@click.option(
    "--xtype",
    type=click.Choice(["tth", "q"]),
    default=None,
    help="The x axis of a file that does not say (default: 2-theta).",
)
@click.option(
    "--strip-kalpha2",
    is_flag=True,
    help="Strip K-alpha2 (Rachinger) when making the model input.",
)
@click.option(
    "--plot",
    "plot",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write a PNG of the measured data and the model input.",
)
@click.option("--force", is_flag=True, help="Overwrite the --plot file.")
def inspect(pattern_file, wavelength, xtype, strip_kalpha2, plot, force):
    """Show what PATTERN_FILE holds and how CrystalNet will see it.

    Prints the format, number of points, x range, wavelength and where it
    came from, Q range, the fraction of the 1024-bin model grid the data
    cover and the number of peaks found.
    """
    from diffpy.crystalnet.io.patterns import load_pattern

    if plot and os.path.exists(plot) and not force:
        raise CrystalNetInputError("exists; use --force to overwrite it", plot)
    pattern = load_pattern(pattern_file, wavelength=wavelength, xtype=xtype)
    rows, model_input = summarize(pattern, strip_kalpha2=strip_kalpha2)
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        click.echo(f"{label:<{width}} : {value}")
    if plot:
        written = _write_plot(pattern, model_input, plot, force)
        click.echo(f"{'plot':<{width}} : {written}")
