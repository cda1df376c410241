"""Random scores: the sanity floor every leaderboard needs (AUC 0.5 within its error)."""
from __future__ import annotations

import hashlib

import numpy as np

from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet


class RandomScorer(BaseScorer):
    """Uniform pseudo-random scores that depend only on (job seed, the event's own arrays).

    The harness shows the test events in a fresh random order every execution, so a scorer that
    drew one number per position would give other scores to the same events on a rerun; hashing
    each event's contents with the seed keeps the same seed's scores identical, and its metrics
    still show the size of chance.
    """

    info = ScorerInfo(
        name="random", version="1.1",
        protocols=("unsupervised", "resonant", "supervised"),
        representation="none",
        description="Uniform random scores (sanity reference, as MTEB's random baseline).",
    )

    def fit(self, train: EventSet, *, context: FitContext) -> "RandomScorer":
        self._seed = int(context.seed)
        return self

    def score(self, events: EventSet) -> np.ndarray:
        rows = [np.ascontiguousarray(events[name]).reshape(len(events), -1) for name in sorted(events.names)
                if name != "weights"]
        out = np.empty(len(events))
        salt = self._seed.to_bytes(8, "little", signed=True)
        for i in range(len(events)):
            digest = hashlib.blake2b(salt, digest_size=8)
            for arr in rows:
                digest.update(arr[i].tobytes())
            out[i] = int.from_bytes(digest.digest(), "little") / 2.0**64
        return out
