"""The schedule of a training run: learning-rate cycles and batch order.

:func:`sgdr_cycle` sizes the SGDR cosine cycles; the batches of an epoch
are a :class:`torch.utils.data.DistributedSampler` permutation seeded with
``(seed, epoch)``, so they depend on nothing else (exact resume).
"""

__all__ = ["EpochItems", "epoch_batches", "sgdr_cycle", "steps_per_epoch"]


def sgdr_cycle(total_steps, restarts=4):
    """First cycle length of SGDR with doubling cycles filling a run.

    Parameters
    ----------
    total_steps : int
        Optimizer steps of the run.
    restarts : int
        Number of cycles (the paper: 4, lengths 1, 2, 4, 8 x ``T_0``).

    Returns
    -------
    int
        ``T_0 = max(1, total_steps // (2**restarts - 1))``.
    """
    return max(1, int(total_steps) // (2 ** int(restarts) - 1))


class EpochItems:
    """Dataset indexed by ``(epoch, index)`` pairs (exact across workers).

    Parameters
    ----------
    dataset : diffpy.crystalnet.datasets.torch_dataset.CMEDDataset
        The dataset; its epoch is set before each item is drawn.
    """

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, index = key
        self.dataset.set_epoch(epoch)
        return self.dataset[index]


def epoch_batches(n, batch, seed, epoch, rank, world, start=0):
    """This process's batches of an epoch, from batch ``start`` on.

    The order is a :class:`torch.utils.data.DistributedSampler` permutation
    seeded with ``seed`` at ``epoch`` (drop_last), cut into per-process
    batches of ``batch // world`` crystals.

    Parameters
    ----------
    n : int
        Crystals in the training split.
    batch : int
        Crystals per step, all processes together.
    seed, epoch : int
        Seed and epoch of the permutation.
    rank, world : int
        This process and the number of processes.
    start : int, optional
        First batch (resuming within an epoch).

    Yields
    ------
    list of tuple
        ``(epoch, index)`` keys of :class:`EpochItems`, one list per batch.
    """
    from torch.utils.data import DistributedSampler

    per_rank = batch // world
    sampler = DistributedSampler(
        range(n), num_replicas=world, rank=rank, shuffle=True, seed=seed,
        drop_last=True,
    )  # fmt: skip
    sampler.set_epoch(epoch)
    order = list(sampler)
    count = len(order) // per_rank
    for b in range(start, count):
        yield [(epoch, i) for i in order[b * per_rank : (b + 1) * per_rank]]


def steps_per_epoch(n, batch, world):
    """Optimizer steps in an epoch of ``n`` crystals.

    Parameters
    ----------
    n : int
        Crystals in the training split.
    batch : int
        Crystals per step, all processes together.
    world : int
        Number of processes.

    Returns
    -------
    int
    """
    return (n // world) // (batch // world)
