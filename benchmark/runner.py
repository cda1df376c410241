"""Jobs (task x scorer x seed [x injection]) and running them with resume.

:func:`plan_jobs` expands a request (tasks or a suite, scorers, seeds, injections, source) into
:class:`Job` records; :func:`execute_job` runs one job start to finish and writes its scores and
result atomically; :func:`run_jobs` runs a list with a progress bar, skipping finished jobs
(resume is the default), recording every failure with its traceback in ``failures.jsonl`` and
re-raising nothing silently: the caller gets the failures back and the CLI exits non-zero when
there are any.

Resume compares identities, not file names: a job is finished only when its result file reads
back and its stored ``identity`` (:func:`job_identity`: everything that changes the numbers) equals
the planned job's. Any difference reruns the job, saying why; the old result is first set aside as
``seedK.json.superseded-<hash>`` (with its scores file) so nothing computed is lost without
``--overwrite``. Ctrl-C stops the queue: :class:`RunInterrupted` carries what finished.

A :class:`Job` is a small picklable record, so the same unit runs in this process, a child
process or on a remote worker.
"""
from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.contract import effective_preset, load_scorer, resolve_scorer, route_params, scorer_params
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
    read_result,
    identity_hash,
    scorer_label,
    write_result,
    write_scores,
)
from benchmark.judge import judge
from benchmark.tasks import build_task_data, check_sizes, task_sizes

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
    # what the result's numbers depend on (job_identity), fixed when the job is planned
    identity: Mapping[str, Any] = field(default_factory=dict)

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


def check_device(device: str) -> str:
    """Validate a requested device (``auto``, ``cpu``, ``cuda``, ``cuda:N``) without touching CUDA."""
    if device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit()):
        return device
    raise ValueError(f"unknown device {device!r}; use --device auto, cpu, cuda or cuda:N")


def resolve_device(device: str) -> str:
    """The device a job runs on, decided on the worker that runs it (not where it was submitted):
    ``auto`` -> ``cuda`` when this worker has a usable CUDA device, else ``cpu``; ``cuda`` without
    one fails the job."""
    check_device(device)
    if device == "cpu":
        return device
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    if not has_cuda:
        raise RuntimeError(f"device {device!r} was asked for (--device) but torch sees no CUDA device on this "
                           f"worker (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}); "
                           f"use --device auto or cpu")
    if device.startswith("cuda:") and int(device[5:]) >= torch.cuda.device_count():
        raise RuntimeError(f"device {device!r} was asked for but this worker sees {torch.cuda.device_count()} CUDA "
                           f"device(s) (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}; "
                           f"a needs_gpu job sees only its own GPU, as cuda:0); use --device cuda or auto")
    return device


