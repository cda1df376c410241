"""On-disk cache of computed representations, keyed by (event-set identity, name, parameters).

Files live under ``benchmark.store.data_root()/features/<name>/<key>.npy`` with a JSON sidecar
(``<key>.json``: name, parameters, fingerprint, version) for provenance. Both are written with
:func:`benchmark.store.atomic_write`, so an interrupted run never leaves a partial file under the
final name; a file that cannot be read is recomputed and replaced.

The key is sha256 over the event set's :meth:`~benchmark.events.EventSet.fingerprint`, the
representation name, its implementation version and the canonical JSON of the parameters that
change the result (execution-only parameters such as ``device`` or ``n_threads`` are left out).
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.store import atomic_write, data_root, write_json

log = logging.getLogger(__name__)

#: parameters that choose how, not what, is computed; not part of the key
EXECUTION_PARAMS = frozenset({"device", "n_threads", "backend", "cache"})


def canonical_params(params: dict[str, Any], ignore: Iterable[str] = EXECUTION_PARAMS) -> str:
    """Stable JSON of the result-determining parameters (tuples become lists, keys sorted)."""
    kept = {k: v for k, v in params.items() if k not in set(ignore)}
    return json.dumps(_jsonable(kept), sort_keys=True, separators=(",", ":"))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, type) or callable(obj):
        return getattr(obj, "__name__", str(obj))
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.dtype):
        return str(obj)
    return str(obj)


def cache_key(fingerprint: str, name: str, params: dict[str, Any], version: int | str = 1) -> str:
    payload = json.dumps({"fingerprint": fingerprint, "name": name, "version": str(version),
                          "params": json.loads(canonical_params(params))}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def cache_path(name: str, key: str, root: Path | None = None) -> Path:
    return (root or data_root()) / "features" / name / f"{key}.npy"


def load(path: Path) -> np.ndarray | None:
    """The cached array at ``path``, or None when absent or unreadable."""
    if not path.exists():
        return None
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # corrupt or truncated by something outside atomic_write
        log.warning("ignoring unreadable feature cache %s: %s", path, exc)
        return None


def save(path: Path, array: np.ndarray, meta: dict[str, Any]) -> None:
    with atomic_write(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
    write_json(path.with_suffix(".json"), meta)


def cached(events: Any, name: str, params: dict[str, Any], version: int | str,
           compute: Callable[[], np.ndarray]) -> np.ndarray:
    """``compute()`` once per (events, name, params, version); later calls read the disk copy.

    The events are identified by their fingerprint, or by ``events.cache_identity`` where the
    caller knows them by origin (:mod:`benchmark.precomputed`: class file sha256 and rows), which
    spares hashing every array and lets every job that reads those rows share the entry.
    """
    fingerprint = getattr(events, "cache_identity", None) or events.fingerprint()
    key = cache_key(fingerprint, name, params, version)
    path = cache_path(name, key)
    hit = load(path)
    if hit is not None:
        return hit
    array = compute()
    save(path, array, {"name": name, "version": str(version), "fingerprint": fingerprint,
                       "params": json.loads(canonical_params(params)),
                       "shape": list(array.shape), "dtype": str(array.dtype)})
    return array


def clear(name: str | None = None, root: Path | None = None) -> int:
    """Delete cached feature files (all, or one representation's); returns the number removed."""
    base = (root or data_root()) / "features"
    if name is not None:
        base = base / name
    removed = 0
    if base.exists():
        for f in sorted(base.rglob("*")):
            if f.is_file() and f.suffix in (".npy", ".json"):
                f.unlink()
                removed += 1
    return removed
