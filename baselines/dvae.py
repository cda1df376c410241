"""Dirichlet VAE on leading-jet images or EFPs (Buss et al., "What's Anomalous in LHC Jets?",
arXiv:2202.00686, Sec. 4; the architecture of Dillon et al., bmdillon/jet-mixture-vae, methods.md b.3).

The latent point is a mixture weight vector r on the simplex with a Dirichlet(alpha) prior, made
trainable by its softmax-Gaussian (Laplace) approximation, Eq. 14: r = softmax(z), z ~ N(mu, var)
with the prior N(mu~, var~). The decoder is one bias-free linear map from r to the pixels, softmaxed
(a jet is a mixture of R learned "topic" images), so background jets are explained by few modes and
anomalies reconstruct badly. Loss (Eq. 15): reconstruction + beta_KL * KL(q(z|x) || prior) (Eq. 16).

Inputs: unit-sum images (reconstruction loss = KL(image || reconstruction), the reference code's
Keras KLDivergence) or the 8 EFPs, standard-scaled or PCA-whitened (Sec. 4.3; no reference code
exists for this variant: ours keeps the bias-free linear decoder without the softmax and uses
the squared error as reconstruction loss). Scores: ``reco`` (the paper's choice), ``kl``, and
``latent`` = 1 - r_k of the mixture with the largest alpha (background sits in that mode).
Scoring uses the encoder mean (no sampling), so the same fit gives the same scores.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines.common import PCAWhitening, efp_request, image_request, leading_jet_efps, leading_jet_images
from baselines.nn.mlp import MLP
from baselines.nn.training import TrainConfig, fit_model, predict
from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet
from benchmark.features.constituents import Standardiser

SCORES = ("reco", "kl", "latent")
INPUTS = ("images", "efp")
EFP_SCALINGS = ("pca", "standard")
LOGVAR_LIMIT = 30.0

#: ``paper``: Table 2 (300 epochs, batch 2048, Adam lr 1e-2 with betas (0.9, 0.99), beta_KL 0.1,
#: alpha (1.0, 0.1)). ``smoke``: seconds on two CPU cores.
PRESETS = {
    "smoke": {"epochs": 25, "batch_size": 128},
    "paper": {"epochs": 300, "batch_size": 2048},
}


def dirichlet_prior(alpha: Sequence[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, variance) of the Gaussian in softmax basis approximating Dirichlet(alpha), Eq. 14:
    mu_i = log a_i - mean_j log a_j, var_i = (1 - 2/R) / a_i + sum_j (1 / a_j) / R^2."""
    a = torch.as_tensor([float(v) for v in alpha], dtype=torch.float64)
    if a.ndim != 1 or len(a) < 2 or not bool((a > 0).all()):
        raise ValueError(f"dvae: 'alpha' must list R >= 2 positive Dirichlet parameters, got {list(alpha)}")
    r = len(a)
    mu = a.log() - a.log().mean()
    var = (1.0 - 2.0 / r) / a + (1.0 / a).sum() / r**2
    return mu.float(), var.float()


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor, prior_mu: torch.Tensor, prior_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(prior_mu, prior_var)) per row, diagonal Gaussians (Eq. 16)."""
    var = logvar.exp()
    return 0.5 * (var / prior_var + (prior_mu - mu) ** 2 / prior_var - 1.0 - logvar + prior_var.log()).sum(-1)


class DirichletVAE(nn.Module):
    """Encoder D -> ``hidden`` SELU (-> batch norm, scale only, as the reference code) -> (mu, log var)
    of R Gaussians; decoder softmax(z) -> bias-free linear D outputs (softmaxed for images)."""

    def __init__(self, dim: int, alpha: Sequence[float], hidden: int = 100, *, batch_norm: bool = True,
                 softmax_output: bool = True) -> None:
        super().__init__()
        prior_mu, prior_var = dirichlet_prior(alpha)
        self.register_buffer("prior_mu", prior_mu)
        self.register_buffer("prior_var", prior_var)
        r = len(prior_mu)
        self.hidden = MLP(dim, hidden, [], activation="selu", final_activation=True)
        self.norm = nn.BatchNorm1d(hidden) if batch_norm else nn.Identity()
        if batch_norm:  # Keras BatchNormalization(center=False): a learnt scale, no shift
            nn.init.zeros_(self.norm.bias)
            self.norm.bias.requires_grad_(False)
        self.head = nn.Linear(hidden, 2 * r)
        self.decoder = nn.Linear(r, dim, bias=False)
        self.softmax_output = bool(softmax_output)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, log var) of q(z|x); log var is clamped to +-LOGVAR_LIMIT so that exp() stays finite
        in float32 for far out-of-distribution jets (trained values are of order one)."""
        mu, logvar = self.head(self.norm(self.hidden(x))).chunk(2, dim=-1)
        return mu, logvar.clamp(-LOGVAR_LIMIT, LOGVAR_LIMIT)

    def decode(self, r: torch.Tensor) -> torch.Tensor:
        """Reconstruction: log pixel probabilities for images, the features themselves for EFPs."""
        out = self.decoder(r)
        return torch.log_softmax(out, dim=-1) if self.softmax_output else out

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mu, logvar, reconstruction); z is sampled in training mode, the mean otherwise."""
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        return mu, logvar, self.decode(torch.softmax(z, dim=-1))

    def reconstruction_loss(self, x: torch.Tensor, reco: torch.Tensor) -> torch.Tensor:
        """Per row: KL(x || reconstruction) for unit-sum images, the squared error for EFPs."""
        if self.softmax_output:
            return (torch.xlogy(x, x) - x * reco).sum(-1)
        return ((x - reco) ** 2).sum(-1)

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return gaussian_kl(mu, logvar, self.prior_mu, self.prior_var)

    def dominant_mode(self) -> int:
        """The mixture with the largest alpha: the prior puts background there."""
        return int(torch.argmax(self.prior_mu))


def dvae_loss(beta_kl: float):
    """Eq. 15 per jet: reconstruction + beta_KL * KL(q || prior)."""
    def loss(model: DirichletVAE, batch: torch.Tensor) -> torch.Tensor:
        mu, logvar, reco = model(batch)
        return model.reconstruction_loss(batch, reco) + beta_kl * model.kl(mu, logvar)
    return loss


def dvae_score(kind: str):
    """The per-jet anomaly score ``kind`` (one of :data:`SCORES`), higher = more anomalous."""
    def score(model: DirichletVAE, batch: torch.Tensor) -> torch.Tensor:
        mu, logvar, reco = model(batch)
        if kind == "reco":
            return model.reconstruction_loss(batch, reco)
        if kind == "kl":
            return model.kl(mu, logvar)
        return 1.0 - torch.softmax(mu, dim=-1)[:, model.dominant_mode()]
    return score


class DirichletVAEScorer(BaseScorer):
    """Dirichlet VAE trained on background; score = reconstruction loss (or ``kl`` / ``latent``).

    ``inputs="images"``: the leading jet's image (``npix``, ``extent``, ``power`` = pT^n, ``sigma`` =
    Gaussian filter in pixels, the preprocessing the paper scans); ``inputs="efp"``: its 8 EFPs
    (``kappa``, ``beta``) scaled by ``efp_scaling`` (``pca`` or ``standard``).
    """

    info = ScorerInfo(
        name="dvae", version="1.0", protocols=("unsupervised",), representation="images",
        defaults={"inputs": "images", "npix": 40, "extent": 0.8, "power": 1.0, "sigma": 0.0,
                  "kappa": 1.0, "beta": 1.0, "efp_scaling": "pca", "score": "reco",
                  "alpha": [1.0, 0.1], "beta_kl": 0.1, "hidden": 100, "batch_norm": True,
                  "epochs": 300, "batch_size": 2048, "lr": 1e-2, "betas": [0.9, 0.99], "weight_decay": 0.0,
                  "patience": 0, "val_fraction": 0.1, "clip_norm": 0.0},
        presets=PRESETS,
        paper="Buss, Dillon, Finke, Krämer, Morandini, Mück, Oleksiyuk, Plehn, 'What's Anomalous in LHC Jets?', "
              "SciPost Phys. 15, 168 (2023), arXiv:2202.00686, Sec. 4; architecture of Dillon et al., "
              "'Better latent spaces for better autoencoders', SciPost Phys. 11, 061 (2021), arXiv:2104.08291",
        description="Dirichlet VAE (softmax-Gaussian prior, bias-free softmax decoder) on the leading jet's "
                    "image or EFPs; score = reconstruction loss, KL or latent mixture weight.",
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        for key, allowed in (("score", SCORES), ("inputs", INPUTS), ("efp_scaling", EFP_SCALINGS)):
            if self.params[key] not in allowed:
                raise ValueError(f"dvae: param {key!r} must be one of {allowed}, got {self.params[key]!r}")
        dirichlet_prior(self.params["alpha"])  # fail at load time on a bad alpha

    def features_needed(self) -> list[tuple[str, dict[str, Any]]]:
        """Images or EFPs, computed once by the worker (benchmark.precomputed)."""
        return [efp_request(self.params) if self.params["inputs"] == "efp" else image_request(self.params)]

    def _raw(self, events: EventSet) -> np.ndarray:
        p = self.params
        if p["inputs"] == "efp":
            return leading_jet_efps(events, p["kappa"], p["beta"])
        return leading_jet_images(events, p)

    def _inputs(self, events: EventSet) -> np.ndarray:
        x = self._raw(events)
        return (self._scaler.transform(x) if self._scaler is not None else x).astype(np.float32)

    def fit(self, train: EventSet, *, context: FitContext) -> "DirichletVAEScorer":
        started = time.monotonic()
        p = self.params
        self._scaler = None
        if p["inputs"] == "efp":
            self._scaler = (PCAWhitening() if p["efp_scaling"] == "pca" else Standardiser()).fit(self._raw(train))
        x = self._inputs(train)
        torch.manual_seed(context.seed)  # the initial weights follow the job seed even outside the harness
        self.model = DirichletVAE(x.shape[1], p["alpha"], int(p["hidden"]), batch_norm=bool(p["batch_norm"]),
                                  softmax_output=p["inputs"] == "images")
        config = TrainConfig.from_params(p, drop_last=bool(p["batch_norm"]))  # batch norm cannot train on one jet
        self.training_record = fit_model(self.model, dvae_loss(float(p["beta_kl"])), x, config=config,
                                         context=context, name="dvae", started=started)
        return self

    def score(self, events: EventSet) -> np.ndarray:
        return predict(self.model, self._inputs(events), dvae_score(self.params["score"])).astype(np.float64)
