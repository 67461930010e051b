"""Target transforms and training losses of CrystalNet.

The network regresses a *target* ``t`` of the electron density ``rho``
(e/A^3) rather than ``rho`` itself:

* ``identity``: ``t = rho`` (as published);
* ``log1p``: ``t = log1p(rho / s)`` with a scale ``s`` in e/A^3, which
  compresses the 10^2-10^3 e/A^3 core peaks of heavy atoms.

The published loss is ``L1(t_pred, t) + beta * (KL_xrd + KL_formula)`` with
``beta = 0.05``, each KL the divergence of the latent posterior from
N(0, 1) averaged over latent dimensions and crystals.  On sparse
densities, plain L1 can stall at the median (zero) prediction; MSE on the
log1p target is the alternative (``kind="mse"``).

Note: the authors' public code computes ``-mean(1 + log sigma^2 - mu^2 -
sigma^2)``, twice the standard KL (the 1/2 is missing); :func:`gaussian_kl`
is the standard KL, so their ``beta = 0.05`` corresponds to ``0.1`` here.
"""

import math

import torch

from diffpy.crystalnet.errors import CrystalNetInputError

__all__ = [
    "KL_WEIGHT",
    "TargetTransform",
    "crystalnet_loss",
    "gaussian_kl",
    "reconstruction_loss",
]

#: published weight of the KL terms
KL_WEIGHT = 0.05

_KINDS = ("l1", "mse")


class TargetTransform:
    """Map densities to the network's target space and back.

    Parameters
    ----------
    kind : str, optional
        ``"identity"`` or ``"log1p"``.
    scale : float, optional
        Scale ``s`` of ``log1p(rho / s)`` in e/A^3 (ignored for identity).

    Examples
    --------
    >>> t = TargetTransform("log1p", 0.5)
    >>> rho = torch.tensor([0.0, 1.0, 100.0])
    >>> torch.allclose(t.inverse(t(rho)), rho)
    True
    """

    def __init__(self, kind="log1p", scale=1.0):
        if kind not in ("identity", "log1p"):
            raise CrystalNetInputError(
                f"unknown target transform {kind!r} (use 'identity' or "
                "'log1p')",
                source="target",
            )
        scale = float(scale)
        if not (scale > 0 and math.isfinite(scale)):
            raise CrystalNetInputError(
                f"must be a positive number, got {scale}",
                source="target_scale",
            )
        self.kind = kind
        self.scale = scale

    def __call__(self, rho):
        """Density (e/A^3) -> target."""
        if self.kind == "identity":
            return rho
        return torch.log1p(rho / self.scale)

    forward = __call__

    def inverse(self, t):
        """Target -> density (e/A^3)."""
        if self.kind == "identity":
            return t
        return self.scale * torch.expm1(t)

    def __repr__(self):
        return f"TargetTransform({self.kind!r}, {self.scale!r})"


def gaussian_kl(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, 1)), mean over dims and batch.

    Parameters
    ----------
    mu, logvar : torch.Tensor
        (B, D) latent means and log-variances.

    Returns
    -------
    torch.Tensor
        Scalar ``-0.5 * mean(1 + logvar - mu^2 - exp(logvar))``.
    """
    return -0.5 * torch.mean(1.0 + logvar - mu.square() - logvar.exp())


def reconstruction_loss(pred, target, kind="l1"):
    """Mean L1 or squared error between predicted and true targets.

    Parameters
    ----------
    pred, target : torch.Tensor
        Same shape, in target space.
    kind : str, optional
        ``"l1"`` (published) or ``"mse"``.

    Returns
    -------
    torch.Tensor
        Scalar.
    """
    if kind not in _KINDS:
        raise CrystalNetInputError(
            f"unknown loss {kind!r}; choose from {_KINDS}", source="loss"
        )
    if pred.shape != target.shape:
        raise CrystalNetInputError(
            f"prediction shape {tuple(pred.shape)} differs from target "
            f"shape {tuple(target.shape)}",
            source="target",
        )
    if kind == "l1":
        return torch.nn.functional.l1_loss(pred, target)
    return torch.nn.functional.mse_loss(pred, target)


def crystalnet_loss(output, target, kind="l1", kl_weight=KL_WEIGHT):
    """Reconstruction + ``kl_weight`` x (KL_xrd + KL_formula).

    Parameters
    ----------
    output : dict
        :meth:`diffpy.crystalnet.model.network.CrystalNet.forward` output (keys
        ``density``, ``kl_xrd``, ``kl_formula``).
    target : torch.Tensor
        (B, P) true densities already in the model's target space (apply
        ``model.target_transform()`` to e/A^3 values).
    kind : str, optional
        ``"l1"`` (published) or ``"mse"`` (recommended with ``log1p``).
    kl_weight : float, optional
        Weight of the KL terms (published 0.05).

    Returns
    -------
    dict
        ``loss`` (to backpropagate), ``reconstruction``, ``kl_xrd``,
        ``kl_formula`` (scalar tensors; the last three detached, for
        logging).
    """
    recon = reconstruction_loss(output["density"], target, kind)
    kl = output["kl_xrd"] + output["kl_formula"]
    return {
        "loss": recon + float(kl_weight) * kl,
        "reconstruction": recon.detach(),
        "kl_xrd": output["kl_xrd"].detach(),
        "kl_formula": output["kl_formula"].detach(),
    }
