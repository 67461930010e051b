"""The training loop: :func:`train` runs (or resumes) one run in a folder.

:func:`train` resolves the settings, prepares the run folder and the device
(and the process group of a distributed run); :class:`_Run` holds one
process's data, model, optimizer, counters and the step loop.
"""

import json
import math
import os
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.model.train.folder import CsvLog, prepare_run
from diffpy.crystalnet.model.train.schedule import (
    EpochItems,
    epoch_batches,
    sgdr_cycle,
    steps_per_epoch,
)
from diffpy.crystalnet.model.train.settings import LOSSES, TrainSettings
from diffpy.crystalnet.model.train.validation import validate_model

__all__ = ["train"]


def _dist_env():
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return world, rank, local


def _to_device(batch, device):
    return {
        k: v.to(device, non_blocking=True)
        for k, v in batch.items()
        if k in ("pattern", "mask", "composition", "points", "values")
    }


def _settings(data, preset, options):
    """The settings of :func:`train`'s arguments and the options given."""
    known = {f.name for f in fields(TrainSettings)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise CrystalNetInputError(f"unknown options {unknown}", "train")
    data = str(Path(data).resolve())
    options = {k: v for k, v in options.items() if v is not None}
    given = {"data": data, **options}
    if preset is not None:
        given["preset"] = preset
    settings = TrainSettings(**{"preset": preset or "cpu", **given})
    return settings, given


def _device(s, distributed, local):
    """The device, and whether the process group was initialised here."""
    import torch

    own_group = False
    device = torch.device(
        s.device or ("cuda" if torch.cuda.is_available() else "cpu")
    )
    if distributed:
        import torch.distributed as dist

        backend = "nccl" if device.type == "cuda" else "gloo"
        if not dist.is_initialized():
            dist.init_process_group(backend)
            own_group = True
        if device.type == "cuda":
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
    return device, own_group


def _datasets(s):
    """The training split (augmented, with points) and the val split."""
    from diffpy.crystalnet.datasets.augment import (
        AugmentSettings,
        PatternAugmenter,
    )
    from diffpy.crystalnet.datasets.composition_prior import CompositionPrior
    from diffpy.crystalnet.datasets.torch_dataset import CMEDDataset

    augment = PatternAugmenter(AugmentSettings(p_lab=s.p_lab))
    prior = CompositionPrior(s.composition_modes)
    train_set = CMEDDataset(
        s.data, "train", strata=s.strata,
        density_fraction=s.density_fraction,
        augment=augment if s.augment else None, composition=prior,
        seed=s.seed,
    )  # fmt: skip
    if len(train_set) < s.batch:
        raise CrystalNetInputError(
            f"{len(train_set)} training crystals, fewer than one batch of "
            f"{s.batch}",
            s.data,
        )
    val_set = CMEDDataset(s.data, "val", points=False, seed=s.seed)
    return train_set, val_set


class _Run:
    """One process's training run: data, model, optimizer and counters.

    ``step``, ``epoch``, ``position`` (batches done in the epoch) and
    ``best`` (validation metrics of ``best.pt``) are restored from
    ``last.pt`` on resume and saved with every checkpoint.
    """

    def __init__(self, s, out, device, world, rank, distributed, resume):
        import torch

        from diffpy.crystalnet.model.network import CrystalNet

        self.s, self.out, self.device = s, out, device
        self.world, self.rank, self.distributed = world, rank, distributed
        self.is_main = rank == 0
        if s.batch % world or s.batch // world < 2:
            raise CrystalNetInputError(
                f"batch {s.batch} must be a multiple of the {world} "
                "processes with at least 2 crystals each",
                "batch",
            )
        self.train_set, self.val_set = _datasets(s)
        per_epoch = steps_per_epoch(len(self.train_set), s.batch, world)
        if s.steps is not None:
            total = int(s.steps)
        else:
            total = int(math.ceil((s.epochs or 1) * per_epoch))
        self.steps_per_epoch, self.total = per_epoch, total
        self.val_every = s.val_every or max(
            1, min(per_epoch, 1000, max(1, total // 10))
        )
        self.save_every = s.save_every or self.val_every

        torch.manual_seed(s.seed)
        self.model = CrystalNet(s.model_config()).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=s.lr)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            self.optimizer, T_0=sgdr_cycle(total, s.restarts), T_mult=2,
            eta_min=s.lr_min,
        )  # fmt: skip
        self.gen = torch.Generator(device=device).manual_seed(s.seed + rank)
        self.step, self.epoch, self.position = 0, 0, 0
        self.best = None
        if resume and (out / "last.pt").is_file():
            self._restore(out / "last.pt")
        self.stop_at = self.step + int(s.stop_after) if s.stop_after else None
        self.transform = self.model.target_transform()
        self.kind = LOSSES[s.loss][1]
        self.train_model = self.model
        if distributed:
            from torch.nn.parallel import DistributedDataParallel

            self.train_model = DistributedDataParallel(
                self.model,
                device_ids=[device.index] if device.type == "cuda" else None,
            )
        self.use_amp = bool(s.amp) and device.type == "cuda"
        self.log = (
            CsvLog(out / "log.csv", resume_step=self.step)
            if self.is_main
            else None
        )
        self.start_time = self.last_row_time = None
        self.seen_points = 0
        self.window = []

    def _restore(self, path):
        """Continue from ``last.pt``: weights, optimizer, counters, RNGs."""
        import torch

        from diffpy.crystalnet.model.checkpoint import load_checkpoint

        state = load_checkpoint(path, map_location=self.device)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        extra = state["extra"]
        self.step, self.epoch = int(extra["step"]), int(extra["epoch"])
        self.position = int(extra["position"])
        self.best = extra.get("best")
        gens = extra["generators"]
        if len(gens) != self.world:
            raise CrystalNetInputError(
                f"run was saved by {len(gens)} processes, resumed with "
                f"{self.world}: exact resume needs the same number",
                path,
            )
        self.gen.set_state(gens[self.rank].cpu())
        torch.set_rng_state(extra["torch_rng"].cpu())

    def save(self, name, the_model, with_state, metrics=None):
        """Write a checkpoint (rank 0; with optimizer state if asked)."""
        import torch

        from diffpy.crystalnet.model.checkpoint import save_checkpoint

        gens = [self.gen.get_state()]
        if self.distributed and with_state:
            import torch.distributed as dist

            gathered = [None] * self.world
            dist.all_gather_object(gathered, self.gen.get_state())
            gens = gathered
        if not self.is_main:
            return
        extra = {
            "step": self.step,
            "epoch": self.epoch,
            "position": self.position,
            "best": self.best,
            "settings": json.loads(json.dumps(self.s.to_dict(), default=str)),
            "generators": gens,
            "torch_rng": torch.get_rng_state(),
            "metrics": metrics,
        }
        save_checkpoint(
            self.out / name,
            the_model,
            self.optimizer if with_state else None,
            self.scheduler if with_state else None,
            extra=extra,
        )

    def validate(self):
        """Validate (rank 0), saving ``best.pt`` on a new best SSIM."""
        metrics = {}
        if self.is_main and len(self.val_set):
            metrics, calibrated = validate_model(
                self.model, self.val_set, EpochItems(self.train_set), self.s,
                self.device,
            )  # fmt: skip
            if metrics and (
                self.best is None or metrics["ssim"] > self.best["ssim"]
            ):
                self.best = {"step": self.step, **metrics}
                self.save("best.pt", calibrated, False, metrics)
        return metrics

    def optimizer_step(self, batch):
        """One optimizer step on a batch; return the learning rate used."""
        import torch

        from diffpy.crystalnet.model.losses import crystalnet_loss

        s, device = self.s, self.device
        b = _to_device(batch, device)
        with torch.autocast(
            device_type=device.type, dtype=torch.bfloat16, enabled=self.use_amp
        ):
            output = self.train_model(
                b["pattern"], b["composition"], b["points"],
                mask=b["mask"], generator=self.gen,
            )  # fmt: skip
        output = {k: v.float() for k, v in output.items() if k != "encoding"}
        # densities are >= 0; stored grids can ring below 0 on coarse
        # grids (FFT truncation), where log1p would give NaN
        target = self.transform(b["values"].clamp_min(0.0))
        terms = crystalnet_loss(output, target, self.kind, s.kl_weight)
        if not torch.isfinite(terms["loss"]):
            raise FloatingPointError(
                f"loss is {float(terms['loss'])} at step {self.step + 1} "
                f"(epoch {self.epoch}); {self.out / 'last.pt'} holds the "
                "last saved state; try a lower lr"
            )
        self.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        self.optimizer.step()
        lr = self.optimizer.param_groups[0]["lr"]
        self.scheduler.step()
        self.step += 1
        self.position += 1
        self.seen_points += s.batch * s.strata**3
        self.window.append(
            [float(terms[k].detach()) for k in ("loss", "reconstruction")]
            + [float(terms["kl_xrd"]), float(terms["kl_formula"])]
        )
        return lr

    def _time_up(self, elapsed):
        """Whether the time budget is spent (on any rank, when
        distributed)."""
        import torch

        s = self.s
        time_up = s.max_minutes and elapsed > 60 * s.max_minutes
        if self.distributed and s.max_minutes:  # every rank stops together
            import torch.distributed as dist

            flag = torch.tensor([float(bool(time_up))], device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            time_up = bool(flag.item())
        return time_up

    def _log_row(self, lr, elapsed):
        """The CSV row of the steps since the last one (and reset them)."""
        s = self.s
        points_per_step = s.batch * s.strata**3
        mean = np.mean(self.window, axis=0)
        now = time.perf_counter()
        row = dict(
            step=self.step, epoch=self.epoch, lr=lr, loss=mean[0],
            reconstruction=mean[1], kl_xrd=mean[2],
            kl_formula=mean[3], seconds=round(elapsed, 2),
            points_per_s=round(
                points_per_step * len(self.window)
                / max(now - self.last_row_time, 1e-9)
            ),
        )  # fmt: skip
        self.last_row_time = now
        self.window = []
        return row

    def end_of_step(self, lr):
        """Log, validate and save as due; return the stop reason or None."""
        s, step, total = self.s, self.step, self.total
        elapsed = time.perf_counter() - self.start_time
        time_up = self._time_up(elapsed)
        stop_now = self.stop_at is not None and step >= self.stop_at
        if self.position >= self.steps_per_epoch:
            self.epoch, self.position = self.epoch + 1, 0
        row = None
        if step % s.log_every == 0 or step == total:
            row = self._log_row(lr, elapsed)
        final = step >= total or time_up or stop_now
        if step % self.val_every == 0 or final:
            metrics = self.validate()
            if metrics:
                row = row or dict(step=step, epoch=self.epoch, lr=lr)
                row.update(
                    val_ssim=metrics["ssim"], val_psnr=metrics["psnr"],
                    val_pearson=metrics["pearson"],
                    val_zero_ssim=metrics["zero_ssim"],
                    seconds=round(time.perf_counter() - self.start_time, 2),
                )  # fmt: skip
            self.last_row_time = time.perf_counter()
        if row is not None and self.is_main:
            self.log.write(row)
        if step % self.save_every == 0 or final:
            self.save("last.pt", self.model, True)
        if not final:
            return None
        if time_up:
            return "time"
        if stop_now and step < total:
            return "stop_after"
        return "done"

    def run(self):
        """Train until the run ends or stops; return the stop reason."""
        import torch

        s = self.s
        loader_kw = dict(
            num_workers=int(s.workers),
            pin_memory=self.device.type == "cuda",
        )
        if s.workers:
            loader_kw["persistent_workers"] = False
        self.start_time = time.perf_counter()
        stopped = "done"
        bar = None
        if s.progress and self.is_main:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=self.total, initial=self.step, unit="step",
                dynamic_ncols=True,
            )  # fmt: skip
        self.model.train()
        self.last_row_time = self.start_time
        while self.step < self.total and stopped == "done":
            batches = list(
                epoch_batches(
                    len(self.train_set), s.batch, s.seed, self.epoch,
                    self.rank, self.world, self.position,
                )
            )  # fmt: skip
            loader = torch.utils.data.DataLoader(
                EpochItems(self.train_set), batch_sampler=batches, **loader_kw
            )
            for batch in loader:
                lr = self.optimizer_step(batch)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(
                        loss=f"{self.window[-1][0]:.4g}", refresh=False
                    )
                reason = self.end_of_step(lr)
                if reason is not None:
                    stopped = reason
                    break
            if self.distributed:
                import torch.distributed as dist

                dist.barrier()
        if bar is not None:
            bar.close()
        return stopped


def train(
    data,
    out,
    preset=None,
    resume=False,
    force=False,
    distributed=None,
    **options,
):
    """Train (or resume) a CrystalNet run.

    Parameters
    ----------
    data : str or os.PathLike
        A finished dataset folder (train and, for validation, val split).
    out : str or os.PathLike
        Run folder (created; see :mod:`diffpy.crystalnet.model.train` for
        its files).
    preset : str, optional
        Model preset: ``"cpu"`` (default for a new run), ``"paper"`` or
        ``"tiny"``.
    resume : bool, optional
        Continue the run in ``out`` from its ``last.pt``; the stored
        settings are used, options other than run control (steps, epochs,
        max_minutes, threads, workers, progress, device, stop_after) must
        agree with them.
    force : bool, optional
        Start again in a run folder that is not empty (its files are
        replaced).
    distributed : bool, optional
        Use torch.distributed (DDP); default: when ``WORLD_SIZE > 1`` (as
        set by ``torchrun``).  The process group is initialised from the
        environment if needed (NCCL on CUDA, gloo on CPU).
    **options
        Fields of :class:`TrainSettings` (``steps``, ``epochs``, ``batch``,
        ``points``, ``loss``, ``max_minutes``, ``threads``, ``seed``...).

    Returns
    -------
    dict
        ``step``, ``epoch``, ``best`` (validation metrics of ``best.pt``),
        ``last`` (training losses of the last logged steps), ``stopped``
        (``"done"``, ``"time"`` or ``"stop_after"``), ``seconds``,
        ``points_per_s`` and ``run`` (the folder).
    """
    import torch

    settings, given = _settings(data, preset, options)
    world, rank, local = _dist_env()
    distributed = world > 1 if distributed is None else bool(distributed)
    if not distributed:
        world, rank, local = 1, 0, 0
    is_main = rank == 0
    out, settings = prepare_run(out, settings, given, resume, force, is_main)
    s = settings
    if s.threads:
        torch.set_num_threads(int(s.threads))
    device, own_group = _device(s, distributed, local)
    run = _Run(s, out, device, world, rank, distributed, resume)
    stopped = run.run()
    if own_group:
        import torch.distributed as dist

        dist.destroy_process_group()
    seconds = time.perf_counter() - run.start_time
    return {
        "run": str(out),
        "rank": rank,
        "step": run.step,
        "epoch": run.epoch,
        "stopped": stopped,
        "best": run.best,
        "seconds": seconds,
        "points_per_s": run.seen_points / max(seconds, 1e-9),
    }
