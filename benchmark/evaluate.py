"""Scores made outside Python: export a task's events, read score files back, evaluate them.

``lhcad export`` writes the training events and the (shuffled, unlabelled) test events of one task
seed; a user scores the test events with any tool and hands the file to ``lhcad evaluate``, which
matches scores to events by ``event_id`` (CSV/HDF5) or by position (NPY, in exported order) and
writes the same result record as ``lhcad run`` does, so the entry appears on the leaderboard.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.contract import validate_scores
from benchmark.data import class_checksums
from benchmark.registry import load_registry
from benchmark.results import JobKey, git_revision, hardware, now, package_versions, write_result, write_scores
from benchmark.store import atomic_write
from benchmark.tasks import SCORER_ARRAYS, build_task_data


def export_task(*, task: str, out: Path, seed: int = 0, injection: int | None = None, source: str = "generated",
                sizes: Mapping[str, float] | None = None) -> Path:
    """Write ``/train`` and ``/test`` event groups (no labels) of one task seed to one HDF5 file."""
    import h5py

    spec = load_registry().task(task, source)
    data = build_task_data(spec, source, seed, injection=injection, sizes=sizes)
    with atomic_write(out, "path") as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["task"], f.attrs["seed"], f.attrs["source"] = task, seed, source
            f.attrs["note"] = "score /test and pass event_id,score to `lhcad evaluate`; higher = more anomalous"
            groups = [("train", data.train), ("test", data.test)]
            if data.sideband is not None:
                groups.append(("sideband", data.sideband))
            for name, events in groups:
                g = f.create_group(name)
                g.create_dataset("event_id", data=events.event_id)
                for key, arr in events.arrays.items():
                    if key in SCORER_ARRAYS:
                        g.create_dataset(key, data=arr, compression="gzip")
    return out


def _score_file_error(path: Path, what: str) -> ValueError:
    return ValueError(f"score file {path}: {what}; expected columns event_id,score (one row per exported test event, "
                      "event_id as written by `lhcad export`)")


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``event_id,score`` columns; every problem names the file (and the row and column where it lies)."""
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise _score_file_error(path, "the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise _score_file_error(path, f"not a readable CSV ({exc})") from None
    for col in ("event_id", "score"):
        if col not in df.columns:
            raise _score_file_error(path, f"missing column {col!r} (have {list(df.columns)})")
    if len(df) == 0:
        raise _score_file_error(path, "a header but no rows")
    ids = np.empty(len(df), np.int64)
    scores = np.empty(len(df), np.float64)
    for i, (raw_id, raw_score) in enumerate(zip(df["event_id"], df["score"])):
        row = i + 2  # 1-based, after the header line
        try:
            ids[i] = int(raw_id)
        except ValueError:
            hint = ""
            try:
                as_float = float(raw_id)
                if as_float.is_integer():
                    hint = " - event ids were written as floats; write them as integers (e.g. `%d`, or `int(...)`)"
            except ValueError:
                pass
            raise _score_file_error(path, f"row {row}, column 'event_id': {raw_id!r} is not an integer{hint}") from None
        try:
            scores[i] = float(raw_score)
        except ValueError:
            raise _score_file_error(path, f"row {row}, column 'score': {raw_score!r} is not a number") from None
    return ids, scores


def read_score_file(path: Path, event_id: np.ndarray) -> np.ndarray:
    """Scores aligned with ``event_id``; every test event must be scored exactly once."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"score file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            scores = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise _score_file_error(path, f"not a readable .npy array, truncated? ({exc})") from None
        if scores.ndim != 1 or len(scores) != len(event_id):
            raise ValueError(f"{path}: expected {len(event_id)} scores in test-event order, got shape {scores.shape}")
        return scores.astype(np.float64)
    if suffix == ".csv":
        ids, scores = _read_csv(path)
    elif suffix in (".h5", ".hdf5"):
        import h5py

        try:
            with h5py.File(path, "r") as f:
                for key in ("event_id", "score"):
                    if key not in f:
                        raise ValueError(f"{path}: missing dataset {key!r} (have {list(f)})")
                raw_ids, scores = f["event_id"][:], f["score"][:].astype(np.float64)
        except OSError as exc:
            raise _score_file_error(path, f"not a readable HDF5 file, truncated? ({exc})") from None
        if raw_ids.dtype.kind == "f":
            if not np.all(np.mod(raw_ids, 1) == 0):
                raise _score_file_error(path, "dataset 'event_id' holds non-integer values")
            raise _score_file_error(path, "dataset 'event_id' is stored as floats; store integers (int64) "
                                          "so that large ids stay exact")
        ids = raw_ids.astype(np.int64)
    else:
        raise ValueError(f"{path}: unknown score file type {suffix!r}; use .npy, .csv or .h5")
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{path}: event_id {uniq[counts > 1][0]} appears {counts.max()} times")
    order = np.argsort(ids)
    pos = np.searchsorted(ids[order], event_id)
    found = (pos < len(ids)) & (ids[order][np.clip(pos, 0, len(ids) - 1)] == event_id)
    if not found.all():
        missing = event_id[~found]
        raise ValueError(f"{path}: {len(missing)} test events have no score (first event_id {missing[0]}); "
                         "export the task with the same seed/sizes (`lhcad export`) and score every test event")
    extra = len(ids) - len(event_id)
    if extra:
        raise ValueError(f"{path}: {extra} scores for events that are not in this task's test set")
    return scores[order][pos]


def evaluate_file(*, task: str, scores: Path, name: str, seed: int = 0, injection: int | None = None,
                  source: str = "generated", results_dir: Path = Path("results"),
                  sizes: Mapping[str, float] | None = None, n_boot: int = 200, overwrite: bool = False) -> Path:
    """Evaluate a score file against the task's hidden labels and write a result record.

    The record is marked ``job.origin = "external"`` (its identity too), so the leaderboard never
    aggregates it with computed runs; an existing result at the same path is kept unless ``overwrite``.
    """
    from benchmark.judge import judge
    from benchmark.results import identity_hash
    from benchmark.store import file_checksum
    from benchmark.tasks import task_sizes

    spec = load_registry().task(task, source)
    key = JobKey(task, name, source, seed, injection if spec.protocol == "resonant" else None)
    target = key.result_path(results_dir)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already holds a result for {name!r} (seed {seed}); "
                              f"pass --overwrite to replace it, or choose another --name")
    t0 = time.perf_counter()
    data = build_task_data(spec, source, seed, injection=injection, sizes=sizes)
    labels = data.test_labels
    values = validate_scores(read_score_file(scores, labels.event_id), len(labels.event_id), scorer=name)
    weights = data.test.weights
    judged = judge(spec, labels.is_signal, values, weights, labels.process, n_boot=n_boot, seed=seed)
    write_scores(key.scores_path(results_dir), labels.event_id, values, labels.is_signal, labels.process, weights)
    refs = sorted({(r.dataset, r.name) for r in (*spec.background, *spec.signal)})
    record_checksums = class_checksums(refs, source)
    record: dict[str, Any] = {
        "status": "ok",
        "job": {"task": task, "task_version": spec.version, "protocol": spec.protocol, "scorer": name,
                "scorer_spec": f"file:{Path(scores).name}", "scorer_name": name, "scorer_version": "external",
                "source": source, "seed": seed, "injection": key.injection, "device": "external",
                "origin": "external"},
        **judged,
        "counts": data.provenance.get("counts", {}),
        "data": {"provenance": data.provenance, "class_sha256": record_checksums,
                 "test_fingerprint": data.test.fingerprint()},
        "scorer_config": {"params": {}, "scores_file": str(scores)},
        "timings": {"evaluate": time.perf_counter() - t0}, "hardware": hardware(), "versions": package_versions(),
        "git_revision": git_revision(), "started": now(), "finished": now(),
        "scores_file": key.scores_path(results_dir).name,
        "identity": {"origin": "external", "task": task, "task_version": spec.version, "source": source,
                     "class_sha256": record_checksums, "sizes": task_sizes(spec, source, sizes),
                     "injection": key.injection, "seed": seed, "scorer_name": name,
                     "scores_sha256": file_checksum(scores), "n_boot": n_boot},
        "sizes_used": {"train": len(data.train), "test": len(data.test)},
    }
    record["identity_hash"] = identity_hash(record["identity"])
    return write_result(target, record)

