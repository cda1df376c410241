"""CWoLa hunting (Collins, Howe, Nachman 2018): classify signal-region data against sideband data."""
from __future__ import annotations

import numpy as np
from baselines.common import boosted_trees, classifier_logit, tabular_features, tabular_features_needed
from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet


class CWoLaHunting(BaseScorer):
    """Weakly supervised resonant AD: a classifier of SR data (label 1) vs SB data (label 0).

    If the features are independent of mjj for the background, the optimal SR-vs-SB classifier
    is monotonic in the signal/background likelihood ratio, so its output is an anomaly score.
    Features exclude mjj (see :func:`baselines.common.tabular_features`). Classes are
    reweighted to equal total weight.
    """

    info = ScorerInfo(
        name="cwola", version="1.0",
        protocols=("resonant",),
        representation="highlevel",
        defaults={"max_iter": 200, "learning_rate": 0.05, "max_leaf_nodes": 15},
        paper="arXiv:1805.02664",
        description="Classification without labels: SR vs SB gradient-boosted classifier.",
    )

    features_needed = staticmethod(tabular_features_needed)  # computed once by the worker (benchmark.precomputed)

    def fit(self, train: EventSet, *, context: FitContext) -> "CWoLaHunting":
        if context.sideband is None:
            raise ValueError("CWoLa needs the sideband data (resonant protocol)")
        x = np.concatenate([tabular_features(train), tabular_features(context.sideband)])
        y = np.concatenate([np.ones(len(train)), np.zeros(len(context.sideband))])
        w = np.where(y == 1, len(y) / (2 * max(len(train), 1)), len(y) / (2 * max(len(context.sideband), 1)))
        self._clf = boosted_trees(self.params, context.seed, l2_regularization=1.0).fit(x, y, sample_weight=w)
        return self

    def score(self, events: EventSet) -> np.ndarray:
        return classifier_logit(self._clf, tabular_features(events))
