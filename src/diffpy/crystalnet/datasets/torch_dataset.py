"""PyTorch access to a built dataset: patterns, priors and sampled points.

:class:`CMEDDataset` reads entries lazily from the HDF5 shards (one entry at a
time, so memory does not grow with the dataset) and, for each crystal, draws
query points with the paper's stratified sampling
(:mod:`diffpy.crystalnet.datasets.point_sampling`).  The random draws of item
``i`` depend only on ``(seed, epoch, i)``, so a training run that is killed and
resumed sees exactly the same points whatever the number of loader workers.
"""

from pathlib import Path

import numpy as np

from diffpy.crystalnet.datasets.manifest import load_manifest
from diffpy.crystalnet.datasets.point_sampling import sample_points
from diffpy.crystalnet.datasets.shards import ShardReader, read_shard_meta
from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["CMEDDataset", "dataset_index"]

SPLITS = ("train", "val", "test")


def dataset_index(folder, split="train"):
    """List the entries of one split that the manifest keeps.

    Parameters
    ----------
    folder : str or os.PathLike
        A finished dataset folder.
    split : {"train", "val", "test", "all"}
        Which split.

    Returns
    -------
    list of tuple
        ``(shard file path, entry index)`` in manifest order.
    """
    if split not in (*SPLITS, "all"):
        raise CrystalNetInputError(
            f"unknown split {split!r}; use one of {SPLITS} or 'all'", "split"
        )
    folder = Path(folder)
    manifest = load_manifest(folder)
    index = []
    for shard in manifest["shards"]:
        if not shard["kept"]:
            continue
        path = folder / shard["file"]
        splits = read_shard_meta(path)["split"]
        index.extend(
            (path, i) for i in shard["kept"] if split in ("all", splits[i])
        )
    return index


class CMEDDataset:
    """Map-style dataset of (pattern, composition, points, densities).

    Parameters
    ----------
    folder : str or os.PathLike
        A finished dataset folder (with ``manifest.json``).
    split : {"train", "val", "test", "all"}
        Which entries.
    strata : int, optional
        Blocks per axis for stratified sampling: ``strata^3`` points per
        crystal (10 gives the paper's 1000).
    density_fraction : float, optional
        Share of the points drawn proportionally to the density.
    augment : callable, optional
        ``augment(entry, rng) -> (pattern, mask)`` builds the model's
        pattern input from the stored entry (its ``pattern``,
        ``sticks_q`` and ``sticks_intensity``); by default the stored
        binned pattern with a full mask.
    composition : callable, optional
        ``composition(vector, rng) -> vector`` to alter the prior (e.g. the
        paper's partial-composition modes); identity by default.
    seed : int, optional
        Seed of the sampling.
    points : bool, optional
        Sample query points (False returns the whole ``cmed`` grid instead,
        for evaluation).

    Notes
    -----
    Items are dicts of float32 numpy arrays; the default PyTorch collate
    function turns a list of them into a dict of tensors.
    """

    def __init__(
        self,
        folder,
        split="train",
        strata=10,
        density_fraction=0.0,
        augment=None,
        composition=None,
        seed=0,
        points=True,
    ):
        self.folder = Path(folder)
        self.split = split
        self.strata = int(strata)
        self.density_fraction = float(density_fraction)
        self.augment = augment
        self.composition = composition
        self.seed = int(seed)
        self.points = points
        self.epoch = 0
        self.index = dataset_index(self.folder, split)
        self._readers = {}

    def __len__(self):
        return len(self.index)

    def set_epoch(self, epoch):
        """Select the random draws of an epoch (call before iterating)."""
        self.epoch = int(epoch)

    def _reader(self, path):
        reader = self._readers.get(path)
        if reader is None:
            reader = self._readers[path] = ShardReader(path)
        return reader

    def entry(self, i, keys=None):
        """Return the stored fields of item ``i`` (see the shard format)."""
        path, j = self.index[i]
        keys = keys or (
            "pattern",
            "composition",
            "cmed",
            "sticks_q",
            "sticks_intensity",
        )
        return self._reader(path).get(j, keys)

    def structure(self, i):
        """Return the true structure (CMED cell) of item ``i``."""
        path, j = self.index[i]
        return self._reader(path).structure(j)

    def __getitem__(self, i):
        rng = np.random.default_rng([self.seed, self.epoch, int(i)])
        entry = self.entry(i)
        if self.augment is None:
            pattern = entry["pattern"].astype(np.float32)
            mask = np.ones_like(pattern, dtype=np.float32)
        else:
            pattern, mask = self.augment(entry, rng)
        composition = entry["composition"].astype(np.float32)
        if self.composition is not None:
            composition = self.composition(composition, rng)
        item = {
            "pattern": np.asarray(pattern, dtype=np.float32),
            "mask": np.asarray(mask, dtype=np.float32),
            "composition": np.asarray(composition, dtype=np.float32),
            "index": np.int64(i),
        }
        if self.points:
            points, values = sample_points(
                entry["cmed"], self.strata, rng, self.density_fraction
            )
            item["points"], item["values"] = points, values
        else:
            item["cmed"] = entry["cmed"]
        return item
