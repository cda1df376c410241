"""The permutation-invariant data-vs-synthetic classifier of full-phase-space resonant AD
(arXiv:2310.06897 Fig. 3, methods.md c.4).

Particles are embedded and passed through transformer blocks whose attention stays inside each
jet (both jets share the weights); the two jets' tokens pass through a separate transformer; the
N_1 + N_2 + 2 tokens are joined along the set axis, mixed by a dense layer (dropout, LeakyReLU),
mean-pooled over the real tokens, and a small head gives one logit. The output does not depend on
the order of the jets nor on the order of the particles in a jet, and padding never reaches it.
"""
from __future__ import annotations

import torch
from torch import nn

from baselines.nn.attention import TransformerBlock
from baselines.nn.mlp import MLP, apply_mask
from baselines.nn.sets import masked_pool, real_width


class DijetClassifier(nn.Module):
    """logit(jets (B, J, Fj), parts (B, J, P, Fp), mask (B, J, P)) -> (B,).

    Reference (LHCO_diffusion ``DeepSetsClass``): Dense(64) + LeakyReLU, 4 blocks of 2 heads on the
    particles and 4 on the jets, Dense(128) -> Dropout 0.1 -> LeakyReLU, average pooling,
    Dense(64) + LeakyReLU -> Dropout 0.1 -> Dense(1).
    """

    def __init__(self, jet_features: int = 5, particle_features: int = 3, *, dim: int = 64, heads: int = 2,
                 particle_blocks: int = 4, jet_blocks: int = 4, ff_dim: int = 128, mix_dim: int = 128,
                 head_dim: int = 64, dropout: float = 0.1) -> None:
        super().__init__()
        self.particle_embed = MLP(particle_features, dim, [], activation="leaky_relu", final_activation=True)
        self.particle_blocks = nn.ModuleList(TransformerBlock(dim, heads, ff_dim, dropout=dropout)
                                             for _ in range(particle_blocks))
        self.jet_embed = MLP(jet_features, dim, [], activation="leaky_relu", final_activation=True)
        self.jet_blocks = nn.ModuleList(TransformerBlock(dim, heads, ff_dim, dropout=dropout) for _ in range(jet_blocks))
        self.mix = MLP(dim, mix_dim, [], activation="leaky_relu", dropout=dropout, final_activation=True)
        self.head = MLP(mix_dim, 1, [head_dim], activation="leaky_relu", dropout=dropout)

    def forward(self, jets: torch.Tensor, parts: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, J, P, F = parts.shape
        k = real_width(mask)   # positions padded in every jet of the batch are dropped
        parts, mask = parts[:, :, :k], mask[:, :, :k]
        flat_mask = mask.reshape(B * J, k)
        p = self.particle_embed(parts.reshape(B * J, k, F), flat_mask)
        for block in self.particle_blocks:
            p = block(p, flat_mask)
        j = self.jet_embed(jets)
        for block in self.jet_blocks:
            j = block(j)
        tokens = torch.cat([j, p.reshape(B, J * k, -1)], dim=1)
        token_mask = torch.cat([torch.ones(B, J, dtype=torch.bool, device=mask.device), mask.reshape(B, J * k)], 1)
        h = apply_mask(self.mix(tokens), token_mask)
        return self.head(masked_pool(h, token_mask, "mean")).squeeze(-1)


def classifier_logit(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The ``forward(model, batch)`` of :class:`baselines.weak_supervision.NetworkEnsemble` for
    batches of :meth:`baselines.dijet.DijetScaler.classifier_inputs`."""
    return model(batch["jets"], batch["parts"], batch["mask"])
