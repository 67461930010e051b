"""``diffpy.crystalnet train``: train (or resume) a CrystalNet model."""

import json
from pathlib import Path

import click


@click.command("train")
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    required=True,
    help="Dataset folder (from `diffpy.crystalnet dataset build`).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Run folder: settings.json, last.pt, best.pt, log.csv.",
)
@click.option(
    "--preset",
    type=click.Choice(["cpu", "paper", "tiny"]),
    default=None,
    help="Model size (default cpu).",
)
@click.option("--resume", is_flag=True, help="Continue the run in --out.")
@click.option(
    "--force", is_flag=True, help="Start again in a non-empty --out."
)
@click.option("--steps", type=int, default=None, help="Optimizer steps.")
@click.option(
    "--epochs",
    type=float,
    default=None,
    help="Passes over the training split (default 1 unless --steps).",
)
@click.option(
    "--max-minutes",
    type=float,
    default=None,
    help="Stop cleanly (validate, save) after this much wall time.",
)
@click.option(
    "--batch", type=int, default=None, help="Crystals per step (32)."
)
@click.option(
    "--points",
    type=int,
    default=None,
    help="Query points per crystal, a cube: 512 (default), 1000 (paper).",
)
@click.option(
    "--loss",
    type=click.Choice(["mse-log1p", "l1", "l1-log1p"]),
    default=None,
    help="Reconstruction loss (default mse-log1p; l1 is the published).",
)
@click.option("--lr", type=float, default=None, help="Peak learning rate.")
@click.option(
    "--kl-weight", type=float, default=None, help="KL weight (0.05)."
)
@click.option(
    "--no-augment", is_flag=True, default=False, help="No augmentation."
)
@click.option(
    "--val-every", type=int, default=None, help="Steps between validations."
)
@click.option(
    "--workers", type=int, default=None, help="Data-loader processes (0)."
)
@click.option(
    "--threads", type=int, default=None, help="torch.set_num_threads."
)
@click.option("--seed", type=int, default=None, help="Seed (0).")
@click.option("--device", default=None, help="cpu, cuda, cuda:1...")
@click.option("--quiet", is_flag=True, default=False, help="No progress bar.")
def train(**opts):
    """Train CrystalNet on a dataset; resumable, time-limited, multi-GPU.

    The default model: `diffpy.crystalnet train --data DATA --out RUN`
    (cpu preset, MSE on log1p density, SGDR, augmentation).  Several GPUs:
    `torchrun --nproc_per_node=K --no-python diffpy.crystalnet train ...`.
    """
    from diffpy.crystalnet.model.train import train as run

    options = {
        "steps": opts["steps"],
        "epochs": opts["epochs"],
        "max_minutes": opts["max_minutes"],
        "batch": opts["batch"],
        "points": opts["points"],
        "loss": opts["loss"],
        "lr": opts["lr"],
        "kl_weight": opts["kl_weight"],
        "val_every": opts["val_every"],
        "workers": opts["workers"],
        "threads": opts["threads"],
        "seed": opts["seed"],
        "device": opts["device"],
        "augment": False if opts["no_augment"] else None,
        "progress": False if opts["quiet"] else None,
    }
    result = run(
        opts["data"],
        opts["out"],
        preset=opts["preset"],
        resume=opts["resume"],
        force=opts["force"],
        **options,
    )
    if result.get("rank", 0) == 0:
        click.echo(json.dumps(result, indent=1, default=str))
