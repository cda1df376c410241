"""Unsupervised: fit on background-only training events; test on held-out background plus signal."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmark.protocols.base import Protocol


class Unsupervised(Protocol):
    name = "unsupervised"

    def build(self, task: Any, source: str, seed: int, classes: dict, splits_rule: dict,
              sizes: Mapping[str, float], injection: int | None) -> Any:
        from benchmark.tasks import TaskData, split_classes

        split = split_classes(task, seed, classes, splits_rule, sizes, want_signal_train=False)
        return TaskData(task, source, seed, None, split.background_train, split.test, split.test_labels,
                        provenance={"counts": split.counts})
