"""The sandbox's limits and filesystem: memory really used, an allowlisted root, a fresh test order,
declared representations computed once, devices resolved on the worker, temp folders cleaned up."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from benchmark.isolation import JOB_DIR_PREFIX, Limits, ScorerFailure, job_dir_prefix, sweep_stale_job_dirs
from benchmark.results import read_scores
from benchmark.runner import execute_job, plan_jobs

PROBES = "tests.scorers.probes"
MIS = "tests.scorers.misbehaving"


def _job(scorer, results, seed=0, task="synth/unsup", **kw):
    return plan_jobs(tasks=[task], scorers=[scorer], seeds=[seed], source="generated", results_dir=results,
                     n_boot=0, **kw)[0]


# -- 1. memory really used ---------------------------------------------------------------------------
def test_reserved_address_space_is_not_counted(synth_registry, tmp_path):
    """64 GB of PROT_NONE address space (what CUDA reserves at start) runs under a 2 GB limit."""
    record = execute_job(_job(f"{PROBES}:ReservesAddressSpace", tmp_path), isolation=Limits(time_s=120, memory_mb=2048))
    iso = record["isolation"]
    assert record["metrics"]["auc"] > 0.9
    assert iso["memory_limit_mb"] == 2048 and iso["memory_mechanism"] in ("cgroup-v2 memory.max", "rss-watchdog")


def test_memory_really_used_past_the_limit_is_cause_memory(synth_registry, tmp_path):
    job = _job(f"{MIS}:MemoryHog", tmp_path)
    with pytest.raises(ScorerFailure) as info:
        execute_job(job, isolation=Limits(time_s=120, memory_mb=1500))
    exc = info.value
    assert exc.cause == "memory", str(exc)
    assert "limit of 1500 MB" in exc.detail and "--memory-limit" in exc.detail and "memory_mb" in exc.detail


# -- 4. allowlist and a fresh test order ---------------------------------------------------------------
def test_labelled_scores_of_an_earlier_run_cannot_be_used(synth_registry, tmp_path):
    """A real labelled scores file planted beside the results, in /var/tmp and in $HOME: a cheating
    scorer that searches for it stays at chance (1,200 test events)."""
    sizes = {"train": 600, "test": 1200}
    first = _job(f"{PROBES}:MassScorer", tmp_path / "results", sizes=sizes)
    execute_job(first)
    tag = uuid.uuid4().hex[:8]
    planted = [tmp_path / "results-old" / "x.scores.h5", Path("/var/tmp") / f"lhcad-{tag}" / "x.scores.h5",
               Path.home() / f"lhcad-{tag}" / "x.scores.h5"]
    try:
        for path in planted:
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(first.scores_path, path)
        assert len(read_scores(planted[0])["is_signal"]) == 1200
        cheat = _job(f"{PROBES}:ScoresFileCheat", tmp_path / "results", sizes=sizes)
        record = execute_job(cheat, isolation=Limits(time_s=300, memory_mb=4000))
        assert abs(record["metrics"]["auc"] - 0.5) < 0.1, record["metrics"]["auc"]
        assert record["isolation"].get("filesystem") == "allowlist" or "mount" not in record["isolation"]["namespaces"]
    finally:
        for path in planted[1:]:
            shutil.rmtree(path.parent, ignore_errors=True)


@pytest.mark.parametrize("isolated", [False, True])
def test_each_execution_shows_a_fresh_test_order(synth_registry, tmp_path, isolated):
    """Same seed twice: the order the scorer sees differs; per-event deterministic scores do not."""
    limits = Limits(time_s=120, memory_mb=4000) if isolated else None
    seen = []
    for k in range(2):
        job = _job(f"{PROBES}:Position", tmp_path / f"p{k}")
        execute_job(job, isolation=limits)
        seen.append(read_scores(job.scores_path)["score"])
    assert not np.array_equal(seen[0], seen[1])
    same = []
    for k in range(2):
        job = _job(f"{PROBES}:MassScorer", tmp_path / f"m{k}")
        execute_job(job, isolation=limits)
        same.append(read_scores(job.scores_path)["score"])
    np.testing.assert_array_equal(same[0], same[1])


# -- 3. representations computed once ------------------------------------------------------------------
@pytest.mark.parametrize("isolated", [False, True])
def test_declared_representations_are_precomputed_and_shared(synth_registry, tmp_path, isolated, _isolated_cache):
    limits = Limits(time_s=120, memory_mb=4000) if isolated else None
    shared = _isolated_cache / "features" / "jet_observables"
    execute_job(_job(f"{PROBES}:DeclaresFeatures", tmp_path / "a", seed=0), isolation=limits)  # raises unless prefilled
    entries = sorted(shared.glob("*.npy"))
    assert len(entries) == 2  # one per class file (bkg, sig), whole classes
    meta = json.loads(entries[0].with_suffix(".json").read_text())
    assert meta["fingerprint"].startswith("class:") and meta["fingerprint"].endswith(":rows:all")
    mtimes = [p.stat().st_mtime_ns for p in entries]
    execute_job(_job(f"{PROBES}:DeclaresFeatures", tmp_path / "b", seed=1), isolation=limits)
    assert sorted(shared.glob("*.npy")) == entries and [p.stat().st_mtime_ns for p in entries] == mtimes


def test_hlf_gmm_declares_what_tabular_features_uses():
    from baselines.common import tabular_features_needed
    from baselines.hlf_gmm import HighLevelGMM

    assert HighLevelGMM().features_needed(frozenset({"constituents", "jets"})) == \
        [("jet_observables", {}), ("nsubjettiness", {})]
    assert tabular_features_needed({"jets", "mjj"}) == [("highlevel", {})]
    assert tabular_features_needed({"objects", "met"}) == []


# -- 2. devices resolved on the worker ------------------------------------------------------------------
def test_device_resolved_on_the_worker(synth_registry, tmp_path):
    import torch

    job = _job(f"{PROBES}:MassScorer", tmp_path, device="auto")
    assert job.device == "auto"
    record = execute_job(job)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert record["job"]["device"] == expected and record["job"]["device_requested"] == "auto"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device.*--device auto or cpu"):
            execute_job(_job(f"{PROBES}:MassScorer", tmp_path / "c", device="cuda"))
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        execute_job(_job(f"{PROBES}:MassScorer", tmp_path / "g", device="gpu"))


# -- 5. temporary job folders ------------------------------------------------------------------------
@pytest.fixture
def job_tmp(tmp_path, monkeypatch):
    """A temp root of its own, so the test sees only its jobs' folders."""
    root = tmp_path / "tmproot"
    root.mkdir()
    monkeypatch.setenv("TMPDIR", str(root))
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def _job_dirs(root: Path) -> list[Path]:
    return sorted(root.glob(f"{JOB_DIR_PREFIX}*"))


