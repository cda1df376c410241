"""The ``local`` executor: a pool of worker processes on this machine (``--workers N``)."""
from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from benchmark.executors import ExecutorOptions, Progress, lost_status, pending, record_status, run_one
from benchmark.isolation import die_with_parent
from benchmark.runner import Job, RunSummary


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
        try:
            while queue:
                with ProcessPoolExecutor(max_workers=max(1, opts.workers), mp_context=mp.get_context("spawn"),
                                         initializer=die_with_parent) as pool:
                    futures: dict[Future, int] = {}
                    for i in queue:
                        attempts[i] += 1
                        futures[pool.submit(run_one, todo[i], opts.overwrite, opts.isolation)] = i
                    queue = []
                    progress.started(min(len(futures), opts.workers))
                    remaining = set(futures)
                    while remaining:
                        done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                        for fut in done:
                            i = futures[fut]
                            try:
                                status: dict[str, Any] = fut.result()
                            except BrokenProcessPool as exc:
                                if attempts[i] <= opts.retries:
                                    queue.append(i)
                                    progress.running = max(0, progress.running - 1)
                                    continue
                                status = lost_status(todo[i], attempts[i], str(exc))
                            status["attempts"] = attempts[i]
                            record_status(summary, todo[i], status)
                            progress.finished(status)
                            if remaining and progress.running < opts.workers:
                                progress.started()
                            if status["status"] == "failed" and opts.fail_fast:
                                raise RuntimeError(f"job {status['key']} failed: {status.get('error')}\n"
                                                   f"{status.get('traceback', '')}")
        finally:
            progress.close()
        return summary
