"""Presets, per-scorer parameters, suites that list their scorers, the entry-point scorer registry."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.contract import (
    ScorerInfo,
    available_scorers,
    builtin_scorers,
    load_scorer,
    resolve_params,
    route_params,
)
from benchmark.runner import Job, plan_jobs, run_jobs

PROBE = "tests.scorers.probes:PresetProbe"
MASS = "tests.scorers.probes:MassScorer"
REPO = Path(__file__).resolve().parents[1]


def test_params_resolve_defaults_then_preset_then_user():
    info = load_scorer(PROBE).info
    assert resolve_params(info, None) == {"epochs": 100, "width": 64, "shift": 0.0}
    assert resolve_params(info, "smoke") == {"epochs": 2, "width": 8, "shift": 0.0}
    assert resolve_params(info, "smoke", {"epochs": 5}) == {"epochs": 5, "width": 8, "shift": 0.0}
    assert load_scorer(PROBE, {"shift": 1.5}, "paper").params == {"epochs": 300, "width": 64, "shift": 1.5}
    with pytest.raises(KeyError, match="no preset 'huge'.*'paper', 'smoke'"):
        resolve_params(info, "huge")
    # a scorer without presets runs at its defaults whatever preset a suite asks for
    assert load_scorer("hlf-gmm", None, "smoke").params["n_components"] == 8


def test_preset_values_must_be_declared_parameters():
    with pytest.raises(ValueError, match="preset 'smoke' sets \\['epoch'\\]"):
        ScorerInfo(name="x", defaults={"epochs": 1}, presets={"smoke": {"epoch": 2}})


def test_param_routing_per_scorer_and_by_declaration():
    routed = route_params([PROBE, MASS, "hlf-gmm", "random"], {"epochs": 3, "hlf-gmm.n_components": 2})
    assert routed[PROBE] == {"epochs": 3}                  # declares epochs
    assert routed["hlf-gmm"] == {"n_components": 2}        # addressed by name, no epochs
    assert routed[MASS] == {} and routed["random"] == {}   # base-class scorers without epochs
    assert route_params([MASS], {"width": 2}) == {MASS: {"width": 2}}  # a lone scorer decides itself
    routed = route_params([PROBE, "hlf-gmm"], {"PresetProbe.width": 4})
    assert routed == {PROBE: {"width": 4}, "hlf-gmm": {}}
    with pytest.raises(TypeError, match="'epochz'.*did you mean 'epochs'"):
        route_params([PROBE, "hlf-gmm"], {"epochz": 3})
    with pytest.raises(TypeError, match="'n_componets'.*did you mean 'n_components'"):
        route_params([PROBE, "hlf-gmm"], {"hlf-gmm.n_componets": 3})


def test_preset_in_label_result_path_context_and_record(synth_registry, tmp_path):
    jobs = plan_jobs(tasks=["synth/unsup"], scorers=[PROBE, "hlf-gmm"], seeds=1, source="generated",
                     results_dir=tmp_path, params={"epochs": 7}, preset="smoke", n_boot=0)
    by_scorer = {j.scorer: j for j in jobs}
    probe, gmm = by_scorer[PROBE], by_scorer["hlf-gmm"]
    assert probe.preset == "smoke" and probe.params == {"epochs": 7}
    assert gmm.preset is None and gmm.params == {}
    assert probe.scorer_label.startswith("PresetProbe@smoke+") and gmm.scorer_label == "hlf-gmm"
    assert "PresetProbe@smoke+" in str(probe.result_path)
    summary = run_jobs([probe], progress=False)
    assert not summary.failed
    record = json.loads(probe.result_path.read_text())
    assert record["job"]["preset"] == "smoke" and record["scorer_config"]["preset"] == "smoke"
    assert record["scorer_config"]["params"] == {"epochs": 7, "width": 8, "shift": 0.0}
    assert record["training"] == {"epochs_run": 7, "preset": "smoke"}
    plain = Job("synth/unsup", PROBE, "generated", 0, str(tmp_path))
    assert plain.scorer_label == "PresetProbe" and plain.result_path != probe.result_path


def test_builtin_scorers_come_from_entry_points():
    names = available_scorers()
    assert {"random", "hlf-gmm", "supervised", "cwola"} <= set(builtin_scorers())
    assert list(names)[:len(builtin_scorers())] == sorted(builtin_scorers())
    assert all(":" in target for target in names.values())


def test_quick_suite_declares_smoke_preset():
    from benchmark.registry import load_registry

    quick = load_registry(REPO / "datasets.yaml").suite("quick")
    assert quick.preset == "smoke"


def test_cli_param_applies_only_to_scorers_that_declare_it(synth_registry, tmp_path):
    out = subprocess.run([sys.executable, "-m", "benchmark.cli", "run", "--task", "synth/unsup", "--scorer", PROBE,
                          "hlf-gmm", "--param", "epochs=2", "--results", str(tmp_path), "--no-progress",
                          "--bootstrap", "0", "--no-isolation"], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    records = {p.parent.parent.name: json.loads(p.read_text()) for p in tmp_path.rglob("seed0.json")}
    assert records["hlf-gmm"]["scorer_config"]["params"]["n_components"] == 8
    probe = next(r for k, r in records.items() if k.startswith("PresetProbe@"))
    assert probe["scorer_config"]["params"]["epochs"] == 2
    out = subprocess.run([sys.executable, "-m", "benchmark.cli", "run", "--task", "synth/unsup", "--scorer", "hlf-gmm",
                          "--param", "epochs=2", "--results", str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 1 and "hlf-gmm: unknown hyper-parameter(s) 'epochs'" in out.stderr
    out = subprocess.run([sys.executable, "-m", "benchmark.cli", "run", "--task", "synth/unsup", "--scorer", "hlf-gmm",
                          "random", "--param", "epochz=2", "--results", str(tmp_path)], capture_output=True, text=True,
                         cwd=REPO)
    assert out.returncode == 1 and "no scorer of this run has the hyper-parameter 'epochz'" in out.stderr
