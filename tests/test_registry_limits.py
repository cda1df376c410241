"""Per-task sandbox limits: `limits:` on a task in datasets.yaml, validated, and applied to its jobs."""
from __future__ import annotations

import json

import pytest

from benchmark.isolation import Limits
from benchmark.registry import RegistryError, load_registry, parse_registry

from conftest import SYNTH_REGISTRY

MIS = "tests.scorers.misbehaving"
PROBES = "tests.scorers.probes"
UNSUP = "  synth/unsup:\n    version: 1\n"


def _with_limits(limits: str, task_head: str = UNSUP) -> str:
    assert task_head in SYNTH_REGISTRY
    return SYNTH_REGISTRY.replace(task_head, f"{task_head}    limits: {limits}\n")


def _use_limits(tmp_path, monkeypatch, limits: str) -> None:
    """Point LHCAD_REGISTRY at the synthetic registry with ``limits`` on synth/unsup (data from synth_registry)."""
    path = tmp_path / "limited.yaml"
    path.write_text(_with_limits(limits))
    monkeypatch.setenv("LHCAD_REGISTRY", str(path))


def test_task_limits_are_parsed(tmp_path):
    reg = parse_registry(_with_limits("{time_s: 90.5, memory_mb: 3000}"), tmp_path / "r.yaml")
    assert reg.task("synth/unsup").limits == {"time_s": 90.5, "memory_mb": 3000}
    assert reg.task("synth/sup").limits == {}
    assert Limits(time_s=60, memory_mb=1000).for_task(reg.task("synth/unsup")) == Limits(time_s=90.5, memory_mb=3000)
    # one key alone: the other stays the run's; command-line values win over the task's
    reg = parse_registry(_with_limits("{memory_mb: 3000}"), tmp_path / "r.yaml")
    assert Limits(time_s=60, memory_mb=1000).for_task(reg.task("synth/unsup")) == Limits(time_s=60, memory_mb=3000)
    assert Limits(override_memory_mb=500).for_task(reg.task("synth/unsup")).memory_mb == 500
    assert Limits(time_s=60).for_task(reg.task("synth/sup")) == Limits(time_s=60)


def test_shipped_registry_limits_are_valid():
    reg = load_registry()
    limited = {n: t.limits for n, t in reg.tasks.items() if t.limits}
    assert limited, "the heavier tasks of datasets.yaml carry limits"
    assert all(set(v) <= {"time_s", "memory_mb"} and all(x > 0 for x in v.values()) for v in limited.values())


@pytest.mark.parametrize("limits, where, message", [
    ("{time_s: 10, wall_s: 5}", "tasks.synth/unsup.limits", "unknown field 'wall_s'"),
    ("{tim_s: 10}", "tasks.synth/unsup.limits", "did you mean 'time_s'?"),
    ("{time_s: 0}", "tasks.synth/unsup.limits.time_s", "must be positive and finite, got 0"),
    ("{time_s: -5.0}", "tasks.synth/unsup.limits.time_s", "must be positive"),
    ("{time_s: .inf}", "tasks.synth/unsup.limits.time_s", "must be positive and finite"),
    ("{memory_mb: -1}", "tasks.synth/unsup.limits.memory_mb", "must be positive"),
    ("{memory_mb: 2.5}", "tasks.synth/unsup.limits.memory_mb", "expected an integer, got float"),
    ("{time_s: ten}", "tasks.synth/unsup.limits.time_s", "expected a number, got str"),
    ("{time_s: true}", "tasks.synth/unsup.limits.time_s", "expected a number, got bool"),
    ("3600", "tasks.synth/unsup.limits", "expected dict, got int"),
])
def test_bad_task_limits_name_the_yaml_path(tmp_path, limits, where, message):
    with pytest.raises(RegistryError) as info:
        parse_registry(_with_limits(limits), tmp_path / "bad.yaml")
    assert f"bad.yaml: {where}: " in str(info.value) and message in str(info.value), str(info.value)


def _job(scorer: str, results, task: str = "synth/unsup"):
    from benchmark.runner import plan_jobs

    return plan_jobs(tasks=[task], scorers=[scorer], seeds=1, source="generated", results_dir=results, n_boot=0)[0]


def test_task_time_limit_reaches_the_sandbox(synth_registry, tmp_path, monkeypatch):
    """A 3 s task limit stops a sleeping scorer although the run's own limit is 10 s."""
    from benchmark.executors import ExecutorOptions, run_with

    _use_limits(tmp_path, monkeypatch, "{time_s: 3}")
    job = _job(f"{MIS}:Sleeper", tmp_path / "res")
    s = run_with("local", [job], ExecutorOptions(workers=1, retries=0, progress=False,
                                                 isolation=Limits(time_s=10, memory_mb=4000)))
    assert not s.done and len(s.failed) == 1
    (failure,) = [json.loads(line) for line in (tmp_path / "res" / "failures.jsonl").read_text().splitlines()]
    assert failure["cause"] == "timeout", failure
    assert "wall-time limit of 3 s" in failure["error"], failure["error"]


def test_task_memory_limit_reaches_the_sandbox(synth_registry, tmp_path, monkeypatch):
    from benchmark.runner import execute_job

    _use_limits(tmp_path, monkeypatch, "{time_s: 300, memory_mb: 3000}")
    unsup = execute_job(_job(f"{PROBES}:MassScorer", tmp_path / "a"), isolation=Limits(time_s=120, memory_mb=4000))
    assert unsup["isolation"]["memory_limit_mb"] == 3000 and unsup["isolation"]["time_limit_s"] == 300
    other = execute_job(_job(f"{PROBES}:MassScorer", tmp_path / "b", task="synth/multi"),
                        isolation=Limits(time_s=120, memory_mb=4000))
    assert other["isolation"]["memory_limit_mb"] == 4000  # a task without limits keeps the run's
