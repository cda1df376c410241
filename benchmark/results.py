"""Result records and per-event score files: their layout on disk, provenance, reading back.

One job (task x scorer x seed [x injection], on one data source) writes

* ``<results>/<task>/<scorer>/<source>[/inj<N>]/seed<k>.json``: the result record
  (:data:`SCHEMA_VERSION`): metrics with errors, thinned curves, counts, timings per phase,
  hardware, package versions, git revision, dataset checksums, scorer config;
* the same path with ``.scores.h5``: event ids, scores and labels of the test set, so that every
  metric can be recomputed (and checked) without re-running the scorer.

Both are written atomically, the scores first: a result JSON on disk always means a finished job,
which is exactly what resume keys on.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.store import atomic_write, loads_json, write_json

SCHEMA_VERSION = 1
DEFAULT_RESULTS_DIR = Path("results")
FAILURES_FILE = "failures.jsonl"


@dataclass(frozen=True)
class JobKey:
    """Identity of one job; its string form is also its path under the results folder."""

    task: str
    scorer: str
    source: str
    seed: int
    injection: int | None = None

    @property
    def relpath(self) -> Path:
        parts = [*self.task.split("/"), self.scorer.replace("/", "_"), self.source]
        if self.injection is not None:
            parts.append(f"inj{self.injection}")
        return Path(*parts) / f"seed{self.seed}"

    def result_path(self, root: Path) -> Path:
        return root / self.relpath.with_suffix(".json")

    def scores_path(self, root: Path) -> Path:
        return root / self.relpath.with_suffix(".scores.h5")

    def __str__(self) -> str:
        inj = f" inj={self.injection}" if self.injection is not None else ""
        return f"{self.task} x {self.scorer} [{self.source}] seed={self.seed}{inj}"


def config_tag(params: dict[str, Any]) -> str:
    """Short stable hash of hyper-parameters, so runs with other settings never overwrite defaults."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def identity_hash(identity: Mapping[str, Any], *, without: Sequence[str] = ()) -> str:
    """Short stable hash of a result identity as it reads back from JSON (tuples become lists, keys
    strings); ``without`` drops fields, e.g. the seed for leaderboard entries."""
    normalised = json.loads(json.dumps(dict(identity), sort_keys=True, default=str))
    kept = {k: v for k, v in normalised.items() if k not in without}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:12]


def scorer_label(scorer: str, params: dict[str, Any] | None = None, preset: str | None = None) -> str:
    """Scorer name in paths and tables: ``name``, ``name@preset``; the user's hyper-parameters add a
    hash (``name@preset+1a2b3c4d``, ``name@1a2b3c4d``) so runs with other settings never mix."""
    from benchmark.contract import scorer_base_label

    label = scorer_base_label(scorer)
    tags = [t for t in (preset, config_tag(dict(params)) if params else None) if t]
    return f"{label}@{'+'.join(tags)}" if tags else label


# -- provenance ------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def git_revision() -> str | None:
    """The harness checkout's git revision (with ``+dirty`` for uncommitted changes), if any."""
    here = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


#: distributions whose versions a result records (those installed)
RESULT_PACKAGES = ("lhcad", "numpy", "scipy", "scikit-learn", "torch", "h5py", "pandas", "fastjet", "pythia8mc")


@lru_cache(maxsize=8)
def package_versions(names: tuple[str, ...] = RESULT_PACKAGES) -> dict[str, str]:
    """Python's and the installed distributions' versions among ``names`` (missing ones left out)."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return out


@lru_cache(maxsize=1)
def hardware() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(), "machine": platform.machine(), "cpu_count": os.cpu_count(),
        "hostname": platform.node(),
    }
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover
        pass
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["cuda"] = torch.version.cuda
    except ImportError:  # pragma: no cover
        pass
    return info


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# -- scores files ----------------------------------------------------------------------------------
def write_scores(path: Path, event_id: np.ndarray, scores: np.ndarray, is_signal: np.ndarray,
                 process: np.ndarray, weights: np.ndarray, extra: dict[str, np.ndarray] | None = None) -> Path:
    """Per-event scores of one job (atomic). Labels are stored so metrics can be recomputed."""
    import h5py

    with atomic_write(path, "path") as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("event_id", data=np.asarray(event_id, np.int64), compression="gzip")
            f.create_dataset("score", data=np.asarray(scores, np.float64), compression="gzip")
            f.create_dataset("is_signal", data=np.asarray(is_signal, np.int8), compression="gzip")
            f.create_dataset("weight", data=np.asarray(weights, np.float64), compression="gzip")
            f.create_dataset("process", data=np.asarray(process, dtype=object), dtype=h5py.string_dtype(),
                             compression="gzip")
            for name, arr in (extra or {}).items():
                f.create_dataset(name, data=arr, compression="gzip")
    return path


def read_scores(path: Path) -> dict[str, np.ndarray]:
    import h5py

    with h5py.File(path, "r") as f:
        out = {k: f[k][:] for k in f if k != "process"}
        out["process"] = np.asarray(f["process"].asstr()[:], dtype=object)
    return out


# -- result records --------------------------------------------------------------------------------
def write_result(path: Path, record: dict[str, Any]) -> Path:
    record = {"schema": SCHEMA_VERSION, **record}
    write_json(path, record)
    return path


#: Fields every result record must carry for resume and the leaderboard to use it.
REQUIRED_JOB_FIELDS = ("task", "scorer", "source", "seed")


def read_result(path: Path) -> dict[str, Any]:
    """One result record, checked; a broken file raises ValueError naming the path and what is wrong."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"result file {path} cannot be read: {exc}") from exc
    if not text.strip():
        raise ValueError(f"result file {path} is empty (a killed writer or a copy gone wrong)")
    try:
        record = loads_json(text)
    except (json.JSONDecodeError, ValueError) as exc:
        raise ValueError(f"result file {path} is not valid JSON (truncated?): {exc}") from exc
    if not isinstance(record, dict):
        raise ValueError(f"result file {path} holds a {type(record).__name__}, not a result record")
    if record.get("schema") != SCHEMA_VERSION:
        raise ValueError(f"result file {path} has schema {record.get('schema')!r}, this lhcad reads {SCHEMA_VERSION}")
    job = record.get("job")
    missing = [f"job.{k}" for k in REQUIRED_JOB_FIELDS if not isinstance(job, dict) or k not in job]
    if not isinstance(record.get("metrics"), dict):
        missing.append("metrics")
    if missing:
        raise ValueError(f"result file {path} lacks {', '.join(missing)}")
    return record


def iter_results(root: Path, problems: list[str] | None = None) -> list[tuple[Path, dict[str, Any]]]:
    """Every result record under ``root`` (sorted by path).

    With ``problems`` a broken file is skipped and its message (path and what is wrong) appended
    there, so one bad file cannot hide every good one; without it the first broken file raises.
    """
    out = []
    for path in sorted(Path(root).rglob("seed*.json")):
        try:
            out.append((path, read_result(path)))
        except ValueError as exc:
            if problems is None:
                raise
            problems.append(str(exc))
    return out


def append_failure(root: Path, record: dict[str, Any]) -> None:
    """Append one failure line (JSON) to ``<root>/failures.jsonl``; lines are written whole."""
    root.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"time": now(), **record}, default=str, sort_keys=True) + "\n"
    with open(root / FAILURES_FILE, "a") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())
