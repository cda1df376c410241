"""Supervised reference: a classifier trained on labelled background and signal events."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from benchmark.protocols.base import Protocol


class Supervised(Protocol):
    name = "supervised"
    gives_train_labels = True

    def build(self, task: Any, source: str, seed: int, classes: dict, splits_rule: dict,
              sizes: Mapping[str, float], injection: int | None) -> Any:
        from benchmark.events import EventSet
        from benchmark.tasks import TaskData, split_classes, task_rng

        split = split_classes(task, seed, classes, splits_rule, sizes, want_signal_train=True)
        assert split.signal_train is not None
        background, signal = split.background_train, split.signal_train
        train = EventSet.concatenate([background, signal])
        labels = np.concatenate([np.zeros(len(background), np.int8), np.ones(len(signal), np.int8)])
        perm = task_rng(task, "train-shuffle", seed).permutation(len(train))
        return TaskData(task, source, seed, None, train.take(perm), split.test, split.test_labels,
                        train_labels=labels[perm], provenance={"counts": split.counts})
