"""The ``local`` executor: a pool of worker processes on this machine (``--workers N``)."""
from __future__ import annotations

import multiprocessing as mp
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from benchmark.executors import ExecutorOptions, Progress, lost_status, pending, record_status, run_one
from benchmark.isolation import die_with_parent
from benchmark.runner import Job, RunInterrupted, RunSummary, abandon


def _worker_init() -> None:
    """Pool workers die with the client and ignore Ctrl-C: the client alone decides what stops
    (a terminal's Ctrl-C reaches the whole process group) and ends the workers itself."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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

    A pool whose worker dies (killed, out of memory) is broken for every job in flight: those jobs
    are retried in a fresh pool up to ``retries`` times each, then recorded as lost.
    """

    def __init__(self, options: ExecutorOptions) -> None:
        self.options = options

    def run(self, jobs: list[Job]) -> RunSummary:
        opts = self.options
        summary = RunSummary()
        progress = Progress(len(jobs), opts.progress, f"lhcad run [local x{opts.workers}]")
        todo = pending(jobs, opts.overwrite, summary, progress)
        attempts: dict[int, int] = {i: 0 for i in range(len(todo))}
        queue = list(range(len(todo)))
        pool: ProcessPoolExecutor | None = None
        futures: dict[Future, int] = {}
        try:
            while queue:
                pool = ProcessPoolExecutor(max_workers=opts.workers, mp_context=mp.get_context("spawn"),
                                           initializer=_worker_init)
                futures, retry, broken = {}, [], False
                while queue or futures:
                    # a window of `workers` jobs: a job is submitted only when a worker is free, so
                    # Ctrl-C finds every submitted job running and every other one not started
                    while queue and not broken and len(futures) < opts.workers:
                        i = queue.pop(0)
                        attempts[i] += 1
                        futures[pool.submit(run_one, todo[i], opts.overwrite, opts.isolation)] = i
                        progress.started()
                    if not futures:
                        break
                    done, _ = wait(set(futures), return_when=FIRST_COMPLETED)
                    for fut in done:
                        i = futures.pop(fut)
                        try:
                            status: dict[str, Any] = fut.result()
                        except BrokenProcessPool as exc:
                            broken = True
                            if attempts[i] <= opts.retries:
                                retry.append(i)
                                progress.running = max(0, progress.running - 1)
                                continue
                            status = lost_status(todo[i], attempts[i], str(exc))
                        status["attempts"] = attempts[i]
                        record_status(summary, todo[i], status)
                        progress.finished(status)
                        if status["status"] == "failed" and opts.fail_fast:
                            raise RuntimeError(f"job {status['key']} failed: {status.get('error')}\n"
                                               f"{status.get('traceback', '')}")
                queue = retry + queue  # a broken pool: its lost jobs first, in a fresh pool
                pool.shutdown(wait=True)
                pool = None
        except KeyboardInterrupt:
            in_flight = [todo[i] for i in futures.values()]
            not_started = [todo[i] for i in queue]
            if pool is not None:
                _stop_pool(pool)
            for job in in_flight:
                abandon(job)
            raise RunInterrupted(summary, not_started, in_flight) from None
        finally:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            progress.close()
        return summary
