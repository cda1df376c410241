"""Scorers used by the harness tests (simple, transparent, each probing one contract rule)."""
from __future__ import annotations

import numpy as np

from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet


class MassScorer(BaseScorer):
    """Leading-jet mass as score; Gaussian log density for the density-ratio protocol."""

    info = ScorerInfo(name="mass", version="1", protocols=("unsupervised", "density_ratio", "resonant"),
                      representation="jets")

    def fit(self, train: EventSet, *, context: FitContext) -> "MassScorer":
        m = train["jets"][:, 0, 3]
        self.mu, self.sd = m.mean(), m.std() + 1e-9
        return self

    def log_prob(self, events: EventSet) -> np.ndarray:
        m = events["jets"][:, 0, 3]
        return -0.5 * ((m - self.mu) / self.sd) ** 2 - np.log(self.sd)

    def score(self, events: EventSet) -> np.ndarray:
        return np.abs(events["jets"][:, 0, 3] - self.mu)


class LabelSnoop(BaseScorer):
    """Tries every channel a label could leak through: ids, order, meta, arrays, context."""

    info = ScorerInfo(name="snoop", version="1", protocols=("unsupervised",), representation="jets")
    seen: dict = {}

    def fit(self, train: EventSet, *, context: FitContext) -> "LabelSnoop":
        LabelSnoop.seen["context"] = {k: v for k, v in vars(context).items() if k != "log"}
        LabelSnoop.seen["train_meta"] = dict(train.meta)
        return self

    def score(self, events: EventSet) -> np.ndarray:
        LabelSnoop.seen["test_meta"] = dict(events.meta)
        LabelSnoop.seen["test_names"] = events.names
        LabelSnoop.seen["test_ids"] = events.event_id.copy()
        return events.event_id.astype(float)  # order/ids as score: must be uninformative


class Crashes(BaseScorer):
    info = ScorerInfo(name="crashes", version="1", protocols=("unsupervised",), representation="jets")

    def fit(self, train: EventSet, *, context: FitContext) -> "Crashes":
        raise RuntimeError("deliberate failure in fit")

    def score(self, events: EventSet) -> np.ndarray:  # pragma: no cover
        return np.zeros(len(events))


class ReturnsNaN(MassScorer):
    info = ScorerInfo(name="nan", version="1", protocols=("unsupervised",), representation="jets")

    def score(self, events: EventSet) -> np.ndarray:
        s = super().score(events)
        s[3] = np.nan
        return s


class LazyTorchRandom(BaseScorer):
    """Imports torch only inside ``score`` and returns torch random numbers: reproducible only if
    the harness seeds torch even when the scorer imports it late."""

    info = ScorerInfo(name="lazy-torch", version="1", protocols=("unsupervised",), representation="jets")

    def fit(self, train: EventSet, *, context: FitContext) -> "LazyTorchRandom":
        return self

    def score(self, events: EventSet) -> np.ndarray:
        import torch

        return torch.rand(len(events), dtype=torch.float64).numpy()


class Idle(BaseScorer):
    """Does nothing (scores are the event positions, uninformative): what a job costs beyond the
    scorer's own work."""

    info = ScorerInfo(name="idle", version="1", protocols=("unsupervised",), representation="jets")

    def fit(self, train: EventSet, *, context: FitContext) -> "Idle":
        return self

    def score(self, events: EventSet) -> np.ndarray:
        return np.arange(len(events), dtype=float)


class Busy(MassScorer):
    """The mass scorer after a fixed amount of single-threaded CPU work (``LHCAD_TEST_BUSY_S``
    seconds of a Python loop, default 0.3): a CPU-bound job for scaling measurements."""

    info = ScorerInfo(name="busy", version="1", protocols=("unsupervised",), representation="jets")

    def fit(self, train: EventSet, *, context: FitContext) -> "Busy":
        import os
        import time

        end = time.thread_time() + float(os.environ.get("LHCAD_TEST_BUSY_S", "0.3"))
        x = 0
        while time.thread_time() < end:  # CPU time, so a loaded machine stretches it, not shortens it
            x += 1
        return super().fit(train, context=context)


class PresetProbe(BaseScorer):
    """A scorer with presets and an ``epochs`` parameter: records what it was built with."""

    info = ScorerInfo(name="preset-probe", version="1", protocols=("unsupervised",), representation="jets",
                      defaults={"epochs": 100, "width": 64, "shift": 0.0},
                      presets={"smoke": {"epochs": 2, "width": 8}, "paper": {"epochs": 300}})

    def fit(self, train: EventSet, *, context: FitContext) -> "PresetProbe":
        self.preset, self.budget = context.preset, context.time_budget_s
        self.training_record = {"epochs_run": int(self.params["epochs"]), "preset": context.preset}
        return self

    def score(self, events: EventSet) -> np.ndarray:
        return events["jets"][:, 0, 3] + float(self.params["shift"])
