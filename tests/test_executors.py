"""Local process pool and a real Dask LocalCluster run the same jobs to the same results; worker loss is retried."""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from benchmark.executors import ExecutorOptions, run_with
from benchmark.isolation import Limits
from benchmark.runner import jobs_for_suite, run_jobs

PROBES = "tests.scorers.probes"
MIS = "tests.scorers.misbehaving"


def _metrics(root: Path) -> dict[str, dict]:
    out = {}
    for p in sorted(root.rglob("seed*.json")):
        rec = json.loads(p.read_text())
        out[str(p.relative_to(root))] = rec["metrics"]
    return out


def _suite(root: Path, scorer=f"{PROBES}:MassScorer"):
    return jobs_for_suite("tiny", [scorer], results_dir=root, n_boot=0)


def test_local_pool_equals_sequential_and_resumes(synth_registry, tmp_path):
    seq = run_jobs(_suite(tmp_path / "seq"), progress=False)
    assert len(seq.done) == 4
    opts = ExecutorOptions(workers=2, progress=False, isolation=None)
    pool = run_with("local", _suite(tmp_path / "pool"), opts)
    assert len(pool.done) == 4 and not pool.failed
    assert _metrics(tmp_path / "seq") == _metrics(tmp_path / "pool")
    again = run_with("local", _suite(tmp_path / "pool"), opts)
    assert len(again.skipped_existing) == 4 and not again.done


def test_local_pool_isolated_failure_does_not_stop_the_run(synth_registry, tmp_path):
    jobs = _suite(tmp_path) + jobs_for_suite("tiny", [f"{MIS}:NaNs"], results_dir=tmp_path, seeds=1, n_boot=0)
    s = run_with("local", jobs, ExecutorOptions(workers=2, progress=False, isolation=Limits(time_s=600, memory_mb=8000)))
    assert len(s.done) == 4 and len(s.failed) == 2
    fails = [json.loads(x) for x in (tmp_path / "failures.jsonl").read_text().splitlines()]
    assert {f["cause"] for f in fails} == {"bad_output"}


@pytest.fixture
def local_cluster(synth_registry):
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    yield cluster
    cluster.close()


def test_dask_local_cluster_equals_local_executor(local_cluster, tmp_path):
    opts = ExecutorOptions(workers=2, progress=False, isolation=Limits(time_s=600, memory_mb=8000))
    d = run_with("dask", _suite(tmp_path / "dask"), opts, scheduler=local_cluster.scheduler_address)
    assert len(d.done) == 4 and not d.failed
    local = run_with("local", _suite(tmp_path / "local"), ExecutorOptions(workers=1, progress=False))
    assert _metrics(tmp_path / "dask") == _metrics(tmp_path / "local")
    again = run_with("dask", _suite(tmp_path / "dask"), opts, scheduler=local_cluster.scheduler_address)
    assert len(again.skipped_existing) == 4


def test_dask_worker_killed_mid_run_is_retried(local_cluster, tmp_path, monkeypatch):
    from distributed import Client

    monkeypatch.setenv("LHCAD_TEST_SLEEP", "2.5")
    jobs = _suite(tmp_path, scorer=f"{MIS}:SlowMass")
    client = Client(local_cluster.scheduler_address)
    pids = client.run(os.getpid)
    killed = []

    def killer():
        deadline = time.time() + 60
        while time.time() < deadline:  # kill a worker while it is busy with a job
            busy = [w for w, tasks in client.processing().items() if tasks]
            if busy:
                time.sleep(0.5)
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])
                return
            time.sleep(0.1)

    t = threading.Thread(target=killer)
    t.start()
    s = run_with("dask", jobs, ExecutorOptions(workers=2, retries=2, progress=False, isolation=None),
                 scheduler=local_cluster.scheduler_address)
    t.join()
    client.close()
    assert killed, "no worker was busy to kill"
    assert len(s.done) == 4 and not s.failed, s.failed
    results = sorted(tmp_path.rglob("seed*.json"))
    assert len(results) == 4 and len(sorted(tmp_path.rglob("*.scores.h5"))) == 4
    assert not (tmp_path / "failures.jsonl").exists()
