"""Representations a scorer declares, computed once by the worker and shared by every job.

A scorer may declare the representations it will ask its event sets for::

    def features_needed(self) -> list[tuple[str, dict]]:
        return [("jet_observables", {}), ("nsubjettiness", {})]   # events.features(name, **params)

The worker (the trusted side, which alone reads class files) then computes each of them per
*class file* through the shared on-disk cache (:mod:`benchmark.features.cache`), keyed by (class
file sha256, the rows selected from it, name, parameters, implementation version): every seed,
job and worker that selects the same rows of the same file reuses the entry. Classes of up to
:data:`WHOLE_CLASS_MAX` events are computed whole (one entry serves every seed and task that
reads the file); larger ones for the rows the job selects.

The job's views (train, test, sideband, signal_train) get only the rows that are theirs, gathered
by event id, in their own order, and prefilled into the event set's memo (the key
:meth:`~benchmark.events.EventSet.feature_key` that ``features()`` uses), so
``events.features(name, **params)`` returns them without computing. A sandboxed child receives
these per-view arrays beside its views and never sees the shared cache: entries computed on
single-class event sets would reveal test labels if test events could be matched against them.
Representations a scorer does not declare are computed on demand as before (in the child, in
its private folder).
"""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.events import EventSet

#: classes up to this many events are computed whole, so that all seeds share one cache entry
WHOLE_CLASS_MAX = 200_000
FEATURES_INDEX = "features.json"


def declared_features(scorer_spec: str, params: Mapping[str, Any],
                      arrays: frozenset[str] = frozenset()) -> list[tuple[str, dict[str, Any]]]:
    """The scorer's ``features_needed()`` as (name, params) pairs; [] when it declares none.

    A ``features_needed`` that takes one argument gets ``arrays``, the names of the arrays its
    event sets carry (a schema, no data), to declare what it needs for this kind of dataset.
    """
    import inspect

    from benchmark.contract import load_scorer

    scorer = load_scorer(scorer_spec, dict(params))
    method = getattr(scorer, "features_needed", None)
    if not callable(method):
        return []
    takes_arrays = len(inspect.signature(method).parameters) >= 1
    out = []
    for item in (method(frozenset(arrays)) if takes_arrays else method()) or []:
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)
                and isinstance(item[1], Mapping)):
            raise TypeError(f"scorer {scorer.info.name!r}: features_needed() must return (name, params dict) "
                            f"pairs, got {item!r}")
        out.append((item[0], dict(item[1])))
    return out


