"""The CrystalNet network: pattern + composition -> electron density field.

CrystalNet (Guo et al., arXiv 2312.15136) is a conditional variational
implicit field.  Two encoders turn the powder pattern and the composition
into Gaussian latents, a fusion network turns the sampled latents into FiLM
parameters (gamma, beta) once per crystal, and a coordinate network maps any
fractional position ``x`` in the cell to a density value::

    pattern (B, 1024) [+ mask] -> DenseNet-1D x2 -> mu_x, logvar_x --+
    composition (B, 118) ------> MLP x2 ---------> mu_f, logvar_f --+
                                          z = mu + exp(logvar/2) eps
    concat(z_x, z_f) -> MLP_gamma, MLP_beta -> gamma, beta  (per crystal)
    x (B, P, 3) -> Fourier features -> MLP -> p  (per point)
    P = gamma * p + beta -> MLP with skips re-concatenating P -> density

The density is in the model's *target space* (see
:mod:`diffpy.crystalnet.model.losses`); :meth:`CrystalNet.predict_grid` inverts
the
target transform and returns electron densities in e/A^3.

Grid convention: point ``(i, j, k)`` of an ``n``-grid sits at fractional
coordinates ``(i/n, j/n, k/n)``.
"""

import dataclasses
import math
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = [
    "native_bfloat16",
    "CrystalNet",
    "CrystalNetConfig",
    "Encoding",
    "Film",
    "PRESETS",
    "grid_points",
]

#: number of pattern bins (uniform 2theta 0-180 deg at Mo Ka)
N_BINS = 1024
#: length of the composition vector (atom fractions, index Z - 1)
N_ELEMENTS = 118
#: log-variance of the latent posteriors is clamped to this range
LOGVAR_RANGE = (-12.0, 8.0)


