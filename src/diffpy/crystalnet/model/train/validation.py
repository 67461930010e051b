"""Validation during training: best-of-samples metrics on a few crystals.

The model is copied, the copy's BatchNorm statistics are re-estimated on a
fixed set of training batches, and the copy is scored on the first crystals
of the ``val`` split; the training state is not touched.
"""

import copy

import numpy as np

__all__ = ["validate_model"]


def validate_model(model, val_data, train_data, settings, device):
    """Best-of-samples x 24 rotations metrics on a few val crystals.

    Runs on a copy of the model whose BatchNorm statistics are re-estimated
    on a fixed set of training batches; returns (metrics dict, the copy).

    Parameters
    ----------
    model : CrystalNet or torch.nn.parallel.DistributedDataParallel
        The model being trained (not modified).
    val_data : diffpy.crystalnet.datasets.torch_dataset.CMEDDataset
        The ``val`` split, read without points.
    train_data : diffpy.crystalnet.model.train.schedule.EpochItems
        The training split, for the BatchNorm batches.
    settings : TrainSettings
        ``seed``, ``batch``, ``bn_batches``, ``val_crystals``,
        ``val_grid`` and ``val_samples`` are used.
    device : torch.device
        Device of the model.

    Returns
    -------
    metrics : dict
        Mean ``ssim``, ``psnr``, ``pearson`` and ``zero_ssim`` (all-zero
        grid) over the crystals scored; empty when none could be.
    model : CrystalNet
        The recalibrated copy, in eval mode.
    """
    import torch

    from diffpy.crystalnet.model.grids import grid_at
    from diffpy.crystalnet.model.scoring import score_candidates

    bare = model.module if hasattr(model, "module") else model
    copy_ = copy.deepcopy(bare)
    gen = torch.Generator(device=device).manual_seed(settings.seed + 12345)
    per = settings.batch
    batches = []
    order = np.random.default_rng(settings.seed + 1).permutation(
        len(train_data)
    )
    train_data.dataset.set_epoch(10**6)
    for b in range(settings.bn_batches):
        idx = order[b * per : (b + 1) * per]
        if len(idx) < 2:
            break
        items = [train_data.dataset[int(i)] for i in idx]
        stack = {
            k: torch.as_tensor(np.stack([it[k] for it in items])).to(device)
            for k in ("pattern", "composition", "points", "mask")
        }
        batches.append(
            (
                stack["pattern"],
                stack["composition"],
                stack["points"],
                stack["mask"],
            )
        )
    if batches:
        copy_.recalibrate_batchnorm(batches, generator=gen)
    copy_.eval()
    scores = []
    for i in range(min(settings.val_crystals, len(val_data))):
        item = val_data[i]
        truth = grid_at(item["cmed"].astype(np.float32), settings.val_grid)
        if not truth.max() > truth.min():
            continue
        pred = copy_.predict_grid(
            item["pattern"], item["composition"], n=truth.shape[0],
            samples=settings.val_samples, seed=settings.seed + i,
        )  # fmt: skip
        score = score_candidates(pred, truth)
        zero = np.zeros((1,) + truth.shape, np.float32)
        score["zero_ssim"] = score_candidates(zero, truth)["ssim"]
        scores.append(score)
    if not scores:
        return {}, copy_
    keys = ("ssim", "psnr", "pearson", "zero_ssim")
    return (
        {k: float(np.mean([s[k] for s in scores])) for k in keys},
        copy_,
    )
