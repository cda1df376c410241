"""Deep SVDD with a fixed target, the Dark Machines challenge's "fixed-target" method
(Hendriks, Caron; DMPDF Sec. 4.8-4.9, facts in methods.md d.5; after Ruff et al., ICML 2018).

A network maps each event's flat features (:func:`baselines.dm_inputs.flat_features`,
standardised on the training events) to a point in R^d and is trained to put background events
at the constant vector C_d = (C, ..., C); the anomaly score is the same per-event loss
(1/d) |f(x) - C_d|^2: background lands near the centre, events unlike it do not. The challenge's
network: dense layers 512, 256, 128 then d outputs, Adam lr 1e-3, batch 10 000, with
C in {0, 1, 2, 3, 4, 10, 25} and d in {5, 8, ..., 233} scanned (``--param C=0 --param d=13``).
The input representation and activations are not stated in the challenge paper (UNVERIFIED);
we use ReLU and, as Ruff et al., no bias terms by default (``bias=False``), since a network with
biases can map every input to C (a constant score) without looking at it; ``bias=True`` gives
Keras-style dense layers.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines.common import Standardiser
from baselines.dm_inputs import flat_features
from baselines.nn.mlp import MLP
from baselines.nn.training import TrainConfig, fit_model, predict
from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet

#: ``paper``: DMPDF Sec. 4.8 (512-256-128, Adam 1e-3, batch 10 000); epochs not stated there, ours
#: with early stopping. ``smoke``: seconds on 2 CPU cores.
PRESETS = {
    "smoke": {"hidden": [64, 32], "epochs": 15, "batch_size": 256, "lr": 3e-3, "patience": 0},
    "paper": {"hidden": [512, 256, 128], "epochs": 100, "batch_size": 10_000, "lr": 1e-3, "patience": 10},
}


def centre_distance(model: nn.Module, x: torch.Tensor, centre: float) -> torch.Tensor:
    """Per-event (1/d) |f(x) - C_d|^2 (training loss and anomaly score)."""
    return ((model(x.float()) - centre) ** 2).mean(-1)


class DeepSVDD(BaseScorer):
    """Score = mean squared distance of the network's output to the fixed centre C_d."""

    info = ScorerInfo(
        name="deep-svdd", version="1.0", protocols=("unsupervised",), representation="objects",
        defaults={"C": 1.0, "d": 13, "hidden": [512, 256, 128], "activation": "relu", "bias": False, "n_jets": 7, "n_leptons": 4,
                  "epochs": 100, "batch_size": 10_000, "lr": 1e-3, "weight_decay": 0.0, "patience": 10,
                  "schedule": "constant", "val_fraction": 0.1, "clip_norm": 0.0},
        presets=PRESETS,
        paper="Deep SVDD, Dark Machines unsupervised challenge ("
              "arXiv:2105.14027, Sec. 4.8); Ruff et al., 'Deep One-Class Classification', ICML 2018",
        description="Bias-free MLP of the flat event features to R^d, trained towards the fixed centre (C,...,C); "
                    "score = mean squared distance to it.",
    )

    def _features(self, events: EventSet) -> np.ndarray:
        return flat_features(events, int(self.params["n_jets"]), int(self.params["n_leptons"]))

    def _loss(self) -> Any:
        centre = float(self.params["C"])
        return lambda model, batch: centre_distance(model, batch, centre)

    def fit(self, train: EventSet, *, context: FitContext) -> "DeepSVDD":
        started = time.monotonic()
        x = self._features(train)
        self.scaler = Standardiser().fit(x)
        p = self.params
        torch.manual_seed(context.seed)
        self.model = MLP(x.shape[1], int(p["d"]), [int(h) for h in p["hidden"]], activation=p["activation"],
                         bias=bool(p["bias"]))
        self.training_record = fit_model(self.model, self._loss(), self.scaler.transform(x).astype(np.float32),
                                         config=TrainConfig.from_params(p), context=context, name="deep-svdd",
                                         started=started)
        return self

    def score(self, events: EventSet) -> np.ndarray:
        x = self.scaler.transform(self._features(events)).astype(np.float32)
        return predict(self.model, x, self._loss()).astype(np.float64)