@dataclasses.dataclass
class CrystalNetConfig:
    """Hyper-parameters of :class:`CrystalNet` (plain values only).

    The config travels inside every checkpoint (``dataclasses.asdict``), so
    every field is an int, float, str or bool.

    Parameters
    ----------
    latent_dim : int
        Width of each latent (XRD and formula); the fusion input is twice
        this.
    width : int
        Width of the positional encoding, of gamma/beta and of the regressor.
    film_hidden : int
        Hidden width of the two FiLM MLPs.
    film_layers : int
        Linear layers in each FiLM MLP.
    formula_layers : int
        Linear layers in each formula encoder.
    dense_layers : int
        Convolutions in each of the two DenseNet blocks.
    growth : int
        DenseNet growth rate (channels added per convolution).
    layernorm_affine : bool
        Element-wise affine parameters in the DenseNet LayerNorms (as
        published; they hold most of the encoder's parameters).
    mask_channel : bool
        Feed the measured-bin mask as a second input channel, so patterns
        truncated in Q (lab data) are distinguishable from zero intensity.
    regressor_layers : int
        Hidden Linear layers of the regressor.
    skip_every : int
        Re-concatenate the FiLM-ed encoding P before every ``skip_every``-th
        regressor layer.
    num_freq : int
        Random Fourier frequencies (rows of B).
    freq_sigma : float
        Standard deviation of the entries of B.
    fourier_seed : int
        Seed that generates B (B is a buffer, stored in checkpoints).
    film_final_relu : bool
        End the FiLM MLPs with BatchNorm + ReLU, as the public code does
        (gamma, beta >= 0).
    target : str
        Target transform of the density: ``"identity"`` or ``"log1p"``.
    target_scale : float
        Scale ``s`` of the log1p transform, ``t = log1p(rho / s)`` (e/A^3).
    """

    latent_dim: int = 512
    width: int = 256
    film_hidden: int = 512
    film_layers: int = 4
    formula_layers: int = 3
    dense_layers: int = 4
    growth: int = 8
    layernorm_affine: bool = True
    mask_channel: bool = True
    regressor_layers: int = 6
    skip_every: int = 3
    num_freq: int = 128
    freq_sigma: float = 3.0
    fourier_seed: int = 0
    film_final_relu: bool = True
    target: str = "log1p"
    target_scale: float = 1.0

    def __post_init__(self):
        ints = (
            "latent_dim",
            "width",
            "film_hidden",
            "film_layers",
            "formula_layers",
            "dense_layers",
            "growth",
            "regressor_layers",
            "skip_every",
            "num_freq",
        )
        for name in ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise CrystalNetInputError(
                    f"must be an integer, got {value!r}", source=name
                )
            if value < 1:
                raise CrystalNetInputError(
                    f"must be at least 1, got {value}", source=name
                )
        if self.film_layers < 2:
            raise CrystalNetInputError(
                "the FiLM MLPs need at least 2 layers", source="film_layers"
            )
        if not self.freq_sigma > 0:
            raise CrystalNetInputError(
                f"must be positive, got {self.freq_sigma}", source="freq_sigma"
            )
        if self.target not in ("identity", "log1p"):
            raise CrystalNetInputError(
                f"unknown target transform {self.target!r} "
                "(use 'identity' or 'log1p')",
                source="target",
            )
        if not self.target_scale > 0:
            raise CrystalNetInputError(
                f"must be positive, got {self.target_scale}",
                source="target_scale",
            )

    @classmethod
    def preset(cls, name, **overrides):
        """Build a named preset, optionally overriding some fields.

        Parameters
        ----------
        name : str
            ``"paper"``, ``"cpu"`` or ``"tiny"`` (see :data:`PRESETS`).
        **overrides
            Fields to change, e.g. ``mask_channel=False``.

        Returns
        -------
        CrystalNetConfig
        """
        if name not in PRESETS:
            raise CrystalNetInputError(
                f"unknown preset {name!r}; choose from {sorted(PRESETS)}",
                source="preset",
            )
        return cls(**{**PRESETS[name], **overrides})

    @classmethod
    def from_dict(cls, values, source=None):
        """Rebuild a config from :func:`dataclasses.asdict` output.

        Parameters
        ----------
        values : dict
            Field name -> value.
        source : str, optional
            Where the dict came from (a checkpoint path), for error messages.

        Returns
        -------
        CrystalNetConfig
        """
        if not isinstance(values, dict):
            raise CrystalNetInputError(
                "model config is not a dictionary", source=source
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise CrystalNetInputError(
                f"unknown model config fields {unknown} (a checkpoint from a "
                "newer diffpy.crystalnet?)",
                source=source,
            )
        return cls(**values)

    def to_dict(self):
        """Return the config as a plain dict (checkpoint-safe)."""
        return dataclasses.asdict(self)


#: Named configurations.  ``paper`` follows the published network and the
#: authors' training script (4 DenseNet layers per block, 3 formula layers,
#: 16 regressor layers of 512 with P re-concatenated every 4, FiLM MLPs
#: 1024-1024-1024-512).  ``cpu`` keeps the 512-wide encoders and shrinks the
#: per-point part to 256 wide, 6 layers.  ``tiny`` is for tests.
PRESETS = {
    "paper": dict(
        latent_dim=512,
        width=512,
        film_hidden=1024,
        film_layers=4,
        formula_layers=3,
        dense_layers=4,
        regressor_layers=16,
        skip_every=4,
    ),
    "cpu": dict(
        latent_dim=512,
        width=256,
        film_hidden=512,
        film_layers=4,
        formula_layers=3,
        dense_layers=4,
        regressor_layers=6,
        skip_every=3,
    ),
    "tiny": dict(
        latent_dim=32,
        width=32,
        film_hidden=64,
        film_layers=2,
        formula_layers=2,
        dense_layers=2,
        growth=4,
        layernorm_affine=False,
        regressor_layers=4,
        skip_every=2,
        num_freq=32,
    ),
}


class Film(NamedTuple):
    """FiLM parameters of a batch of crystals, each of shape (B, width)."""

    gamma: torch.Tensor
    beta: torch.Tensor


class Encoding(NamedTuple):
    """Output of :meth:`CrystalNet.encode` (all tensors have batch first)."""

    mu_xrd: torch.Tensor
    logvar_xrd: torch.Tensor
    mu_formula: torch.Tensor
    logvar_formula: torch.Tensor
    z: torch.Tensor
    film: Film


def _conv_ln_relu(c_in, c_out, length, kernel, affine):
    return nn.Sequential(
        nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
        nn.LayerNorm([c_out, length], elementwise_affine=affine),
        nn.ReLU(),
    )


class DenseNet1D(nn.Module):
    """1D DenseNet encoder of a (B, C, 1024) pattern to (B, out_dim).

    A 3-wide stem, a dense block at full length, a 1x1 transition with 2x
    average pooling, a second dense block, a 1x1 projection to one channel
    and a Linear + BatchNorm to ``out_dim``.  Every convolution is followed
    by LayerNorm over (channels, length) and ReLU.
    """

    def __init__(self, in_channels, out_dim, layers, growth, affine):
        super().__init__()
        g, n, half = growth, N_BINS, N_BINS // 2
        c0 = g * in_channels
        self.stem = _conv_ln_relu(in_channels, c0, n, 3, affine)
        self.block1 = nn.ModuleList(
            _conv_ln_relu(c0 + i * g, g, n, 3, affine) for i in range(layers)
        )
        c1 = 2 * c0
        self.transition = nn.Sequential(
            _conv_ln_relu(c0 + layers * g, c1, n, 1, affine),
            nn.AvgPool1d(2),
        )
        self.block2 = nn.ModuleList(
            _conv_ln_relu(c1 + i * g, g, half, 3, affine)
            for i in range(layers)
        )
        self.head = nn.Sequential(
            nn.Conv1d(c1 + layers * g, 1, 1),
            nn.Flatten(),
            nn.Linear(half, out_dim),
            nn.BatchNorm1d(out_dim),
        )

    @staticmethod
    def _dense(x, block):
        features = [x]
        for layer in block:
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)

    def forward(self, x):
        x = self._dense(self.stem(x), self.block1)
        x = self._dense(self.transition(x), self.block2)
        return self.head(x)


