"""Spline autoregressive flow on the challenge's flat event features: "Flow-Efficient", the Dark
Machines challenge's best median total improvement (DMPDF Sec. 4.10, Tab. 15, Eq. 4.9; facts in
methods.md d.5).

A rational-quadratic neural-spline autoregressive flow (zuko NSF through
:func:`baselines.nn.flows.conditional_flow`) learns the density of the background's flat features
(:func:`baselines.dm_inputs.flat_features`: MET, MET phi, object counts, (log E, log pT, eta, phi) of
the leading 7 jets / b-jets and 4 leptons, standardised on the training events). The score is
-log p normalised with the training events' range, S = (-log p - m) / (M - m) (the challenge's
Eq. 4.9 maps log p to [0, 1] the same way; the map is monotonic, so it only fixes the scale).

Zero-padded slots and integer counts are point masses a continuous density cannot hold; training
adds Gaussian noise of width ``noise`` (in standard deviations) to the inputs, which keeps the
likelihood finite (dequantisation); scoring uses the clean features.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines.common import Standardiser
from baselines.dm_inputs import flat_features
from baselines.nn.flows import conditional_flow, log_prob
from baselines.nn.training import TrainConfig, fit_model, predict
from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet

#: ``paper``: Tab. 15 (11 transforms, MADE 7 x 200, 35 knots, Adam 1e-3, batch 512, 100 epochs; 10 for
#: channel 3). ``smoke``: seconds on 2 CPU cores.
PRESETS = {
    "smoke": {"transforms": 3, "hidden": [64, 64], "bins": 8, "epochs": 8, "batch_size": 256, "lr": 3e-3,
              "patience": 0},
    "paper": {"transforms": 11, "hidden": [200] * 7, "bins": 35, "epochs": 100, "batch_size": 512, "lr": 1e-3,
              "patience": 10},
}


class FlatFlow(nn.Module):
    """The unconditional spline flow; ``noise`` is added to its inputs in training mode only."""

    def __init__(self, features: int, transforms: int, hidden: list[int], bins: int) -> None:
        super().__init__()
        self.flow = conditional_flow("nsf", features, 0, transforms=transforms, hidden=hidden, bins=bins)
        self.noise = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) per event."""
        x = x.float()
        if self.training and self.noise > 0:
            x = x + self.noise * torch.randn_like(x)
        return log_prob(self.flow, x)


def nll_per_dim(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return -model(x) / x.shape[-1]


class SplineFlow(BaseScorer):
    """Score = normalised -log p of a neural-spline autoregressive flow on the flat event features."""

    info = ScorerInfo(
        name="dm-flow", version="1.0", protocols=("unsupervised", "density_ratio"), representation="objects",
        defaults={"transforms": 11, "hidden": [200] * 7, "bins": 35, "noise": 0.05, "n_jets": 7, "n_leptons": 4,
                  "epochs": 100, "batch_size": 512, "lr": 1e-3, "weight_decay": 0.0, "patience": 10,
                  "schedule": "constant", "val_fraction": 0.1, "clip_norm": 5.0},
        presets=PRESETS,
        paper="Spline autoregressive flow 'Flow-Efficient', Dark Machines unsupervised challenge (arXiv:2105.14027, "
              "Sec. 4.10, Tab. 15)",
        description="Neural-spline autoregressive flow (zuko NSF) on MET, counts and leading jets/leptons; "
                    "score = -log p normalised to the training range.",
    )

    def _features(self, events: EventSet) -> np.ndarray:
        x = flat_features(events, int(self.params["n_jets"]), int(self.params["n_leptons"]))
        return self.scaler.transform(x).astype(np.float32)

    def fit(self, train: EventSet, *, context: FitContext) -> "SplineFlow":
        started = time.monotonic()
        p = self.params
        self.scaler = Standardiser().fit(flat_features(train, int(p["n_jets"]), int(p["n_leptons"])))
        x = self._features(train)
        torch.manual_seed(context.seed)
        self.model = FlatFlow(x.shape[1], int(p["transforms"]), [int(h) for h in p["hidden"]], int(p["bins"]))
        self.model.noise = float(p["noise"])
        self.training_record = fit_model(self.model, nll_per_dim, x, config=TrainConfig.from_params(p),
                                         context=context, name="dm-flow", started=started)
        nll = -predict(self.model, x).astype(np.float64)
        self._range = (float(nll.min()), float(nll.max()))
        return self

    def log_prob(self, events: EventSet) -> np.ndarray:
        """log p of the standardised features (the density-ratio protocol's input)."""
        return predict(self.model, self._features(events)).astype(np.float64)

    def score(self, events: EventSet) -> np.ndarray:
        lo, hi = self._range
        return (-self.log_prob(events) - lo) / max(hi - lo, 1e-12)
