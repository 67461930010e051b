"""Building blocks of the CrystalNet network.

The 1D DenseNet pattern encoder, the Linear + BatchNorm MLPs of the formula
encoders and FiLM generators, the random Fourier feature encoder of
fractional coordinates and the skip-connected regressor, with the named
tuples that carry FiLM parameters and encodings between them.
"""

import math
from typing import NamedTuple

import torch
from torch import nn

from diffpy.crystalnet.model.config import N_BINS

__all__ = [
    "DenseNet1D",
    "Encoding",
    "Film",
    "FourierEncoder",
    "Regressor",
    "mlp",
]


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


def mlp(sizes, final_relu):
    """Linear + BatchNorm (+ ReLU) layers.

    Parameters
    ----------
    sizes : sequence of int
        Widths of the input and of every layer's output.
    final_relu : bool
        End with a ReLU too (otherwise there is no ReLU after the last
        Linear + BatchNorm).

    Returns
    -------
    torch.nn.Sequential
    """
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