def _mlp(sizes, final_relu):
    """Linear + BatchNorm (+ ReLU) layers; no ReLU after the last unless
    ``final_relu``."""
    layers = []
    for i in range(len(sizes) - 1):
        layers += [
            nn.Linear(sizes[i], sizes[i + 1]),
            nn.BatchNorm1d(sizes[i + 1]),
        ]
        if i < len(sizes) - 2 or final_relu:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class FourierEncoder(nn.Module):
    """Random Fourier features of fractional coordinates, then an MLP.

    ``gamma(x) = [sin(2 pi B (x - 0.5)), cos(2 pi B (x - 0.5))]`` with a
    fixed ``B`` (a buffer) of shape (num_freq, 3), entries N(0, sigma^2),
    followed by Linear -> BatchNorm -> ReLU -> Linear to ``width``.
    """

    def __init__(self, num_freq, sigma, seed, width):
        super().__init__()
        gen = torch.Generator().manual_seed(int(seed))
        B = torch.randn(num_freq, 3, generator=gen, dtype=torch.float32)
        self.register_buffer("B", B * float(sigma))
        self.mlp = nn.Sequential(
            nn.Linear(2 * num_freq, width),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.Linear(width, width),
        )

    def forward(self, points):
        """(N, 3) fractional coordinates -> (N, width)."""
        angle = (2.0 * math.pi) * ((points - 0.5) @ self.B.T)
        return self.mlp(torch.cat([torch.sin(angle), torch.cos(angle)], -1))


