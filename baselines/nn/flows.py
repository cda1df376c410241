"""Conditional normalizing flows through zuko (maintained, pure torch): a thin factory with our
defaults, so CATHODE-style density estimators and the spline flow are one call each.

>>> flow = conditional_flow("maf", features=4, context=1, transforms=15, hidden=(128, 128))
>>> lp = log_prob(flow, x, c)                 # (B,) log density of x given c
>>> xs = sample(flow, context=c_new)          # one sample per context row
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import zuko
from torch import nn

from baselines.nn.mlp import ACTIVATIONS, activation as make_activation

FLOWS = ("maf", "nsf")


def conditional_flow(kind: str, features: int, context: int = 0, *, transforms: int = 5,
                     hidden: Sequence[int] = (128, 128), bins: int = 8, activation: str = "relu",
                     randperm: bool = False) -> zuko.flows.Flow:
    """A zuko flow over ``features`` dimensions given ``context`` (0: unconditional).

    ``maf``: masked autoregressive affine transforms (CATHODE: 15 x 128); ``nsf``: rational-quadratic
    neural spline flow with ``bins`` bins on [-5, 5] (the Dark Machines "Flow-Efficient"). ``hidden``:
    the widths of each transform's MADE; consecutive transforms reverse the feature order (or
    permute randomly with ``randperm``).
    """
    if kind not in FLOWS:
        raise ValueError(f"flow kind must be one of {FLOWS}, got {kind!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}")
    act = type(make_activation(activation))
    common = dict(transforms=int(transforms), randperm=randperm, hidden_features=tuple(int(h) for h in hidden),
                  activation=act)
    if kind == "maf":
        return zuko.flows.MAF(int(features), int(context), **common)
    return zuko.flows.NSF(int(features), int(context), bins=int(bins), **common)


def log_prob(flow: nn.Module, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
    """log p(x | context), one value per row of ``x``."""
    return flow(context).log_prob(x)


def sample(flow: nn.Module, n: int | None = None, context: torch.Tensor | None = None) -> torch.Tensor:
    """Samples: ``n`` of them without context, else one per context row (``n`` more per row if given)."""
    dist = flow(context)
    if context is None:
        if n is None:
            raise ValueError("sample() without a context needs n")
        return dist.sample((int(n),))
    return dist.sample() if n is None else dist.sample((int(n),))
