"""GPU slots of the local executor: each needs_gpu job runs alone on one GPU (no GPU needed to test)."""
from __future__ import annotations

import json

import pytest

from benchmark.executors import ExecutorOptions, gpu_jobs, run_with, visible_gpus
from benchmark.isolation import Limits
from benchmark.runner import plan_jobs

PROBES = "tests.scorers.probes"


def _gpu_jobs(results, seeds=4):
    return plan_jobs(tasks=["synth/unsup"], scorers=[f"{PROBES}:GpuProbe"], seeds=seeds, source="generated",
                     results_dir=results, n_boot=0)


@pytest.mark.parametrize("workers", [2, 3])
def test_each_gpu_job_gets_its_own_gpu(synth_registry, tmp_path, monkeypatch, workers):
    """Fake two GPUs; four needs_gpu jobs (in-process, so the probe can log what it saw): each saw
    exactly one device, two overlapping jobs never the same one, and never more than two at once
    even with three workers."""
    log = tmp_path / "gpu.jsonl"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.setenv("LHCAD_TEST_GPU_LOG", str(log))
    summary = run_with("local", _gpu_jobs(tmp_path / "r"), ExecutorOptions(workers=workers, progress=False))
    assert len(summary.done) == 4 and not summary.failed, summary.failed
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(runs) == 4
    assert all(r["seen"] in ("0", "1") for r in runs), runs  # exactly one device each
    for i, a in enumerate(runs):
        overlapping = [b for b in runs[i + 1:] if a["start"] < b["stop"] and b["start"] < a["stop"]]
        assert all(b["seen"] != a["seen"] for b in overlapping), runs
    for r in runs:  # at any job's start, at most two jobs are running
        assert sum(1 for b in runs if b["start"] <= r["start"] < b["stop"]) <= 2, runs
    for path in sorted((tmp_path / "r").rglob("seed*.json")):
        rec = json.loads(path.read_text())
        assert rec["job"]["cuda_visible_devices"] in ("0", "1") and rec["job"]["device"] == "cpu"


def test_sandboxed_gpu_job_records_its_slot(synth_registry, tmp_path, monkeypatch):
    """The slot reaches the sandboxed child's environment and the record; a CPU job takes none."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.setenv("LHCAD_TEST_GPU_HOLD_S", "0")
    jobs = _gpu_jobs(tmp_path / "g", seeds=1) + plan_jobs(
        tasks=["synth/unsup"], scorers=[f"{PROBES}:MassScorer"], seeds=1, source="generated",
        results_dir=tmp_path / "c", n_boot=0)
    summary = run_with("local", jobs, ExecutorOptions(workers=1, progress=False, isolation=Limits(time_s=120)))
    assert len(summary.done) == 2, summary.failed
    gpu = json.loads(next((tmp_path / "g").rglob("seed*.json")).read_text())
    cpu = json.loads(next((tmp_path / "c").rglob("seed*.json")).read_text())
    assert gpu["isolation"]["cuda_visible_devices"] == "0" and gpu["job"]["cuda_visible_devices"] == "0"
    assert cpu["isolation"]["cuda_visible_devices"] == "0,1"


def test_visible_gpus_from_the_environment(monkeypatch):
    for value, slots in (("0,1", ["0", "1"]), ("2", ["2"]), ("", []), ("-1", []), ("0,-1,1", ["0"]),
                         ("GPU-abc,GPU-def", ["GPU-abc", "GPU-def"])):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", value)
        assert visible_gpus() == slots, value


def test_needs_gpu_is_read_from_the_scorer(synth_registry, tmp_path):
    jobs = _gpu_jobs(tmp_path, seeds=1) + plan_jobs(tasks=["synth/unsup"], scorers=[f"{PROBES}:MassScorer"],
                                                    seeds=1, source="generated", results_dir=tmp_path, n_boot=0)
    assert gpu_jobs(jobs) == [True, False]
