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

    Integer-valued features (object counts, constituent multiplicities) are dequantised: a
    uniform U(0, 1) is added to them in training and their cell centre (+0.5) is scored. A
    density fitted to integers otherwise collapses onto them: a component whose members all
    have zero electrons gets a variance of ``reg_covar`` along that count, and one background
    event with an electron then scores 1e4-1e5 and outranks every signal (version 1.0 on the
    chan1 look-alike: eps_S = 0 at eps_B = 1e-2 for every signal). ``reg_covar`` (in standard
    deviations squared) floors each component's variance at 0.1 sigma for the same reason.
    """

    info = ScorerInfo(
        name="hlf-gmm", version="1.1",
        protocols=("unsupervised", "density_ratio"),
        representation="highlevel",
        defaults={"n_components": 8, "covariance_type": "full", "max_iter": 300, "reg_covar": 1e-2,
                  "dequantize": True},
        description="Gaussian mixture density on high-level jet/event observables; score = -log p.",
    )

    features_needed = staticmethod(tabular_features_needed)  # computed once by the worker (benchmark.precomputed)

    def fit(self, train: EventSet, *, context: FitContext) -> "HighLevelGMM":
        x = tabular_features(train)
        self._integer = np.all(x == np.round(x), axis=0) if self.params["dequantize"] else np.zeros(x.shape[1], bool)
        x = x.copy()
        x[:, self._integer] += np.random.default_rng(context.seed).uniform(0.0, 1.0, (len(x), int(self._integer.sum())))
        self._scaler = Standardiser().fit(x)
        self._gmm = GaussianMixture(
            n_components=int(self.params["n_components"]), covariance_type=self.params["covariance_type"],
            max_iter=int(self.params["max_iter"]), reg_covar=float(self.params["reg_covar"]), random_state=context.seed,
        ).fit(self._scaler.transform(x))
        return self

    def _features(self, events: EventSet) -> np.ndarray:
        x = tabular_features(events).copy()
        x[:, self._integer] += 0.5  # the centre of the cell the training noise filled
        return x

    def log_prob(self, events: EventSet) -> np.ndarray:
        return self._gmm.score_samples(self._scaler.transform(self._features(events)))

    def score(self, events: EventSet) -> np.ndarray:
        return -self.log_prob(events)