class Regressor(nn.Module):
    """MLP on the FiLM-ed encoding with DeepSDF/NeRF-style skips."""

    def __init__(self, width, layers, skip_every):
        super().__init__()
        self.skips = [i for i in range(1, layers) if i % skip_every == 0]
        self.layers = nn.ModuleList(
            nn.Sequential(
                nn.Linear(2 * width if i in self.skips else width, width),
                nn.BatchNorm1d(width),
                nn.ReLU(),
            )
            for i in range(layers)
        )
        self.out = nn.Linear(width, 1)

    def forward(self, P):
        """(N, width) -> (N,)."""
        h = P
        for i, layer in enumerate(self.layers):
            if i in self.skips:
                h = torch.cat([h, P], dim=-1)
            h = layer(h)
        return self.out(h).squeeze(-1)


def grid_points(n, dtype=torch.float32, device=None):
    """Fractional coordinates of an ``n``-grid, shape (n**3, 3).

    Point ``(i, j, k)`` is at ``(i/n, j/n, k/n)``; the rows are in C order,
    so ``values.reshape(n, n, n)[i, j, k]`` belongs to that point.

    Parameters
    ----------
    n : int
        Points per axis.
    dtype : torch.dtype, optional
    device : torch.device, optional

    Returns
    -------
    torch.Tensor
        Shape (n**3, 3).
    """
    axis = torch.arange(n, dtype=dtype, device=device) / n
    grid = torch.meshgrid(axis, axis, axis, indexing="ij")
    return torch.stack(grid, dim=-1).reshape(-1, 3)


