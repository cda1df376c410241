"""Jobs (task x scorer x seed [x injection]) and running them with resume.

:func:`plan_jobs` expands a request (tasks or a suite, scorers, seeds, injections, source) into
:class:`Job` records; :func:`execute_job` runs one job start to finish and writes its scores and
result atomically; :func:`run_jobs` runs a list with a progress bar, skipping jobs whose result
already exists (resume is the default), recording every failure with its traceback in
``failures.jsonl`` and re-raising nothing silently: the caller gets the failures back and the CLI
exits non-zero when there are any.

A :class:`Job` is a small picklable record, so the same unit runs in this process, a child
process or on a remote worker.
"""
from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.contract import effective_preset, load_scorer, resolve_scorer, route_params
from benchmark.data import class_checksums
from benchmark.fitting import score_job
from benchmark.registry import TaskSpec, load_registry
from benchmark.results import (
    JobKey,
    append_failure,
    git_revision,
    hardware,
    now,
    package_versions,
    scorer_label,
    write_result,
    write_scores,
)
from benchmark.judge import judge
from benchmark.tasks import build_task_data

@dataclass(frozen=True)
class Job:
    """One unit of work; everything needed to run it, nothing that cannot be pickled."""

    task: str
    scorer: str
    source: str
    seed: int
    results_dir: str
    injection: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    sizes: Mapping[str, float] = field(default_factory=dict)
    n_boot: int = 200
    preset: str | None = None

    @property
    def scorer_label(self) -> str:
        """Scorer name in paths and tables (:func:`benchmark.results.scorer_label`)."""
        return scorer_label(self.scorer, dict(self.params), self.preset)

    @property
    def key(self) -> JobKey:
        return JobKey(self.task, self.scorer_label, self.source, self.seed, self.injection)

    @property
    def result_path(self) -> Path:
        return self.key.result_path(Path(self.results_dir))

    @property
    def scores_path(self) -> Path:
        return self.key.scores_path(Path(self.results_dir))


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a CUDA device is usable, else ``cpu``; ``cuda`` without one fails."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but torch sees no CUDA device; use --device auto or cpu")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}; use auto, cpu or cuda[:N]")
    return device


def plan_jobs(
    *,
    tasks: Sequence[str],
    scorers: Sequence[str],
    seeds: int | Sequence[int],
    source: str,
    results_dir: Path,
    injections: Sequence[int] | None = None,
    params: Mapping[str, Any] | None = None,
    device: str = "cpu",
    sizes: Mapping[str, float] | None = None,
    n_boot: int = 200,
    skipped: list[str] | None = None,
    preset: str | None = None,
) -> list[Job]:
    """Expand the request into jobs; task/scorer pairs whose protocol the scorer lacks are skipped.

    ``params`` are the ``--param`` values, routed per scorer (:func:`route_params`: ``SCORER.key``
    to one scorer, a bare ``key`` to the scorers that declare it); ``preset`` applies to scorers
    that offer presets. Resonant tasks get one job per injection (default: the task's registered
    default injection). Skipped pairs are appended to ``skipped`` as messages (they are not failures).
    """
    reg = load_registry()
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    routed = route_params(scorers, params or {})
    jobs: list[Job] = []
    for scorer in scorers:
        own_params = routed[scorer]
        info = load_scorer(scorer, own_params, preset).info
        own_preset = effective_preset(info, preset)
        for task_name in tasks:
            task = reg.task(task_name)
            if source not in reg.dataset(task.dataset).sources:
                raise ValueError(f"task {task_name} has no {source!r} data source "
                                 f"(it has: {', '.join(reg.dataset(task.dataset).sources)})")
            if task.protocol not in info.protocols:
                if skipped is not None:
                    skipped.append(f"{info.name} does not support the {task.protocol} protocol of {task_name}")
                continue
            if task.protocol == "resonant":
                assert task.resonant is not None
                inj_list: list[int | None] = list(injections) if injections else [task.resonant.default_injection]
            else:
                inj_list = [None]
            for inj in inj_list:
                for seed in seed_list:
                    jobs.append(Job(task_name, scorer, source, seed, str(results_dir), inj, dict(own_params),
                                    device, dict(sizes or {}), n_boot, own_preset))
    return jobs


def job_finished(job: Job, overwrite: bool = False) -> bool:
    """Resume rule shared by every executor: a job is done when its result file exists."""
    return not overwrite and job.result_path.exists()


