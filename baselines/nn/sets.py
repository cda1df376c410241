"""Permutation-invariant and -equivariant blocks for padded sets (particles, objects).

A set is a tensor ``x`` (B, N, F) with a boolean ``mask`` (B, N), True for real elements; padded
elements may hold anything and never influence a real output (every block zeroes or excludes them).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from baselines.nn.mlp import MLP, apply_mask

POOLINGS = ("sum", "mean", "max", "sum+mean")


def full_mask(x: torch.Tensor) -> torch.Tensor:
    """All-real mask of a set tensor (B, N, F), for callers without padding."""
    return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)


def real_width(mask: torch.Tensor) -> int:
    """1 + the last element position that is real in any set of the batch (mask (..., N)): the
    positions after it are padding everywhere and can be sliced off before a network runs."""
    cols = mask.reshape(-1, mask.shape[-1]).any(0)
    return int(cols.nonzero().max()) + 1 if bool(cols.any()) else 1


def masked_pool(x: torch.Tensor, mask: torch.Tensor | None, mode: str = "sum", *,
                sum_scale: float = 1.0) -> torch.Tensor:
    """Pool (B, N, F) over the real elements into (B, F) (``sum+mean``: (B, 2F), the sum scaled by
    ``sum_scale`` as EPiC does so that it does not dominate for large sets). An empty set pools to 0."""
    if mode not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {mode!r}")
    mask = full_mask(x) if mask is None else mask
    m = mask.unsqueeze(-1).to(x.dtype)
    total = (x * m).sum(1)
    mean = total / m.sum(1).clamp(min=1.0)
    if mode == "sum":
        return total * sum_scale
    if mode == "mean":
        return mean
    if mode == "max":
        low = torch.finfo(x.dtype).min
        pooled = x.masked_fill(~mask.unsqueeze(-1), low).amax(1)
        return torch.where(mask.any(1, keepdim=True), pooled, torch.zeros_like(pooled))
    return torch.cat([total * sum_scale, mean], dim=-1)


class DeepSetEncoder(nn.Module):
    """rho(pool_i phi(x_i)): a per-element MLP, masked pooling, an MLP on the pooled vector.

    Invariant to the order of the real elements and blind to padded ones (Zaheer et al. 2017);
    the per-event encoder of the deep-set VAE, Deep SVDD on objects and simple set classifiers.
    """

    def __init__(self, in_dim: int, out_dim: int, phi_hidden: Sequence[int] = (128, 128), latent: int = 128,
                 rho_hidden: Sequence[int] = (128,), *, pooling: str = "sum", activation: str = "relu",
                 dropout: float = 0.0, layer_norm: bool = False) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.pooling = pooling
        self.phi = MLP(in_dim, latent, phi_hidden, activation=activation, dropout=dropout, layer_norm=layer_norm,
                       final_activation=True)
        pooled = 2 * latent if pooling == "sum+mean" else latent
        self.rho = MLP(pooled, out_dim, rho_hidden, activation=activation, dropout=dropout, layer_norm=layer_norm)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.rho(masked_pool(self.phi(x, mask), mask, self.pooling))


class EPiCLayer(nn.Module):
    """One equivariant point-cloud layer (Buhmann et al., EPiC-GAN / EPiC flow matching).

    The global vector is updated from the mean and scaled sum of the elements (and a condition),
    then fed back to every element: x_g <- x_g + MLP([mean, sum * s, x_g, c]),
    x_i <- x_i + MLP([x_i, x_g, c]). Equivariant in the elements, padded ones stay zero and are
    left out of the pooling. Reference settings (methods.md c.3): 8 layers, local width 150,
    global 256 (there called latent), LeakyReLU, sum scaled by 1e-2.
    """

    def __init__(self, local_dim: int, global_dim: int, hidden: int = 128, *, cond_dim: int = 0,
                 activation: str = "leaky_relu", sum_scale: float = 1e-2) -> None:
        super().__init__()
        self.sum_scale = float(sum_scale)
        self.global_update = MLP(2 * local_dim + global_dim + cond_dim, global_dim, [hidden], activation=activation)
        self.local_update = MLP(local_dim + global_dim + cond_dim, local_dim, [hidden], activation=activation)

    def forward(self, x: torch.Tensor, g: torch.Tensor, mask: torch.Tensor | None = None,
                cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        extra = [] if cond is None else [cond]
        pooled = masked_pool(x, mask, "sum+mean", sum_scale=self.sum_scale)
        g = g + self.global_update(torch.cat([pooled, g, *extra], dim=-1))
        broadcast = torch.cat([g, *extra], dim=-1).unsqueeze(1).expand(-1, x.shape[1], -1)
        x = x + self.local_update(torch.cat([x, broadcast], dim=-1), mask)
        return apply_mask(x, mask), g


class EPiCNetwork(nn.Module):
    """A stack of :class:`EPiCLayer` s mapping a padded set (B, N, in) to (B, N, out), equivariant.

    Elements are projected to ``local_dim`` (with the condition), the global vector starts from
    their pooled mean and scaled sum, ``layers`` EPiC layers exchange information between the two
    (each sees the condition), and a per-element head gives the output. The particle network of
    EPiC flow matching (methods.md c.3: 8 layers, local 150, global 256, LeakyReLU, sum x 1e-2),
    conditioned on the time embedding and the jet features. Padded elements' outputs are zero.
    """

    def __init__(self, in_dim: int, out_dim: int, *, local_dim: int = 128, global_dim: int = 16, hidden: int = 128,
                 layers: int = 6, cond_dim: int = 0, activation: str = "leaky_relu", sum_scale: float = 1e-2) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"EPiCNetwork needs layers >= 1, got {layers}")
        self.sum_scale = float(sum_scale)
        self.embed = MLP(in_dim + cond_dim, local_dim, [hidden], activation=activation, final_activation=True)
        self.global_init = MLP(2 * local_dim + cond_dim, global_dim, [hidden], activation=activation,
                               final_activation=True)
        self.layers = nn.ModuleList(EPiCLayer(local_dim, global_dim, hidden, cond_dim=cond_dim, activation=activation,
                                              sum_scale=sum_scale) for _ in range(layers))
        self.head = MLP(local_dim + cond_dim, out_dim, [hidden], activation=activation)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                cond: torch.Tensor | None = None) -> torch.Tensor:
        tiled = [] if cond is None else [cond.unsqueeze(1).expand(-1, x.shape[1], -1)]
        extra = [] if cond is None else [cond]
        h = self.embed(torch.cat([x, *tiled], dim=-1), mask)
        g = self.global_init(torch.cat([masked_pool(h, mask, "sum+mean", sum_scale=self.sum_scale), *extra], dim=-1))
        for layer in self.layers:
            h, g = layer(h, g, mask, cond)
        return self.head(torch.cat([h, *tiled], dim=-1), mask)


class FSPool(nn.Module):
    """Featurewise sort pooling (Zhang, Hare, Prugel-Bennett 2019), honouring a mask.

    Each feature is sorted (descending) over the real elements of its set; the element at relative
    position r = i / (n - 1) gets the weight w_f(r), piecewise linear between ``n_pieces + 1`` learned
    values per feature; the output is sum_i w_f(r_i) x_sorted_if. Sets of different sizes share the
    same weight curve, and sorting makes it invariant to the element order. The deep-set VAE of
    Ostdiek uses 20 pieces, weights initialised from N(0, 1) (methods.md d.2).
    """

    def __init__(self, n_features: int, n_pieces: int = 20) -> None:
        super().__init__()
        if n_pieces < 1:
            raise ValueError(f"FSPool needs n_pieces >= 1, got {n_pieces}")
        self.n_pieces = int(n_pieces)
        self.weight = nn.Parameter(torch.randn(n_features, n_pieces + 1))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = full_mask(x) if mask is None else mask
        B, N, F = x.shape
        ordered = torch.sort(x.masked_fill(~mask.unsqueeze(-1), float("-inf")), dim=1, descending=True).values
        n = mask.sum(1, keepdim=True)                                           # (B, 1)
        pos = torch.arange(N, device=x.device).unsqueeze(0)                     # (1, N)
        valid = pos < n                                                         # (B, N)
        r = pos.to(x.dtype) / (n - 1).clamp(min=1).to(x.dtype)                 # relative position in [0, 1]
        idx = (r * self.n_pieces).clamp(max=self.n_pieces)
        lo = idx.floor().long().clamp(max=self.n_pieces - 1)
        frac = (idx - lo.to(x.dtype)).unsqueeze(-1)                             # (B, N, 1)
        w = self.weight.t()                                                     # (P + 1, F)
        weights = w[lo] * (1 - frac) + w[lo + 1] * frac                         # (B, N, F)
        ordered = torch.where(valid.unsqueeze(-1), ordered, torch.zeros((), dtype=x.dtype, device=x.device))
        return (ordered * weights * valid.unsqueeze(-1).to(x.dtype)).sum(1)
