"""Executor overhead and scaling (pytest-benchmark), beside the plain sequential runner.

Nothing is asserted about speed: each benchmark asserts that every job finished. ``extra_info``:

* ``test_bench_job_overhead``: seconds per job of a scorer that does nothing (``Idle``), for the
  sequential in-process runner (the anchor), the same with the sandboxed child, the local
  executor's 2-process pool with and without the sandbox, and a Dask ``LocalCluster`` (2 workers
  on loopback) with the sandbox.
* ``test_bench_two_worker_speedup``: a CPU-bound suite (``Busy``: fixed CPU seconds per job) on
  the local executor with 1 and 2 workers; ``speedup`` = t(1) / t(2) (ideal 2 on 2 free cores).

``--benchmark-disable`` (the CI default) runs a small version once; ``--benchmark-enable`` runs
20 jobs (the issue's size).
"""
from __future__ import annotations

import json
import time

import pytest

from benchmark.executors import ExecutorOptions, run_with
from benchmark.isolation import Limits
from benchmark.runner import plan_jobs, run_jobs

PROBES = "tests.scorers.probes"
SANDBOX = Limits(time_s=600, memory_mb=8000)


def _jobs(scorer: str, root, n: int):
    return plan_jobs(tasks=["synth/unsup"], scorers=[f"{PROBES}:{scorer}"], seeds=n, source="generated",
                     results_dir=root, n_boot=0)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    summary = fn()
    elapsed = time.perf_counter() - t0
    assert not summary.failed and summary.done, summary
    return elapsed


def _report(benchmark, info: dict) -> None:
    benchmark.extra_info.update(info)
    print(json.dumps(info))


def test_bench_job_overhead(benchmark, synth_registry, tmp_path):
    n = 4 if getattr(benchmark, "disabled", False) else 20
    per_job = {
        "sequential_in_process": _timed(lambda: run_jobs(_jobs("Idle", tmp_path / "seq", n), progress=False)) / n,
        "sequential_sandboxed": _timed(lambda: run_jobs(
            _jobs("Idle", tmp_path / "sand", n), progress=False, isolation=SANDBOX)) / n,
        "local_2_workers_in_process": _timed(lambda: run_with(
            "local", _jobs("Idle", tmp_path / "l2p", n), ExecutorOptions(workers=2, progress=False))) / n,
        "local_2_workers_sandboxed": _timed(lambda: run_with(
            "local", _jobs("Idle", tmp_path / "l2", n),
            ExecutorOptions(workers=2, progress=False, isolation=SANDBOX))) / n,
    }
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        per_job["dask_2_workers_sandboxed"] = _timed(lambda: run_with(
            "dask", _jobs("Idle", tmp_path / "dask", n),
            ExecutorOptions(workers=2, progress=False, isolation=SANDBOX),
            scheduler=cluster.scheduler_address)) / n
    benchmark.pedantic(lambda: run_jobs(_jobs("Idle", tmp_path / "bench", 1), progress=False, overwrite=True),
                       rounds=1, iterations=1)
    anchor = per_job["sequential_in_process"]
    _report(benchmark, {"jobs": n, "seconds_per_job": {k: round(v, 4) for k, v in per_job.items()},
                        "ratio_to_sequential": {k: round(v / anchor, 2) for k, v in per_job.items()}})


def test_bench_two_worker_speedup(benchmark, synth_registry, tmp_path, monkeypatch):
    small = getattr(benchmark, "disabled", False)
    n = 4 if small else 20
    busy_s = 0.2 if small else 1.0
    monkeypatch.setenv("LHCAD_TEST_BUSY_S", str(busy_s))
    times: dict[int, float] = {}

    def suite(workers: int) -> None:
        times[workers] = _timed(lambda: run_with(
            "local", _jobs("Busy", tmp_path / f"w{workers}", n), ExecutorOptions(workers=workers, progress=False)))

    suite(1)
    benchmark.pedantic(suite, args=(2,), rounds=1, iterations=1)  # the benchmarked run: 2 workers
    _report(benchmark, {"jobs": n, "scorer_cpu_seconds_per_job": busy_s,
                        "seconds_1_worker": round(times[1], 2), "seconds_2_workers": round(times[2], 2),
                        "speedup": round(times[1] / times[2], 2)})
