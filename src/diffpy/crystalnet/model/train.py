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
order on
``(seed, epoch)``, and the latent noise comes from a generator whose state
is saved with the model, optimizer and scheduler; a resumed run continues
exactly as an uninterrupted one.  Validation runs on a copy of the model and
does not touch the training state.

Several GPUs: launch with ``torchrun --nproc_per_node=K --no-python
diffpy.crystalnet train ...``; with ``WORLD_SIZE > 1`` the model is wrapped
in DistributedDataParallel and each process takes ``batch / K``
crystals of every global batch (a :class:`torch.utils.data.
DistributedSampler` partitions each epoch).  Mixed precision (bfloat16
autocast) is used on CUDA, never on CPU.
"""

import copy
import csv
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["LOSSES", "TrainSettings", "train", "sgdr_cycle"]

#: reconstruction losses: name -> (model target transform, loss kind)
LOSSES = {
    "l1": ("identity", "l1"),
    "mse-log1p": ("log1p", "mse"),
    "l1-log1p": ("log1p", "l1"),
}
LOG_COLUMNS = (
    "step",
    "epoch",
    "lr",
    "loss",
    "reconstruction",
    "kl_xrd",
    "kl_formula",
    "val_ssim",
    "val_psnr",
    "val_pearson",
    "val_zero_ssim",
    "seconds",
    "points_per_s",
)
#: settings that may change when a run is resumed
RUN_CONTROL = (
    "steps",
    "epochs",
    "max_minutes",
    "threads",
    "workers",
    "progress",
    "device",
    "stop_after",
)


@dataclass
class TrainSettings:
    """Settings of a training run (stored in ``RUN/settings.json``).

    Parameters
    ----------
    data : str
        Dataset folder.
    preset : str
        Model preset (``paper``, ``cpu``, ``tiny``).
    model_overrides : dict
        Config fields changed from the preset.
    loss : str
        ``"mse-log1p"`` (default), ``"l1"`` (published) or ``"l1-log1p"``.
    kl_weight : float
        Weight of the KL terms (paper 0.05).
    steps, epochs : int, optional
        Length of the run: optimizer steps, or epochs (passes over the
        training split); default 1 epoch.
    batch : int
        Crystals per step (all processes together).
    points : int
        Query points per crystal; rounded to a cube ``strata**3``.
    density_fraction : float
        Share of the points drawn proportionally to the density.
    lr, lr_min : float
        Peak and floor of the cosine schedule.
    restarts : int
        Number of SGDR cycles (lengths doubling): 4 as in the paper.
    augment : bool
        Pattern augmentation (:class:`~diffpy.crystalnet.datasets.augment.
        PatternAugmenter`).
    p_lab : float
        Probability of the simulated lab measurement in augmentation.
    composition_modes : dict
        Probabilities of the composition-prior modes.
    val_every : int, optional
        Validate every this many steps (default: once per epoch, at most
        every 1000 steps and at least 10 times per run).
    val_crystals, val_grid, val_samples : int
        Validation: crystals of the ``val`` split, grid size (a divisor of
        the stored grid is exact) and latent samples (best of samples x 24
        rotations).
    bn_batches : int
        Training batches used to re-estimate BatchNorm statistics before
        validation.
    log_every : int
        Steps between CSV rows.
    save_every : int, optional
        Steps between ``last.pt`` saves (default: at every validation).
    seed : int
        Seed of model initialisation, data draws and latent noise.
    workers : int
        DataLoader worker processes.
    threads : int, optional
        ``torch.set_num_threads``.
    max_minutes : float, optional
        Stop cleanly (validate and save) after this much wall time.
    stop_after : int, optional
        Stop (and save) after this many steps in this invocation (job
        time slicing, tests); the run can be resumed.
    device : str, optional
        ``"cpu"``, ``"cuda"``...; default CUDA if available.
    amp : bool
        bfloat16 autocast on CUDA.
    progress : bool
        tqdm progress bar.
    """

    data: str = ""
    preset: str = "cpu"
    model_overrides: dict = field(default_factory=dict)
    loss: str = "mse-log1p"
    kl_weight: float = 0.05
    steps: int = None
    epochs: float = None
    batch: int = 32
    points: int = 512
    density_fraction: float = 0.0
    lr: float = 1e-3
    lr_min: float = 1e-6
    restarts: int = 4
    augment: bool = True
    p_lab: float = 0.5
    composition_modes: dict = field(
        default_factory=lambda: {
            "full": 0.55,
            "elements": 0.15,
            "drop": 0.15,
            "none": 0.15,
        }
    )
    val_every: int = None
    val_crystals: int = 8
    val_grid: int = 25
    val_samples: int = 2
    bn_batches: int = 4
    log_every: int = 10
    save_every: int = None
    seed: int = 0
    workers: int = 0
    threads: int = None
    max_minutes: float = None
    stop_after: int = None
    device: str = None
    amp: bool = True
    progress: bool = True

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise CrystalNetInputError(
                f"unknown loss {self.loss!r}; choose from {sorted(LOSSES)}",
                "loss",
            )
        positive = ("batch", "points", "restarts", "log_every")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise CrystalNetInputError(
                    f"must be a positive integer, got {value!r}", name
                )
        for name in ("steps", "val_every", "save_every", "stop_after"):
            value = getattr(self, name)
            if value is not None and (int(value) != value or value < 1):
                raise CrystalNetInputError(
                    f"must be a positive integer, got {value!r}", name
                )
        if self.steps is not None and self.epochs is not None:
            raise CrystalNetInputError(
                "give steps or epochs, not both", "steps"
            )
        if self.epochs is not None and not self.epochs > 0:
            raise CrystalNetInputError("must be positive", "epochs")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise CrystalNetInputError("must be positive", "max_minutes")
        if not 0 < self.lr_min <= self.lr:
            raise CrystalNetInputError("need 0 < lr_min <= lr", "lr")

    @property
    def strata(self):
        """Strata per axis: ``round(points ** (1/3))``."""
        return max(1, int(round(self.points ** (1.0 / 3.0))))

    def model_config(self):
        """The model config: the preset with the loss's target transform."""
        from diffpy.crystalnet.model.network import CrystalNetConfig

        target = LOSSES[self.loss][0]
        overrides = {"target": target, **self.model_overrides}
        return CrystalNetConfig.preset(self.preset, **overrides)

    def to_dict(self):
        """Plain-data copy (JSON)."""
        return asdict(self)


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


