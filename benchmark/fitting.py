"""Fit one job's scorer on its task data and score the test events, per the task's protocol.

This is the part of a job that touches the scorer, shared by the in-process runner
(:func:`benchmark.runner.execute_job`) and the sandboxed child (:mod:`benchmark.isolation`), so both
follow the protocol identically; the protocol's fit sequence lives in :mod:`benchmark.protocols`. It sees only the task data's scorer views (no test labels) and
returns scores; building the data and judging the scores stay with the runner.
"""
from __future__ import annotations

import random
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.contract import FitContext, load_scorer, scorer_params, validate_scores
from benchmark.tasks import TaskData

def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch from the job seed.

    torch is seeded now if it is loaded, else the moment the scorer first imports it (a lazy
    import inside ``fit``), so scorers that never use torch do not pay for importing it.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    else:
        _seed_torch_on_import(seed)


def _seed_torch_on_import(seed: int) -> None:
    import importlib.abc
    import importlib.util

    for finder in [f for f in sys.meta_path if getattr(f, "lhcad_torch_seed", None) is not None]:
        sys.meta_path.remove(finder)  # a newer seed replaces a pending one

    class SeedingLoader(importlib.abc.Loader):
        def __init__(self, loader: Any) -> None:
            self.loader = loader

        def create_module(self, spec: Any) -> Any:
            return self.loader.create_module(spec)

        def exec_module(self, module: Any) -> None:
            self.loader.exec_module(module)
            module.manual_seed(seed)

    class SeedTorchOnImport(importlib.abc.MetaPathFinder):
        lhcad_torch_seed = seed

        def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
            if name != "torch":
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec("torch")
            if spec is not None and spec.loader is not None:
                spec.loader = SeedingLoader(spec.loader)
            return spec

    sys.meta_path.insert(0, SeedTorchOnImport())


@dataclass(frozen=True)
class FitRun:
    """How one job fits: seed, device, scratch folder, log, timings sink, preset and fit budget."""

    seed: int
    device: str
    workdir: Path
    log: Callable[[str], None]
    timings: dict[str, float]
    preset: str | None = None
    time_budget_s: float | None = None
    started: float = field(default_factory=time.monotonic)

    def without_preset(self) -> "FitRun":
        """The same run for a reference scorer (e.g. the density ratio's supervised classifier),
        which runs at its own defaults whatever preset the scorer under test uses."""
        return replace(self, preset=None)

    def remaining_budget(self) -> float | None:
        """Seconds of the job's fit budget left now (a protocol may fit several models)."""
        if self.time_budget_s is None:
            return None
        return max(0.0, self.time_budget_s - (time.monotonic() - self.started))


