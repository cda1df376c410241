"""Executors: the same job units (task x scorer x seed x injection) run locally, on Dask, or on a batch system.

Every executor sends a picklable :class:`~benchmark.runner.Job` to a worker, where
:func:`run_one` applies the shared resume rule (:func:`benchmark.runner.job_finished`), runs the
job (its scorer sandboxed by :mod:`benchmark.isolation` unless isolation is off), writes the
result atomically into the one results folder, and returns a *small status dict* (never scores).
The client counts done / running / failed on a progress bar and is the only writer of
``failures.jsonl``. A job lost with its worker (preemption, node failure, a killed process) is
retried up to ``retries`` times, then recorded as a failure with cause ``worker_lost``.

* ``local`` (default): a process pool of ``workers`` processes (:mod:`benchmark.executors.local`),
  with one GPU slot per visible GPU: a ``needs_gpu`` job runs alone on its GPU
  (``CUDA_VISIBLE_DEVICES=<slot>``), at most one such job per GPU at a time;
* ``dask``: ``dask.distributed``, joining ``scheduler`` or starting a ``LocalCluster``
  (:mod:`benchmark.executors.dask`);
* ``slurm`` / ``htcondor`` / ``pbs``: ``dask-jobqueue`` clusters whose resources come from a
  cluster config file (:mod:`benchmark.executors.batch`, example in ``cluster.example.yaml``).
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmark.runner import Job, RunSummary, execute_job, job_finished, resume_decision

EXECUTORS = ("local", "dask", "slurm", "htcondor", "pbs")


def run_one(job: Job, overwrite: bool = False, isolation: Any = None, gpu: str | None = None) -> dict[str, Any]:
    """Run one job on whatever worker this is; returns a small status dict (no scores).

    ``gpu`` (a GPU slot of the local executor) becomes ``CUDA_VISIBLE_DEVICES`` for the job: its
    sandboxed child, or the scorer itself when it runs in this (single-threaded) pool process.
    """
    base = {"key": str(job.key), "host": socket.gethostname(), "pid": os.getpid()}
    if job_finished(job, overwrite):
        return {**base, "status": "skipped"}
    t0 = time.perf_counter()
    try:
        with _cuda_visible(gpu):
            record = execute_job(job, isolation=isolation)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # reported to the client, which records it
        return {**base, "status": "failed", "error": f"{type(exc).__name__}: {getattr(exc, 'detail', exc)}",
                "cause": getattr(exc, "cause", "error"), "log_tail": getattr(exc, "log_tail", ""),
                "traceback": traceback.format_exc(), "seconds": time.perf_counter() - t0}
    return {**base, "status": "ok", "seconds": time.perf_counter() - t0,
            "auc": record.get("metrics", {}).get("auc")}


@contextlib.contextmanager
def _cuda_visible(gpu: str | None) -> Iterator[None]:
    if gpu is None:
        yield
        return
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = before


def visible_gpus() -> list[str]:
    """The GPUs this machine's jobs may use, one slot each, found without initialising CUDA here:
    the ids in ``CUDA_VISIBLE_DEVICES`` when it is set (up to an invalid one, as CUDA reads it),
    else the devices ``nvidia-smi -L`` lists; [] without either."""
    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    if given is not None:
        slots = []
        for item in (x.strip() for x in given.split(",")):
            if not item or item.startswith("-"):
                break
            slots.append(item)
        return slots
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [str(i) for i, line in enumerate(ln for ln in out.stdout.splitlines() if ln.startswith("GPU "))] \
        if out.returncode == 0 else []


def gpu_jobs(jobs: Sequence[Job]) -> list[bool]:
    """Per job: does its scorer declare ``needs_gpu`` (``ScorerInfo.needs_gpu``)?"""
    from benchmark.contract import load_scorer

    known: dict[str, bool] = {}
    out = []
    for job in jobs:
        label = f"{job.scorer}|{sorted(dict(job.params).items())}"
        if label not in known:
            try:
                known[label] = bool(load_scorer(job.scorer, dict(job.params)).info.needs_gpu)
            except Exception:  # the job itself will report why its scorer cannot load
                known[label] = False
        out.append(known[label])
    return out


@dataclass
class ExecutorOptions:
    workers: int = 1
    retries: int = 2
    overwrite: bool = False
    progress: bool = True
    fail_fast: bool = False
    isolation: Any = None  # benchmark.isolation.Limits, or None for in-process


class Progress:
    """A progress bar with done / running / failed counts (tqdm), fed by the executors."""

    def __init__(self, total: int, enabled: bool, desc: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="job", disable=not enabled, dynamic_ncols=True)
        self.running = self.failed = self.skipped = 0

    def _post(self) -> None:
        self.bar.set_postfix_str(f"running {self.running}, failed {self.failed}, skipped {self.skipped}",
                                 refresh=True)

    def started(self, n: int = 1) -> None:
        self.running += n
        self._post()

    def finished(self, status: dict[str, Any]) -> None:
        self.running = max(0, self.running - 1)
        self.failed += status["status"] == "failed"
        self.skipped += status["status"] == "skipped"
        if status["status"] == "failed":
            self.bar.write(f"FAILED {status['key']}: [{status.get('cause')}] {status.get('error', '')[:300]}")
        self.bar.update(1)
        self._post()

    def close(self) -> None:
        self.bar.close()


def record_status(summary: RunSummary, job: Job, status: dict[str, Any]) -> None:
    """Client side: fold one status into the summary; failures go to ``failures.jsonl``."""
    from benchmark.results import append_failure

    if status["status"] == "ok":
        summary.done.append(job)
    elif status["status"] == "skipped":
        summary.skipped_existing.append(job)
    else:
        append_failure(Path(job.results_dir), {
            "job": asdict(job), "error": status.get("error"), "cause": status.get("cause", "error"),
            "log_tail": status.get("log_tail", ""), "traceback": status.get("traceback", ""),
            "host": status.get("host"), "attempts": status.get("attempts")})
        summary.failed.append((job, f"[{status.get('cause', 'error')}] {status.get('error')}"))


def lost_status(job: Job, attempts: int, why: str) -> dict[str, Any]:
    return {"key": str(job.key), "status": "failed", "cause": "worker_lost", "attempts": attempts,
            "error": f"the job's worker was lost {attempts} time(s) ({why}); giving up"}


def make_executor(name: str, options: ExecutorOptions, *, scheduler: str | None = None,
                  cluster_config: Path | None = None) -> Any:
    if name == "local":
        from benchmark.executors.local import LocalExecutor

        return LocalExecutor(options)
    if name == "dask":
        from benchmark.executors.dask import DaskExecutor

        return DaskExecutor(options, scheduler=scheduler)
    if name in ("slurm", "htcondor", "pbs"):
        from benchmark.executors.batch import BatchExecutor

        return BatchExecutor(options, system=name, config_path=cluster_config)
    raise ValueError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")


def run_with(executor_name: str, jobs: Iterable[Job], options: ExecutorOptions, **kwargs: Any) -> RunSummary:
    """Run ``jobs`` with the named executor; returns the same :class:`RunSummary` as ``run_jobs``."""
    return make_executor(executor_name, options, **kwargs).run(list(jobs))


def pending(jobs: Sequence[Job], overwrite: bool, summary: RunSummary, progress: Progress) -> list[Job]:
    """Drop finished jobs on the client (resume) without shipping them anywhere; say why others rerun."""
    todo = []
    for job in jobs:
        finished, why = resume_decision(job, overwrite)
        if finished:
            summary.skipped_existing.append(job)
            progress.finished({"key": str(job.key), "status": "skipped"})
        else:
            if why:
                progress.bar.write(why)
            todo.append(job)
    return todo