# ----------------------------------------------------------------------
# distributed helpers


def _dist_env():
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return world, rank, local


class _EpochItems:
    """Dataset indexed by ``(epoch, index)`` pairs (exact across workers)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, index = key
        self.dataset.set_epoch(epoch)
        return self.dataset[index]


def _epoch_batches(n, batch, seed, epoch, rank, world, start=0):
    """This process's batches of an epoch, from batch ``start`` on.

    The order is a :class:`torch.utils.data.DistributedSampler` permutation
    seeded with ``seed`` at ``epoch`` (drop_last), cut into per-process
    batches of ``batch // world`` crystals.
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


def _steps_per_epoch(n, batch, world):
    return (n // world) // (batch // world)


# ----------------------------------------------------------------------
# run folder


def _prepare_run(out, settings, given, resume, force, is_main):
    out = Path(out)
    path = out / "settings.json"
    if resume:
        if not path.is_file():
            raise CrystalNetInputError(
                "no run to resume here (settings.json missing)", out
            )
        stored = json.loads(path.read_text())
        clash = {
            k: (stored.get(k), v)
            for k, v in given.items()
            if k not in RUN_CONTROL and k in stored and stored[k] != v
        }
        if clash:
            text = ", ".join(
                f"{k}: run has {a!r}, given {b!r}"
                for k, (a, b) in clash.items()
            )
            raise CrystalNetInputError(
                f"resume with different settings ({text})", out
            )
        merged = {**stored, **{k: v for k, v in given.items()}}
        known = {f.name for f in fields(TrainSettings)}
        settings = TrainSettings(
            **{k: v for k, v in merged.items() if k in known}
        )
        return out, settings
    if out.exists() and any(out.iterdir()):
        if not force:
            raise CrystalNetInputError(
                "run folder exists and is not empty; use resume to continue "
                "it or force to start again",
                out,
            )
        if is_main:
            for name in ("last.pt", "best.pt", "log.csv", "settings.json"):
                if (out / name).exists():
                    (out / name).unlink()
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        _write_json(path, settings.to_dict())
    return out, settings


def _write_json(path, value):
    from diffpy.crystalnet.io.files import write_json

    write_json(path, value, indent=2, default=str)


class _CsvLog:
    def __init__(self, path, resume_step=None):
        self.path = Path(path)
        rows = []
        if resume_step is not None and self.path.is_file():
            with open(self.path, newline="") as stream:
                rows = [
                    r
                    for r in csv.DictReader(stream)
                    if int(r["step"]) <= resume_step
                ]
        with open(self.path, "w", newline="") as stream:
            writer = csv.DictWriter(stream, LOG_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, row):
        with open(self.path, "a", newline="") as stream:
            writer = csv.DictWriter(stream, LOG_COLUMNS)
            writer.writerow({k: row.get(k, "") for k in LOG_COLUMNS})


# ----------------------------------------------------------------------


def _to_device(batch, device):
    return {
        k: v.to(device, non_blocking=True)
        for k, v in batch.items()
        if k in ("pattern", "mask", "composition", "points", "values")
    }


def _validate(model, val_data, train_data, settings, device):
    """Best-of-samples x 24 rotations metrics on a few val crystals.

    Runs on a copy of the model whose BatchNorm statistics are re-estimated
    on a fixed set of training batches; returns (metrics dict, the copy).
    """
    import torch

    from diffpy.crystalnet.model.evaluate import grid_at, score_candidates

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
        Run folder (created; see the module docstring for its files).
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

    from diffpy.crystalnet.datasets.augment import (
        AugmentSettings,
        CompositionPrior,
        PatternAugmenter,
    )
    from diffpy.crystalnet.datasets.torch_dataset import CMEDDataset
    from diffpy.crystalnet.model.checkpoint import (
        load_checkpoint,
        save_checkpoint,
    )
    from diffpy.crystalnet.model.losses import crystalnet_loss
    from diffpy.crystalnet.model.network import CrystalNet

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
    world, rank, local = _dist_env()
    distributed = world > 1 if distributed is None else bool(distributed)
    if not distributed:
        world, rank, local = 1, 0, 0
    own_group = False
    is_main = rank == 0
    out, settings = _prepare_run(out, settings, given, resume, force, is_main)
    s = settings
    if s.threads:
        torch.set_num_threads(int(s.threads))
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
    if s.batch % world or s.batch // world < 2:
        raise CrystalNetInputError(
            f"batch {s.batch} must be a multiple of the {world} processes "
            "with at least 2 crystals each",
            "batch",
        )
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
    steps_per_epoch = _steps_per_epoch(len(train_set), s.batch, world)
    if s.steps is not None:
        total = int(s.steps)
    else:
        total = int(math.ceil((s.epochs or 1) * steps_per_epoch))
    val_every = s.val_every or max(
        1, min(steps_per_epoch, 1000, max(1, total // 10))
    )
    save_every = s.save_every or val_every

    torch.manual_seed(s.seed)
    model = CrystalNet(s.model_config()).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        optimizer, T_0=sgdr_cycle(total, s.restarts), T_mult=2,
        eta_min=s.lr_min,
    )  # fmt: skip
    gen = torch.Generator(device=device).manual_seed(s.seed + rank)
    step, epoch, position = 0, 0, 0
    best = None
    if resume and (out / "last.pt").is_file():
        state = load_checkpoint(out / "last.pt", map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        extra = state["extra"]
        step, epoch = int(extra["step"]), int(extra["epoch"])
        position = int(extra["position"])
        best = extra.get("best")
        gens = extra["generators"]
        if len(gens) != world:
            raise CrystalNetInputError(
                f"run was saved by {len(gens)} processes, resumed with "
                f"{world}: exact resume needs the same number",
                out / "last.pt",
            )
        gen.set_state(gens[rank].cpu())
        torch.set_rng_state(extra["torch_rng"].cpu())
    stop_at = step + int(s.stop_after) if s.stop_after else None
    transform = model.target_transform()
    kind = LOSSES[s.loss][1]
    train_model = model
    if distributed:
        from torch.nn.parallel import DistributedDataParallel

        train_model = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    use_amp = bool(s.amp) and device.type == "cuda"
    log = _CsvLog(out / "log.csv", resume_step=step) if is_main else None

    def save(name, the_model, with_state, metrics=None):
        gens = [gen.get_state()]
        if distributed and with_state:
            import torch.distributed as dist

            gathered = [None] * world
            dist.all_gather_object(gathered, gen.get_state())
            gens = gathered
        if not is_main:
            return
        extra = {
            "step": step,
            "epoch": epoch,
            "position": position,
            "best": best,
            "settings": json.loads(json.dumps(s.to_dict(), default=str)),
            "generators": gens,
            "torch_rng": torch.get_rng_state(),
            "metrics": metrics,
        }
        save_checkpoint(
            out / name,
            the_model,
            optimizer if with_state else None,
            scheduler if with_state else None,
            extra=extra,
        )

    def validate():
        nonlocal best
        metrics = {}
        if is_main and len(val_set):
            metrics, calibrated = _validate(
                model, val_set, _EpochItems(train_set), s, device
            )
            if metrics and (best is None or metrics["ssim"] > best["ssim"]):
                best = {"step": step, **metrics}
                save("best.pt", calibrated, False, metrics)
        return metrics

    loader_kw = dict(
        num_workers=int(s.workers),
        pin_memory=device.type == "cuda",
    )
    if s.workers:
        loader_kw["persistent_workers"] = False
    start_time = time.perf_counter()
    seen_points = 0
    window = []
    stopped = "done"
    bar = None
    if s.progress and is_main:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=step, unit="step", dynamic_ncols=True)
    points_per_step = s.batch * s.strata**3
    model.train()
    last_row_time = start_time
    while step < total and stopped == "done":
        batches = list(
            _epoch_batches(
                len(train_set), s.batch, s.seed, epoch, rank, world, position
            )
        )
        loader = torch.utils.data.DataLoader(
            _EpochItems(train_set), batch_sampler=batches, **loader_kw
        )
        for batch in loader:
            b = _to_device(batch, device)
            with torch.autocast(
                device_type=device.type, dtype=torch.bfloat16, enabled=use_amp
            ):
                output = train_model(
                    b["pattern"], b["composition"], b["points"],
                    mask=b["mask"], generator=gen,
                )  # fmt: skip
            output = {
                k: v.float() for k, v in output.items() if k != "encoding"
            }
            # densities are >= 0; stored grids can ring below 0 on coarse
            # grids (FFT truncation), where log1p would give NaN
            target = transform(b["values"].clamp_min(0.0))
            terms = crystalnet_loss(output, target, kind, s.kl_weight)
            if not torch.isfinite(terms["loss"]):
                raise FloatingPointError(
                    f"loss is {float(terms['loss'])} at step {step + 1} "
                    f"(epoch {epoch}); {out / 'last.pt'} holds the last "
                    "saved state; try a lower lr"
                )
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimizer.step()
            lr = optimizer.param_groups[0]["lr"]
            scheduler.step()
            step += 1
            position += 1
            seen_points += points_per_step
            window.append(
                [float(terms[k].detach()) for k in ("loss", "reconstruction")]
                + [float(terms["kl_xrd"]), float(terms["kl_formula"])]
            )
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{window[-1][0]:.4g}", refresh=False)
            elapsed = time.perf_counter() - start_time
            time_up = s.max_minutes and elapsed > 60 * s.max_minutes
            stop_now = stop_at is not None and step >= stop_at
            if distributed and s.max_minutes:  # every rank stops together
                import torch.distributed as dist

                flag = torch.tensor([float(bool(time_up))], device=device)
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                time_up = bool(flag.item())
            if position >= steps_per_epoch:
                epoch, position = epoch + 1, 0
            row = None
            if step % s.log_every == 0 or step == total:
                mean = np.mean(window, axis=0)
                now = time.perf_counter()
                row = dict(
                    step=step, epoch=epoch, lr=lr, loss=mean[0],
                    reconstruction=mean[1], kl_xrd=mean[2],
                    kl_formula=mean[3], seconds=round(elapsed, 2),
                    points_per_s=round(
                        points_per_step * len(window)
                        / max(now - last_row_time, 1e-9)
                    ),
                )  # fmt: skip
                last_row_time = now
                window = []
            final = step >= total or time_up or stop_now
            if step % val_every == 0 or final:
                metrics = validate()
                if metrics:
                    row = row or dict(step=step, epoch=epoch, lr=lr)
                    row.update(
                        val_ssim=metrics["ssim"], val_psnr=metrics["psnr"],
                        val_pearson=metrics["pearson"],
                        val_zero_ssim=metrics["zero_ssim"],
                        seconds=round(time.perf_counter() - start_time, 2),
                    )  # fmt: skip
                last_row_time = time.perf_counter()
            if row is not None and is_main:
                log.write(row)
            if step % save_every == 0 or final:
                save("last.pt", model, True)
            if final:
                if time_up:
                    stopped = "time"
                elif stop_now and step < total:
                    stopped = "stop_after"
                break
        if distributed:
            import torch.distributed as dist

            dist.barrier()
    if bar is not None:
        bar.close()
    if own_group:
        import torch.distributed as dist

        dist.destroy_process_group()
    seconds = time.perf_counter() - start_time
    return {
        "run": str(out),
        "rank": rank,
        "step": step,
        "epoch": epoch,
        "stopped": stopped,
        "best": best,
        "seconds": seconds,
        "points_per_s": seen_points / max(seconds, 1e-9),
    }
