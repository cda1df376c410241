"""Registry, events, contract, protocols, runner, evaluate and leaderboard on synthetic data."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from benchmark.contract import ScorerOutputError, load_scorer, resolve_scorer, validate_scores
from benchmark.events import EventSet, Labels, make_event_ids, merge_event_files
from benchmark.registry import RegistryError, load_registry, parse_registry

PROBES = "tests.scorers.probes"
REPO = Path(__file__).resolve().parents[1]


# -- registry ------------------------------------------------------------------------------------
def test_shipped_registry_parses_and_suggests_names():
    reg = load_registry(REPO / "datasets.yaml")
    assert {"top", "lhco", "darkmachines"} <= set(reg.datasets)
    chan1 = reg.task("darkmachines/chan1")
    assert len(chan1.signal) == 8 and all(ref.name.startswith("chan1/") for ref in chan1.signal)
    with pytest.raises(KeyError, match="did you mean 'top/qcd-vs-top'"):
        reg.task("top/qcd-vs-topp")


def test_registry_errors_name_the_field(tmp_path):
    bad = (REPO / "datasets.yaml").read_text().replace("protocol: unsupervised", "protocol: unsupervized", 1)
    with pytest.raises(RegistryError, match=r"tasks\.top/qcd-vs-top\.protocol.*did you mean 'unsupervised'"):
        parse_registry(bad, tmp_path / "x.yaml")
    bad = (REPO / "datasets.yaml").read_text().replace("    sizes: {real: {train: 100000, test: 40000}, generated: {train: 1500, test: 1000}}\n",
                                                        "    sizez: {}\n", 1)
    with pytest.raises(RegistryError, match="unknown field 'sizez'.*did you mean 'sizes'"):
        parse_registry(bad, tmp_path / "x.yaml")


# -- events --------------------------------------------------------------------------------------
def test_event_ids_unique_stable_and_class_blind():
    a = make_event_ids("top/real/qcd", 100000)
    assert len(np.unique(a)) == len(a)
    assert np.array_equal(a, make_event_ids("top/real/qcd", 100000))
    b = make_event_ids("top/real/top", 100000)
    assert not np.intersect1d(a, b).size
    assert np.array_equal(make_event_ids("x", 10, start=5), make_event_ids("x", 15)[5:])
    # no ordering information: ids of consecutive events are uncorrelated with their index
    assert abs(np.corrcoef(np.arange(1000), a[:1000].astype(float))[0, 1]) < 0.1


def test_eventset_roundtrip_merge_and_errors(tmp_path):
    rng = np.random.default_rng(1)
    es = EventSet({"x": rng.normal(size=(50, 3)).astype(np.float32), "m": rng.random(50) > 0.5},
                  make_event_ids("t", 50), {"dataset": "t"})
    es.save(tmp_path / "a.h5")
    back = EventSet.load(tmp_path / "a.h5")
    assert back.fingerprint() == es.fingerprint() and back.meta["dataset"] == "t"
    part = EventSet.load(tmp_path / "a.h5", names=["x"], start=10, stop=20)
    assert np.array_equal(part["x"], es["x"][10:20]) and part.names == ["x"]
    es.take(slice(25, 50)).save(tmp_path / "b.h5")
    es.take(slice(0, 25)).save(tmp_path / "c.h5")
    merged = EventSet.load(merge_event_files([tmp_path / "c.h5", tmp_path / "b.h5"], tmp_path / "m.h5"))
    assert merged.fingerprint() == es.fingerprint()
    with pytest.raises(ValueError, match="array 'y' has 3 rows, but there are 50 event ids"):
        EventSet({"y": np.zeros(3)}, es.event_id)
    with pytest.raises(KeyError, match="no array 'jets'.*it has: m, x"):
        es["jets"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        EventSet.load(tmp_path / "nope.h5")


# -- contract ------------------------------------------------------------------------------------
def test_validate_scores_messages():
    validate_scores(np.arange(4.0), 4, scorer="s")
    with pytest.raises(ScorerOutputError, match="returned 3 scores for 4 events"):
        validate_scores(np.arange(3.0), 4, scorer="s")
    with pytest.raises(ScorerOutputError, match="1 non-finite.*first at event index 2"):
        validate_scores(np.array([0.0, 1.0, np.nan, 3.0]), 4, scorer="s")
    with pytest.raises(ScorerOutputError, match="same value 1.0 for all 4 events"):
        validate_scores(np.ones(4), 4, scorer="s")
    with pytest.raises(ScorerOutputError, match=r"shape \(4, 2\)"):
        validate_scores(np.ones((4, 2)), 4, scorer="s")


def test_scorer_loading_by_name_module_file_and_entry_point(tmp_path, monkeypatch):
    assert resolve_scorer("random").info.name == "random"
    assert resolve_scorer(f"{PROBES}:MassScorer").info.name == "mass"
    example = resolve_scorer(str(REPO / "submissions" / "example_scorer.py"))
    assert example.info.name == "example-jet-mass-density"
    with pytest.raises(KeyError, match="did you mean 'random'"):
        resolve_scorer("randon")
    # an installed entry point in the group lhcad.scorers
    import importlib.metadata as md

    from benchmark.contract import _entry_points

    installed = _entry_points()
    ep = md.EntryPoint("plugged", f"{PROBES}:MassScorer", "lhcad.scorers")
    monkeypatch.setattr("benchmark.contract._entry_points", lambda: {**installed, "plugged": ep})
    assert resolve_scorer("plugged").info.name == "mass"
    with pytest.raises(TypeError, match="unknown hyper-parameter.*'n_componets'.*did you mean 'n_components'"):
        load_scorer("hlf-gmm", {"n_componets": 3})


# -- protocols -----------------------------------------------------------------------------------
def test_splits_frozen_by_version_and_seed_and_disjoint(synth_registry):
    from benchmark.tasks import build_task_data

    task = load_registry().task("synth/unsup")
    a = build_task_data(task, "generated", 0)
    b = build_task_data(task, "generated", 0)
    c = build_task_data(task, "generated", 1)
    assert np.array_equal(a.test.event_id, b.test.event_id) and np.array_equal(a.train.event_id, b.train.event_id)
    assert not np.array_equal(a.test.event_id, c.test.event_id)
    assert not np.intersect1d(a.train.event_id, a.test.event_id).size
    assert len(a.train) == 600 and a.test_labels.is_signal.sum() == 200 and len(a.test) == 400
    assert set(a.test_labels.process) == {"bkg", "sig"}
    # training data of the unsupervised protocol is background only
    bkg_ids = EventSet.load(Path(os.environ["LHCAD_DATA"]) / "synth/generated/bkg.h5").event_id
    assert np.isin(a.train.event_id, bkg_ids).all()


def test_resonant_protocol_injection_and_regions(synth_registry):
    from benchmark.tasks import build_task_data

    task = load_registry().task("synthres/rnd")
    data = build_task_data(task, "generated", 0, injection=400)
    sr = data.train["mjj"]
    assert ((sr > 3300) & (sr < 3700)).all()
    sb = data.sideband["mjj"]
    assert (((sb > 2300) & (sb < 3300)) | ((sb > 3700) & (sb < 5000))).all()
    assert data.provenance["counts"]["injected"] == 400
    sig_ids = EventSet.load(Path(os.environ["LHCAD_DATA"]) / "synthres/generated/signal.h5").event_id
    injected = np.isin(np.concatenate([data.train.event_id, data.sideband.event_id]), sig_ids).sum()
    assert injected == 400
    # injected signal never reused in the test set
    assert not np.intersect1d(np.concatenate([data.train.event_id, data.sideband.event_id]), data.test.event_id).size
    t = data.test["mjj"]
    assert ((t > 3300) & (t < 3700)).all() and data.test_labels.is_signal.sum() == 200
    with pytest.raises(ValueError, match="injection of 5000 signal events asked"):
        build_task_data(task, "generated", 0, injection=5000)


def test_scorer_cannot_obtain_labels(synth_registry, tmp_path):
    from benchmark.runner import Job, execute_job
    from tests.scorers.probes import LabelSnoop

    record = execute_job(Job("synth/unsup", f"{PROBES}:LabelSnoop", "generated", 0, str(tmp_path)))
    seen = LabelSnoop.seen
    # ids are job-local positions, the metadata names no class, no array carries a label
    assert np.array_equal(seen["test_ids"], np.arange(400))
    assert "class" not in seen["test_meta"] and "path" not in seen["test_meta"]
    assert not {"label", "is_signal", "split", "process"} & set(seen["test_names"])
    assert seen["context"]["train_labels"] is None and seen["context"]["sideband"] is None
    assert seen["context"]["signal_train"] is None  # the resonant supervised reference's extra only
    flat = json.dumps(seen["context"], default=str) + json.dumps(seen["test_meta"]) + json.dumps(seen["train_meta"])
    assert "sig" not in flat.replace("signal_region", "").replace('"signal_train": null', "")
    # scoring by position is worthless: the test set is shuffled
    assert abs(record["metrics"]["auc"] - 0.5) < 0.1


# -- runner --------------------------------------------------------------------------------------
def test_run_all_protocols_and_physics_of_metrics(synth_registry, tmp_path):
    from benchmark.runner import plan_jobs, run_jobs

    jobs = plan_jobs(tasks=["synth/unsup", "synth/ratio", "synthres/rnd", "synth/multi"],
                     scorers=[f"{PROBES}:MassScorer"], seeds=2, source="generated", results_dir=tmp_path,
                     n_boot=50)
    jobs += plan_jobs(tasks=["synth/sup"], scorers=["random"], seeds=1, source="generated", results_dir=tmp_path)
    summary = run_jobs(jobs, progress=False, fail_fast=True)
    assert len(summary.done) == len(jobs) == 9
    rec = json.loads((tmp_path / "synth/unsup/MassScorer/generated/seed0.json").read_text())
    # signal mass 90 vs background 40 +- 15: the mass distance separates them almost perfectly
    assert rec["metrics"]["auc"] > 0.97
    assert rec["errors"]["auc"]["lo"] <= rec["metrics"]["auc"] <= rec["errors"]["auc"]["hi"]
    for key in ("hardware", "versions", "timings", "data", "scorer_config", "curves"):
        assert rec[key]
    assert set(rec["timings"]) >= {"load", "fit", "score", "metrics"}
    ratio = json.loads((tmp_path / "synth/ratio/MassScorer/generated/seed0.json").read_text())
    assert ratio["metrics"]["auc"] > 0.95 and "density_ratio_gap" in ratio["metrics"]
    multi = json.loads((tmp_path / "synth/multi/MassScorer/generated/seed0.json").read_text())
    assert set(multi["per_signal"]) == {"sig", "sig2"}
    assert multi["per_signal"]["sig"]["auc"] > multi["per_signal"]["sig2"]["auc"]
    res = json.loads((tmp_path / "synthres/rnd/MassScorer/generated/inj200/seed0.json").read_text())
    assert res["counts"]["injected"] == 200
    sup = json.loads((tmp_path / "synth/sup/random/generated/seed0.json").read_text())
    assert abs(sup["metrics"]["auc"] - 0.5) < 0.1


def test_failures_are_recorded_not_swallowed(synth_registry, tmp_path):
    from benchmark.runner import plan_jobs, run_jobs

    jobs = plan_jobs(tasks=["synth/unsup"], scorers=[f"{PROBES}:Crashes", f"{PROBES}:ReturnsNaN", "random"],
                     seeds=1, source="generated", results_dir=tmp_path, n_boot=0)
    summary = run_jobs(jobs, progress=False)
    assert len(summary.done) == 1 and len(summary.failed) == 2
    lines = [json.loads(x) for x in (tmp_path / "failures.jsonl").read_text().splitlines()]
    errors = " | ".join(x["error"] for x in lines)
    assert "deliberate failure in fit" in errors and "non-finite" in errors
    assert all("Traceback" in x["traceback"] for x in lines)
    with pytest.raises(RuntimeError, match="deliberate"):
        run_jobs(jobs[:1], progress=False, fail_fast=True)


def _cli(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "benchmark.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=REPO, **kw)


def test_resume_after_kill_recomputes_nothing(synth_registry, tmp_path):
    """Kill a run mid-way, rerun: finished jobs are untouched, the rest completes, nothing lost."""
    results = tmp_path / "res"
    args = ["run", "--scorer", f"{PROBES}:MassScorer", "--task", "synth/unsup", "synth/multi", "--seeds", "6",
            "--results", str(results), "--no-progress", "--bootstrap", "400"]
    proc = subprocess.Popen([sys.executable, "-m", "benchmark.cli", *args], cwd=REPO, env=os.environ.copy(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(results.rglob("seed*.json"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = {p: p.stat().st_mtime_ns for p in results.rglob("seed*.json")}
    assert 2 <= len(first) < 12, "the kill should land mid-run"
    for p in first:  # every result present is complete and readable
        json.loads(p.read_text())
    out = _cli(*args)
    assert out.returncode == 0, out.stderr
    assert f"{len(first)} already finished" in out.stderr
    after = {p: p.stat().st_mtime_ns for p in results.rglob("seed*.json")}
    assert len(after) == 12
    assert all(after[p] == t for p, t in first.items())
    assert not list(results.rglob("*.part"))
    out = _cli(*args)
    assert "0 run, 12 already finished" in out.stderr


# -- evaluate and leaderboard --------------------------------------------------------------------
def test_export_then_evaluate_matches_runner(synth_registry, tmp_path):
    import h5py

    from benchmark.evaluate import evaluate_file, export_task
    from benchmark.runner import Job, execute_job

    path = export_task(task="synth/unsup", out=tmp_path / "ev.h5", seed=0)
    with h5py.File(path) as f:
        ids, jets = f["test/event_id"][:], f["test/jets"][:]
        assert "is_signal" not in f["test"] and "label" not in f["test"]
        mu = f["train/jets"][:, 0, 3].mean()
    scores = np.abs(jets[:, 0, 3] - mu)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(ids))  # any order: matched by event id
    import pandas as pd

    pd.DataFrame({"event_id": ids[perm], "score": scores[perm]}).to_csv(tmp_path / "s.csv", index=False)
    res = json.loads(evaluate_file(task="synth/unsup", scores=tmp_path / "s.csv", name="ext",
                                   results_dir=tmp_path / "r").read_text())
    ref = execute_job(Job("synth/unsup", f"{PROBES}:MassScorer", "generated", 0, str(tmp_path / "r")))
    assert res["metrics"]["auc"] == pytest.approx(ref["metrics"]["auc"], abs=1e-12)
    np.save(tmp_path / "s.npy", scores)
    res2 = json.loads(evaluate_file(task="synth/unsup", scores=tmp_path / "s.npy", name="ext2",
                                    results_dir=tmp_path / "r").read_text())
    assert res2["metrics"]["auc"] == pytest.approx(ref["metrics"]["auc"], abs=1e-12)
    pd.DataFrame({"event_id": ids[:-1], "score": scores[:-1]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="1 test events have no score"):
        evaluate_file(task="synth/unsup", scores=tmp_path / "bad.csv", name="bad", results_dir=tmp_path / "r")


def test_leaderboard_tables_plots_and_flags(synth_registry, tmp_path):
    from benchmark.leaderboard import build_leaderboard
    from benchmark.runner import plan_jobs, run_jobs

    res = tmp_path / "res"
    run_jobs(plan_jobs(tasks=["synth/unsup", "synthres/rnd"], scorers=[f"{PROBES}:MassScorer"], seeds=3,
                       source="generated", results_dir=res, n_boot=20), progress=False)
    run_jobs(plan_jobs(tasks=["synth/unsup"], scorers=["random"], seeds=2, source="generated",
                       results_dir=res, n_boot=20), progress=False)
    run_jobs(plan_jobs(tasks=["synthres/rnd"], scorers=[f"{PROBES}:MassScorer"], seeds=2, injections=[0],
                       source="generated", results_dir=res, n_boot=20), progress=False)
    out = tmp_path / "lb"
    written = build_leaderboard(res, out)
    table = json.loads((out / "synth__unsup.json").read_text())
    by = {row["scorer"]: row for row in table}
    assert by["MassScorer"]["metrics"]["auc"]["n"] == 3 and by["MassScorer"]["status"] == "ok"
    assert by["random"]["status"].startswith("incomplete: 2/3 seeds")
    # reported figures are keyed by the scorer's info.name; other entries show the task's figures, named
    assert by["MassScorer"]["paper"]["mass"]["auc"] == 0.9 and by["MassScorer"]["paper"]["mass"]["same_method"]
    assert not by["random"]["paper"]["mass"]["same_method"]
    md_rows = [line for line in (out / "synth__unsup.md").read_text().splitlines() if line.startswith("| random")]
    assert md_rows and "mass: auc 0.9" in md_rows[0]
    md = (out / "synth__unsup.md").read_text()
    assert "MassScorer" in md and "±" in md
    assert (out / "plots" / "synth__unsup-roc.png").stat().st_size > 1000
    assert (out / "plots" / "synthres__rnd-injection.png").exists()
    summary = (out / "summary.csv").read_text()
    assert "synth/unsup AUC" in summary
    assert out / "README.md" in written


def test_cli_help_and_list(synth_registry):
    out = _cli("--help")
    assert out.returncode == 0 and "examples:" in out.stdout
    for cmd in ("run", "evaluate", "leaderboard", "fetch", "generate", "list", "export"):
        sub = _cli(cmd, "--help")
        assert sub.returncode == 0 and "example" in sub.stdout, cmd
    out = _cli("list", "tasks")
    assert "synth/unsup" in out.stdout and "resonant" in out.stdout
    out = _cli("run", "--scorer", "random", "--task", "synth/unsupp")
    assert out.returncode == 1 and "did you mean 'synth/unsup'" in out.stderr


def test_scorer_view_withholds_non_canonical_arrays(synth_registry):
    """Converters may store bookkeeping (e.g. Dark Machines process codes, constant per class):
    a scorer must never receive it."""
    from benchmark.tasks import build_task_data

    data = build_task_data(load_registry().task("synth/unsup"), "generated", 0)
    leaky = data.test.with_arrays(process_code=data.test_labels.is_signal.astype(np.int32),
                                  split=np.zeros(len(data.test), np.int8))
    view = data.scorer_view(leaky, "test")
    assert "process_code" not in view and "split" not in view and "jets" in view
