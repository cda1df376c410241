"""The data-vs-reference classifier of resonant anomaly detection, shared by the idealized
detector and CATHODE (one place, so both train and average their classifiers identically).

A classifier of signal-region data (label 1) against a sample that follows the SR background
(label 0) learns a monotonic function of p_data/p_bkg = 1 + (S/B) p_sig/p_bkg. Two classifiers
(``model``): an ensemble of histogram gradient-boosted trees (member k trains on all folds but k)
and the CATHODE MLP (3 x 64 ReLU) through the shared training loop, each run's prediction averaged
over its ``n_best_epochs`` lowest-validation-loss epochs (CATHODE ``classifier_training_utils.py``),
``n_models`` runs averaged. :class:`NetworkEnsemble` is that training and averaging for any
network (the full-phase-space transformer classifier of :mod:`baselines.fullphase` uses it too).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from baselines.common import Standardiser, boosted_trees, classifier_logit
from baselines.nn.mlp import MLP
from baselines.nn.training import TrainConfig, TrainingRecord, fit_model, predict
from benchmark.contract import FitContext

CLASSIFIERS = ("hgb", "mlp")

#: The data-vs-reference classifier's hyper-parameters (IAD and CATHODE share them). ``mlp_*``:
#: CATHODE's classifier (3 x 64 ReLU, Adam lr 1e-3, batch 128, 100 epochs, 10 best epochs averaged).
CLASSIFIER_DEFAULTS: dict[str, Any] = {
    "model": "hgb", "n_models": 5,
    "hgb_max_iter": 200, "hgb_learning_rate": 0.1, "hgb_max_leaf_nodes": 31, "hgb_l2": 1.0,
    "mlp_hidden": [64, 64, 64], "mlp_epochs": 100, "mlp_batch_size": 128, "mlp_lr": 1e-3,
    "mlp_weight_decay": 0.0, "mlp_patience": 0, "mlp_val_fraction": 0.2, "mlp_n_best_epochs": 10,
}
CLASSIFIER_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {"n_models": 2, "hgb_max_iter": 40, "mlp_hidden": [32, 32], "mlp_epochs": 3, "mlp_batch_size": 256,
              "mlp_n_best_epochs": 2},
    "paper": {"n_models": 10, "hgb_max_iter": 200, "mlp_hidden": [64, 64, 64], "mlp_epochs": 100,
              "mlp_batch_size": 128, "mlp_n_best_epochs": 10},
}


def prefixed(params: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The ``prefix``-ed entries of ``params`` without the prefix (``mlp_lr`` -> ``lr``), so two
    training loops of one scorer (flow, classifier) keep separate settings in one flat dict."""
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


class EpochSnapshots:
    """The weights after every epoch, for an ensemble of the ``k`` best epochs by monitored loss.

    Pass :meth:`__call__` as ``fit_model``'s ``on_epoch_end``; after the fit, :meth:`best` gives
    the states of the lowest-loss epochs. Copies live on the CPU (the models here are small).
    """

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []

    def __call__(self, epoch: int, model: nn.Module) -> None:
        self.states.append({k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()})

    def best(self, record: TrainingRecord, k: int) -> tuple[list[int], list[dict[str, torch.Tensor]]]:
        """(1-based epochs, states) of the ``k`` epochs with the lowest validation (else training) loss."""
        losses = np.asarray(record.val_loss if record.val_loss else record.train_loss, dtype=float)
        order = np.argsort(losses, kind="stable")[:max(1, int(k))]
        return [int(i) + 1 for i in order], [self.states[int(i)] for i in order]


Forward = Callable[[nn.Module, dict[str, torch.Tensor]], torch.Tensor]


