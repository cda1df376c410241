"""Fit one job's scorer on its task data and score the test events, per the task's protocol.

This is the part of a job that touches the scorer, shared by the in-process runner
(:func:`benchmark.runner.execute_job`) and the sandboxed child (:mod:`benchmark.isolation`), so both
follow the protocol identically. It sees only the task data's scorer views (no test labels) and
returns scores; building the data and judging the scores stay with the runner.
"""
from __future__ import annotations

import random
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.contract import FitContext, load_scorer, scorer_params, validate_scores
from benchmark.tasks import TaskData

#: Reference scorer the density-ratio protocol compares against.
SUPERVISED_REFERENCE = "supervised"


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


def score_job(data: TaskData, scorer_spec: str, params: dict[str, Any], *, seed: int, device: str,
              workdir: Path, log: Callable[[str], None], timings: dict[str, float],
              ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
    """(test scores, extra per-event scores, scorer metadata) of one job; ``timings`` gets each phase.

    The density-ratio protocol also fits the supervised reference on the same training events
    (``extra["score_supervised"]``), for the density-ratio-vs-supervised gap.
    """
    run = dict(seed=seed, device=device, workdir=workdir, log=log, timings=timings)
    scores, scorer = _fit_and_score(data, scorer_spec, dict(params), **run)
    extra: dict[str, np.ndarray] = {}
    if data.task.protocol == "density_ratio":
        extra["score_supervised"], _ = _fit_and_score(
            as_supervised(data), SUPERVISED_REFERENCE, {}, protocol="supervised",
            phase="_supervised_reference", **run)
    return scores, extra, scorer_metadata(scorer)


def _fit_and_score(data: TaskData, scorer_spec: str, params: dict[str, Any], *, seed: int, device: str,
                   workdir: Path, log: Callable[[str], None], timings: dict[str, float],
                   protocol: str | None = None,
                   phase: str = "") -> tuple[np.ndarray, Any]:
    """Fit one scorer per the protocol (default: the task's) and score the test events."""
    task = data.task
    protocol = protocol or task.protocol
    order = fresh_permutation(len(data.test))  # a new order per execution; scores are unmapped below
    test_view = _view(data, data.test.take(order), "test")

    def context(train_labels: np.ndarray | None = None) -> FitContext:
        return FitContext(
            task=task.name, protocol=task.protocol, seed=seed, device=device, workdir=workdir,
            params=dict(params),
            sideband=_view(data, data.sideband, "sideband") if data.sideband is not None else None,
            signal_region=task.resonant.signal_region if task.resonant else None,
            train_labels=train_labels, log=log,
        )

    if protocol == "density_ratio":
        densities = []
        for role, train in (("background", data.train), ("signal", data.signal_train)):
            assert train is not None
            scorer = load_scorer(scorer_spec, params)
            if not callable(getattr(scorer, "log_prob", None)):
                raise TypeError(f"scorer {scorer.info.name!r} has no log_prob(); the density-ratio protocol needs one")
            seed_everything(seed)
            t0 = time.perf_counter()
            scorer.fit(_view(data, train, "train"), context=context())
            timings[f"fit_{role}"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            lp = validate_scores(scorer.log_prob(test_view), len(test_view), scorer=scorer.info.name, what="log_prob")
            timings[f"log_prob_{role}"] = time.perf_counter() - t0
            densities.append(_unmap(lp, order))
        return densities[1] - densities[0], scorer
    scorer = load_scorer(scorer_spec, params)
    seed_everything(seed)
    t0 = time.perf_counter()
    scorer.fit(_view(data, data.train, "train"), context=context(data.train_labels))
    timings[f"fit{phase}"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = validate_scores(scorer.score(test_view), len(test_view), scorer=scorer.info.name)
    timings[f"score{phase}"] = time.perf_counter() - t0
    return _unmap(scores, order), scorer


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
    """What a result records about the scorer object (JSON-safe; also sent back by isolated children)."""
    return {"name": scorer.info.name, "version": scorer.info.version, "params": scorer_params(scorer),
            "representation": scorer.info.representation, "paper": scorer.info.paper,
            "needs_gpu": scorer.info.needs_gpu}


def as_supervised(data: TaskData) -> TaskData:
    """The density-ratio task's training events relabelled for the supervised reference."""
    from benchmark.events import EventSet

    assert data.signal_train is not None
    train = EventSet.concatenate([data.train, data.signal_train])
    labels = np.concatenate([np.zeros(len(data.train), np.int8), np.ones(len(data.signal_train), np.int8)])
    return TaskData(data.task, data.source, data.seed, None, train, data.test, data.test_labels,
                    train_labels=labels, provenance=data.provenance)
