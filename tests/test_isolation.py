"""Scorers run sandboxed in a child process: limits, crashes, bad output, network and the hidden cache."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmark.isolation import Limits, ScorerFailure
from benchmark.runner import execute_job, plan_jobs, run_jobs

MIS = "tests.scorers.misbehaving"
PROBES = "tests.scorers.probes"


def _jobs(scorer, results, seeds=1, task="synth/unsup"):
    return plan_jobs(tasks=[task], scorers=[scorer], seeds=seeds, source="generated", results_dir=results, n_boot=0)


def test_isolated_result_equals_in_process(synth_registry, tmp_path):
    job = _jobs(f"{PROBES}:MassScorer", tmp_path / "a")[0]
    iso = execute_job(job, isolation=Limits(time_s=120, memory_mb=4000))
    job2 = _jobs(f"{PROBES}:MassScorer", tmp_path / "b")[0]
    plain = execute_job(job2)
    assert iso["metrics"] == plain["metrics"]
    assert iso["isolation"]["mode"] == "child" and plain["isolation"]["mode"] == "in-process"
    assert "audit-hook" in iso["isolation"]["network"]
    # resonant: the sideband view travels to the child too
    job3 = _jobs(f"{PROBES}:MassScorer", tmp_path / "c", task="synthres/rnd")[0]
    r = execute_job(job3, isolation=Limits(time_s=120, memory_mb=4000))
    assert r["metrics"] == execute_job(_jobs(f"{PROBES}:MassScorer", tmp_path / "d", task="synthres/rnd")[0])["metrics"]


@pytest.mark.parametrize("scorer, cause, text", [
    ("Sleeper", "timeout", "wall-time limit of 4 s"),
    ("MemoryHog", "memory", "memory"),
    ("Aborts", "crash", "SIGABRT"),
    ("NaNs", "bad_output", "non-finite"),
    ("Networker", "network", "network"),
])
def test_misbehaving_scorer_fails_with_named_cause(synth_registry, tmp_path, scorer, cause, text):
    job = _jobs(f"{MIS}:{scorer}", tmp_path)[0]
    with pytest.raises(ScorerFailure) as info:
        execute_job(job, isolation=Limits(time_s=4 if scorer == "Sleeper" else 60, memory_mb=2500))
    assert info.value.cause == cause, str(info.value)
    assert text in str(info.value)
    assert not job.result_path.exists()
    if scorer == "Aborts":
        assert "about to abort" in info.value.log_tail


def test_cache_snoop_finds_nothing(synth_registry, tmp_path):
    job = _jobs(f"{MIS}:CacheSnoop", tmp_path)[0]
    try:
        record = execute_job(job, isolation=Limits(time_s=60, memory_mb=4000))  # raises if it found files
    except ScorerFailure as exc:
        pytest.fail(f"the sandboxed scorer found data files: {exc.detail[:2000]}")
    iso = record["isolation"]
    if iso.get("filesystem") != "allowlist":
        pytest.skip(f"no mount namespace here ({iso.get('notes')}); the cache is only kept out of the environment")
    # under /tmp the child may see only its own job folder and what it runs from (a checkout or
    # virtualenv that lives under /tmp, as in a CI clone there), never the test's data or results
    needed = [str(Path(__file__).resolve().parents[1]), sys.prefix, sys.base_prefix]
    assert iso["mode"] == "child"
    stray = [p for p in iso["allowlist"] if p.startswith("/tmp/") and "lhcad-job-" not in p
             and not any(p == root or p.startswith(root.rstrip("/") + "/") for root in needed)]
    assert not stray and not any(str(tmp_path) in p for p in iso["allowlist"]), stray


def test_failures_recorded_and_other_jobs_intact(synth_registry, tmp_path):
    jobs = _jobs(f"{MIS}:Aborts", tmp_path) + _jobs(f"{PROBES}:MassScorer", tmp_path, seeds=2)
    summary = run_jobs(jobs, progress=False, isolation=Limits(time_s=60, memory_mb=4000))
    assert len(summary.done) == 2 and len(summary.failed) == 1
    lines = [json.loads(x) for x in (tmp_path / "failures.jsonl").read_text().splitlines()]
    assert lines[0]["cause"] == "crash" and "about to abort" in lines[0]["log_tail"]
    for job in jobs[1:]:
        assert json.loads(job.result_path.read_text())["metrics"]["auc"] > 0.5


def test_torch_imported_late_by_the_scorer_is_seeded(synth_registry, tmp_path):
    """Seeds 0, 0, 1: the sandboxed child seeds torch when the scorer first imports it (and the
    per-event deterministic scores do not depend on the fresh order the test events arrive in)."""
    from benchmark.results import read_scores

    scores = []
    for k, seed in enumerate((0, 0, 1)):
        job = plan_jobs(tasks=["synth/unsup"], scorers=[f"{PROBES}:LazyTorchScaled"], seeds=[seed],
                        source="generated", results_dir=tmp_path / str(k), n_boot=0)[0]
        execute_job(job, isolation=Limits(time_s=300, memory_mb=8000))
        scores.append(read_scores(job.scores_path)["score"])
    np.testing.assert_array_equal(scores[0], scores[1])
    assert not np.array_equal(scores[0], scores[2])


def test_scorer_file_under_the_temp_root_stays_visible(synth_registry, tmp_path):
    """A user's scorer file (or a checkout, or a virtualenv) under /tmp: the temp root is still
    hidden, with just what the scorer's process needs bound back into it."""
    import shutil

    (tmp_path / "user").mkdir()
    scorer_file = tmp_path / "user" / "my_scorer.py"
    shutil.copy(Path(__file__).parent / "scorers" / "probes.py", scorer_file)
    job = _jobs(f"{scorer_file}:MassScorer", tmp_path / "res")[0]
    record = execute_job(job, isolation=Limits(time_s=300, memory_mb=8000))
    assert record["metrics"]["auc"] > 0.9
    iso = record["isolation"]
    if "mount" in iso["namespaces"]:
        assert iso["filesystem"] == "allowlist" and str(scorer_file.parent) in iso["allowlist"], iso
        assert str(tmp_path) not in iso["allowlist"]
