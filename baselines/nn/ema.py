"""Exponential moving average of a model's weights.

Diffusion, flow-matching and classifier baselines score with averaged weights (decay 0.999 in the
reference codes): the average is smoother than the last optimiser step. Buffers (batch-norm
statistics) are copied, not averaged.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn


class EMA:
    """shadow <- decay * shadow + (1 - decay) * weights, after every optimiser step.

    >>> model = nn.Linear(2, 1); ema = EMA(model, decay=0.999)
    >>> # ... optimiser.step(); ema.update(model) ...
    >>> with ema.swapped_in(model):   # evaluate with the averaged weights
    ...     _ = model(torch.zeros(1, 2))
    >>> ema.copy_to(model)            # or keep them for scoring
    """

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = float(decay)
        self.shadow: dict[str, torch.Tensor] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self._averaged = {name for name, p in model.named_parameters() if p.dtype.is_floating_point}
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the model's current weights into the average (parameters; buffers are copied)."""
        for name, value in model.state_dict().items():
            shadow = self.shadow[name]
            if name in self._averaged:
                shadow.lerp_(value.detach().to(shadow.dtype), 1.0 - self.decay)
            else:
                shadow.copy_(value)
        self.updates += 1

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Load the averaged weights into ``model`` (permanently)."""
        model.load_state_dict(self.shadow)

    @contextmanager
    def swapped_in(self, model: nn.Module) -> Iterator[nn.Module]:
        """Evaluate ``model`` with the averaged weights inside the block, then restore its own."""
        own = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.copy_to(model)
        try:
            yield model
        finally:
            model.load_state_dict(own)

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "updates": self.updates, "shadow": {k: v.clone() for k, v in self.shadow.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        missing = set(self.shadow) - set(state["shadow"])
        if missing:
            raise KeyError(f"EMA state lacks weights {sorted(missing)}")
        self.decay, self.updates = float(state["decay"]), int(state["updates"])
        self.shadow = {k: v.clone() for k, v in state["shadow"].items()}
