"""CATHODE, low-dimensional (Hallin et al., PRD 106, 055006 (2022), arXiv:2109.00546), as the
baseline of Buhmann et al., "Full Phase Space Resonant Anomaly Detection" (arXiv:2310.06897).

1. A conditional normalizing flow learns p(x | mjj) of the four CATHODE features x = (mj_min,
   Delta mj, tau21 of both jets) on the *sideband* data, where the signal is negligible.
2. It is interpolated into the signal region: mjj is drawn from a Gaussian KDE of the SR data's
   mjj and x from the flow given that mjj; ``oversample`` times as many samples as SR data, split
   evenly over the ``n_best_epochs`` flow epochs with the lowest validation loss (CATHODE
   ``run_all.py:find_best_epochs``).
3. A classifier of SR data (1) vs samples (0) (:class:`baselines.idealized.DataVsReference`:
   HGB ensemble or the CATHODE MLP) is the anomaly score of the test events.

Flow (``paper``): MAF of 15 MADE blocks, 2 x 128 hidden, ReLU (zuko, :mod:`baselines.nn.flows`);
Adam(W) lr 1e-4, weight decay 1e-6, batch 256, 100 epochs. Inputs: min-max to (0, 1) -> logit ->
z-score on the sideband (CATHODE ``data_handler.py``); mjj in TeV, z-scored. Differences from the
reference code: zuko's MAF has no BatchNorm layers between blocks, the weight decay is AdamW's
decoupled one, and the KDE is scipy's on mjj (bandwidth ``kde_bandwidth`` times Scott's rule).
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from baselines.common import MassKDE, tabular_features
from baselines.weak_supervision import (CLASSIFIER_DEFAULTS, CLASSIFIER_PRESETS, DataVsReference, EpochSnapshots,
                                       prefixed)
from baselines.nn.flows import conditional_flow, log_prob, sample as flow_sample
from baselines.nn.training import TrainConfig, TrainingRecord, fit_model, resolve_device
from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet

#: logit-scaling margin: features are mapped into [EPS, 1 - EPS] before the logit
EPS = 1e-4

FLOW_DEFAULTS: dict[str, Any] = {
    "flow": "maf", "flow_transforms": 15, "flow_hidden": [128, 128], "flow_epochs": 100, "flow_batch_size": 256,
    "flow_lr": 1e-4, "flow_weight_decay": 1e-6, "flow_patience": 0, "flow_val_fraction": 0.2,
    "flow_n_best_epochs": 10, "oversample": 4.0, "kde_bandwidth": 1.0,
}
PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {**CLASSIFIER_PRESETS["smoke"], "flow_transforms": 3, "flow_hidden": [32, 32], "flow_epochs": 4,
              "flow_batch_size": 256, "flow_lr": 3e-3, "flow_n_best_epochs": 2, "oversample": 2.0},
    "paper": {**CLASSIFIER_PRESETS["paper"], "flow_transforms": 15, "flow_hidden": [128, 128], "flow_epochs": 100,
              "flow_batch_size": 256, "flow_lr": 1e-4, "flow_n_best_epochs": 10, "oversample": 4.0},
}


class LogitScaler:
    """min-max to [EPS, 1 - EPS] (bounds from the fit sample, widened by 1 % of the range), logit,
    z-score; invertible, so flow samples come back in physical units."""

    def fit(self, x: np.ndarray) -> "LogitScaler":
        lo, hi = x.min(0), x.max(0)
        pad = 0.01 * np.where(hi > lo, hi - lo, 1.0)
        self.lo, self.hi = lo - pad, hi + pad
        z = self._logit(x)
        self.mean, self.std = z.mean(0), np.where(z.std(0) > 0, z.std(0), 1.0)
        return self

    def _logit(self, x: np.ndarray) -> np.ndarray:
        u = np.clip((x - self.lo) / (self.hi - self.lo), EPS, 1 - EPS)
        return np.log(u) - np.log1p(-u)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (self._logit(x) - self.mean) / self.std

    def inverse(self, z: np.ndarray) -> np.ndarray:
        u = 1.0 / (1.0 + np.exp(-(z * self.std + self.mean)))
        return self.lo + u * (self.hi - self.lo)


class ConditionalFlowGenerator:
    """p(x | m) by a conditional flow; ``sample(n, condition)`` draws background-like events.

    ``fit(x, m)`` trains on (features, conditioning mass in GeV); ``set_condition_density(m_sr)``
    fits the KDE that :meth:`sample` draws masses from when no ``condition`` is given. The weights
    of the ``n_best_epochs`` best epochs are kept and samples are split evenly over them.
    """

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = dict(params)
        self.kde: Any = None

    def fit(self, x: np.ndarray, m: np.ndarray, context: FitContext, started: float | None = None) -> TrainingRecord:
        p = self.params
        self.x_scaler = LogitScaler().fit(x)
        m_tev = np.asarray(m, float)[:, None] / 1000.0
        self.m_mean, self.m_std = float(m_tev.mean()), float(m_tev.std() or 1.0)
        torch.manual_seed(context.seed)
        self.flow = conditional_flow(str(p["flow"]), x.shape[1], 1, transforms=int(p["flow_transforms"]),
                                     hidden=[int(h) for h in p["flow_hidden"]])
        data = {"x": self.x_scaler.transform(x).astype(np.float32), "c": self._cond(m)}
        snapshots = EpochSnapshots()
        config = TrainConfig.from_params(prefixed(p, "flow_"), amp=False)
        record = fit_model(self.flow, lambda f, b: -log_prob(f, b["x"], b["c"]), data, config=config,
                           context=context, name="cathode-flow", started=started, on_epoch_end=snapshots)
        self.best_epochs, self.states = snapshots.best(record, int(p["flow_n_best_epochs"]))
        self.device = resolve_device(getattr(context, "device", "cpu"))
        record.extra["ensemble_epochs"] = self.best_epochs
        return record

    def _cond(self, m: np.ndarray) -> np.ndarray:
        return ((np.asarray(m, float)[:, None] / 1000.0 - self.m_mean) / self.m_std).astype(np.float32)

    def set_condition_density(self, m: np.ndarray, window: tuple[float, float], seed: int) -> None:
        """Gaussian KDE of the masses ``m`` (GeV), sampled inside ``window`` only."""
        self.kde = MassKDE(m, window, bandwidth=float(self.params["kde_bandwidth"]), seed=seed,
                           name="cathode-lowdim: the KDE of mjj")

    def sample_condition(self, n: int) -> np.ndarray:
        """``n`` masses (GeV) from the KDE, all inside the window."""
        if self.kde is None:
            raise RuntimeError("sample() without a condition needs set_condition_density() first")
        return self.kde.sample(n)

    @torch.no_grad()
    def sample(self, n: int, condition: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(features (n, D) in physical units, masses (n,) in GeV); masses from the KDE unless
        ``condition`` (n masses in GeV) is given. Samples are split evenly over the best epochs."""
        m = self.sample_condition(n) if condition is None else np.asarray(condition, float).reshape(-1)
        if len(m) != n:
            raise ValueError(f"sample(n={n}, condition): condition has {len(m)} masses, expected {n}")
        c = torch.as_tensor(self._cond(m), device=self.device)
        parts = np.array_split(np.arange(n), len(self.states))
        out = np.empty((n, len(self.x_scaler.mean)), np.float64)
        self.flow.to(self.device).eval()
        for idx, state in zip(parts, self.states):
            if len(idx) == 0:
                continue
            self.flow.load_state_dict(state)
            for chunk in np.array_split(idx, max(1, len(idx) // 65536 + 1)):
                z = flow_sample(self.flow, context=c[torch.as_tensor(chunk, device=self.device)])
                out[chunk] = self.x_scaler.inverse(z.double().cpu().numpy())
        return out, m


class CathodeLowDim(BaseScorer):
    """CATHODE on the four high-level features: sideband flow, SR samples, data-vs-samples classifier."""

    info = ScorerInfo(
        name="cathode-lowdim", version="1.0", protocols=("resonant",), representation="highlevel",
        defaults={**CLASSIFIER_DEFAULTS, **FLOW_DEFAULTS}, presets=PRESETS,
        paper="Hallin et al., 'Classifying Anomalies THrough Outer Density Estimation', PRD 106, 055006 (2022), "
              "arXiv:2109.00546; baseline of arXiv:2310.06897",
        description="Conditional MAF on (mj_min, Delta mj, tau21 x2 | mjj) in the sidebands, sampled in the SR "
                    "with a KDE of mjj; classifier of SR data vs samples.",
    )

    def fit(self, train: EventSet, *, context: FitContext) -> "CathodeLowDim":
        started = time.monotonic()
        if context.sideband is None or context.signal_region is None:
            raise ValueError("cathode-lowdim needs the sideband data and the signal region (resonant protocol)")
        sb = context.sideband
        self.generator = ConditionalFlowGenerator(self.params)
        record = self.generator.fit(tabular_features(sb), sb["mjj"], context, started)
        self.generator.set_condition_density(train["mjj"], context.signal_region, context.seed)
        n_samples = max(2, int(round(float(self.params["oversample"]) * len(train))))
        t0 = time.monotonic()
        samples, _ = self.generator.sample(n_samples)
        sample_s = time.monotonic() - t0
        self._clf = DataVsReference(self.params).fit(tabular_features(train), samples, context, "cathode-lowdim")
        record.extra.update({"n_sideband": len(sb), "n_signal_region": len(train), "n_samples": n_samples,
                             "sampling_s": sample_s, "classifier": self._clf.record})
        self.training_record = record
        return self

    def sample(self, n: int, condition: np.ndarray | None = None) -> np.ndarray:
        """``n`` background-like SR events' features (see :meth:`ConditionalFlowGenerator.sample`)."""
        return self.generator.sample(n, condition)[0]

    def score(self, events: EventSet) -> np.ndarray:
        return self._clf.score(tabular_features(events))