@pytest.mark.parametrize("scorer, limits", [
    (f"{PROBES}:MassScorer", dict(time_s=120)),
    (f"{MIS}:NaNs", dict(time_s=120)),
    (f"{MIS}:Sleeper", dict(time_s=3)),
])
def test_job_folder_removed_after_success_failure_timeout(synth_registry, tmp_path, job_tmp, scorer, limits):
    try:
        execute_job(_job(scorer, tmp_path / "r"), isolation=Limits(memory_mb=4000, **limits))
    except ScorerFailure:
        pass
    assert _job_dirs(job_tmp) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_job_folder_removed_when_the_parent_is_interrupted(synth_registry, tmp_path, job_tmp, sig):
    # Ctrl-C acts as in a terminal even where this test process was started with SIGINT ignored (an
    # ignored disposition is inherited across exec, and Python then installs no KeyboardInterrupt)
    script = (f"import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
              f"from benchmark.isolation import Limits\nfrom benchmark.runner import execute_job, plan_jobs\n"
              f"job = plan_jobs(tasks=['synth/unsup'], scorers=['{MIS}:Sleeper'], seeds=1, source='generated', "
              f"results_dir={str(tmp_path / 'r')!r}, n_boot=0)[0]\n"
              f"execute_job(job, isolation=Limits(time_s=300, memory_mb=4000))\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[1])
    deadline = time.time() + 120
    # signal only once the scorer is asleep in its child (not while the parent is still starting it)
    while time.time() < deadline and not any(b"asleep" in _read(d / "log.txt") for d in _job_dirs(job_tmp)):
        time.sleep(0.2)
    folders = _job_dirs(job_tmp)
    assert folders and folders[0].name.startswith(job_dir_prefix(proc.pid))
    assert b"asleep" in _read(folders[0] / "log.txt")
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert _job_dirs(job_tmp) == []


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def test_folders_of_a_killed_run_are_swept(job_tmp):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = job_tmp / f"{job_dir_prefix(dead.pid)}abc"
    live = job_tmp / f"{job_dir_prefix(os.getpid())}def"
    other = job_tmp / f"{JOB_DIR_PREFIX}xyz"  # not ours to judge: no pid in the name
    elsewhere = job_tmp / f"{JOB_DIR_PREFIX}{dead.pid}-00000000-ghi"  # another host's (a shared /tmp)
    for folder in (stale, live, other, elsewhere):
        (folder / "in").mkdir(parents=True)
        (folder / "in" / "test.h5").write_bytes(b"events")
    assert sweep_stale_job_dirs() == [stale]
    assert not stale.exists() and live.exists() and other.exists() and elsewhere.exists()


@pytest.mark.gpu
def test_cuda_scorer_runs_in_the_default_sandbox(synth_registry, tmp_path):
    """CUDA under the allowlisted root and the memory limit: device nodes, driver files and the
    address space CUDA reserves must all be there (runs only where a GPU is)."""
    record = execute_job(_job(f"{PROBES}:CudaProbe", tmp_path, device="auto"), isolation=Limits(time_s=300))
    assert record["job"]["device"] == "cuda" and record["job"]["device_requested"] == "auto"
    assert record["isolation"]["memory_limit_mb"] and record["metrics"]["auc"] > 0.9