class CrystalNet(nn.Module):
    """CrystalNet: conditional variational implicit electron-density field.

    Parameters
    ----------
    config : CrystalNetConfig or str, optional
        A config, or the name of a preset (default ``"cpu"``).

    Notes
    -----
    BatchNorm after the per-point layers normalises over all B x P query
    points of a batch in training mode (as in the published code) and uses
    the running statistics in eval mode, so eval-mode predictions do not
    depend on chunking or on the other crystals in a batch.  The FiLM MLPs
    run once per crystal; because every crystal contributes the same number
    of points, their BatchNorm statistics equal those of the published
    per-point computation.  Training mode needs at least 2 crystals.
    """

    def __init__(self, config="cpu"):
        super().__init__()
        if isinstance(config, str):
            config = CrystalNetConfig.preset(config)
        if not isinstance(config, CrystalNetConfig):
            raise CrystalNetInputError(
                f"expected a CrystalNetConfig or preset name, got {config!r}",
                source="config",
            )
        self.config = config
        c = config
        channels = 2 if c.mask_channel else 1

        def xrd():
            return DenseNet1D(
                channels, c.latent_dim, c.dense_layers, c.growth,
                c.layernorm_affine,
            )  # fmt: skip

        def formula():
            sizes = [N_ELEMENTS] + [c.latent_dim] * c.formula_layers
            return _mlp(sizes, final_relu=False)

        def film():
            sizes = (
                [2 * c.latent_dim]
                + [c.film_hidden] * (c.film_layers - 1)
                + [c.width]
            )
            return _mlp(sizes, final_relu=c.film_final_relu)

        self.xrd_mu, self.xrd_logvar = xrd(), xrd()
        self.formula_mu, self.formula_logvar = formula(), formula()
        self.film_gamma, self.film_beta = film(), film()
        self.positional = FourierEncoder(
            c.num_freq, c.freq_sigma, c.fourier_seed, c.width
        )
        self.regressor = Regressor(c.width, c.regressor_layers, c.skip_every)

    # ------------------------------------------------------------------
    def _pattern_input(self, pattern, mask):
        if pattern.ndim != 2 or pattern.shape[1] != N_BINS:
            raise CrystalNetInputError(
                f"expected shape (B, {N_BINS}), got {tuple(pattern.shape)}",
                source="pattern",
            )
        if mask is None:
            mask = torch.ones_like(pattern)
        else:
            mask = torch.as_tensor(mask, device=pattern.device)
            if mask.shape != pattern.shape:
                raise CrystalNetInputError(
                    f"shape {tuple(mask.shape)} differs from the pattern's "
                    f"{tuple(pattern.shape)}",
                    source="mask",
                )
            mask = mask.to(pattern.dtype)
        pattern = pattern * mask
        if self.config.mask_channel:
            return torch.stack([pattern, mask], dim=1)
        return pattern.unsqueeze(1)

    def film(self, z):
        """FiLM parameters from fused latents (B, 2 latent_dim)."""
        return Film(self.film_gamma(z), self.film_beta(z))

    def encode(
        self, pattern, composition, mask=None, sample=True, generator=None
    ):
        """Encode crystals into latent statistics and FiLM parameters.

        Parameters
        ----------
        pattern : torch.Tensor
            (B, 1024) max-normalised intensities (uniform 2theta 0-180 deg
            at Mo Ka).
        composition : torch.Tensor
            (B, 118) atom fractions, index Z - 1.
        mask : torch.Tensor, optional
            (B, 1024) measured bins (bool or 0/1); default all measured.
            Unmeasured bins are zeroed in the pattern.
        sample : bool, optional
            Draw ``z = mu + sigma * eps`` (default); if False use ``z = mu``.
        generator : torch.Generator, optional
            Source of ``eps``, for reproducible samples.

        Returns
        -------
        Encoding
            Latent means and log-variances, the fused sample ``z``
            (B, 2 latent_dim) and the FiLM parameters (B, width) each.
        """
        if composition.ndim != 2 or composition.shape[1] != N_ELEMENTS:
            raise CrystalNetInputError(
                f"expected shape (B, {N_ELEMENTS}), got "
                f"{tuple(composition.shape)}",
                source="composition",
            )
        if composition.shape[0] != pattern.shape[0]:
            raise CrystalNetInputError(
                f"{composition.shape[0]} compositions for "
                f"{pattern.shape[0]} patterns",
                source="composition",
            )
        if self.training and pattern.shape[0] < 2:
            raise CrystalNetInputError(
                "training mode needs at least 2 crystals per batch "
                "(BatchNorm over crystals); call model.eval() for inference",
                source="pattern",
            )
        x = self._pattern_input(pattern, mask)
        mu_x, lv_x = self.xrd_mu(x), self.xrd_logvar(x)
        mu_f = self.formula_mu(composition)
        lv_f = self.formula_logvar(composition)
        lv_x = lv_x.clamp(*LOGVAR_RANGE)
        lv_f = lv_f.clamp(*LOGVAR_RANGE)
        mu = torch.cat([mu_x, mu_f], dim=1)
        if sample:
            logvar = torch.cat([lv_x, lv_f], dim=1)
            eps = torch.randn(
                mu.shape, generator=generator, dtype=mu.dtype,
                device=mu.device,
            )  # fmt: skip
            z = mu + torch.exp(0.5 * logvar) * eps
        else:
            z = mu
        return Encoding(mu_x, lv_x, mu_f, lv_f, z, self.film(z))

    def query(self, film, points):
        """Evaluate the density field of encoded crystals at points.

        Parameters
        ----------
        film : Film
            FiLM parameters of B crystals (from :meth:`encode`).
        points : torch.Tensor
            (B, P, 3) fractional coordinates per crystal, or (P, 3) shared
            by all crystals (the positional encoding is then computed once).

        Returns
        -------
        torch.Tensor
            (B, P) density in the model's target space.
        """
        gamma, beta = film
        B, W = gamma.shape
        if points.shape[-1] != 3 or points.ndim not in (2, 3):
            raise CrystalNetInputError(
                f"expected shape (B, P, 3) or (P, 3), got "
                f"{tuple(points.shape)}",
                source="points",
            )
        if points.ndim == 3:
            if points.shape[0] != B:
                raise CrystalNetInputError(
                    f"{points.shape[0]} point sets for {B} crystals",
                    source="points",
                )
            n = points.shape[1]
            p = self.positional(points.reshape(-1, 3)).reshape(B, n, W)
        else:
            n = points.shape[0]
            p = self.positional(points).unsqueeze(0)
        P = gamma.unsqueeze(1) * p + beta.unsqueeze(1)
        return self.regressor(P.reshape(B * n, W)).reshape(B, n)

    def forward(
        self,
        pattern,
        composition,
        points,
        mask=None,
        sample=True,
        generator=None,
    ):
        """Encode, sample and query in one call (the training step).

        Parameters
        ----------
        pattern, composition, mask, sample, generator
            As in :meth:`encode`.
        points : torch.Tensor
            (B, P, 3) or (P, 3) fractional coordinates.

        Returns
        -------
        dict
            ``"density"`` (B, P) in target space, ``"kl_xrd"`` and
            ``"kl_formula"`` (scalars: KL to N(0, 1), mean over latent dims
            and crystals) and ``"encoding"`` (:class:`Encoding`).
        """
        from diffpy.crystalnet.model.losses import gaussian_kl

        enc = self.encode(
            pattern, composition, mask=mask, sample=sample, generator=generator
        )
        return {
            "density": self.query(enc.film, points),
            "kl_xrd": gaussian_kl(enc.mu_xrd, enc.logvar_xrd),
            "kl_formula": gaussian_kl(enc.mu_formula, enc.logvar_formula),
            "encoding": enc,
        }

    def target_transform(self):
        """The :class:`~diffpy.crystalnet.model.losses.TargetTransform` of this
        model's output."""
        from diffpy.crystalnet.model.losses import TargetTransform

        return TargetTransform(self.config.target, self.config.target_scale)

    def predict_grid(
        self,
        pattern,
        composition,
        n=50,
        samples=5,
        seed=None,
        mask=None,
        sample=True,
        chunk=65536,
        precision="float32",
    ):
        """Predict the density of one crystal on an ``n``-grid.

        Runs in eval mode without gradients (the previous mode is restored).

        Parameters
        ----------
        pattern : array_like
            (1024,) or (1, 1024) max-normalised pattern.
        composition : array_like
            (118,) or (1, 118) atom fractions.
        n : int, optional
            Grid points per axis (point (i, j, k) at (i/n, j/n, k/n)).
        samples : int, optional
            Latent samples to draw.
        seed : int, optional
            Seed of the latent noise; the same seed gives the same grids.
        mask : array_like, optional
            (1024,) measured bins; default all measured.
        sample : bool, optional
            If False, decode the mean latent once (``samples`` is ignored
            and one grid is returned).
        chunk : int, optional
            Query points per forward pass, summed over the samples (bounds
            memory: about ``chunk x 2 width x 4`` bytes per layer).
        precision : {"float32", "bfloat16", "auto"}, optional
            Arithmetic of the point queries: float32 (default), bfloat16
            autocast (the encoders stay float32), or ``"auto"``: bfloat16
            where the CPU computes it natively (:func:`native_bfloat16`),
            else float32.  On such CPUs bfloat16 is about twice as fast and
            the grids agree to a Pearson r of 0.9999
            (``benchmarks/bench_model.py``).

        Returns
        -------
        numpy.ndarray
            (samples, n, n, n) float32 electron density in e/A^3 (the target
            transform inverted, negative values clipped to 0).
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise CrystalNetInputError(f"must be an integer, got {n!r}", "n")
        if n < 1:
            raise CrystalNetInputError(f"must be at least 1, got {n}", "n")
        samples = int(samples) if sample else 1
        if samples < 1:
            raise CrystalNetInputError(
                f"must be at least 1, got {samples}", "samples"
            )
        if int(chunk) < 1:
            raise CrystalNetInputError(
                f"must be positive, got {chunk}", "chunk"
            )
        device = next(self.parameters()).device
        x = _as_row(pattern, N_BINS, "pattern", device)
        comp = _as_row(composition, N_ELEMENTS, "composition", device)
        m = None if mask is None else _as_row(mask, N_BINS, "mask", device)
        generator = None
        if seed is not None:
            generator = torch.Generator(device=device).manual_seed(int(seed))
        transform = self.target_transform()
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                x, comp = x.expand(samples, -1), comp.expand(samples, -1)
                m = None if m is None else m.expand(samples, -1)
                enc = self.encode(
                    x, comp, mask=m, sample=sample, generator=generator
                )
                points = grid_points(n, device=device)
                out = torch.empty(samples, points.shape[0], device=device)
                step = max(1, int(chunk) // samples)
                with _autocast(precision, device):
                    for start in range(0, points.shape[0], step):
                        stop = start + step
                        out[:, start:stop] = self.query(
                            enc.film, points[start:stop]
                        ).float()
                rho = transform.inverse(out).clamp_min(0.0)
        finally:
            self.train(was_training)
        return rho.reshape(samples, n, n, n).cpu().numpy()

    def recalibrate_batchnorm(self, batches, sample=True, generator=None):
        """Re-estimate the BatchNorm running statistics at fixed weights.

        The running statistics used in eval mode are exponential averages
        over training steps, so they lag behind weights that changed quickly
        (early training, high learning rate).  This resets them and replaces
        them with exact averages over ``batches`` ("precise BN"), run in
        training mode without gradients; the weights are untouched.  Call
        it before evaluating or saving a model.

        Parameters
        ----------
        batches : iterable
            Tuples ``(pattern, composition, points)`` or ``(pattern,
            composition, points, mask)`` as for :meth:`forward`, each with
            at least 2 crystals, drawn like the training batches.
        sample : bool, optional
            Sample the latents as in training (default).
        generator : torch.Generator, optional
            Source of the latent noise.

        Returns
        -------
        int
            Number of batches used.
        """
        norms = [m for m in self.modules() if isinstance(m, nn.BatchNorm1d)]
        saved = [(m, m.momentum) for m in norms]
        was_training = self.training
        count = 0
        try:
            for m in norms:
                m.reset_running_stats()
                m.momentum = None  # cumulative average over the batches
            self.train()
            with torch.no_grad():
                for batch in batches:
                    pattern, composition, points, *rest = batch
                    mask = rest[0] if rest else None
                    self(
                        pattern, composition, points, mask=mask,
                        sample=sample, generator=generator,
                    )  # fmt: skip
                    count += 1
        finally:
            for m, momentum in saved:
                m.momentum = momentum
            self.train(was_training)
        if count == 0:
            raise CrystalNetInputError("no batches given", source="batches")
        return count

    def num_parameters(self, trainable_only=True):
        """Number of (trainable) parameters."""
        return sum(
            p.numel()
            for p in self.parameters()
            if p.requires_grad or not trainable_only
        )


def _as_row(values, length, name, device):
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float32)
    if array.shape not in ((length,), (1, length)):
        raise CrystalNetInputError(
            f"expected shape ({length},) or (1, {length}), got {array.shape}",
            source=name,
        )
    if not np.all(np.isfinite(array)):
        raise CrystalNetInputError("contains NaN or infinite values", name)
    return torch.from_numpy(array.reshape(1, length)).to(device)


def native_bfloat16():
    """Whether this CPU computes bfloat16 matrix products natively.

    True on x86 CPUs with AVX512-BF16 or AMX-BF16 (read from
    ``/proc/cpuinfo``; False where that file does not exist).

    Returns
    -------
    bool
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool({"avx512_bf16", "amx_bf16"} & flags)
    except OSError:
        pass
    return False


def _autocast(precision, device):
    """Autocast context of a ``precision`` name (float32: none)."""
    import contextlib

    if precision not in ("float32", "bfloat16", "auto"):
        raise CrystalNetInputError(
            "must be float32, bfloat16 or auto, not " f"{precision!r}",
            "precision",
        )
    kind = torch.device(device).type
    if precision == "auto":
        native = kind == "cuda" or native_bfloat16()
        precision = "bfloat16" if native else "float32"
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(kind, dtype=torch.bfloat16)
