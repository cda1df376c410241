"""Multi-layer perceptrons: the plain stack every dense model uses and a residual variant for deeper,
conditioned networks (e.g. the jet-feature diffusion model). Both optionally respect a boolean mask
so the same module can act per element of a padded set."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

#: Activation names accepted wherever a block takes ``activation`` (``leaky_relu`` uses Keras' 0.01
#: slope, the value the reference implementations rely on).
ACTIVATIONS = ("relu", "leaky_relu", "gelu", "silu", "swish", "elu", "selu", "tanh", "identity")


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (one place that knows the spellings)."""
    factories = {
        "relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.01), "gelu": nn.GELU, "silu": nn.SiLU,
        "swish": nn.SiLU, "elu": nn.ELU, "selu": nn.SELU, "tanh": nn.Tanh, "identity": nn.Identity,
    }
    if name not in factories:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}")
    return factories[name]()


def apply_mask(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Zero the entries of padded elements: ``x`` (..., N, F), ``mask`` (..., N) boolean (True = real)."""
    return x if mask is None else x * mask.unsqueeze(-1).to(x.dtype)


class MLP(nn.Module):
    """Linear layers with an activation (and optional layer norm and dropout) between them.

    ``hidden`` lists the widths of the hidden layers; the last layer is linear unless
    ``final_activation``. With a ``mask`` the output of padded set elements is zero, so per-element
    networks of deep sets and point clouds never leak padding values into a pooled sum.

    >>> net = MLP(1600, 32, [512, 128], activation="relu")
    >>> net(torch.zeros(4, 1600)).shape
    torch.Size([4, 32])
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: Sequence[int] = (), *, activation: str = "relu",
                 dropout: float = 0.0, layer_norm: bool = False, final_activation: bool = False,
                 bias: bool = True) -> None:
        super().__init__()
        widths = [int(in_dim), *map(int, hidden), int(out_dim)]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(a, b, bias=bias))
            if i < len(widths) - 2 or final_activation:
                if layer_norm:
                    layers.append(nn.LayerNorm(b))
                layers.append(_activation(activation))
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        self.net = nn.Sequential(*layers)
        self.in_dim, self.out_dim = int(in_dim), int(out_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return apply_mask(self.net(x), mask)


_activation = activation  # the constructor's keyword shadows the module-level function


class ResidualBlock(nn.Module):
    """h + W2 act(W1 norm(h) + C c): a pre-norm residual block with an optional additive condition."""

    def __init__(self, width: int, *, cond_dim: int = 0, activation: str = "relu", dropout: float = 0.0,
                 layer_norm: bool = True) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width) if layer_norm else nn.Identity()
        self.fc1 = nn.Linear(width, width)
        self.cond = nn.Linear(cond_dim, width) if cond_dim else None
        self.act = _activation(activation)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc2 = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        z = self.fc1(self.norm(h))
        if self.cond is not None:
            if cond is None:
                raise ValueError("this residual block was built with cond_dim > 0 and needs a condition")
            z = z + self.cond(cond)
        return h + self.drop(self.fc2(self.act(z)))


class ResidualMLP(nn.Module):
    """Input projection, ``depth`` residual blocks of constant ``width``, output projection.

    Residual connections keep deep dense networks trainable (diffusion/flow-matching velocity
    networks, classifiers); ``cond_dim`` > 0 adds a condition (time embedding, jet features) inside
    every block. A ``mask`` zeroes padded elements' outputs as in :class:`MLP`.
    """

    def __init__(self, in_dim: int, out_dim: int, width: int = 256, depth: int = 2, *, cond_dim: int = 0,
                 activation: str = "relu", dropout: float = 0.0, layer_norm: bool = True) -> None:
        super().__init__()
        self.inp = nn.Linear(in_dim, width)
        self.blocks = nn.ModuleList(ResidualBlock(width, cond_dim=cond_dim, activation=activation,
                                                  dropout=dropout, layer_norm=layer_norm) for _ in range(depth))
        self.norm = nn.LayerNorm(width) if layer_norm else nn.Identity()
        self.act = _activation(activation)
        self.out = nn.Linear(width, out_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, cond)
        return apply_mask(self.out(self.act(self.norm(h))), mask)
