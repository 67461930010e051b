"""Settings of a training run and the reconstruction losses it can use."""

from dataclasses import asdict, dataclass, field

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["LOSSES", "RUN_CONTROL", "TrainSettings"]

#: reconstruction losses: name -> (model target transform, loss kind)
LOSSES = {
    "l1": ("identity", "l1"),
    "mse-log1p": ("log1p", "mse"),
    "l1-log1p": ("log1p", "l1"),
}
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
        Pattern augmentation
        (:class:`~diffpy.crystalnet.datasets.augment.PatternAugmenter`).
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
        from diffpy.crystalnet.model.config import CrystalNetConfig

        target = LOSSES[self.loss][0]
        overrides = {"target": target, **self.model_overrides}
        return CrystalNetConfig.preset(self.preset, **overrides)

    def to_dict(self):
        """Plain-data copy (JSON)."""
        return asdict(self)
