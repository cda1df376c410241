"""The ``local`` executor: a pool of worker processes on this machine (``--workers N``)."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from benchmark.executors import (
    ExecutorOptions,
    Progress,
    gpu_jobs,
    lost_status,
    pending,
    record_status,
    run_one,
    visible_gpus,
)
from benchmark.isolation import die_with_parent, sweep_stale_job_dirs
from benchmark.runner import Job, RunInterrupted, RunSummary, abandon


#: Thread-count variables a pool worker sets for its jobs (unless the user set them).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def threads_per_worker(workers: int) -> int:
    """The CPUs of this machine shared among the workers: torch/BLAS threads beyond a worker's share
    fight the other workers' (small models trained 7-10x slower oversubscribed here)."""
    from benchmark.parallel import available_cpus

    return max(1, available_cpus() // max(1, workers))


def _worker_init(threads: int = 0) -> None:
    """Pool workers die with the client and ignore Ctrl-C: the client alone decides what stops
    (a terminal's Ctrl-C reaches the whole process group) and ends the workers itself. Each worker
    caps its jobs' math threads at its share of the CPUs (sandboxed jobs inherit the variables)."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if threads > 0:
        for name in THREAD_VARIABLES:
            os.environ.setdefault(name, str(threads))


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel every queued job and end the workers now (the jobs they hold are abandoned)."""
    workers = list((getattr(pool, "_processes", None) or {}).values())  # gone from the pool after shutdown
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in workers:
        if proc.is_alive():
            proc.terminate()
    for proc in workers:
        proc.join(timeout=10)


class LocalExecutor:
    """Runs jobs in ``workers`` processes (spawned, so no lock or thread is inherited).

    GPU slots: one per visible GPU (:func:`~benchmark.executors.visible_gpus`). A job whose scorer
    ``needs_gpu`` starts only when a slot is free and runs with ``CUDA_VISIBLE_DEVICES`` set to
    that slot alone, so concurrent GPU jobs never share a device; CPU jobs take no slot. Without
    a visible GPU, ``needs_gpu`` jobs run like the others (their device resolves to the CPU).

    A pool whose worker dies (killed, out of memory) is broken for every job in flight: those jobs
    are retried in a fresh pool up to ``retries`` times each, then recorded as lost.
    """

    def __init__(self, options: ExecutorOptions) -> None:
        self.options = options

    def run(self, jobs: list[Job]) -> RunSummary:
        opts = self.options
        workers = max(1, opts.workers)
        summary = RunSummary()
        progress = Progress(len(jobs), opts.progress, f"lhcad run [local x{opts.workers}]")
        sweep_stale_job_dirs()  # folders of an earlier, SIGKILLed run
        todo = pending(jobs, opts.overwrite, summary, progress)
        gpus = visible_gpus()
        needs_gpu = gpu_jobs(todo) if gpus else [False] * len(todo)
        free = list(gpus)
        attempts: dict[int, int] = {i: 0 for i in range(len(todo))}
        queue = list(range(len(todo)))
        pool: ProcessPoolExecutor | None = None
        running: dict[Future, tuple[int, str | None]] = {}
        try:
            while queue:
                # a window of `workers` jobs: a job is submitted only when a worker is free, so
                # Ctrl-C finds every submitted job running and every other one not started
                pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                           initializer=_worker_init, initargs=(threads_per_worker(workers),))
                running = {}
                broken: list[int] = []

                def start_ready() -> None:
                    """Submit jobs while a worker is idle; a GPU job also needs a free slot."""
                    while len(running) < workers and not broken:
                        pick = next((i for i in queue if not needs_gpu[i] or free), None)
                        if pick is None:
                            return
                        queue.remove(pick)
                        slot = free.pop(0) if needs_gpu[pick] else None
                        attempts[pick] += 1
                        try:
                            running[pool.submit(run_one, todo[pick], opts.overwrite, opts.isolation, slot)] = \
                                (pick, slot)
                        except BrokenProcessPool:
                            attempts[pick] -= 1  # it never started
                            broken.append(pick)
                            if slot is not None:
                                free.append(slot)
                            return
                        progress.started()

                start_ready()
                while running:
                    done, _ = wait(set(running), return_when=FIRST_COMPLETED)
                    for fut in done:
                        i, slot = running.pop(fut)
                        if slot is not None:
                            free.append(slot)
                        try:
                            status: dict[str, Any] = fut.result()
                        except BrokenProcessPool as exc:
                            progress.running = max(0, progress.running - 1)
                            if attempts[i] <= opts.retries:
                                broken.append(i)
                                continue
                            status = lost_status(todo[i], attempts[i], str(exc))
                            progress.started()
                        status["attempts"] = attempts[i]
                        record_status(summary, todo[i], status)
                        progress.finished(status)
                        if status["status"] == "failed" and opts.fail_fast:
                            raise RuntimeError(f"job {status['key']} failed: {status.get('error')}\n"
                                               f"{status.get('traceback', '')}")
                    start_ready()
                queue = broken + queue  # a broken pool: retry its jobs first in a fresh one
                pool.shutdown(wait=True)
                pool = None
        except KeyboardInterrupt:
            in_flight = [todo[i] for i, _ in running.values()]
            not_started = [todo[i] for i in queue]
            if pool is not None:
                _stop_pool(pool)
            for job in in_flight:
                abandon(job)
            raise RunInterrupted(summary, not_started, in_flight) from None
        finally:
            if pool is not None:  # e.g. --fail-fast raised: no worker outlives the run
                pool.shutdown(wait=False, cancel_futures=True)
            progress.close()
        return summary