def execute_job(job: Job, log: Callable[[str], None] | None = None, *, isolation: Any = None) -> dict[str, Any]:
    """Run one job and write its scores file and result record; returns the record.

    ``isolation`` (a :class:`benchmark.isolation.Limits`) runs the scorer in a sandboxed child
    process; ``None`` runs it in this process.
    """
    log = log or (lambda msg: None)
    reg = load_registry()
    task: TaskSpec = reg.task(job.task)
    timings: dict[str, float] = {}
    started = now()
    t0 = time.perf_counter()
    data = build_task_data(task, job.source, job.seed, injection=job.injection, sizes=job.sizes)
    timings["load"] = time.perf_counter() - t0
    workdir = job.result_path.parent / f".work-seed{job.seed}"
    extra_scores: dict[str, np.ndarray] = {}
    if isolation is not None:
        # the scorer runs in a child process that sees only the scorer views (benchmark.isolation)
        from benchmark.isolation import score_in_child

        isolation = isolation.for_task(task)  # the task's limits (datasets.yaml), command-line values win
        scores, extra_scores, scorer_meta, child_timings = score_in_child(job, data, isolation, log=log)
        timings.update(child_timings)
    else:
        workdir.mkdir(parents=True, exist_ok=True)
        scores, extra_scores, scorer_meta = score_job(data, job.scorer, job.params, seed=job.seed,
                                                      device=job.device, workdir=workdir, log=log,
                                                      timings=timings, preset=job.preset)
    labels = data.test_labels
    weights = data.test.weights
    t0 = time.perf_counter()
    judged = judge(task, labels.is_signal, scores, weights, labels.process, extra_scores=extra_scores,
                   n_boot=job.n_boot, seed=job.seed)
    timings["metrics"] = time.perf_counter() - t0
    write_scores(job.scores_path, labels.event_id, scores, labels.is_signal, labels.process, weights, extra_scores)
    refs = sorted({(r.dataset, r.name) for r in (*task.background, *task.signal)})
    record = {
        "status": "ok",
        "job": {"task": task.name, "task_version": task.version, "protocol": task.protocol,
                "scorer": job.scorer_label, "scorer_spec": job.scorer, "scorer_name": scorer_meta["name"],
                "scorer_version": scorer_meta["version"], "source": job.source, "seed": job.seed,
                "injection": job.injection, "device": job.device, "preset": job.preset},
        **judged,
        "counts": data.provenance.get("counts", {}),
        "data": {"provenance": data.provenance, "class_sha256": class_checksums(refs, job.source),
                 "test_fingerprint": data.test.fingerprint()},
        "scorer_config": {"params": scorer_meta["params"], "representation": scorer_meta["representation"],
                          "paper": scorer_meta["paper"], "needs_gpu": scorer_meta["needs_gpu"],
                          "preset": job.preset},
        "training": scorer_meta.get("training"),
        "isolation": scorer_meta.get("isolation", {"mode": "in-process"}),
        "timings": timings,
        "hardware": hardware(),
        "versions": package_versions(),
        "git_revision": git_revision(),
        "started": started,
        "finished": now(),
        "scores_file": job.scores_path.name,
    }
    write_result(job.result_path, record)
    _remove_tree(workdir)
    return record


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


@dataclass
class RunSummary:
    done: list[Job] = field(default_factory=list)
    skipped_existing: list[Job] = field(default_factory=list)
    failed: list[tuple[Job, str]] = field(default_factory=list)


def run_jobs(jobs: Iterable[Job], *, overwrite: bool = False, progress: bool = True,
             fail_fast: bool = False, log: Callable[[str], None] | None = None,
             isolation: Any = None) -> RunSummary:
    """Run jobs one after another in this process (the ``local`` executor with one worker).

    Finished jobs (result file present) are skipped unless ``overwrite``. A failing job is
    recorded in ``failures.jsonl`` beside the results with its traceback; with ``fail_fast`` the
    exception propagates instead.
    """
    from tqdm import tqdm

    jobs = list(jobs)
    summary = RunSummary()
    bar = tqdm(jobs, desc="lhcad run", unit="job", disable=not progress, dynamic_ncols=True)
    for job in bar:
        bar.set_postfix_str(f"{job.task} {job.scorer_label} s{job.seed}", refresh=False)
        if job_finished(job, overwrite):
            summary.skipped_existing.append(job)
            continue
        try:
            execute_job(job, log=log, isolation=isolation)
            summary.done.append(job)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # recorded, reported, and re-raised with fail_fast
            if fail_fast:
                raise
            message = f"{type(exc).__name__}: {exc}"
            append_failure(Path(job.results_dir), {"job": asdict(job), "error": message,
                                                   "cause": getattr(exc, "cause", "error"),
                                                   "log_tail": getattr(exc, "log_tail", ""),
                                                   "traceback": traceback.format_exc()})
            summary.failed.append((job, message))
            bar.write(f"FAILED {job.key}: {message}")
    bar.close()
    return summary


def jobs_for_suite(suite_name: str, scorers: Sequence[str] | None = None, *, results_dir: Path,
                   seeds: int | None = None, source: str | None = None, device: str = "cpu",
                   params: Mapping[str, Any] | None = None, skipped: list[str] | None = None, n_boot: int = 200,
                   preset: str | None = None) -> list[Job]:
    """Jobs of a named suite (its scorers, preset, tasks, sizes, injections, seeds and source as registered)."""
    suite = load_registry().suite(suite_name)
    return plan_jobs(tasks=suite.tasks, scorers=list(scorers or suite_scorers(suite)),
                     seeds=seeds if seeds is not None else suite.seeds,
                     source=source or suite.source or "generated", results_dir=results_dir,
                     injections=suite.injections or None, params=params, device=device, sizes=suite.sizes,
                     skipped=skipped, n_boot=n_boot, preset=preset or suite.preset)


def suite_scorers(suite: Any) -> list[str]:
    """A suite's scorers: its ``scorers:`` list, else every scorer lhcad itself registers."""
    from benchmark.contract import builtin_scorers

    return list(suite.scorers) if suite.scorers else builtin_scorers()


def default_workers() -> int:
    from benchmark.parallel import available_cpus

    return available_cpus()


def scorer_supports(scorer: str, protocol: str) -> bool:
    info = getattr(resolve_scorer(scorer), "info", None)
    return bool(info and protocol in info.protocols)