def _normalised(value: Any) -> Any:
    """``value`` as it reads back from a result JSON (tuples become lists, keys strings), for comparison."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _file_sha256(path: str) -> str:
    """sha256 of a file, hashed once per (path, size, mtime) in this process: planning many jobs
    over multi-GB class files must not hash them once per job."""
    stat = os.stat(path)
    return _cached_sha256(path, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=256)
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    from benchmark.store import file_checksum

    return file_checksum(path)


def job_identity(job: Job, scorer: Any = None) -> dict[str, Any]:
    """Everything that changes a job's numbers: task name and version, source and the sha256 of
    every class file, sizes asked for, injection, seed, scorer spec, name, version (and the file's
    sha256 for a ``file.py`` scorer), its resolved configuration (after the preset), the preset and
    the bootstrap count. Resume and the leaderboard compare these; a result stores them."""
    from benchmark.data import class_path

    task = load_registry().task(job.task, job.source)
    scorer = scorer if scorer is not None else load_scorer(job.scorer, job.params, job.preset)
    refs = sorted({(r.dataset, r.name) for r in (*task.background, *task.signal)})
    identity: dict[str, Any] = {
        "origin": "run", "task": task.name, "task_version": task.version, "source": job.source,
        "class_sha256": {f"{d}:{c}": _file_sha256(str(class_path(d, c, job.source))) for d, c in refs},
        "sizes": task_sizes(task, job.source, job.sizes), "injection": job.injection, "seed": job.seed,
        "scorer_spec": job.scorer, "scorer_name": scorer.info.name, "scorer_version": scorer.info.version,
        "config": scorer_params(scorer), "preset": job.preset, "n_boot": job.n_boot,
    }
    if task.protocol == "density_ratio":
        from benchmark.protocols.density_ratio import reference_scorer

        identity["reference"] = reference_scorer(task)  # another reference, another auc_supervised
    if job.scorer.endswith(".py") or ".py:" in job.scorer:
        identity["scorer_file_sha256"] = _file_sha256(job.scorer.split(".py:")[0].removesuffix(".py") + ".py")
    return _normalised(identity)


def describe_change(stored: Mapping[str, Any] | None, planned: Mapping[str, Any]) -> str:
    """What differs between a stored and a planned identity, e.g. ``scorer_version 1.0 -> 1.1``."""
    if not stored:
        return "the result records no identity (written by an older lhcad)"
    changes = []
    for key in sorted(set(stored) | set(planned)):
        old, new = stored.get(key), planned.get(key)
        if old != new:
            if isinstance(old, dict) and isinstance(new, dict):
                sub = [f"{key}.{k} {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new))
                       if old.get(k) != new.get(k)]
                changes += sub
            else:
                changes.append(f"{key} {old!r} -> {new!r}")
    return ", ".join(changes)


def resume_state(job: Job, overwrite: bool = False) -> tuple[bool, str | None]:
    """(finished, why it reruns): finished only when the result reads back with the planned identity."""
    path = job.result_path
    if overwrite or not path.exists():
        return False, None
    try:
        record = read_result(path)
    except ValueError as exc:
        return False, f"rerun {job.key}: unreadable result ({exc})"
    planned = job.identity or job_identity(job)
    stored = record.get("identity")
    if _normalised(stored) == _normalised(planned):
        return True, None
    return False, f"rerun {job.key}: {describe_change(stored, planned)}"


def set_aside(job: Job, identity: Mapping[str, Any] | None) -> Path | None:
    """Move a stale result (and its scores) to ``<name>.superseded-<hash>``; returns the new JSON path."""
    path = job.result_path
    if not path.exists():
        return None
    tag = identity_hash(identity) if identity else f"{int(time.time())}"
    moved = path.with_name(f"{path.name}.superseded-{tag}")
    os.replace(path, moved)
    if job.scores_path.exists():
        os.replace(job.scores_path, job.scores_path.with_name(f"{job.scores_path.name}.superseded-{tag}"))
    return moved


def resume_decision(job: Job, overwrite: bool = False) -> tuple[bool, str | None]:
    """The client's resume step: (skip it, message). A result of another identity is set aside
    (never overwritten without ``--overwrite``); an unreadable one is simply rerun."""
    finished, why = resume_state(job, overwrite)
    if finished or why is None:
        return finished, why
    try:
        stored = read_result(job.result_path).get("identity")
    except ValueError:
        return False, why
    moved = set_aside(job, stored)
    return False, f"{why}; old result kept as {moved.name}" if moved else why


#: event arrays a scorer's declared representation needs from a task's dataset. A suite pairs every
#: scorer with every task: a Dark Machines scorer (``objects``) has nothing to read in a jet dataset,
#: and a jet scorer (images, EFPs, jet masses...) nothing in the object-level Dark Machines events, so
#: either is skipped there, not failed. Representations not listed (``highlevel``) are computed from
#: whatever the dataset carries.
_CONSTITUENTS = ("constituents", "constituents_mask")
REPRESENTATION_ARRAYS: dict[str, tuple[str, ...]] = {
    "objects": ("objects", "objects_mask", "met"),
    "jets": ("jets",),
    **{rep: _CONSTITUENTS for rep in ("constituents", "images", "efp", "nsubjettiness", "jet_observables")},
}


def missing_arrays(representation: str, dataset_arrays: Sequence[str]) -> list[str]:
    """The arrays ``representation`` needs that a dataset declaring ``dataset_arrays`` lacks
    (nothing is missing where the dataset declares no arrays)."""
    need = REPRESENTATION_ARRAYS.get(representation, ())
    return [a for a in need if dataset_arrays and a not in dataset_arrays]


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
    task_sizes: Mapping[str, Mapping[str, float]] | None = None,
    scorer_tasks: Mapping[str, Sequence[str]] | None = None,
) -> list[Job]:
    """Expand the request into jobs; task/scorer pairs whose protocol the scorer lacks are skipped.

    ``params`` are the ``--param`` values, routed per scorer (:func:`route_params`: ``SCORER.key``
    to one scorer, a bare ``key`` to the scorers that declare it); ``preset`` applies to scorers
    that offer presets. Resonant tasks get one job per injection (default: the task's registered
    default injection). ``task_sizes`` replaces ``sizes`` for the tasks it names (a suite's
    ``task_sizes``); ``scorer_tasks`` (a suite's): scorer name -> the only tasks it runs on.
    Skipped pairs are appended to ``skipped`` as messages (they are not failures).
    Sizes are checked against every class file first (:func:`benchmark.tasks.check_sizes`), so a
    request a source cannot supply fails before any job starts; each job carries its identity.
    """
    reg = load_registry()
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seed_list:
        raise ValueError("no seed to run: --seeds must be >= 1 (or give --seed-list)")
    routed = route_params(scorers, params or {})

    def sizes_of(task_name: str) -> dict[str, float]:
        return {**(sizes or {}), **((task_sizes or {}).get(task_name) or {})}

    for task_name in tasks:
        task = reg.task(task_name)
        if source in reg.dataset(task.dataset).sources:
            task = reg.task(task_name, source)
            inj = (list(injections or [task.resonant.default_injection]) if task.resonant else [])
            check_sizes(task, source, sizes_of(task_name), inj)
    jobs: list[Job] = []
    for scorer in scorers:
        own_params = routed[scorer]
        instance = load_scorer(scorer, own_params, preset)
        info = instance.info
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
            lacking = missing_arrays(info.representation, reg.dataset(task.dataset).arrays)
            if lacking:
                if skipped is not None:
                    skipped.append(f"{info.name} needs the event arrays {', '.join(lacking)} that {task_name} lacks")
                continue
            only = (scorer_tasks or {}).get(info.name)
            if only is not None and task_name not in only:
                if skipped is not None:
                    skipped.append(f"{info.name} runs only on {', '.join(only)} in this suite")
                continue
            if task.protocol == "resonant":
                assert task.resonant is not None
                inj_list: list[int | None] = list(injections) if injections else [task.resonant.default_injection]
            else:
                inj_list = [None]
            for inj in inj_list:
                for seed in seed_list:
                    job = Job(task_name, scorer, source, seed, str(results_dir), inj, dict(own_params),
                              device, sizes_of(task_name), n_boot, own_preset)
                    jobs.append(replace(job, identity=job_identity(job, instance)))
    return jobs


def job_finished(job: Job, overwrite: bool = False) -> bool:
    """Resume rule shared by every executor: done when the result reads back with the job's identity."""
    return resume_state(job, overwrite)[0]


def execute_job(job: Job, log: Callable[[str], None] | None = None, *, isolation: Any = None) -> dict[str, Any]:
    """Run one job and write its scores file and result record; returns the record.

    ``isolation`` (a :class:`benchmark.isolation.Limits`) runs the scorer in a sandboxed child
    process; ``None`` runs it in this process.
    """
    log = log or (lambda msg: None)
    reg = load_registry()
    task: TaskSpec = reg.task(job.task, job.source)
    device = resolve_device(job.device)  # here, on the worker: its GPUs, not the submitter's
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
        scores, extra_scores, scorer_meta, child_timings = score_in_child(job, data, isolation, log=log,
                                                                          device=device)
        timings.update(child_timings)
    else:
        from benchmark.precomputed import prefill_in_process

        workdir.mkdir(parents=True, exist_ok=True)
        prefill_in_process(job, data)  # declared representations, through the shared cache
        scores, extra_scores, scorer_meta = score_job(data, job.scorer, job.params, seed=job.seed,
                                                      device=device, workdir=workdir, log=log,
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
                "injection": job.injection, "device": device, "device_requested": job.device,
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "preset": job.preset},
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
        "identity": dict(job.identity) or job_identity(job),
        "sizes_used": {"train": len(data.train), "test": len(data.test)},
    }
    record["identity_hash"] = identity_hash(record["identity"])
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


