"""Embeddings of a scalar (diffusion time, log-SNR, mjj) as features a network can use.

Networks see a scalar far better through many sinusoids of different frequencies than as one raw
input: diffusion and flow-matching models embed their time this way and condition on the result.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from baselines.nn.mlp import MLP


def _as_column(t: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(t)
    return t.reshape(-1, 1) if t.ndim <= 1 else t


class SinusoidalEmbedding(nn.Module):
    """[sin(s t f_k), cos(s t f_k)], f_k = max_period^(-k/(half-1)), k = 0..half-1 (``dim`` = 2 half).

    The reference diffusion code (methods.md a.3) uses dim 64, max_period 1e4, scale 1000 for
    t in [0, 1]. Output (B, dim) for t of shape (B,) or (B, 1).
    """

    def __init__(self, dim: int = 64, *, max_period: float = 1e4, scale: float = 1000.0) -> None:
        super().__init__()
        if dim < 2 or dim % 2:
            raise ValueError(f"SinusoidalEmbedding needs an even dim >= 2, got {dim}")
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half) / max(half - 1, 1))
        self.register_buffer("freqs", freqs * scale, persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angle = _as_column(t).to(self.freqs.dtype) * self.freqs
        return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)


class FourierEmbedding(nn.Module):
    """[sin(2 pi t b_k), cos(2 pi t b_k)] for fixed frequencies b_k: random Gaussian ones
    (:meth:`gaussian`, Tancik et al. 2020; score-based diffusion) or powers of two
    (:meth:`powers_of_two`, the mjj conditioning of the LHCO diffusion model, methods.md c.2).
    The frequencies are a buffer, so they are saved with the model and never trained."""

    def __init__(self, frequencies: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("freqs", torch.as_tensor(frequencies, dtype=torch.float32).flatten())

    @classmethod
    def gaussian(cls, dim: int = 64, scale: float = 16.0, seed: int = 0) -> "FourierEmbedding":
        if dim < 2 or dim % 2:
            raise ValueError(f"FourierEmbedding needs an even dim >= 2, got {dim}")
        gen = torch.Generator().manual_seed(int(seed))
        return cls(torch.randn(dim // 2, generator=gen) * scale)

    @classmethod
    def powers_of_two(cls, k_min: int = 4, k_max: int = 7) -> "FourierEmbedding":
        return cls(2.0 ** torch.arange(k_min, k_max + 1, dtype=torch.float32))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angle = 2 * math.pi * _as_column(t).to(self.freqs.dtype) * self.freqs
        return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)


class EmbeddingMLP(nn.Module):
    """An embedding followed by a small MLP (e.g. Dense(128) -> LeakyReLU -> Dense(64) in methods.md a.3):
    the learned projection every conditioned network puts after its fixed sinusoids."""

    def __init__(self, embedding: nn.Module, in_dim: int, out_dim: int = 64, hidden: int = 128,
                 activation: str = "leaky_relu") -> None:
        super().__init__()
        self.embedding = embedding
        self.mlp = MLP(in_dim, out_dim, [hidden], activation=activation)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.embedding(t))
