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

    spec = load_registry().task(task)
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


def read_score_file(path: Path, event_id: np.ndarray) -> np.ndarray:
    """Scores aligned with ``event_id``; every test event must be scored exactly once."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        scores = np.load(path)
        if scores.ndim != 1 or len(scores) != len(event_id):
            raise ValueError(f"{path}: expected {len(event_id)} scores in test-event order, got shape {scores.shape}")
        return scores.astype(np.float64)
    if suffix == ".csv":
        import pandas as pd

        df = pd.read_csv(path)
        for col in ("event_id", "score"):
            if col not in df.columns:
                raise ValueError(f"{path}: missing column {col!r} (have {list(df.columns)}); expected event_id,score")
        ids, scores = df["event_id"].to_numpy(np.int64), df["score"].to_numpy(np.float64)
    elif suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as f:
            for key in ("event_id", "score"):
                if key not in f:
                    raise ValueError(f"{path}: missing dataset {key!r} (have {list(f)})")
            ids, scores = f["event_id"][:].astype(np.int64), f["score"][:].astype(np.float64)
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
                  sizes: Mapping[str, float] | None = None, n_boot: int = 200) -> Path:
    """Evaluate a score file against the task's hidden labels and write a result record."""
    from benchmark.judge import judge

    spec = load_registry().task(task)
    t0 = time.perf_counter()
    data = build_task_data(spec, source, seed, injection=injection, sizes=sizes)
    labels = data.test_labels
    values = validate_scores(read_score_file(scores, labels.event_id), len(labels.event_id), scorer=name)
    weights = data.test.weights
    judged = judge(spec, labels.is_signal, values, weights, labels.process, n_boot=n_boot, seed=seed)
    key = JobKey(task, name, source, seed, injection if spec.protocol == "resonant" else None)
    write_scores(key.scores_path(results_dir), labels.event_id, values, labels.is_signal, labels.process, weights)
    refs = sorted({(r.dataset, r.name) for r in (*spec.background, *spec.signal)})
    record: dict[str, Any] = {
        "status": "ok",
        "job": {"task": task, "task_version": spec.version, "protocol": spec.protocol, "scorer": name,
                "scorer_spec": f"file:{Path(scores).name}", "scorer_name": name, "scorer_version": "external",
                "source": source, "seed": seed, "injection": key.injection, "device": "external"},
        **judged,
        "counts": data.provenance.get("counts", {}),
        "data": {"provenance": data.provenance, "class_sha256": class_checksums(refs, source),
                 "test_fingerprint": data.test.fingerprint()},
        "scorer_config": {"params": {}, "scores_file": str(scores)},
        "timings": {"evaluate": time.perf_counter() - t0}, "hardware": hardware(), "versions": package_versions(),
        "git_revision": git_revision(), "started": now(), "finished": now(),
        "scores_file": key.scores_path(results_dir).name,
    }
    return write_result(key.result_path(results_dir), record)

