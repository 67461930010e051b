"""``diffpy.crystalnet evaluate``: the paper's metrics beside baselines."""

from pathlib import Path

import click

from diffpy.crystalnet.errors import CrystalNetInputError


@click.command("evaluate")
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    required=True,
    help="Dataset folder.",
)
@click.option(
    "--reference",
    type=click.Path(path_type=Path),
    default=None,
    help="Training dataset for the nearest-pattern and mean-grid baselines "
    "(default: --data itself).",
)
@click.option(
    "--split",
    type=click.Choice(["test", "val", "train", "all"]),
    default="test",
    show_default=True,
)
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=None,
    help="Checkpoint (e.g. RUN/best.pt); default the shipped model.",
)
@click.option("--samples", type=int, default=5, show_default=True)
@click.option("--grid", type=int, default=50, show_default=True)
@click.option("--no-rotations", is_flag=True, help="Score the identity only.")
@click.option(
    "--modes",
    default="full",
    show_default=True,
    help="Composition priors, comma-separated: full,elements,drop,none.",
)
@click.option("--limit", type=int, default=None, help="First N crystals.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for evaluation.json and evaluation.md.",
)
@click.option("--force", is_flag=True, help="Overwrite outputs in --out.")
@click.option("--threads", type=int, default=None)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def evaluate(**opts):
    """Evaluate a model on a dataset split (Tables 1 and 2 of the paper).

    Prints the Markdown tables; with --out also writes them and the
    per-crystal JSON.
    """
    from diffpy.crystalnet.model.evaluate import evaluate as run
    from diffpy.crystalnet.model.evaluate import write_markdown

    if opts["threads"]:
        import torch

        torch.set_num_threads(opts["threads"])
    modes = tuple(m.strip() for m in opts["modes"].split(",") if m.strip())
    if not modes:
        raise CrystalNetInputError("no composition mode given", "--modes")
    result = run(
        opts["data"],
        split=opts["split"],
        model=opts["model"],
        samples=opts["samples"],
        rotations=not opts["no_rotations"],
        grid=opts["grid"],
        modes=modes,
        out=opts["out"],
        limit=opts["limit"],
        seed=opts["seed"],
        force=opts["force"],
        progress=not opts["quiet"],
        reference=opts["reference"],
    )
    click.echo(write_markdown(result))
