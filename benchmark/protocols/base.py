"""The protocol interface and the default single-fit sequence."""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from benchmark.events import EventSet
    from benchmark.fitting import FitRun
    from benchmark.registry import ClassRef, TaskSpec
    from benchmark.tasks import TaskData


class Protocol:
    """Base protocol: the scorer is fitted once on ``data.train`` and scores the test events."""

    name: ClassVar[str] = ""
    #: the training labels (``data.train_labels``) reach the scorer only under this protocol's flag
    gives_train_labels: ClassVar[bool] = False
    #: task-data event sets that reach only scorers naming them in ``ScorerInfo.extras``
    #: (:data:`benchmark.contract.CONTEXT_EXTRAS`); every other scorer's sandbox never holds them
    context_extras: ClassVar[tuple[str, ...]] = ()

    def build(self, task: TaskSpec, source: str, seed: int, classes: dict[ClassRef, EventSet],
              splits_rule: dict[ClassRef, str | None], sizes: Mapping[str, float],
              injection: int | None) -> TaskData:
        """The job's training data, context extras and labelled, shuffled test set."""
        raise NotImplementedError

    def withheld(self, extras: tuple[str, ...]) -> frozenset[str]:
        """The context-extra event sets a scorer asking for ``extras`` must not receive."""
        return frozenset(e for e in self.context_extras if e not in extras)

    def fit_and_score(self, data: TaskData, scorer_spec: str, params: dict[str, Any], run: FitRun
                      ) -> tuple[np.ndarray, dict[str, np.ndarray], Any]:
        """(test scores, extra per-event scores, the fitted scorer) of one job."""
        from benchmark.fitting import fit_and_score_once

        labels = data.train_labels if self.gives_train_labels else None
        scores, scorer = fit_and_score_once(data, scorer_spec, params, run, train=data.train, train_labels=labels)
        return scores, {}, scorer

    def extra_metrics(self, y: np.ndarray, weights: np.ndarray | None, scores: np.ndarray,
                      extra_scores: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Numbers beyond the ROC metrics, computed from the scores the record keeps."""
        return {}

    def extra_curves(self, y: np.ndarray, weights: np.ndarray | None,
                     extra_scores: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """Thinned curves of other scores the record keeps, stored under ``curves`` beside the
        scorer's own (e.g. the density ratio's supervised reference: Fig. 5 of arXiv:2306.03933)."""
        return {}
