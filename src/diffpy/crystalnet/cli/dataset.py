"""``diffpy.crystalnet dataset``: build, summarise and look at datasets."""

import json
import logging
from pathlib import Path

import click

from diffpy.crystalnet.errors import CrystalNetInputError


def _parse_shard(text):
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise CrystalNetInputError(
            f"--shard must look like k/n (e.g. 0/8), not {text!r}", "--shard"
        ) from None
    if not 0 <= k < n:
        raise CrystalNetInputError(
            f"--shard {text}: need 0 <= k < n", "--shard"
        )
    return k, n


@click.group("dataset")
def dataset():
    """Build and inspect training datasets (HDF5 shards)."""


@dataset.command("build")
@click.option(
    "--source",
    "sources",
    multiple=True,
    required=True,
    help="'prototypes' (decorated library prototypes), 'random' "
    "(symmetric random crystals), a CIF file or folder, a CSV file with a "
    "'cif' column, or a pymatgen JSON file.  Repeat for several.",
)
@click.option(
    "--systems",
    default="cubic,trigonal",
    show_default=True,
    help="Comma-separated crystal systems to keep (or 'all').",
)
@click.option(
    "--n",
    "n",
    type=int,
    default=1000,
    show_default=True,
    help="Number of unique structures.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Dataset folder (resumes if it holds the same build).",
)
@click.option("--workers", type=int, default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--shard",
    default="0/1",
    show_default=True,
    help="k/n: build only this job's part (cluster job arrays).",
)
@click.option(
    "--grid",
    type=int,
    default=50,
    show_default=True,
    help="CMED grid size n (n^3 points).",
)
@click.option(
    "--block-size",
    type=int,
    default=128,
    show_default=True,
    help="Records per block (= at most entries per shard).",
)
@click.option(
    "--max-atoms",
    type=int,
    default=20,
    show_default=True,
    help="Largest number of atoms in the CMED cell.",
)
@click.option(
    "--val",
    type=float,
    default=0.05,
    show_default=True,
    help="Fraction of the validation split.",
)
@click.option(
    "--test",
    type=float,
    default=0.05,
    show_default=True,
    help="Fraction of the test split.",
)
@click.option(
    "--exclude",
    type=click.Path(exists=True, path_type=Path),
    multiple=True,
    help="CIF file/folder or text file of 'formula|spacegroup' "
    "keys to keep out of the dataset.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def build(
    sources,
    systems,
    n,
    out,
    workers,
    seed,
    shard,
    grid,
    block_size,
    max_atoms,
    val,
    test,
    exclude,
    quiet,
):
    """Build (or resume) a dataset of patterns, priors and densities."""
    from diffpy.crystalnet.datasets.builder import BuildSettings, build_dataset
    from diffpy.crystalnet.datasets.manifest import finalize_dataset
    from diffpy.crystalnet.datasets.source_blocks import make_source
    from diffpy.crystalnet.datasets.splits import load_exclusions
    from diffpy.crystalnet.physics.lattice import SPACE_GROUP_RANGES as SYSTEMS

    logging.basicConfig(level=logging.WARNING)
    chosen = (
        tuple(SYSTEMS)
        if systems == "all"
        else tuple(s.strip().lower() for s in systems.split(",") if s.strip())
    )
    unknown = sorted(set(chosen) - set(SYSTEMS))
    if unknown:
        raise CrystalNetInputError(
            f"unknown crystal system(s) {unknown}; use {sorted(SYSTEMS)}",
            "--systems",
        )
    if n < 1 or grid < 8 or block_size < 1 or workers < 1:
        raise CrystalNetInputError(
            "--n, --block-size and --workers must be >= 1, --grid >= 8",
            "options",
        )
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise CrystalNetInputError("--val + --test must be in [0, 1)", "--val")
    k, n_jobs = _parse_shard(shard)
    keys = sorted(load_exclusions(exclude, symprec=0.1)) if exclude else []
    settings = BuildSettings(
        systems=chosen,
        n=n,
        seed=seed,
        grid_size=grid,
        block_size=block_size,
        max_atoms=max_atoms,
        fractions={"val": val, "test": test},
        exclude=keys,
    )
    made = [make_source(spec, settings) for spec in sources]
    stats = build_dataset(
        made,
        out,
        settings,
        workers=workers,
        shard=(k, n_jobs),
        progress=not quiet,
    )
    rate = stats["written"] / max(stats["seconds"], 1e-9)
    click.echo(
        f"{stats['written']} entries in {stats['blocks']} new shards, "
        f"{stats['seconds']:.1f} s ({rate:.1f} structures/s, "
        f"{rate / workers:.1f} per worker)"
    )
    if stats["skipped"]:
        click.echo(f"skipped: {json.dumps(stats['skipped'], sort_keys=True)}")
    if n_jobs == 1:
        manifest = finalize_dataset(out)
        click.echo(f"{manifest['entries']} unique structures in {out}")
    else:
        click.echo(
            "job array part done; when all parts are done run "
            f"'diffpy.crystalnet dataset finalize {out}'"
        )


