"""Dense autoencoder on jet images: the reconstruction-error floor every jet-AD method must beat.

The simplest unsupervised jet anomaly detector of the literature (Heimel et al., "QCD or What?",
arXiv:1808.08979; Farina, Nakai, Shih, arXiv:1808.08992): compress the flattened 40 x 40 image of the
leading jet through a bottleneck and score by how badly it comes back. "What's Anomalous in LHC
Jets?" (arXiv:2202.00686) uses such autoencoders as the reference point of its k-means, DVAE and
INN scores; lhcad issue 17 lists it as a floor. Built from :class:`baselines.nn.mlp.MLP` and
:func:`baselines.nn.training.fit_model`.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from baselines.common import image_request, leading_jet_images
from baselines.nn.mlp import MLP
from baselines.nn.training import TrainConfig, fit_model, predict
from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet

#: ``paper``: widths of a standard dense jet-image AE (1600-512-128-32 and mirrored), 100 epochs with
#: early stopping. The cited papers fix the idea (dense AE on centred, rotated, flipped 40 x 40 images,
#: MSE score), not these exact widths: ours are chosen in their range (UNVERIFIED against their
#: tables). ``smoke``: seconds on two CPU cores, yet trained enough to rank top above QCD (an
#: autoencoder stopped after a few epochs ranks jets by how concentrated their image is, the wrong way).
PRESETS = {
    "smoke": {"hidden": [128], "latent": 16, "epochs": 10, "batch_size": 128, "lr": 3e-3, "patience": 0},
    "paper": {"hidden": [512, 128], "latent": 32, "epochs": 100, "batch_size": 256, "patience": 10,
              "schedule": "plateau"},
}


class ImageAutoencoder(nn.Module):
    """encoder MLP (D -> hidden -> latent) and its mirror image as decoder."""

    def __init__(self, dim: int, hidden: list[int], latent: int, activation: str) -> None:
        super().__init__()
        self.encoder = MLP(dim, latent, hidden, activation=activation)
        self.decoder = MLP(latent, dim, list(reversed(hidden)), activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def reconstruction_error(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per-jet mean squared error between the image and its reconstruction (loss and score)."""
    return ((model(x).float() - x.float()) ** 2).mean(dim=1)


class DenseImageAutoencoder(BaseScorer):
    """Score = per-jet reconstruction MSE of a dense autoencoder trained on background images.

    ``power`` (pT^n pixel reweighting) and ``sigma`` (Gaussian filter in pixels) go to the
    ``images`` representation; images are divided by the training set's pixel standard deviation
    (a constant, so the ranking is unchanged; it only keeps the losses of order one).
    """

    info = ScorerInfo(
        name="dense-ae", version="1.0", protocols=("unsupervised",), representation="images",
        defaults={"npix": 40, "extent": 0.8, "power": 1.0, "sigma": 0.0, "hidden": [512, 128], "latent": 32,
                  "activation": "relu", "epochs": 100, "batch_size": 256, "lr": 1e-3, "weight_decay": 0.0,
                  "patience": 10, "schedule": "plateau", "ema_decay": 0.0, "clip_norm": 0.0,
                  "val_fraction": 0.1},
        presets=PRESETS,
        paper="Dense jet-image autoencoder (reconstruction error) as in Heimel et al., SciPost Phys. 6, 030 (2019), "
              "arXiv:1808.08979, and Farina, Nakai, Shih, PRD 101, 075021 (2020), arXiv:1808.08992; the floor of "
              "Buss et al., 'What's Anomalous in LHC Jets?', arXiv:2202.00686",
        description="Dense autoencoder on the leading jet's 40x40 image; score = reconstruction MSE.",
    )

    def features_needed(self) -> list[tuple[str, dict]]:
        return [image_request(self.params)]  # computed once by the worker (benchmark.precomputed)

    def _images(self, events: EventSet) -> np.ndarray:
        return leading_jet_images(events, self.params)

    def fit(self, train: EventSet, *, context: FitContext) -> "DenseImageAutoencoder":
        started = time.monotonic()
        x = self._images(train)
        self._scale = float(x.std()) or 1.0
        p = self.params
        torch.manual_seed(context.seed)  # the initial weights follow the job seed even outside the harness
        self.model = ImageAutoencoder(x.shape[1], [int(h) for h in p["hidden"]], int(p["latent"]), p["activation"])
        self.training_record = fit_model(
            self.model, reconstruction_error, x / self._scale, config=TrainConfig.from_params(p),
            context=context, name="dense-ae", started=started)
        return self

    def score(self, events: EventSet) -> np.ndarray:
        return predict(self.model, self._images(events) / self._scale, reconstruction_error).astype(np.float64)
