"""Gaussian-mixture density of high-level observables: a cheap, fully unsupervised density baseline."""
from __future__ import annotations

import numpy as np
from sklearn.mixture import GaussianMixture

from baselines.common import Standardiser, tabular_features, tabular_features_needed
from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet


class HighLevelGMM(BaseScorer):
    """Score = -log p(x) of a Gaussian mixture fitted to background high-level features.

    The features are :func:`baselines.common.tabular_features` (jet mass, multiplicity, girth,
    C_0.2, N-subjettiness ratios for jets; an event summary for Dark Machines objects),
    standardised on the training events. It also provides ``log_prob`` for the density-ratio
    protocol.
    """

    info = ScorerInfo(
        name="hlf-gmm", version="1.0",
        protocols=("unsupervised", "density_ratio"),
        representation="highlevel",
        defaults={"n_components": 8, "covariance_type": "full", "max_iter": 300},
        description="Gaussian mixture density on high-level jet/event observables; score = -log p.",
    )

    features_needed = staticmethod(tabular_features_needed)  # computed once by the worker (benchmark.precomputed)

    def fit(self, train: EventSet, *, context: FitContext) -> "HighLevelGMM":
        x = tabular_features(train)
        self._scaler = Standardiser().fit(x)
        self._gmm = GaussianMixture(
            n_components=int(self.params["n_components"]), covariance_type=self.params["covariance_type"],
            max_iter=int(self.params["max_iter"]), reg_covar=1e-4, random_state=context.seed,
        ).fit(self._scaler.transform(x))
        return self

    def log_prob(self, events: EventSet) -> np.ndarray:
        return self._gmm.score_samples(self._scaler.transform(tabular_features(events)))

    def score(self, events: EventSet) -> np.ndarray:
        return -self.log_prob(events)
