"""The random floor gives the same score to the same event for a seed, whatever order it comes in."""
from __future__ import annotations

import numpy as np

from baselines.random_scorer import RandomScorer
from benchmark.contract import FitContext
from benchmark.events import EventSet


def _scores(events: EventSet, seed: int) -> np.ndarray:
    scorer = RandomScorer()
    scorer.fit(events, context=FitContext(task="t", protocol="unsupervised", seed=seed))
    return scorer.score(events)


def test_random_scores_follow_events_not_positions():
    rng = np.random.default_rng(0)
    events = EventSet({"jets": rng.normal(size=(2000, 2, 4)), "weights": np.ones(2000)}, np.arange(2000))
    perm = rng.permutation(2000)
    a, b = _scores(events, 3), _scores(events.take(perm), 3)
    assert np.array_equal(a[perm], b)
    assert not np.allclose(a, _scores(events, 4))
    assert abs(a.mean() - 0.5) < 0.03 and abs(a.std() - 12 ** -0.5) < 0.02  # uniform on [0, 1)
