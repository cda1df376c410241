"""Affine coupling INN with soft clamping and fixed random rotations (the jet INN of Buss et al.,
"What's Anomalous in LHC Jets?", arXiv:2202.00686, Sec. 5).

zuko's coupling flows clamp the log-scale with x / (1 + |x| / c) and permute features; the paper's
block clamps with ``clamp * tanh`` (its Eqs. 17-18 with s -> 2 tanh s) and mixes all features with a
random, fixed SO(d) rotation after every block, so this block is written here.

>>> inn = CouplingINN(dim=8, blocks=24, hidden=512, seed=0)
>>> z, log_det = inn(x)               # x (B, 8) -> latent z (B, 8), log|det dz/dx| (B,)
>>> x_back = inn.inverse(z)
"""
from __future__ import annotations

import torch
from torch import nn

from baselines.nn.mlp import MLP


def random_rotation(dim: int, generator: torch.Generator) -> torch.Tensor:
    """A Haar-random SO(dim) matrix (QR of a Gaussian matrix, signs fixed, det +1), from ``generator``.

    Its Jacobian determinant is 1, so rotations change the split of the next block for free.
    """
    a = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q.float()


class AffineCoupling(nn.Module):
    """x = (x1, x2) -> (x1, x2 * exp(s(x1)) + t(x1)) with s = clamp * tanh(scale * a(x1)).

    The first ``ceil(dim / 2)`` features condition the rest. The subnet is one hidden layer
    (``hidden`` units, ReLU) whose last layer starts at zero, so every block starts as the
    identity; ``scale`` (0.1 in the reference code) damps its raw output before the clamp.
    """

    def __init__(self, dim: int, hidden: int = 512, *, clamp: float = 2.0, scale: float = 0.1) -> None:
        super().__init__()
        if dim < 2:
            raise ValueError(f"an affine coupling block needs dim >= 2, got {dim}")
        self.d1, self.d2 = (dim + 1) // 2, dim // 2
        self.clamp, self.scale = float(clamp), float(scale)
        self.subnet = MLP(self.d1, 2 * self.d2, [int(hidden)], activation="relu")
        last = self.subnet.net[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def _st(self, x1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, t = (self.scale * self.subnet(x1)).chunk(2, dim=-1)
        return self.clamp * torch.tanh(a), t

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(y, log|det dy/dx|) per row."""
        x1, x2 = x[:, :self.d1], x[:, self.d1:]
        s, t = self._st(x1)
        return torch.cat([x1, x2 * torch.exp(s) + t], dim=-1), s.sum(-1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        y1, y2 = y[:, :self.d1], y[:, self.d1:]
        s, t = self._st(y1)
        return torch.cat([y1, (y2 - t) * torch.exp(-s)], dim=-1)


class CouplingINN(nn.Module):
    """``blocks`` affine couplings, each followed by its own fixed random rotation (a buffer drawn
    from ``seed``, saved with the weights), mapping data to a latent space of the same dimension."""

    def __init__(self, dim: int, blocks: int = 24, hidden: int = 512, *, clamp: float = 2.0, scale: float = 0.1,
                 seed: int = 0) -> None:
        super().__init__()
        if blocks < 1:
            raise ValueError(f"CouplingINN needs blocks >= 1, got {blocks}")
        self.dim = int(dim)
        self.couplings = nn.ModuleList(AffineCoupling(dim, hidden, clamp=clamp, scale=scale) for _ in range(blocks))
        gen = torch.Generator().manual_seed(int(seed))
        self.register_buffer("rotations", torch.stack([random_rotation(dim, gen) for _ in range(blocks)]))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z, log|det dz/dx|): the latent point of each row and the log Jacobian of the map."""
        log_det = torch.zeros(len(x), dtype=x.dtype, device=x.device)
        for coupling, rot in zip(self.couplings, self.rotations):
            x, ld = coupling(x)
            x = x @ rot.T
            log_det = log_det + ld
        return x, log_det

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        for coupling, rot in zip(reversed(self.couplings), reversed(self.rotations)):
            # solve, not the transpose: the stored matrix is orthogonal only to its dtype's precision
            z = coupling.inverse(torch.linalg.solve(rot, z.T).T)
        return z
