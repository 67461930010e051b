"""Hyper-parameters of the CrystalNet network and its input sizes.

:class:`CrystalNetConfig` holds plain values only, so it travels inside
every checkpoint; :data:`PRESETS` names the published (``paper``), CPU
(``cpu``) and test (``tiny``) configurations.
"""

import dataclasses

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = ["CrystalNetConfig", "N_BINS", "N_ELEMENTS", "PRESETS"]

#: number of pattern bins (uniform 2theta 0-180 deg at Mo Ka)
N_BINS = 1024
#: length of the composition vector (atom fractions, index Z - 1)
N_ELEMENTS = 118


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
