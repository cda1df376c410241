"""Resonant (weakly supervised bump hunt, LHC Olympics): fit on signal-region data with the
sideband data and the signal-region bounds in the context; test on held-out SR background and
SR signal never used for injection."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmark.protocols.base import Protocol


class Resonant(Protocol):
    name = "resonant"

    def build(self, task: Any, source: str, seed: int, classes: dict, splits_rule: dict,
              sizes: Mapping[str, float], injection: int | None) -> Any:
        from benchmark.tasks import resonant_split

        return resonant_split(task, source, seed, classes, sizes, injection)