def _mlp_logit(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return model(batch["x"]).squeeze(-1)


class NetworkEnsemble:
    """``n_models`` independently seeded classifier networks of data (1) vs reference (0); each
    run's prediction is averaged over its ``n_best_epochs`` lowest-validation-loss epochs (CATHODE
    ``classifier_training_utils.py``; 1: the best epoch only, no snapshots kept), runs averaged.

    ``make_model()`` builds a fresh network; ``forward(model, batch)`` gives the logits of a batch
    of the ``inputs`` dict (a vector MLP reads ``batch["x"]``, a set classifier its particles and
    mask), so the same weighted-BCE training serves every architecture.
    """

    def __init__(self, make_model: Callable[[], nn.Module], forward: Forward, config: TrainConfig, *,
                 n_models: int, n_best_epochs: int = 1, batch_size: int = 4096) -> None:
        self.make_model, self.forward, self.config = make_model, forward, config
        self.n_models, self.n_best_epochs, self.batch_size = max(1, int(n_models)), max(1, int(n_best_epochs)), batch_size
        self.members: list[tuple[nn.Module, list[dict[str, torch.Tensor]]]] = []

    def _loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logit = self.forward(model, batch).float()
        return batch["w"] * nn.functional.binary_cross_entropy_with_logits(logit, batch["y"], reduction="none")

    def fit(self, inputs: Mapping[str, np.ndarray], y: np.ndarray, w: np.ndarray, context: FitContext, name: str,
            started: float | None = None) -> list[dict[str, Any]]:
        """Train the runs; returns one training record (dict) per run."""
        data = {**inputs, "y": np.asarray(y, np.float32), "w": np.asarray(w, np.float32)}
        runs = []
        for k in range(self.n_models):
            torch.manual_seed(context.seed + k)
            model = self.make_model()
            snapshots = EpochSnapshots() if self.n_best_epochs > 1 else None
            record = fit_model(model, self._loss, data, config=self.config, context=_with_seed(context, context.seed + k),
                               name=f"{name}-clf{k}", started=started, on_epoch_end=snapshots)
            if snapshots is not None:
                epochs, states = snapshots.best(record, self.n_best_epochs)
            else:
                epochs, states = [record.best_epoch], [{k2: v.clone() for k2, v in model.state_dict().items()}]
            self.members.append((model, states))
            runs.append({**record.to_dict(), "ensemble_epochs": epochs})
        return runs

    def score(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Mean logit over runs and their kept epochs."""
        outs = []
        for model, states in self.members:
            for state in states:
                model.load_state_dict(state)
                outs.append(predict(model, dict(inputs), self.forward, batch_size=self.batch_size)
                            .reshape(-1).astype(np.float64))
        return np.mean(outs, axis=0)


class DataVsReference:
    """Classifier ensemble of data (1) vs a reference sample (0); ``score`` = mean logit.

    Classes are weighted to equal total weight, so the output does not depend on how many
    reference events (template, generated samples) were drawn.
    """

    def __init__(self, params: Mapping[str, Any]) -> None:
        if params["model"] not in CLASSIFIERS:
            raise ValueError(f"hyper-parameter model={params['model']!r}: must be one of {CLASSIFIERS}")
        self.params = dict(params)
        self.record: dict[str, Any] = {}

    def fit(self, x_data: np.ndarray, x_ref: np.ndarray, context: FitContext, name: str) -> "DataVsReference":
        if len(x_data) < 2 or len(x_ref) < 2:
            raise ValueError(f"{name}: the classifier needs data and reference events, got {len(x_data)} data and "
                             f"{len(x_ref)} reference events")
        started = time.monotonic()
        x = np.concatenate([x_data, x_ref])
        y = np.concatenate([np.ones(len(x_data)), np.zeros(len(x_ref))])
        w = np.where(y == 1, len(y) / (2 * len(x_data)), len(y) / (2 * len(x_ref)))
        self.scaler = Standardiser().fit(x)
        n_models = max(1, int(self.params["n_models"]))
        if self.params["model"] == "hgb":
            self._fit_hgb(x, y, w, n_models, context.seed)
        else:
            self._fit_mlp(self.scaler.transform(x), y, w, n_models, context, name)
        self.record.update({"model": self.params["model"], "n_models": n_models, "n_data": len(x_data),
                            "n_reference": len(x_ref), "wall_time_s": time.monotonic() - started})
        return self

    def _fit_hgb(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, n_models: int, seed: int) -> None:
        folds = np.random.default_rng(seed).integers(0, n_models, len(x)) if n_models > 1 else np.full(len(x), -1)
        self.members: list[Any] = []
        hgb = prefixed(self.params, "hgb_")
        for k in range(n_models):
            keep = folds != k
            clf = boosted_trees(hgb, seed + k, l2_regularization=float(hgb["l2"]))
            self.members.append(clf.fit(x[keep], y[keep], sample_weight=w[keep]))
        self.record["iterations"] = [int(m.n_iter_) for m in self.members]

    def _fit_mlp(self, x: np.ndarray, y: np.ndarray, w: np.ndarray, n_models: int, context: FitContext,
                 name: str) -> None:
        mlp = prefixed(self.params, "mlp_")
        self.network = NetworkEnsemble(lambda: MLP(x.shape[1], 1, [int(h) for h in mlp["hidden"]]), _mlp_logit,
                                       TrainConfig.from_params(mlp), n_models=n_models,
                                       n_best_epochs=int(mlp["n_best_epochs"]))
        self.record["runs"] = self.network.fit({"x": x.astype(np.float32)}, y, w, context, name)

    def score(self, x: np.ndarray) -> np.ndarray:
        if self.params["model"] == "hgb":
            return np.mean([classifier_logit(m, x) for m in self.members], axis=0)
        return self.network.score({"x": self.scaler.transform(x).astype(np.float32)})


def _with_seed(context: FitContext, seed: int) -> FitContext:
    from dataclasses import replace

    return replace(context, seed=seed)