class RunInterrupted(Exception):
    """Ctrl-C stopped a run: no further job started, the jobs in flight were abandoned (their
    partial files removed). Carries what finished so the CLI can say it and exit 130."""

    def __init__(self, summary: RunSummary, not_started: Sequence[Job], abandoned: Sequence[Job]) -> None:
        super().__init__("interrupted")
        self.summary, self.not_started, self.abandoned = summary, list(not_started), list(abandoned)

    def report(self) -> str:
        """What finished and what did not, one job per line (the CLI prints it)."""
        s = self.summary
        lines = [f"lhcad run: interrupted - {len(s.done)} finished, {len(s.skipped_existing)} already finished, "
                 f"{len(s.failed)} failed, {len(self.abandoned)} abandoned in flight, "
                 f"{len(self.not_started)} not started"]
        lines += [f"  finished: {job.key}" for job in s.done]
        lines += [f"  failed: {job.key}: {msg}" for job, msg in s.failed]
        lines += [f"  abandoned: {job.key}" for job in self.abandoned]
        lines += [f"  not started: {job.key}" for job in self.not_started]
        lines.append("rerun the same command to resume: finished jobs are kept")
        return "\n".join(lines)


def abandon(job: Job) -> None:
    """Remove what an interrupted job may have left: its work folder, half-written temporary files,
    and a scores file without its result (a result JSON on disk always means a finished job)."""
    folder = job.result_path.parent
    _remove_tree(folder / f".work-seed{job.seed}")
    if folder.is_dir():
        for name in (job.result_path.name, job.scores_path.name):
            for part in folder.glob(f".{name}.*.part"):
                part.unlink(missing_ok=True)
    if not job.result_path.exists():
        job.scores_path.unlink(missing_ok=True)


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
    for n, job in enumerate(bar):
        bar.set_postfix_str(f"{job.task} {job.scorer_label} s{job.seed}", refresh=False)
        finished, why = resume_decision(job, overwrite)
        if finished:
            summary.skipped_existing.append(job)
            continue
        if why:
            bar.write(why)
        try:
            execute_job(job, log=log, isolation=isolation)
            summary.done.append(job)
        except KeyboardInterrupt:
            bar.close()
            abandon(job)
            raise RunInterrupted(summary, jobs[n + 1:], [job]) from None
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
                     skipped=skipped, n_boot=n_boot, preset=preset or suite.preset, task_sizes=suite.task_sizes,
                     scorer_tasks=suite.scorer_tasks)


def suite_scorers(suite: Any) -> list[str]:
    """A suite's scorers: its ``scorers:`` list, else every scorer lhcad itself registers except
    those in its ``exclude:`` list."""
    from benchmark.contract import builtin_scorers

    if suite.scorers:
        return list(suite.scorers)
    return [s for s in builtin_scorers() if s not in set(getattr(suite, "exclude", ()))]


def default_workers() -> int:
    from benchmark.parallel import available_cpus

    return available_cpus()


def scorer_supports(scorer: str, protocol: str) -> bool:
    info = getattr(resolve_scorer(scorer), "info", None)
    return bool(info and protocol in info.protocols)
