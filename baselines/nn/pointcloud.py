"""Networks of the permutation-invariant point-cloud models (methods.md a.3): a transformer trunk
over the particles of a jet, used as a diffusion velocity network (equivariant, conditioned on time
and jet features) and as a classifier (pooled, invariant); and the residual-MLP velocity network of
the jet features. Every network zeroes padded particles, so the particles' order and padding never
reach a real output.
"""
from __future__ import annotations

import torch
from torch import nn

from baselines.nn.attention import TransformerBlock
from baselines.nn.embeddings import EmbeddingMLP, SinusoidalEmbedding
from baselines.nn.mlp import MLP, ResidualMLP, activation, apply_mask
from baselines.nn.sets import masked_pool


class ParticleTransformer(nn.Module):
    """Per-particle embedding, a per-jet condition tiled over the particles, ``blocks`` masked
    transformer blocks (2 heads, feed-forward 512 and the condition added in each in the reference),
    a final layer norm, then the skip of the pre-transformer features: (B, N, F) -> (B, N, 2 dim).
    ``cond_dim`` 0: no condition (the classifier)."""

    def __init__(self, in_dim: int, dim: int = 128, *, cond_dim: int = 0, heads: int = 2, blocks: int = 6,
                 ff_dim: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        self.embed = MLP(in_dim, dim, [], activation="leaky_relu", final_activation=True)
        self.cond = MLP(cond_dim, dim, [2 * dim], activation="leaky_relu") if cond_dim else None
        self.merge = MLP(2 * dim if cond_dim else dim, dim, [dim], activation="leaky_relu")
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, ff_dim, dropout=dropout, activation="gelu",
                                                     cond_dim=cond_dim) for _ in range(blocks))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.out_dim = 2 * dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, cond: torch.Tensor | None = None) -> torch.Tensor:
        h0 = self.embed(x, mask)
        if self.cond is not None:
            if cond is None:
                raise ValueError("this particle network was built with cond_dim > 0 and needs a condition")
            tiled = self.cond(cond).unsqueeze(1).expand(-1, x.shape[1], -1)
            h0 = torch.cat([h0, tiled], dim=-1)
        h0 = self.merge(h0, mask)
        h = h0
        for block in self.blocks:
            h = block(h, mask, cond)
        return apply_mask(torch.cat([self.norm(h), h0], dim=-1), mask)


class TimeJetCondition(nn.Module):
    """The per-jet condition of a velocity network: an embedding of the (normalised log-SNR) time,
    joined with the jet features when there are any: LeakyReLU(Dense(emb(t), LeakyReLU(Dense(jet))))."""

    def __init__(self, embed: int = 64, jet_dim: int = 0) -> None:
        super().__init__()
        self.time = EmbeddingMLP(SinusoidalEmbedding(embed), embed, embed, hidden=2 * embed)
        self.jet = MLP(jet_dim, embed, [], activation="leaky_relu", final_activation=True) if jet_dim else None
        self.join = MLP(2 * embed if jet_dim else embed, embed, [], activation="leaky_relu", final_activation=True)
        self.out_dim = embed

    def forward(self, time: torch.Tensor, jet: torch.Tensor | None) -> torch.Tensor:
        parts = [self.time(time)]
        if self.jet is not None:
            if jet is None:
                raise ValueError("this network is conditioned on jet features; pass them")
            parts.append(self.jet(jet))
        return self.join(torch.cat(parts, dim=-1))


class ParticleVelocityNet(nn.Module):
    """v_hat(x_lambda, t, jet, mask) for a padded particle cloud (B, N, F): permutation equivariant.

    The output layer starts at zero (the reference's zero-initialised head), so training starts
    from v_hat = 0."""

    def __init__(self, features: int = 3, jet_dim: int = 4, *, dim: int = 128, heads: int = 2, blocks: int = 6,
                 ff_dim: int = 512, embed: int = 64, head_dim: int = 256, dropout: float = 0.0) -> None:
        super().__init__()
        self.condition = TimeJetCondition(embed, jet_dim)
        self.trunk = ParticleTransformer(features, dim, cond_dim=embed, heads=heads, blocks=blocks, ff_dim=ff_dim,
                                         dropout=dropout)
        self.head = MLP(self.trunk.out_dim, features, [head_dim], activation="leaky_relu")
        last = self.head.net[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor, time: torch.Tensor, jet: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        c = self.condition(time, jet)
        return self.head(self.trunk(x, mask, c), mask)


class JetVelocityNet(nn.Module):
    """v_hat(x_lambda, t) for a fixed-length feature vector (the jet's pT, eta, mass, multiplicity):
    a residual MLP with the time embedding added in every block (methods.md a.3 "Resnet")."""

    def __init__(self, features: int = 4, *, width: int = 256, depth: int = 2, embed: int = 64,
                 cond_dim: int = 0, dropout: float = 0.1) -> None:
        super().__init__()
        self.condition = TimeJetCondition(embed, cond_dim)
        self.net = ResidualMLP(features, features, width, depth, cond_dim=embed, activation="leaky_relu",
                               dropout=dropout)
        nn.init.zeros_(self.net.out.weight)
        nn.init.zeros_(self.net.out.bias)

    def forward(self, x: torch.Tensor, time: torch.Tensor, cond: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x, self.condition(time, cond))


class ParticleClassifierNet(nn.Module):
    """The same particle transformer, pooled over the real particles (mean), then Dense(hidden) +
    LeakyReLU + dropout -> one logit (the paper's supervised reference, Sec. 4; methods.md a.3)."""

    def __init__(self, features: int = 3, *, dim: int = 128, heads: int = 2, blocks: int = 6, ff_dim: int = 512,
                 hidden: int = 128, dropout: float = 0.1, pooling: str = "mean") -> None:
        super().__init__()
        self.trunk = ParticleTransformer(features, dim, heads=heads, blocks=blocks, ff_dim=ff_dim, dropout=dropout)
        self.pooling = pooling
        pooled = 2 * self.trunk.out_dim if pooling == "sum+mean" else self.trunk.out_dim
        self.head = nn.Sequential(nn.Linear(pooled, hidden), activation("leaky_relu"), nn.Dropout(dropout),
                                  nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(masked_pool(self.trunk(x, mask), mask, self.pooling)).squeeze(-1)