def _class_rows(class_ids: np.ndarray, views: Mapping[str, EventSet]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per view: (mask of its events that come from this class, their row numbers in the class file)."""
    sorter = np.argsort(class_ids, kind="stable")
    ordered = class_ids[sorter]
    out = {}
    for role, view in views.items():
        pos = np.clip(np.searchsorted(ordered, view.event_id), 0, max(len(ordered) - 1, 0))
        hit = (ordered[pos] == view.event_id) if len(ordered) else np.zeros(len(view), bool)
        out[role] = (hit, sorter[pos[hit]])
    return out


def precompute_views(data: Any, views: Mapping[str, EventSet], needed: list[tuple[str, dict[str, Any]]],
                     source: str) -> dict[str, dict[str, np.ndarray]]:
    """``{role: {memo key: array}}`` for the job's views (event sets with their original event ids).

    Computed per class file through the shared cache; a view whose events are not all found in
    the task's class files gets nothing (its scorer computes on demand, as without a declaration).
    """
    from benchmark.data import class_path
    from benchmark.features import compute

    task = data.task
    parts: dict[str, dict[str, np.ndarray]] = {role: {} for role in views}
    hits = {role: np.zeros(len(view), np.int8) for role, view in views.items()}
    for ref in dict.fromkeys((*task.background, *task.signal)):
        path = class_path(ref.dataset, ref.name, source)
        class_ids = EventSet.load(path, names=[]).event_id
        located = _class_rows(class_ids, views)
        wanted = np.unique(np.concatenate([rows for _, rows in located.values()]))
        if not len(wanted):
            continue
        events = EventSet.load(path)
        whole = len(events) <= WHOLE_CLASS_MAX
        rows = np.arange(len(events)) if whole else wanted
        subset = events if whole else events.take(rows)
        digest = "all" if whole else _digest(rows)
        subset.cache_identity = f"class:{_checksum(path)}:rows:{digest}"  # the shared cache's key
        for name, params in needed:
            try:
                with _computing(subset.cache_identity, name, params):  # one worker computes, the others read
                    array = compute(name, subset, **params)
            except Exception as exc:
                raise RuntimeError(f"computing {name}({params}), declared by the scorer's features_needed(), on "
                                   f"{ref} ({path}) failed: {type(exc).__name__}: {exc}") from exc
            key = EventSet.feature_key(name, params)
            for role, (hit, class_rows) in located.items():
                if key not in parts[role]:
                    parts[role][key] = np.zeros((len(views[role]), *array.shape[1:]), array.dtype)
                parts[role][key][hit] = array[class_rows if whole else np.searchsorted(rows, class_rows)]
        for role, (hit, _) in located.items():
            hits[role] += hit
    # every event found in exactly one class file (ids shared by two files would be ambiguous)
    return {role: arrays for role, arrays in parts.items() if (hits[role] == 1).all()}


_CHECKSUMS: dict[tuple[str, int, int], str] = {}


def _checksum(path: Path) -> str:
    """sha256 of a class file, remembered per (path, size, mtime): a worker hashes each file once."""
    from benchmark.store import file_checksum

    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _CHECKSUMS:
        _CHECKSUMS[key] = file_checksum(path)
    return _CHECKSUMS[key]


@contextlib.contextmanager
def _computing(identity: str, name: str, params: Mapping[str, Any]) -> Iterator[None]:
    """An exclusive lock per cache entry in the shared cache, so concurrent workers compute it once
    (the others wait, then read the entry)."""
    import fcntl
    import hashlib

    from benchmark.store import data_root

    folder = data_root() / "features" / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha256(f"{identity}|{EventSet.feature_key(name, params)}".encode()).hexdigest()[:32]
    with open(folder / f"{tag}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _digest(rows: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(rows, dtype=np.int64).tobytes()).hexdigest()[:32]


def prefill(views: Mapping[str, EventSet], arrays: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """Put precomputed arrays into the views' feature memos (same rows, same order)."""
    for role, by_key in arrays.items():
        if role in views:
            views[role]._feature_cache.update(by_key)


def save_features(folder: Path, arrays: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """Write per-view arrays for a sandboxed child (``features/*.npy`` and an index)."""
    (folder / "features").mkdir(exist_ok=True)
    index: dict[str, dict[str, str]] = {}
    for role, by_key in arrays.items():
        for i, (key, array) in enumerate(by_key.items()):
            name = f"features/{role}-{i}.npy"
            np.save(folder / name, array, allow_pickle=False)
            index.setdefault(role, {})[key] = name
    (folder / FEATURES_INDEX).write_text(json.dumps(index))


def load_features(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    """What :func:`save_features` wrote (empty when the scorer declared nothing)."""
    index_path = folder / FEATURES_INDEX
    if not index_path.exists():
        return {}
    index = json.loads(index_path.read_text())
    return {role: {key: np.load(folder / name, allow_pickle=False) for key, name in by_key.items()}
            for role, by_key in index.items()}


def prefill_in_process(job: Any, data: Any) -> None:
    """Without a sandbox: prefill the task data's own event sets (the views copy their memos)."""
    needed = declared_features(job.scorer, dict(job.params), scorer_arrays(data))
    if not needed:
        return
    from benchmark.fitting import scorer_extras, scorer_roles

    views = scorer_roles(data, scorer_extras(job.scorer, dict(job.params)))
    prefill(views, precompute_views(data, views, needed, job.source))


def scorer_arrays(data: Any) -> frozenset[str]:
    """The array names the scorer's event sets carry (what ``features_needed(arrays)`` is told)."""
    from benchmark.tasks import SCORER_ARRAYS

    return frozenset(name for name in data.train.names if name in SCORER_ARRAYS)
