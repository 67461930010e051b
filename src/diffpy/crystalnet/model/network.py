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
the target transform and returns electron densities in e/A^3.

Grid convention: point ``(i, j, k)`` of an ``n``-grid sits at fractional
coordinates ``(i/n, j/n, k/n)``.

Its hyper-parameters are in :mod:`diffpy.crystalnet.model.config`, its
building blocks in :mod:`diffpy.crystalnet.model.layers` and the precision
of the point queries in :mod:`diffpy.crystalnet.model.precision`.
"""

import numpy as np
import torch
from torch import nn

from diffpy.crystalnet.errors import CrystalNetInputError
from diffpy.crystalnet.model.config import (
    N_BINS,
    N_ELEMENTS,
    CrystalNetConfig,
)
from diffpy.crystalnet.model.layers import (
    DenseNet1D,
    Encoding,
    Film,
    FourierEncoder,
    Regressor,
    mlp,
)
from diffpy.crystalnet.model.precision import precision_autocast

__all__ = ["CrystalNet", "grid_points"]

#: log-variance of the latent posteriors is clamped to this range
LOGVAR_RANGE = (-12.0, 8.0)


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
            return mlp(sizes, final_relu=False)

        def film():
            sizes = (
                [2 * c.latent_dim]
                + [c.film_hidden] * (c.film_layers - 1)
                + [c.width]
            )
            return mlp(sizes, final_relu=c.film_final_relu)

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
        chunk=8192,
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
            memory: about ``chunk x 2 width x 4`` bytes per layer).  The
            default keeps a layer's activations in a CPU's L2 cache: 5
            samples on a 50-grid take 2.5 s against 4.0 s with 65536 (two
            cores with AVX512-BF16, bfloat16).
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
        samples = _grid_samples(n, samples, sample, chunk)
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
                with precision_autocast(precision, device):
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


def _grid_samples(n, samples, sample, chunk):
    """Check the grid options of :meth:`CrystalNet.predict_grid`; return
    the number of grids to predict."""
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
        raise CrystalNetInputError(f"must be positive, got {chunk}", "chunk")
    return samples


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
