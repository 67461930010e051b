"""Train CrystalNet on a built dataset.

One function, :func:`train`, runs (or resumes) a training run in a folder::

    RUN/settings.json   the run's settings (data, preset, loss, ...)
    RUN/last.pt         latest state: model, optimizer, scheduler, RNGs,
                        step, epoch and position in the epoch (for resume)
    RUN/best.pt         the best model so far by validation SSIM, with its
                        BatchNorm statistics re-estimated (for inference)
    RUN/log.csv         step, epoch, lr, losses, validation metrics, time,
                        query points per second

Recipe (the paper's, scaled to the run): Adam; SGDR cosine warm restarts
from ``lr`` to ``lr_min`` with cycles doubling in length (the paper's 100,
200, 400, 800 epochs of 1500, i.e. ``T_0 = total / 15``), stepped per
optimizer step; each batch is ``batch`` crystals x ``points`` query points
drawn by stratified sampling; loss = reconstruction + ``kl_weight`` x (KL_xrd
+ KL_formula).  Two reconstruction losses:

* ``"l1"``: the published L1 on the density itself (identity target);
* ``"mse-log1p"`` (default): squared error on ``log1p(rho)``.  On sparse
  densities plain L1 stalls at the all-zero median prediction
  (``benchmarks/bench_training.py --compare-losses`` keeps the evidence).

Exact resume: the data draws depend only on ``(seed, epoch, index)``
(:class:`~diffpy.crystalnet.datasets.torch_dataset.CMEDDataset`), the epoch
order on ``(seed, epoch)``, and the latent noise comes from a generator whose
state is saved with the model, optimizer and scheduler; a resumed run continues
exactly as an uninterrupted one.  Validation runs on a copy of the model and
does not touch the training state.

Several GPUs: launch with ``torchrun --nproc_per_node=K --no-python
diffpy.crystalnet train ...``; with ``WORLD_SIZE > 1`` the model is wrapped in
DistributedDataParallel and each process takes ``batch / K`` crystals of every
global batch (a :class:`torch.utils.data.DistributedSampler` partitions each
epoch).  Mixed precision (bfloat16 autocast) is used on CUDA, never on CPU.

The package: :mod:`~diffpy.crystalnet.model.train.settings` (the settings
and losses), :mod:`~diffpy.crystalnet.model.train.schedule` (SGDR cycles,
batch order), :mod:`~diffpy.crystalnet.model.train.folder` (the run
folder), :mod:`~diffpy.crystalnet.model.train.validation` and
:mod:`~diffpy.crystalnet.model.train.loop` (:func:`train`).
"""

from diffpy.crystalnet.model.train.loop import train
from diffpy.crystalnet.model.train.schedule import sgdr_cycle
from diffpy.crystalnet.model.train.settings import LOSSES, TrainSettings

__all__ = ["LOSSES", "TrainSettings", "train", "sgdr_cycle"]
