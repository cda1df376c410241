"""Permutation-invariant point-cloud diffusion density (Mikuni & Nachman, "High-dimensional and
Permutation Invariant Anomaly Detection", SciPost Phys. 16, 062 (2024), arXiv:2306.03933; facts of
the authors' final code in methods.md a.1-a.7).

Two diffusion models trained together on background jets (one optimiser, one loss = their sum):

* particles (deta, dphi, log(1 - pT_rel)) of the leading jet, a padded point cloud, with a masked
  transformer velocity network conditioned on the jet (:class:`baselines.nn.pointcloud.ParticleVelocityNet`);
* the jet's (pT, eta, mass, multiplicity) with a residual MLP (:class:`~baselines.nn.pointcloud.JetVelocityNet`).

Cosine log-SNR schedule, v-prediction, ``weighting`` ``standard`` or ``likelihood`` (maximum
likelihood, uniform in log-SNR), EMA weights and gradient clipping (:mod:`baselines.nn.diffusion`).
Densities come from the probability-flow ODE solved for a whole batch of jets at once
(torchdiffeq, exact divergence for the jet, exact or Hutchinson for the particles; only real
particles count in the prior's dimension). Both are densities in the physical (un-standardised)
coordinates, so two fits with their own standardisations can be compared (density ratio).

Anomaly score (Eq. 7): -log p(jet) - log p(particles | jet) / N, N the number of real particles.
``log_prob``: log p(jet) + log p(particles | jet), for the density-ratio protocol.

Deviations from the reference, on purpose: AdamW (no weight decay) instead of Adamax, one global
gradient-norm clip of the summed loss instead of per-tensor clips of two losses, no "Featurizer"
extra channels computed from noisy inputs, standardisation fitted on the training background
(the committed reference JSON is suspect, methods.md a.1), torchdiffeq ``bosh3`` (= scipy RK23)
on the device instead of scipy on the CPU.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines.common import pointcloud_features
from baselines.nn.diffusion import WEIGHTINGS, CosineLogSNR, diffusion_loss, log_likelihood
from baselines.nn.ode import DIVERGENCES, NORMS
from baselines.nn.pointcloud import JetVelocityNet, ParticleVelocityNet
from baselines.nn.training import TrainConfig, resolve_device, fit_model
from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet
from benchmark.features.constituents import Standardiser

#: ``paper``: methods.md a.3-a.5 (100 particles, 6 transformer blocks of width 128 with 2 heads, jet
#: ResNet 256 x 2, batch 128, lr 3e-4 with cosine decay, 200 epochs, patience 50, EMA 0.999, clip 1,
#: exact divergence, RK23 with rtol 5e-4, atol 5e-5). ``smoke``: seconds on two CPU cores: 20
#: particles, a narrow 2-block network, 3 epochs, Hutchinson divergence and loose tolerances.
PRESETS = {
    "smoke": {"n_particles": 20, "dim": 32, "blocks": 2, "ff_dim": 64, "embed": 16, "head_dim": 32,
              "jet_width": 32, "jet_depth": 1, "epochs": 3, "batch_size": 128, "lr": 2e-3, "patience": 0,
              "ema_decay": 0.9, "divergence": "hutchinson", "rtol": 5e-2, "atol": 5e-3, "norm": "batch",
              "ll_batch_size": 1000},
    "paper": {"n_particles": 100, "dim": 128, "blocks": 6, "ff_dim": 512, "embed": 64, "head_dim": 256,
              "jet_width": 256, "jet_depth": 2, "epochs": 200, "batch_size": 128, "lr": 3e-4, "patience": 50,
              "ema_decay": 0.999, "divergence": "exact", "rtol": 5e-4, "atol": 5e-5, "norm": "per_sample",
              "ll_batch_size": 256},
}


class PointCloudDiffusion(nn.Module):
    """The particle and jet diffusion models with their standardisations (buffers, so the log-Jacobian
    of the map to physical coordinates travels with the weights)."""

    def __init__(self, params: dict[str, Any], part_scaler: Standardiser, jet_scaler: Standardiser) -> None:
        super().__init__()
        self.schedule = CosineLogSNR(float(params["logsnr_min"]), float(params["logsnr_max"]))
        self.weighting = str(params["weighting"])
        self.part_net = ParticleVelocityNet(3, 4, dim=int(params["dim"]), heads=int(params["heads"]),
                                            blocks=int(params["blocks"]), ff_dim=int(params["ff_dim"]),
                                            embed=int(params["embed"]), head_dim=int(params["head_dim"]))
        self.jet_net = JetVelocityNet(4, width=int(params["jet_width"]), depth=int(params["jet_depth"]),
                                      embed=int(params["embed"]), dropout=float(params["jet_dropout"]))
        self.register_buffer("part_log_std", torch.as_tensor(np.log(part_scaler.std_), dtype=torch.float32))
        self.register_buffer("jet_log_std", torch.as_tensor(np.log(jet_scaler.std_), dtype=torch.float32))

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-jet sum of the particle loss (conditioned on the clean jet) and the jet loss."""
        part = diffusion_loss(self.part_net, batch["x"], schedule=self.schedule, weighting=self.weighting,
                              cond=batch["jet"], mask=batch["mask"])
        jet = diffusion_loss(self.jet_net, batch["jet"], schedule=self.schedule, weighting=self.weighting)
        return part + jet

    def log_likelihoods(self, batch: dict[str, torch.Tensor], *, divergence: str, n_probes: int,
                        generator: torch.Generator | None, **solve: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """(log p(jet), log p(particles | jet)) per jet, in physical coordinates."""
        mask = batch["mask"]
        ll_jet = log_likelihood(self.jet_net, batch["jet"], schedule=self.schedule, divergence="exact", **solve)
        ll_part = log_likelihood(self.part_net, batch["x"], schedule=self.schedule, cond=batch["jet"], mask=mask,
                                 divergence=divergence, n_probes=n_probes, generator=generator, **solve)
        n_real = mask.sum(1).to(ll_part.dtype)
        return ll_jet - self.jet_log_std.sum(), ll_part - n_real * self.part_log_std.sum()


class PointCloudDiffusionScorer(BaseScorer):
    """Score = -log p(jet) - log p(particles | jet) / N (Eq. 7) under diffusion densities of the
    training background; ``log_prob`` = log p(jet) + log p(particles | jet)."""

    info = ScorerInfo(
        name="diffusion", version="1.0", protocols=("unsupervised", "density_ratio"), representation="constituents",
        defaults={"n_particles": 100, "weighting": "standard", "logsnr_min": -10.0, "logsnr_max": 10.0,
                  "dim": 128, "heads": 2, "blocks": 6, "ff_dim": 512, "embed": 64, "head_dim": 256,
                  "jet_width": 256, "jet_depth": 2, "jet_dropout": 0.1,
                  "epochs": 200, "batch_size": 128, "lr": 3e-4, "schedule": "cosine", "weight_decay": 0.0,
                  "patience": 50, "val_fraction": 0.2, "ema_decay": 0.999, "clip_norm": 1.0,
                  "divergence": "exact", "probes": 1, "solver": "bosh3", "rtol": 5e-4, "atol": 5e-5,
                  "margin": 1e-4, "norm": "per_sample", "ll_batch_size": 256},
        presets=PRESETS,
        paper="Mikuni & Nachman, 'High-dimensional and Permutation Invariant Anomaly Detection', SciPost Phys. 16, "
              "062 (2024), arXiv:2306.03933",
        description="Point-cloud diffusion densities of particles|jet (transformer) and jet (ResNet), cosine "
                    "log-SNR, v-prediction; likelihood by the probability-flow ODE; score -log p(jet) - "
                    "log p(part|jet)/N.",
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        checks = {"weighting": WEIGHTINGS, "divergence": DIVERGENCES, "norm": NORMS}
        for key, allowed in checks.items():
            if self.params[key] not in allowed:
                raise ValueError(f"diffusion: param {key!r} must be one of {allowed}, got {self.params[key]!r}")

    def _arrays(self, events: EventSet) -> tuple[dict[str, np.ndarray], np.ndarray]:
        parts, mask, jets = pointcloud_features(events, int(self.params["n_particles"]))
        data = {"x": self.part_scaler.transform(parts, mask).astype(np.float32), "mask": mask,
                "jet": self.jet_scaler.transform(jets).astype(np.float32)}
        return data, mask.sum(1)

    def fit(self, train: EventSet, *, context: FitContext) -> "PointCloudDiffusionScorer":
        started = time.monotonic()
        parts, mask, jets = pointcloud_features(train, int(self.params["n_particles"]))
        self.part_scaler = Standardiser().fit(parts, mask)
        self.jet_scaler = Standardiser().fit(jets)
        self.seed = int(context.seed)
        torch.manual_seed(self.seed)
        self.model = PointCloudDiffusion(self.params, self.part_scaler, self.jet_scaler)
        data, _ = self._arrays(train)
        record = fit_model(self.model, lambda model, batch: model.loss(batch), data,
                           config=TrainConfig.from_params(self.params), context=context, name="diffusion",
                           started=started)
        self.device = resolve_device(context.device)
        self.training_record = record
        return self

    def log_likelihoods(self, events: EventSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(log p(jet), log p(particles | jet), N real particles) per jet, batches of ``ll_batch_size``."""
        data, n_real = self._arrays(events)
        p = self.params
        generator = torch.Generator().manual_seed(self.seed + 7919)
        solve = {"solver": p["solver"], "rtol": float(p["rtol"]), "atol": float(p["atol"]),
                 "margin": float(p["margin"]), "norm": p["norm"]}
        self.model.to(self.device).eval()
        jet_ll, part_ll = [], []
        size = int(p["ll_batch_size"])
        for start in range(0, len(n_real), size):
            batch = {k: torch.as_tensor(v[start:start + size]).to(self.device) for k, v in data.items()}
            lj, lp = self.model.log_likelihoods(batch, divergence=p["divergence"], n_probes=int(p["probes"]),
                                                generator=generator, **solve)
            jet_ll.append(lj.double().cpu().numpy())
            part_ll.append(lp.double().cpu().numpy())
        if not jet_ll:
            return np.zeros(0), np.zeros(0), n_real
        return np.concatenate(jet_ll), np.concatenate(part_ll), n_real

    def log_prob(self, events: EventSet) -> np.ndarray:
        ll_jet, ll_part, _ = self.log_likelihoods(events)
        return ll_jet + ll_part

    def score(self, events: EventSet) -> np.ndarray:
        return anomaly_score(*self.log_likelihoods(events))


def anomaly_score(ll_jet: np.ndarray, ll_part: np.ndarray, n_real: np.ndarray) -> np.ndarray:
    """Eq. 7: -log(p(jet) p(part | jet)^(1/N)), N >= 1."""
    return -ll_jet - ll_part / np.maximum(n_real, 1)

