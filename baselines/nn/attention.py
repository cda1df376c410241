"""Pre-norm transformer block with masked multi-head self-attention over a padded set.

The particle networks of the diffusion baselines and the data-vs-synthetic classifiers
(methods.md a.3, c.2, c.4) are stacks of this block. Attention goes through
``torch.nn.functional.scaled_dot_product_attention``, which picks a fused kernel on GPUs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from baselines.nn.mlp import activation as make_activation
from baselines.nn.mlp import apply_mask


class MaskedSelfAttention(nn.Module):
    """Multi-head self-attention in which only real elements are attended to."""

    def __init__(self, dim: int, heads: int = 2, *, head_dim: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads = int(heads)
        self.head_dim = int(head_dim or dim // heads)
        if self.head_dim * self.heads == 0:
            raise ValueError(f"attention needs heads >= 1 and dim >= heads, got dim={dim}, heads={heads}")
        inner = self.heads * self.head_dim
        self.qkv = nn.Linear(dim, 3 * inner)
        self.out = nn.Linear(inner, dim)
        self.dropout = float(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        B, N, _ = x.shape
        q, k, v = self.qkv(x).view(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        attn_mask = None
        if mask is not None:
            # keys: real elements only; a set with none attends to all (its outputs are zeroed anyway)
            keys = mask | ~mask.any(1, keepdim=True)
            attn_mask = keys[:, None, None, :]
        h = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(h.transpose(1, 2).reshape(B, N, self.heads * self.head_dim))


class TransformerBlock(nn.Module):
    """x + Attn(LN(x)), then + FF(LN(x)) (+ Linear(cond) when ``cond_dim``), padded elements kept zero.

    Equivariant in the real elements. ``cond_dim`` adds a per-set condition (time embedding, jet
    features) to the feed-forward output, as the reference particle networks do.
    """

    def __init__(self, dim: int, heads: int = 2, ff_dim: int = 512, *, head_dim: int | None = None,
                 dropout: float = 0.0, activation: str = "gelu", cond_dim: int = 0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = MaskedSelfAttention(dim, heads, head_dim=head_dim, dropout=dropout)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.ff = nn.Sequential(nn.Linear(dim, ff_dim), make_activation(activation), nn.Dropout(dropout),
                                nn.Linear(ff_dim, dim))
        self.cond = nn.Linear(cond_dim, dim) if cond_dim else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                cond: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), mask)
        h = self.ff(self.norm2(x))
        if self.cond is not None:
            if cond is None:
                raise ValueError("this transformer block was built with cond_dim > 0 and needs a condition")
            h = h + self.cond(cond).unsqueeze(1)
        return apply_mask(x + h, mask)
