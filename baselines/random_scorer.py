"""Random scores: the sanity floor every leaderboard needs (AUC 0.5 within its error)."""
from __future__ import annotations

import numpy as np

from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet


class RandomScorer(BaseScorer):
    """Uniform random scores, seeded by the job seed; its metrics show the size of chance."""

    info = ScorerInfo(
        name="random", version="1.0",
        protocols=("unsupervised", "resonant", "supervised"),
        representation="none",
        description="Uniform random scores (sanity reference, as MTEB's random baseline).",
    )

    def fit(self, train: EventSet, *, context: FitContext) -> "RandomScorer":
        self._rng = np.random.default_rng(context.seed + 1)
        return self

    def score(self, events: EventSet) -> np.ndarray:
        return self._rng.random(len(events))
