"""Density ratio: two density fits (background, signal training events) scored by their
log-likelihood ratio, judged beside the supervised reference trained on the same events."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from benchmark.protocols.base import Protocol

#: The default reference scorer the density ratio is compared with (its scores: ``score_supervised``);
#: a task names another with ``reference:`` in datasets.yaml (e.g. the point-cloud classifier on
#: constituents, which has the density model's own particle network).
SUPERVISED_REFERENCE = "supervised"
REFERENCE_SCORES = "score_supervised"


class DensityRatio(Protocol):
    name = "density_ratio"

    def build(self, task: Any, source: str, seed: int, classes: dict, splits_rule: dict,
              sizes: Mapping[str, float], injection: int | None) -> Any:
        from benchmark.tasks import TaskData, split_classes

        split = split_classes(task, seed, classes, splits_rule, sizes, want_signal_train=True)
        return TaskData(task, source, seed, None, split.background_train, split.test, split.test_labels,
                        signal_train=split.signal_train, provenance={"counts": split.counts})

    def fit_and_score(self, data: Any, scorer_spec: str, params: dict[str, Any], run: Any
                      ) -> tuple[np.ndarray, dict[str, np.ndarray], Any]:
        from benchmark.fitting import fit_and_score_once

        assert data.signal_train is not None
        log_p: dict[str, np.ndarray] = {}
        scorer = None
        for role, train in (("background", data.train), ("signal", data.signal_train)):
            log_p[role], scorer = fit_and_score_once(data, scorer_spec, params, run, train=train,
                                                     phase=f"_{role}", method="log_prob")
        labelled = supervised_view(data)
        reference, _ = fit_and_score_once(labelled, reference_scorer(data.task), {}, run,
                                          train=labelled.train, train_labels=labelled.train_labels,
                                          phase="_supervised_reference", protocol="supervised")
        return log_p["signal"] - log_p["background"], {REFERENCE_SCORES: reference}, scorer

    def extra_metrics(self, y: np.ndarray, weights: np.ndarray | None, scores: np.ndarray,
                      extra_scores: Mapping[str, np.ndarray]) -> dict[str, Any]:
        from benchmark import metrics as M

        ref_auc = M.auc(y, extra_scores[REFERENCE_SCORES], weights)
        gap = M.density_ratio_gap(ref_auc, M.auc(y, scores, weights))
        return {"auc_supervised": ref_auc, "density_ratio_gap": gap["gap"],
                "density_ratio_gap_normalised": None if math.isnan(gap["normalised"]) else gap["normalised"]}


    def extra_curves(self, y: np.ndarray, weights: np.ndarray | None,
                     extra_scores: Mapping[str, np.ndarray]) -> dict[str, Any]:
        from benchmark import metrics as M

        return {"supervised": M.thinned_curves(M.roc_curve(y, extra_scores[REFERENCE_SCORES], weights))}


def reference_scorer(task: Any) -> str:
    """The supervised reference of a density-ratio task: its ``reference``, else :data:`SUPERVISED_REFERENCE`.
    It runs at the job's preset when it has one (a neural reference at ``smoke`` in the quick suite),
    else at its own defaults."""
    return getattr(task, "reference", None) or SUPERVISED_REFERENCE


def supervised_view(data: Any) -> Any:
    """The density-ratio task's training events relabelled for the supervised reference."""
    from benchmark.events import EventSet
    from benchmark.tasks import TaskData

    assert data.signal_train is not None
    train = EventSet.concatenate([data.train, data.signal_train])
    labels = np.concatenate([np.zeros(len(data.train), np.int8), np.ones(len(data.signal_train), np.int8)])
    return TaskData(data.task, data.source, data.seed, None, train, data.test, data.test_labels,
                    train_labels=labels, provenance=data.provenance)
