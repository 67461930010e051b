"""Trivial and retrieval baselines for density prediction.

SSIM and PSNR of electron densities are inflated by the empty space between
atoms (an all-zero grid scores SSIM of about 0.9 on simple crystals), so
every table of :mod:`diffpy.crystalnet.model.evaluate` shows these beside the
model:

``zeros``
    The all-zero grid.
``train_mean``
    A constant prediction learned from data: the voxel-wise mean of the
    training split's densities (:func:`train_mean_grid`), the same grid
    for every crystal.
``uniform``
    An oracle constant: every voxel at the true crystal's own mean density
    (its electron count over its volume).  It knows something the model
    is not told, so it is an upper reference for "no structure".
``nearest``
    Retrieval: the density of the training crystal whose binned pattern is
    most similar (cosine) to the query pattern (:class:`NearestPattern`).
    A model that does not beat it has memorised the training set rather
    than learned to read patterns.
"""

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.model.grids import grid_at

__all__ = ["BASELINES", "NearestPattern", "train_mean_grid", "uniform_grid"]

#: baseline names and labels, in table order
BASELINES = {
    "nearest": "nearest training pattern",
    "train_mean": "constant: training-set mean grid",
    "uniform": "uniform: true mean density (oracle)",
    "zeros": "all zeros",
}


def uniform_grid(truth):
    """The oracle constant grid at the truth's mean density.

    Parameters
    ----------
    truth : numpy.ndarray
        ``(n, n, n)`` true density.

    Returns
    -------
    numpy.ndarray
        Same shape, every voxel ``truth.mean()``.
    """
    truth = np.asarray(truth)
    return np.full(truth.shape, truth.mean(), dtype=np.float32)


def train_mean_grid(dataset, grid=None, limit=None):
    """Voxel-wise mean density of a dataset split.

    Parameters
    ----------
    dataset : diffpy.crystalnet.datasets.torch_dataset.CMEDDataset
        The training split (items read with :meth:`entry`).
    grid : int, optional
        Grid size of the result (see
        :func:`~diffpy.crystalnet.model.grids.grid_at`); default the stored
        one.
    limit : int, optional
        Use only the first ``limit`` entries.

    Returns
    -------
    numpy.ndarray
        ``(n, n, n)`` float32 mean density in e/A^3.
    """
    count = len(dataset) if limit is None else min(limit, len(dataset))
    if count == 0:
        raise CrystalNetInputError("the split is empty", str(dataset.folder))
    total = None
    for i in range(count):
        cmed = dataset.entry(i, ("cmed",))["cmed"].astype(np.float64)
        if grid is not None:
            cmed = grid_at(cmed, grid)
        total = cmed if total is None else total + cmed
    return (total / count).astype(np.float32)


class NearestPattern:
    """Nearest training pattern by cosine similarity of binned patterns.

    Parameters
    ----------
    patterns : numpy.ndarray
        ``(N, 1024)`` training patterns.

    Notes
    -----
    Similarities are one matrix product of row-normalised patterns,
    computed in chunks of queries.  A query mask (lab data with a limited
    Q range) restricts the comparison to the measured bins.
    """

    def __init__(self, patterns):
        patterns = np.asarray(patterns, dtype=np.float32)
        if patterns.ndim != 2 or patterns.shape[0] == 0:
            raise CrystalNetInputError(
                f"expected (N, bins) training patterns, got {patterns.shape}",
                "patterns",
            )
        self.patterns = patterns

    @classmethod
    def from_dataset(cls, dataset):
        """Read the patterns of a :class:`CMEDDataset` split."""
        rows = [
            dataset.entry(i, ("pattern",))["pattern"]
            for i in range(len(dataset))
        ]
        if not rows:
            raise CrystalNetInputError(
                "the training split is empty", str(dataset.folder)
            )
        return cls(np.stack(rows))

    def query(self, patterns, masks=None, chunk=1024):
        """Index and similarity of the nearest training pattern.

        Parameters
        ----------
        patterns : numpy.ndarray
            ``(M, 1024)`` query patterns.
        masks : numpy.ndarray, optional
            ``(M, 1024)`` measured bins of the queries.
        chunk : int, optional
            Queries per matrix product.

        Returns
        -------
        index : numpy.ndarray
            ``(M,)`` row of the nearest training pattern.
        similarity : numpy.ndarray
            ``(M,)`` its cosine similarity.
        """
        q = np.atleast_2d(np.asarray(patterns, dtype=np.float32))
        if q.shape[1] != self.patterns.shape[1]:
            raise CrystalNetInputError(
                f"query patterns have {q.shape[1]} bins, training patterns "
                f"{self.patterns.shape[1]}",
                "patterns",
            )
        if masks is None:
            norms = np.linalg.norm(self.patterns, axis=1)
            train = self.patterns / np.maximum(norms, 1e-12)[:, None]
        index = np.empty(len(q), dtype=np.int64)
        best = np.empty(len(q), dtype=np.float32)
        for start in range(0, len(q), chunk):
            block = q[start : start + chunk]
            if masks is None:
                qn = (
                    block
                    / np.maximum(np.linalg.norm(block, axis=1), 1e-12)[:, None]
                )
                sim = qn @ train.T
            else:
                m = np.asarray(masks[start : start + chunk], np.float32)
                qm = block * m
                dots = qm @ self.patterns.T
                tnorm = np.sqrt((m @ (self.patterns**2).T).clip(1e-24))
                qnorm = np.linalg.norm(qm, axis=1).clip(1e-12)
                sim = dots / (tnorm * qnorm[:, None])
            index[start : start + chunk] = np.argmax(sim, axis=1)
            best[start : start + chunk] = sim.max(axis=1)
        return index, best
