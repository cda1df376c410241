"""Supervised reference classifier: the ceiling the anomaly detectors are measured against."""
from __future__ import annotations

import numpy as np
from baselines.common import boosted_trees, classifier_logit, tabular_features, tabular_features_needed
from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet


class SupervisedReference(BaseScorer):
    """Gradient-boosted trees on high-level features, trained with the true labels.

    Used by the ``supervised`` protocol and as the reference of the density-ratio gap.
    """

    info = ScorerInfo(
        name="supervised", version="1.0",
        protocols=("supervised",),
        representation="highlevel",
        defaults={"max_iter": 200, "learning_rate": 0.1, "max_leaf_nodes": 31},
        description="Histogram gradient boosting on high-level features with true labels (reference).",
    )

    features_needed = staticmethod(tabular_features_needed)  # computed once by the worker (benchmark.precomputed)

    def fit(self, train: EventSet, *, context: FitContext) -> "SupervisedReference":
        if context.train_labels is None:
            raise ValueError("the supervised reference needs training labels (protocol 'supervised')")
        self._clf = boosted_trees(self.params, context.seed).fit(tabular_features(train), context.train_labels)
        return self

    def score(self, events: EventSet) -> np.ndarray:
        return classifier_logit(self._clf, tabular_features(events))
