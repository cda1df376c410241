"""The ``dask`` executor: jobs as tasks on ``dask.distributed`` (an existing scheduler or a LocalCluster)."""
from __future__ import annotations

from typing import Any

from benchmark.executors import ExecutorOptions, Progress, gpu_jobs, lost_status, pending, record_status, run_one
from benchmark.runner import Job, RunInterrupted, RunSummary, abandon


def _task_key(job: Job) -> str:
    import hashlib

    return "lhcad-" + hashlib.sha1(str(job.key).encode()).hexdigest()[:16]


class DaskExecutor:
    """Submit every pending job as one task; resume, retries and failures as for every executor.

    GPUs: where the workers advertise a ``GPU`` resource (batch clusters with ``gpus:``, or a
    ``dask worker --resources GPU=1`` started by hand), each ``needs_gpu`` job asks for ``GPU=1``,
    so a worker runs at most as many GPU jobs at once as it has GPUs. A job does not get its own
    ``CUDA_VISIBLE_DEVICES`` here (a Dask worker runs tasks in threads of one process, whose
    environment they share): give each worker its own GPU (one GPU per batch job, or
    ``CUDA_VISIBLE_DEVICES`` per worker you start). Workers that advertise no GPU get every job.

    A task whose worker dies is rescheduled by the scheduler on another worker; after ``retries``
    such losses (``distributed.scheduler.allowed-failures``) the scheduler gives up with
    ``KilledWorker`` and the job is recorded as ``worker_lost``. Jobs return status dicts only, so
    the client holds no scores.
    """

    def __init__(self, options: ExecutorOptions, *, scheduler: str | None = None, cluster: Any = None) -> None:
        self.options = options
        self.scheduler = scheduler
        self.cluster = cluster  # a dask-jobqueue cluster (batch executors) or None

    def _client(self) -> tuple[Any, list[Any]]:
        import dask
        from distributed import Client, LocalCluster

        dask.config.set({"distributed.scheduler.allowed-failures": self.options.retries})
        if self.cluster is not None:
            return Client(self.cluster), []
        if self.scheduler:
            return Client(self.scheduler), []
        cluster = LocalCluster(n_workers=max(1, self.options.workers), threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        return Client(cluster), [cluster]

    def describe(self) -> str:
        return "dask " + (self.scheduler or ("jobqueue" if self.cluster is not None else "LocalCluster"))

    def run(self, jobs: list[Job]) -> RunSummary:
        opts = self.options
        summary = RunSummary()
        progress = Progress(len(jobs), opts.progress, f"lhcad run [{self.describe()}]")
        todo = pending(jobs, opts.overwrite, summary, progress)
        if not todo:
            progress.close()
            return summary
        client, owned = self._client()
        try:
            by_key = {}
            futures = []
            gpu_workers = any("GPU" in (w.get("resources") or {})
                              for w in client.scheduler_info().get("workers", {}).values())
            needs_gpu = gpu_jobs(todo) if gpu_workers else [False] * len(todo)
            for job, gpu in zip(todo, needs_gpu):
                fut = client.submit(run_one, job, opts.overwrite, opts.isolation, key=_task_key(job), pure=False,
                                    resources={"GPU": 1} if gpu else None)
                by_key[fut.key] = job
                futures.append(fut)
            n_workers = max(1, len(client.scheduler_info().get("workers", {})) or opts.workers)
            progress.started(min(n_workers, len(futures)))
            finished: set[str] = set()
            try:
                self._collect(client, futures, by_key, finished, summary, progress, n_workers)
            except KeyboardInterrupt:
                # Ctrl-C: nothing new starts (every unfinished task cancelled), tasks on workers abandoned
                try:
                    running = {k for keys in client.processing().values() for k in keys}
                except Exception:  # scheduler gone: count every unfinished task as in flight
                    running = set(by_key)
                client.cancel(futures)
                left = [k for k in by_key if k not in finished]
                for key in left:
                    abandon(by_key[key])
                raise RunInterrupted(summary, [by_key[k] for k in left if k not in running],
                                     [by_key[k] for k in left if k in running]) from None
        finally:
            progress.close()
            client.close()
            for cluster in owned:
                cluster.close()
        return summary

    def _collect(self, client: Any, futures: list[Any], by_key: dict[str, Job], finished: set[str],
                 summary: RunSummary, progress: Progress, n_workers: int) -> None:
        """Fold each finished task into the summary as it completes (``finished`` tracks their keys)."""
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        opts = self.options
        for fut in as_completed(futures):
            job = by_key[fut.key]
            try:
                status: dict[str, Any] = fut.result()
            except KilledWorker as exc:
                status = lost_status(job, opts.retries + 1, f"KilledWorker: {exc}")
            except Exception as exc:  # the task itself could not run (unpicklable, import error)
                status = {"key": str(job.key), "status": "failed", "cause": "error",
                          "error": f"{type(exc).__name__}: {exc}"}
            fut.release()
            finished.add(fut.key)
            record_status(summary, job, status)
            progress.finished(status)
            outstanding = sum(1 for f in futures if f.status == "pending")
            progress.running = min(n_workers, outstanding)
            if status["status"] == "failed" and opts.fail_fast:
                client.cancel(futures)
                raise RuntimeError(f"job {status['key']} failed: {status.get('error')}\n{status.get('traceback', '')}")
