"""The one judge: runner, `lhcad evaluate` and bundle verification build the same judged fields,
and a bundle with any edited derived number (errors, curves, counts, gap, TI, version) is rejected."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmark.bundles import BundleError, make_bundle, read_members, verify_bundle, write_members
from benchmark.judge import JUDGED_FIELDS, judge
from benchmark.runner import plan_jobs, run_jobs
from benchmark.store import read_json

MASS = "tests.scorers.probes:MassScorer"


def _run(tmp_path: Path, tasks: list[str], scorers: list[str], n_boot: int = 30) -> Path:
    res = tmp_path / "res"
    jobs = plan_jobs(tasks=tasks, scorers=scorers, seeds=1, source="generated", results_dir=res, n_boot=n_boot)
    summary = run_jobs(jobs, progress=False)
    assert not summary.failed, summary.failed
    return make_bundle(res, tmp_path / "b.tar.gz")


def _edited(tmp_path: Path, bundle: Path, suffix: str, edit) -> Path:
    members = read_members(bundle)
    members.pop("MANIFEST.json")
    name = next(k for k in members if k.endswith(suffix))
    record = json.loads(members[name])
    edit(record)
    out = tmp_path / "edited.tar.gz"
    write_members({**members, name: json.dumps(record).encode()}, out)  # manifest recomputed
    return out


def test_protocol_table_matches_registry():
    from benchmark.protocols import PROTOCOL_CLASSES
    from benchmark.registry import PROTOCOLS

    assert sorted(PROTOCOL_CLASSES) == sorted(PROTOCOLS)


@pytest.mark.parametrize("field,edit", [
    ("errors.auc.lo", lambda r: r["errors"]["auc"].update(lo=r["errors"]["auc"]["lo"] - 0.01)),
    ("errors.rejection@eps_s=0.8.hi", lambda r: r["errors"]["rejection@eps_s=0.8"].update(hi=1e9)),
    ("curves.roc_eps_s", None),
    ("counts.synth:bkg.test", lambda r: r["counts"]["synth:bkg"].update(test=1)),
    ("total_improvement.median", lambda r: r["total_improvement"].update(median=r["total_improvement"]["median"] * 2)),
    ("per_signal.sig2.auc", lambda r: r["per_signal"]["sig2"].update(auc=0.99)),
])
def test_any_edited_judged_number_is_rejected_by_name(synth_registry, tmp_path, field, edit):
    bundle = _run(tmp_path, ["synth/ti"], [MASS])
    assert len(verify_bundle(bundle)) == 1
    if edit is None:  # a curve point moved
        def edit(r):
            key = next(k for k in r["curves"] if isinstance(r["curves"][k], list) and len(r["curves"][k]) > 3)
            r["curves"][key][2] = float(r["curves"][key][2]) + 0.1
            field_holder.append(f"curves.{key}[2]")
    field_holder: list[str] = []
    edited = _edited(tmp_path, bundle, "seed0.json", edit)
    expected = field_holder[0] if field_holder else field
    with pytest.raises(BundleError) as err:
        verify_bundle(edited)
    assert f": {expected}: claimed " in str(err.value), str(err.value)


def test_edited_density_ratio_gap_and_supervised_auc_rejected(synth_registry, tmp_path):
    bundle = _run(tmp_path, ["synth/ratio"], [MASS], n_boot=0)
    record = read_json(next((tmp_path / "res").rglob("seed0.json")))
    m = record["metrics"]
    assert m["density_ratio_gap"] == pytest.approx(m["auc_supervised"] - m["auc"])
    assert len(verify_bundle(bundle)) == 1
    for key in ("density_ratio_gap", "auc_supervised", "density_ratio_gap_normalised"):
        edited = _edited(tmp_path, bundle, "seed0.json", lambda r, k=key: r["metrics"].update({k: 0.0123}))
        with pytest.raises(BundleError, match=rf"metrics\.{key}: claimed 0\.0123"):
            verify_bundle(edited)


def test_edited_builtin_scorer_version_rejected(synth_registry, tmp_path):
    bundle = _run(tmp_path, ["synth/unsup"], ["hlf-gmm"], n_boot=0)
    edited = _edited(tmp_path, bundle, "seed0.json", lambda r: r["job"].update(scorer_version="0.9"))
    with pytest.raises(BundleError, match="job.scorer_version: hlf-gmm version 0.9 in the bundle"):
        verify_bundle(edited)


def test_single_seed_rejection_has_a_bootstrap_interval(synth_registry, tmp_path):
    _run(tmp_path, ["synth/ti"], [MASS], n_boot=40)
    record = read_json(next((tmp_path / "res").rglob("seed0.json")))
    band = record["errors"]["rejection@eps_s=0.8"]
    assert band["n_boot"] == 40 and band["lo"] < band["value"] < band["hi"]
    ti = record["total_improvement"]
    assert ti["n_signals"] == 2 and ti["complete"] and ti["min"] <= ti["median"] <= ti["max"]


def test_runner_and_evaluate_share_the_judge(synth_registry, tmp_path):
    from benchmark.evaluate import evaluate_file
    from benchmark.registry import load_registry
    from benchmark.results import read_scores

    _run(tmp_path, ["synth/ti"], [MASS], n_boot=25)
    result = next((tmp_path / "res").rglob("seed0.json"))
    run_record = read_json(result)
    scores = read_scores(result.with_name("seed0.scores.h5"))
    csv = tmp_path / "scores.csv"
    csv.write_text("event_id,score\n" + "\n".join(f"{int(i)},{float(s)!r}" for i, s in zip(scores["event_id"], scores["score"])))
    path = evaluate_file(task="synth/ti", scores=csv, name="ext", results_dir=tmp_path / "ext", n_boot=25)
    ext_record = read_json(path)
    for field in JUDGED_FIELDS:
        assert json.dumps(ext_record[field], sort_keys=True) == json.dumps(run_record[field], sort_keys=True), field
    task = load_registry().task("synth/ti")
    direct = judge(task, scores["is_signal"].astype(np.int8), scores["score"], scores["weight"] if "weight" in scores
                   else None, scores["process"].astype(str), n_boot=25, seed=0)
    assert direct["metrics"]["auc"] == pytest.approx(run_record["metrics"]["auc"], abs=0)


def test_undefined_numbers_compare_equal_but_not_to_numbers():
    """An unresolved working point's band is NaN in the record and in the rebuild: not a difference."""
    from benchmark.bundles import first_difference

    nan = float("nan")
    assert first_difference({"errors": {"x": {"hi": nan}}}, {"errors": {"x": {"hi": nan}}}) is None
    assert first_difference({"x": nan}, {"x": 0.5}) == "x: claimed NaN, rebuilt 0.5"
    assert first_difference({"x": None}, {"x": None}) is None
