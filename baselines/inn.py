"""INN density on the 8 prime EFPs of the leading jet (Buss et al., "What's Anomalous in LHC Jets?",
arXiv:2202.00686, Sec. 5; reference code ThorstenBuss/jet-inn, facts in methods.md b.4).

A normalizing flow is an exact density, so anomalies are jets of low density in *physics* space.
Pipeline: EFPs x (kappa, beta) -> PCA whitening w = W (x - mean) -> 24 affine couplings with soft
clamping and fixed random rotations (:class:`baselines.nn.coupling.CouplingINN`) -> Gaussian z.
The physics-space negative log-likelihood counts both Jacobians (INN and PCA)::

    -log p(x) = |z|^2 / 2 + d/2 log(2 pi) - log|det dz/dw| - log|det W|

and the paper's x^n reweighting (Eq. 21) moves it to the density of x' = x^n without retraining:
``L_n = L + (n - 1) sum_i log(x_i + eps)`` (the constant d log n dropped, so n = 0 is the log map).
Training adds Gaussian noise to the whitened EFPs whose width decays every epoch (Table 3).
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines.nn.coupling import CouplingINN
from baselines.nn.training import TrainConfig, TrainingRecord, fit_model, predict
from baselines.common import PCAWhitening, efp_request, leading_jet_efps
from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet

SCORES = ("nll", "latent")

#: ``paper``: Table 3 (300 epochs, batch 512, Adam lr 1e-4 with betas (0.9, 0.999) decaying by 0.98
#: per epoch, noise 0.5 decaying by 0.95 per epoch, PCA), 24 blocks with 512-unit subnets (Sec. 5).
#: ``smoke``: seconds on two CPU cores: fewer, narrower blocks, a larger lr and a small noise.
PRESETS = {
    "smoke": {"blocks": 8, "hidden": 64, "epochs": 15, "batch_size": 256, "lr": 3e-3, "noise": 0.1,
              "noise_decay": 0.8},
    "paper": {"blocks": 24, "hidden": 512, "epochs": 300, "batch_size": 512, "lr": 1e-4, "noise": 0.5,
              "noise_decay": 0.95},
}


class WhitenedINN(nn.Module):
    """The PCA map (fixed buffers) followed by the coupling INN; ``noise`` is the width of the
    Gaussian noise added to the whitened training data (only in training mode)."""

    def __init__(self, whitening: PCAWhitening, blocks: int, hidden: int, *, clamp: float, seed: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(whitening.mean_, dtype=torch.float32))
        self.register_buffer("matrix", torch.as_tensor(whitening.matrix_, dtype=torch.float32))
        self.pca_log_det = whitening.log_abs_det
        self.inn = CouplingINN(len(whitening.mean_), blocks, hidden, clamp=clamp, seed=seed)
        self.noise = 0.0

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z, log|det dz/dx|) for physics-space rows ``x``, both Jacobians included."""
        w = (x - self.mean) @ self.matrix
        if self.training and self.noise > 0:
            w = w + self.noise * torch.randn_like(w)
        z, log_det = self.inn(w)
        return z, log_det + self.pca_log_det

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) in physics space under the standard-normal latent prior."""
        z, log_det = self(x)
        return -0.5 * (z**2).sum(-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi) + log_det


def nll_loss(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """Per-jet negative log-likelihood per dimension (the reference code's loss scale)."""
    return -model.log_prob(batch) / batch.shape[-1]


def fit_inn(x: np.ndarray, params: Mapping[str, Any], context: Any, *, started: float | None = None,
            name: str = "inn") -> tuple[WhitenedINN, TrainingRecord]:
    """Whiten ``x`` (N, D), build the INN from ``params`` and train it with decaying noise."""
    whitening = PCAWhitening().fit(x)
    seed = int(getattr(context, "seed", 0))
    torch.manual_seed(seed)
    model = WhitenedINN(whitening, int(params["blocks"]), int(params["hidden"]), clamp=float(params["clamp"]),
                        seed=seed)
    model.noise = float(params["noise"])

    def decay(epoch: int, m: nn.Module) -> None:
        m.noise *= float(params["noise_decay"])

    record = fit_model(model, nll_loss, x.astype(np.float32), config=TrainConfig.from_params(params),
                       context=context, name=name, started=started, on_epoch_end=decay)
    record.extra["final_noise"] = model.noise
    return model, record


def reweighting_shift(x: np.ndarray, n: float, eps: float) -> np.ndarray:
    """Eq. 21: the change of -log p when the density is taken in x' = x^n, without the constant
    d log n: (n - 1) sum_i log(x_i + eps)."""
    return (float(n) - 1.0) * np.log(np.asarray(x, dtype=np.float64) + float(eps)).sum(-1)


class EFPInn(BaseScorer):
    """Score = physics-space NLL of the leading jet's EFPs under an INN trained on background,
    reweighted to x^n (``n``: 1 plain, 0 log EFPs); ``score="latent"``: |z|^2 in the latent space."""

    info = ScorerInfo(
        name="inn", version="1.0", protocols=("unsupervised", "density_ratio"), representation="efp",
        defaults={"kappa": 1.0, "beta": 1.0, "score": "nll", "n": 1.0, "log_eps": 1e-10,
                  "blocks": 24, "hidden": 512, "clamp": 2.0, "noise": 0.5, "noise_decay": 0.95,
                  "epochs": 300, "batch_size": 512, "lr": 1e-4, "betas": [0.9, 0.999], "weight_decay": 0.0,
                  "schedule": "exponential", "gamma": 0.98, "patience": 0, "val_fraction": 0.1,
                  "clip_norm": 0.0},
        presets=PRESETS,
        paper="Buss, Dillon, Finke, Krämer, Morandini, Mück, Oleksiyuk, Plehn, 'What's Anomalous in LHC Jets?', "
              "SciPost Phys. 15, 168 (2023), arXiv:2202.00686, Sec. 5 (INN on EFPs)",
        description="INN (24 affine couplings, soft clamp, random rotations) on PCA-whitened leading-jet EFPs; "
                    "score = physics-space NLL with x^n reweighting, or latent |z|^2.",
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.params["score"] not in SCORES:
            raise ValueError(f"inn: param 'score' must be one of {SCORES}, got {self.params['score']!r}")

    def features_needed(self) -> list[tuple[str, dict[str, Any]]]:
        return [efp_request(self.params)]  # computed once by the worker (benchmark.precomputed)

    def _efps(self, events: EventSet) -> np.ndarray:
        return leading_jet_efps(events, self.params["kappa"], self.params["beta"])

    def fit(self, train: EventSet, *, context: FitContext) -> "EFPInn":
        started = time.monotonic()
        self.model, self.training_record = fit_inn(self._efps(train), self.params, context, started=started)
        return self

    def log_prob(self, events: EventSet) -> np.ndarray:
        """log density of the (un-reweighted) EFPs in physics space, for the density-ratio protocol."""
        return predict(self.model, self._efps(events).astype(np.float32),
                       lambda m, b: m.log_prob(b)).astype(np.float64)

    def score(self, events: EventSet) -> np.ndarray:
        x = self._efps(events)
        if self.params["score"] == "latent":
            return predict(self.model, x.astype(np.float32), lambda m, b: (m(b)[0] ** 2).sum(-1)).astype(np.float64)
        nll = -predict(self.model, x.astype(np.float32), lambda m, b: m.log_prob(b)).astype(np.float64)
        return nll + reweighting_shift(x, self.params["n"], self.params["log_eps"])
