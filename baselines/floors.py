"""Floors every jet leaderboard needs: one physics observable as the anomaly score.

A learned detector that cannot beat the leading jet's mass or its constituent count has learned
nothing the observable did not already say (arXiv:2202.00686 finds top jets "more complex" and the
Aachen dark jets "less complex" than QCD, which these two numbers already capture). Nothing is
fitted; ``sign`` = -1 flags the *lower* values as anomalous (e.g. light or sparse signal jets).
"""
from __future__ import annotations

import numpy as np

from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet


class _ObservableFloor(BaseScorer):
    """Score = sign x (observable of the leading jet); subclasses say which observable."""

    info = ScorerInfo(name="floor", representation="jets", defaults={"sign": 1.0})
    needs = ("jets",)

    def __init__(self, **params: float) -> None:
        super().__init__(**params)
        sign = float(self.params["sign"])
        if sign not in (1.0, -1.0):
            raise ValueError(f"{self.info.name}: param 'sign' must be +1 (higher = more anomalous) or -1 "
                             f"(lower = more anomalous), got {self.params['sign']!r}")
        self.sign = sign

    def observable(self, events: EventSet) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def _check(self, events: EventSet) -> None:
        missing = [name for name in self.needs if name not in events]
        if missing:
            raise KeyError(f"{self.info.name}: the events have no {missing} array (this floor needs jet "
                           f"events; present: {list(events.names)})")

    def fit(self, train: EventSet, *, context: FitContext) -> "_ObservableFloor":
        self._check(train)
        values = self.observable(train)
        self.training_record = {"train_median": float(np.median(values)), "sign": self.sign}
        return self

    def score(self, events: EventSet) -> np.ndarray:
        self._check(events)
        return self.sign * self.observable(events)


class JetMass(_ObservableFloor):
    """Leading-jet mass (GeV) as the anomaly score."""

    info = ScorerInfo(name="jet-mass", version="1.0", protocols=("unsupervised",), representation="jets",
                      defaults={"sign": 1.0}, paper="arXiv:2202.00686",
                      description="Floor: leading-jet mass; sign=-1 when the anomaly is lighter than the background.")
    needs = ("jets",)

    def observable(self, events: EventSet) -> np.ndarray:
        return np.asarray(events["jets"][:, 0, 3], dtype=np.float64)


class Multiplicity(_ObservableFloor):
    """Number of constituents of the leading jet as the anomaly score."""

    info = ScorerInfo(name="multiplicity", version="1.0", protocols=("unsupervised",), representation="jets",
                      defaults={"sign": 1.0}, paper="arXiv:2202.00686",
                      description="Floor: leading-jet constituent count; sign=-1 when the anomaly has fewer.")
    needs = ("constituents_mask",)

    def observable(self, events: EventSet) -> np.ndarray:
        return np.asarray(events["constituents_mask"][:, 0].sum(-1), dtype=np.float64)
