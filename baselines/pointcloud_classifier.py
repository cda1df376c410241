"""Supervised point-cloud classifier: the particle transformer of the diffusion density with mean
pooling and a Dense(128) + LeakyReLU head (Mikuni & Nachman, arXiv:2306.03933 Sec. 4;
methods.md a.3 ``DeepSetsAttClass``), trained with binary cross-entropy on the true labels.

It is the supervised reference of the density-ratio task on constituents (``reference:`` in
datasets.yaml): a density ratio that is exactly right and a classifier that is optimal reach the same
AUC, and the two share their particle network, so the gap measures the density estimate. Inputs:
the 3 particle features (deta, dphi, log(1 - pT_rel)) of the leading jet, standardised on training
jets. Reusable by the resonant baselines (:class:`baselines.nn.pointcloud.ParticleClassifierNet`).
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from baselines.common import pointcloud_features
from baselines.nn.pointcloud import ParticleClassifierNet
from baselines.nn.training import TrainConfig, fit_model, predict
from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet
from benchmark.features.constituents import Standardiser

#: ``paper``: the particle network of the diffusion model (6 blocks of width 128, 2 heads, dropout
#: 0.1), 100 particles, batch 128, lr 3e-4 with cosine decay (methods.md a.3-a.4; the classifier's own
#: epochs are not recorded there: 100 with patience 10 here). ``smoke``: seconds on two CPU cores.
PRESETS = {
    "smoke": {"n_particles": 20, "dim": 32, "blocks": 2, "ff_dim": 64, "hidden": 32, "epochs": 4,
              "batch_size": 128, "lr": 2e-3, "patience": 0},
    "paper": {"n_particles": 100, "dim": 128, "blocks": 6, "ff_dim": 512, "hidden": 128, "epochs": 100,
              "batch_size": 128, "lr": 3e-4, "patience": 10},
}


def bce_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-jet binary cross-entropy of the logit."""
    return F.binary_cross_entropy_with_logits(model(batch["x"], batch["mask"]), batch["y"], reduction="none")


class PointCloudClassifier(BaseScorer):
    """Transformer over the particles + pooling, trained on labelled jets; score = logit (signal-like high)."""

    info = ScorerInfo(
        name="pointcloud-classifier", version="1.0", protocols=("supervised",), representation="constituents",
        defaults={"n_particles": 100, "dim": 128, "heads": 2, "blocks": 6, "ff_dim": 512, "hidden": 128,
                  "dropout": 0.1, "pooling": "mean", "epochs": 100, "batch_size": 128, "lr": 3e-4,
                  "schedule": "cosine", "weight_decay": 0.0, "patience": 10, "val_fraction": 0.2,
                  "clip_norm": 1.0, "ema_decay": 0.0},
        presets=PRESETS,
        paper="Mikuni & Nachman, 'High-dimensional and Permutation Invariant Anomaly Detection', SciPost Phys. 16, "
              "062 (2024), arXiv:2306.03933, Sec. 4 (supervised classifier)",
        description="Particle transformer (the diffusion density's network) + mean pooling + Dense(128), BCE on "
                    "true labels; the density-ratio task's reference on constituents.",
    )

    def _arrays(self, events: EventSet) -> dict[str, np.ndarray]:
        parts, mask, _ = pointcloud_features(events, int(self.params["n_particles"]))
        return {"x": self.scaler.transform(parts, mask).astype(np.float32), "mask": mask}

    def fit(self, train: EventSet, *, context: FitContext) -> "PointCloudClassifier":
        started = time.monotonic()
        if context.train_labels is None:
            raise ValueError("pointcloud-classifier needs training labels (protocol 'supervised', or the "
                             "density-ratio task's reference)")
        labels = np.asarray(context.train_labels, dtype=np.float32)
        if len(labels) != len(train) or len(np.unique(labels)) != 2:
            raise ValueError(f"pointcloud-classifier needs one 0/1 label per training jet with both classes, got "
                             f"{len(labels)} labels for {len(train)} jets, classes {np.unique(labels).tolist()}")
        parts, mask, _ = pointcloud_features(train, int(self.params["n_particles"]))
        self.scaler = Standardiser().fit(parts, mask)
        torch.manual_seed(int(context.seed))
        p = self.params
        self.model = ParticleClassifierNet(3, dim=int(p["dim"]), heads=int(p["heads"]), blocks=int(p["blocks"]),
                                           ff_dim=int(p["ff_dim"]), hidden=int(p["hidden"]),
                                           dropout=float(p["dropout"]), pooling=str(p["pooling"]))
        data = {**self._arrays(train), "y": labels}
        self.training_record = fit_model(self.model, bce_loss, data, config=TrainConfig.from_params(p),
                                         context=context, name="pointcloud-classifier", started=started)
        return self

    def score(self, events: EventSet) -> np.ndarray:
        return predict(self.model, self._arrays(events), lambda m, b: m(b["x"], b["mask"]),
                       batch_size=1024).astype(np.float64)
