"""Deep-set beta-VAE on the objects of a Dark Machines event (Ostdiek, "Deep Set Auto Encoders for
Anomaly Detection in Particle Physics", SciPost Phys. 12, 045 (2022); facts in methods.md d.1-d.3).

The event is a set of up to 20 objects (the MET as one of them), each (log10 E, log10 pT, eta,
phi, type one-hot) (:func:`baselines.dm_inputs.object_set`). A per-object MLP (3 x 256, ReLU) maps
each to 16 numbers, featurewise sort pooling (:class:`baselines.nn.sets.FSPool`, 20 pieces) makes
them one permutation-invariant event vector = (mu, log sigma^2) of an 8-dim Gaussian latent. The
dense decoder (2 x 256, ELU) maps [z, fraction of occupied slots] to 20 four-vectors and 20 x 9
type logits (class 0 = empty). Loss and anomaly score are the same per-event
``beta * KL + (1 - beta) * Chamfer`` with the modified Chamfer loss of Eq. 5
(:func:`baselines.nn.chamfer.modified_chamfer`, type term weighted by ``w``).

``beta = 1`` is the paper's recommended configuration ("fixed target"): the score is the KL of the
encoded event to N(0, 1) and the decoder is never built. The paper's scan (beta in {1e-6, 1e-3,
0.1, 0.5, 0.8, 0.999, 1} x w in {1, 10, 100}) are configurations: ``--param beta=0.001 --param w=10``.
Scoring uses z = mu (the reconstruction of the encoded mean), so the score is deterministic.
The training monitors the validation loss (the paper's text; its code used the training loss).
Deviation from the reference code: padded slots are left out of the pooling (the reference pooled
them as zeros); the decoder still sees the number of occupied slots.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines.dm_inputs import N_KINEMATIC, N_SLOTS, N_TYPES, object_set
from baselines.nn.chamfer import modified_chamfer
from baselines.nn.mlp import MLP
from baselines.nn.sets import FSPool
from baselines.nn.training import TrainConfig, fit_model, predict
from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet

#: ``paper``: methods.md d.2-d.3 (width 256, latent 8, FSPool 20 pieces, Adam 1e-3, batch 500, <= 50
#: epochs, lr x 0.1 after 2 epochs without improvement, stop after 4). ``smoke``: seconds on 2 CPU cores.
PRESETS = {
    "smoke": {"width": 64, "epochs": 6, "batch_size": 256, "lr": 3e-3, "patience": 0},
    "paper": {"width": 256, "epochs": 50, "batch_size": 500, "lr": 1e-3, "patience": 4, "plateau_patience": 2},
}

#: the paper's scan (Sec. 4, Eq. 7), each point a configuration of this scorer:
#: ``lhcad run --scorer deepset-vae --param beta=B --param w=W``
PAPER_SCAN = {"beta": (1e-6, 1e-3, 0.1, 0.5, 0.8, 0.999, 1.0), "w": (1.0, 10.0, 100.0)}


def scan_configurations() -> list[dict[str, float]]:
    """The paper's beta x w grid as ``--param`` sets (beta = 1 once: w only enters the decoder)."""
    grid = [{"beta": b, "w": w} for b in PAPER_SCAN["beta"] if b < 1.0 for w in PAPER_SCAN["w"]]
    return grid + [{"beta": 1.0, "w": 1.0}]


class DeepSetVAE(nn.Module):
    """Encoder phi -> FSPool -> (mu, log var); decoder [z, occupancy] -> four-vectors and type logits."""

    def __init__(self, in_dim: int, width: int, latent: int, pieces: int, *, decoder: bool) -> None:
        super().__init__()
        self.latent = int(latent)
        self.phi = MLP(in_dim, 2 * latent, [width] * 3, activation="relu")
        self.pool = FSPool(2 * latent, pieces)
        self.decoder = (MLP(latent + 1, N_SLOTS * (N_KINEMATIC + N_TYPES + 1), [width] * 2, activation="elu")
                        if decoder else None)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.pool(self.phi(x, mask), mask)
        return h[:, :self.latent], h[:, self.latent:]

    def decode(self, z: torch.Tensor, occupancy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.decoder is not None
        out = self.decoder(torch.cat([z, occupancy.unsqueeze(-1)], dim=-1)).view(len(z), N_SLOTS, -1)
        return out[..., :N_KINEMATIC], out[..., N_KINEMATIC:]


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) per event, summed over latent dimensions."""
    return -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(-1)


def vae_loss(model: DeepSetVAE, batch: dict[str, torch.Tensor], *, beta: float, w: float,
             sample: bool) -> torch.Tensor:
    """Per-event beta * KL + (1 - beta) * Chamfer; ``sample``: z drawn (training) or z = mu (scoring)."""
    x, mask = batch["x"].float(), batch["mask"]
    mu, logvar = model.encode(x, mask)
    kl = kl_divergence(mu.float(), logvar.float())
    if model.decoder is None or beta >= 1.0:
        return kl
    z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if sample else mu
    pred_vec, logits = model.decode(z, mask.float().mean(1))
    types = x[..., N_KINEMATIC:].argmax(-1) + 1
    chamfer = modified_chamfer(pred_vec, logits, x[..., :N_KINEMATIC], types, mask, w=w)
    return beta * kl + (1.0 - beta) * chamfer


class DeepSetBetaVAE(BaseScorer):
    """Score = the deep-set beta-VAE's per-event loss (beta * KL + (1 - beta) * modified Chamfer)."""

    info = ScorerInfo(
        name="deepset-vae", version="1.0", protocols=("unsupervised",), representation="objects",
        defaults={"beta": 1.0, "w": 1.0, "latent": 8, "width": 256, "pieces": 20,
                  "epochs": 50, "batch_size": 500, "lr": 1e-3, "weight_decay": 0.0, "patience": 4,
                  "schedule": "plateau", "plateau_patience": 2, "plateau_factor": 0.1, "min_lr": 1e-6,
                  "val_fraction": 0.1, "clip_norm": 0.0},
        presets=PRESETS,
        paper="B. Ostdiek, 'Deep Set Auto Encoders for Anomaly Detection in Particle Physics', SciPost Phys. 12, 045 "
              "(2022); Dark Machines challenge, arXiv:2105.14027",
        description="Deep-set beta-VAE on the event's objects (MET as an object), FSPool, 8-dim latent; "
                    "score = beta*KL + (1-beta)*modified Chamfer (beta=1: KL only, no decoder).",
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if not 0.0 <= float(self.params["beta"]) <= 1.0:
            raise ValueError(f"deepset-vae: param 'beta' must be in [0, 1], got {self.params['beta']!r}")

    def _loss(self, sample: bool) -> Any:
        beta, w = float(self.params["beta"]), float(self.params["w"])
        return lambda model, batch: vae_loss(model, batch, beta=beta, w=w, sample=sample)

    def fit(self, train: EventSet, *, context: FitContext) -> "DeepSetBetaVAE":
        started = time.monotonic()
        x, mask = object_set(train)
        p = self.params
        torch.manual_seed(context.seed)
        self.model = DeepSetVAE(x.shape[-1], int(p["width"]), int(p["latent"]), int(p["pieces"]),
                                decoder=float(p["beta"]) < 1.0)
        self.training_record = fit_model(self.model, self._loss(sample=True), {"x": x, "mask": mask},
                                         config=TrainConfig.from_params(p), context=context,
                                         name="deepset-vae", started=started)
        return self

    def score(self, events: EventSet) -> np.ndarray:
        x, mask = object_set(events)
        return predict(self.model, {"x": x, "mask": mask}, self._loss(sample=False)).astype(np.float64)
