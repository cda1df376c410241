"""Conditional optimal-transport flow matching (Lipman et al. 2023) for vectors and padded sets.

Training pairs data x (t = 0) with Gaussian noise z (t = 1) on the straight path
y_t = (1 - t) x + (sigma_min + (1 - sigma_min) t) z, whose velocity u = (1 - sigma_min) z - x the
network regresses (EPiC-FM ``losses.py``, methods.md c.3, sigma_min = 1e-4). Sampling integrates
dy/dt = v(t, y) from noise at t = 1 back to t = 0 with a fixed-step solver (the paper: midpoint,
250 steps = 500 network evaluations). For sets, padded elements get no noise, no loss and no
velocity. The velocity networks here take ``(t, y, cond, mask)``: one for fixed-length vectors
(the jet-feature model) and one for point clouds on EPiC layers (the particle model); any module
with that signature (a transformer, a diffusion model's network) plugs into the same loss and
sampler.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
from torch import nn

from baselines.nn.embeddings import SinusoidalEmbedding
from baselines.nn.mlp import MLP, apply_mask
from baselines.nn.sets import EPiCNetwork

SOLVERS = ("midpoint", "euler")


class VelocityNet(Protocol):
    def __call__(self, t: torch.Tensor, y: torch.Tensor, cond: torch.Tensor | None = None,
                 mask: torch.Tensor | None = None) -> torch.Tensor: ...


def _element_weights(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """1 for real entries of ``x`` (B, ..., F), 0 for padded set elements."""
    if mask is None:
        return torch.ones_like(x)
    return mask.unsqueeze(-1).to(x.dtype).expand_as(x)


def _per_row(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return t.reshape(-1, *([1] * (like.ndim - 1)))


def cfm_loss(net: VelocityNet, x: torch.Tensor, *, cond: torch.Tensor | None = None,
             mask: torch.Tensor | None = None, sigma_min: float = 1e-4) -> torch.Tensor:
    """Per-event conditional OT flow-matching loss of data ``x`` (B, D) or a padded set (B, N, F).

    Squared error of v(t, y_t) against u over real entries; each event's sum is divided by the
    batch's mean number of real entries, so the batch mean equals the reference's sum over all
    real entries / their number (events with many particles weigh more, as there).
    """
    w = _element_weights(x, mask)
    t = torch.rand(x.shape[0], device=x.device, dtype=x.dtype)
    z = torch.randn_like(x) * w
    tt = _per_row(t, x)
    y = (1 - tt) * x + (sigma_min + (1 - sigma_min) * tt) * z
    u = (1 - sigma_min) * z - x
    v = net(t, y, cond, mask)
    sq = ((v - u) ** 2 * w).reshape(x.shape[0], -1).sum(1)
    return sq / w.reshape(x.shape[0], -1).sum(1).mean().clamp(min=1.0)


@torch.no_grad()
def sample_ode(net: VelocityNet, z: torch.Tensor, *, cond: torch.Tensor | None = None,
               mask: torch.Tensor | None = None, steps: int = 250, solver: str = "midpoint") -> torch.Tensor:
    """Integrate dy/dt = v(t, y) from the noise ``z`` at t = 1 to t = 0 in ``steps`` equal steps.

    ``midpoint`` (second order, 2 evaluations per step, the paper's torchdyn solver) or ``euler``.
    Padded elements stay zero.
    """
    if solver not in SOLVERS:
        raise ValueError(f"ODE solver must be one of {SOLVERS}, got {solver!r}")
    if int(steps) < 1:
        raise ValueError(f"the ODE solver needs steps >= 1, got {steps}")
    w = _element_weights(z, mask)
    y = z * w
    h = 1.0 / int(steps)
    ones = torch.ones(z.shape[0], device=z.device, dtype=z.dtype)
    for k in range(int(steps)):
        t = 1.0 - k * h
        v = net(ones * t, y, cond, mask) * w
        if solver == "midpoint":
            v = net(ones * (t - 0.5 * h), y - 0.5 * h * v, cond, mask) * w
        y = y - h * v
    return y


class MLPVelocity(nn.Module):
    """v(t, y | c) for vectors: stacked MLP blocks, each fed [h, emb(t), c] (EPiC-FM jet-feature
    model: blocks 64-64, 256-256, 256-256, 64-64, ELU, [t-embedding, mjj] before each block)."""

    def __init__(self, features: int, cond_dim: int = 0, blocks: Sequence[Sequence[int]] = ((64, 64), (256, 256),
                 (256, 256), (64, 64)), *, time_dim: int = 16, activation: str = "elu") -> None:
        super().__init__()
        self.time = SinusoidalEmbedding(time_dim)
        extra = time_dim + cond_dim
        layers, width = [], features
        for block in blocks:
            widths = [int(b) for b in block]
            layers.append(MLP(width + extra, widths[-1], widths[:-1], activation=activation, final_activation=True))
            width = widths[-1]
        self.blocks = nn.ModuleList(layers)
        self.out = nn.Linear(width, features)

    def forward(self, t: torch.Tensor, y: torch.Tensor, cond: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        extra = [self.time(t).to(y.dtype), *([] if cond is None else [cond])]
        h = y
        for block in self.blocks:
            h = block(torch.cat([h, *extra], dim=-1))
        return self.out(h)


class EPiCVelocity(nn.Module):
    """v(t, y | c, mask) for a padded point cloud (B, N, F) on an :class:`EPiCNetwork`, with the
    time embedding joined to the condition (jet features) on the local and the global path."""

    def __init__(self, features: int, cond_dim: int = 0, *, local_dim: int = 150, global_dim: int = 256,
                 hidden: int = 150, layers: int = 8, time_dim: int = 32, activation: str = "leaky_relu",
                 sum_scale: float = 1e-2) -> None:
        super().__init__()
        self.time = SinusoidalEmbedding(time_dim)
        self.net = EPiCNetwork(features, features, local_dim=local_dim, global_dim=global_dim, hidden=hidden,
                               layers=layers, cond_dim=time_dim + cond_dim, activation=activation,
                               sum_scale=sum_scale)

    def forward(self, t: torch.Tensor, y: torch.Tensor, cond: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        c = torch.cat([self.time(t).to(y.dtype), *([] if cond is None else [cond])], dim=-1)
        return apply_mask(self.net(y, mask, c), mask)