@dataset.command("finalize")
@click.argument("folder", type=click.Path(exists=True, path_type=Path))
def finalize(folder):
    """Deduplicate across shards and write manifest.json (job arrays)."""
    from diffpy.crystalnet.datasets.manifest import finalize_dataset

    manifest = finalize_dataset(folder)
    click.echo(f"{manifest['entries']} unique structures in {folder}")


@dataset.command("info")
@click.argument("folder", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--json", "as_json", is_flag=True, help="Print the counts as JSON."
)
def info(folder, as_json):
    """Counts by split, crystal system and source; sizes on disk."""
    from diffpy.crystalnet.datasets.manifest import load_manifest

    manifest = load_manifest(folder)
    size = sum(p.stat().st_size for p in Path(folder).glob("shard-*.h5"))
    counts = manifest["counts"]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "entries": manifest["entries"],
                    "bytes": size,
                    "counts": counts,
                },
                indent=1,
            )
        )
        return
    click.echo(f"dataset   {folder}")
    click.echo(
        f"entries   {manifest['entries']} unique of {manifest['requested']} "
        f"requested ({manifest['records_seen']} records seen, "
        f"{manifest['duplicates_dropped']} duplicates dropped)"
    )
    click.echo(
        f"grid      {manifest['grid_size']}^3, "
        f"{len(manifest['shards'])} shards, {size / 1e6:.1f} MB"
    )
    click.echo(f"sources   {', '.join(manifest['sources'])}")
    for name in ("by_split", "by_system", "by_source", "by_system_split"):
        items = ", ".join(f"{k}: {v}" for k, v in sorted(counts[name].items()))
        click.echo(f"{name[3:]:<9} {items}")
    top = sorted(counts["by_spacegroup"].items(), key=lambda kv: -kv[1])[:10]
    click.echo("top space groups " + ", ".join(f"{k}: {v}" for k, v in top))
    nsites = sorted(counts["by_nsites"].items(), key=lambda kv: int(kv[0]))
    click.echo("atoms/cell " + ", ".join(f"{k}: {v}" for k, v in nsites))
    top = sorted(counts["by_element"].items(), key=lambda kv: -kv[1])[:15]
    click.echo(
        f"elements  {len(counts['by_element'])} distinct; most common "
        + ", ".join(f"{k}: {v}" for k, v in top)
    )
    if manifest["skipped"]:
        click.echo(
            f"skipped   {json.dumps(manifest['skipped'], sort_keys=True)}"
        )


@dataset.command("show")
@click.argument("folder", type=click.Path(exists=True, path_type=Path))
@click.argument("index", type=int)
@click.option("--split", default="all", show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="PNG file to write.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def show(folder, index, split, out, force):
    """Plot one entry: its pattern and slices of its CMED (PNG)."""
    from diffpy.crystalnet.datasets.plots import plot_entry
    from diffpy.crystalnet.datasets.torch_dataset import CMEDDataset

    if out.exists() and not force:
        raise CrystalNetInputError("exists; use --force to overwrite", out)
    data = CMEDDataset(folder, split=split, points=False)
    if not 0 <= index < len(data):
        raise CrystalNetInputError(
            f"index {index} out of range: split {split!r} has {len(data)} "
            "entries",
            folder,
        )
    plot_entry(data, index, out)
    click.echo(f"wrote {out}")