def score_job(data: TaskData, scorer_spec: str, params: dict[str, Any], *, seed: int, device: str,
              workdir: Path, log: Callable[[str], None], timings: dict[str, float],
              preset: str | None = None, time_budget_s: float | None = None,
              ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
    """(test scores, extra per-event scores, scorer metadata) of one job, per its task's protocol
    (:mod:`benchmark.protocols`: one fit, or several as in the density-ratio protocol)."""
    from benchmark.protocols import get_protocol

    run = FitRun(seed, device, workdir, log, timings, preset, time_budget_s)
    scores, extra, scorer = get_protocol(data.task.protocol).fit_and_score(data, scorer_spec, dict(params), run)
    return scores, extra, scorer_metadata(scorer)


def fit_and_score_once(data: TaskData, scorer_spec: str, params: dict[str, Any], run: FitRun, *,
                       train: Any, train_labels: np.ndarray | None = None, phase: str = "",
                       method: str = "score", protocol: str | None = None) -> tuple[np.ndarray, Any]:
    """Load the scorer, fit it on ``train`` and apply ``method`` (``score`` or ``log_prob``) to the
    test events; the building block of every protocol's fit sequence. Timings: fit/score + phase."""
    task = data.task
    scorer = load_scorer(scorer_spec, params, run.preset)
    if not callable(getattr(scorer, method, None)):
        raise TypeError(f"scorer {scorer.info.name!r} has no {method}(); the {task.protocol} protocol needs one")
    extras = {name: _view(data, events, name) for name, events in context_extras(data, scorer.info.extras).items()}
    context = FitContext(
        task=task.name, protocol=protocol or task.protocol, seed=run.seed, device=run.device, workdir=run.workdir,
        params=scorer_params(scorer), preset=run.preset, time_budget_s=run.remaining_budget(),
        sideband=_view(data, data.sideband, "sideband") if data.sideband is not None else None,
        signal_region=task.resonant.signal_region if task.resonant else None,
        train_labels=train_labels, log=run.log, **extras,
    )
    seed_everything(run.seed)
    t0 = time.perf_counter()
    scorer.fit(_view(data, train, "train"), context=context)
    run.timings[f"fit{phase}"] = time.perf_counter() - t0
    order = fresh_permutation(len(data.test))  # a new order per execution; scores are unmapped below
    test_view = _view(data, data.test.take(order), "test")
    t0 = time.perf_counter()
    values = validate_scores(getattr(scorer, method)(test_view), len(test_view), scorer=scorer.info.name, what=method)
    run.timings[f"{method}{phase}"] = time.perf_counter() - t0
    return _unmap(values, order), scorer


def context_extras(data: TaskData, extras: tuple[str, ...]) -> dict[str, Any]:
    """The task data's context extras (:attr:`Protocol.context_extras`) that a scorer declaring
    ``extras`` receives: those it names and the data holds; nothing else."""
    from benchmark.protocols import get_protocol

    wanted = get_protocol(data.task.protocol).context_extras
    return {name: getattr(data, name) for name in wanted if name in extras and getattr(data, name) is not None}


def scorer_extras(scorer_spec: str, params: dict[str, Any]) -> tuple[str, ...]:
    """The context extras a scorer spec declares (``ScorerInfo.extras``), for the worker that
    prepares its inputs before the scorer runs."""
    return tuple(load_scorer(scorer_spec, dict(params)).info.extras)


def scorer_roles(data: TaskData, extras: tuple[str, ...]) -> dict[str, Any]:
    """The event sets one job may hand its scorer, by role: train, test, sideband, the training
    signal where the protocol trains on it (density ratio), and the context extras the scorer asks
    for. The sandbox writes only these, so a scorer never holds another's extras."""
    from benchmark.protocols import get_protocol

    withheld = get_protocol(data.task.protocol).withheld(extras)
    roles = {"train": data.train, "test": data.test, "sideband": data.sideband,
             "signal_train": data.signal_train, "background_template": data.background_template}
    return {role: events for role, events in roles.items() if events is not None and role not in withheld}


def fit_budget(time_limit_s: float | None) -> float | None:
    """The share of a job's wall-time limit its fits may use: 85 %, leaving the rest for scoring,
    writing and the sandbox's own start, so a training loop stops cleanly before the hard kill."""
    return None if time_limit_s is None else 0.85 * float(time_limit_s)


def fresh_permutation(n: int) -> np.ndarray:
    """A random order of ``n`` test events from OS entropy, never from the job seed.

    Each execution shows the scorer its test events in a new order, so no file of an earlier run
    (a labelled scores file in the task's own test order) can be lined up with what it sees.
    """
    return np.random.default_rng(secrets.randbits(64)).permutation(n)


def _unmap(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Per-event values given in ``order`` put back into the task's test order."""
    out = np.empty_like(values)
    out[order] = values
    return out


def _view(data: TaskData, events: Any, role: str) -> Any:
    """``data.scorer_view`` keeping the representations already computed for these rows
    (prefilled by the worker from :mod:`benchmark.precomputed`), so the scorer does not redo them."""
    view = data.scorer_view(events, role)
    view._feature_cache.update(getattr(events, "_feature_cache", {}))
    return view


def scorer_metadata(scorer: Any) -> dict[str, Any]:
    """What a result records about the scorer object (JSON-safe; also sent back by isolated children).

    ``training`` is the scorer's ``training_record`` (epochs, losses, parameters, device, time) when
    it trained a model, else ``None``.
    """
    return {"name": scorer.info.name, "version": scorer.info.version, "params": scorer_params(scorer),
            "representation": scorer.info.representation, "paper": scorer.info.paper,
            "needs_gpu": scorer.info.needs_gpu, "training": _jsonable(getattr(scorer, "training_record", None))}


def _jsonable(record: Any) -> Any:
    to_dict = getattr(record, "to_dict", None)
    return to_dict() if callable(to_dict) else record
