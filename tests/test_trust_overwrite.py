"""Issue 16 item 4 (nothing computed is replaced silently; external scores never mix with runs;
colliding merged entries are all kept) and the maintainer-side part of item 9."""
from __future__ import annotations

import json
from pathlib import Path

import h5py

from benchmark.cli import main

PROBES = "tests.scorers.probes"


def _run(root: Path, seeds, n_boot: int = 0) -> None:
    from benchmark.runner import plan_jobs, run_jobs

    jobs = plan_jobs(tasks=["synth/unsup"], scorers=[f"{PROBES}:MassScorer"], seeds=seeds, source="generated",
                     results_dir=root, n_boot=n_boot)
    assert len(run_jobs(jobs, progress=False, fail_fast=True).done) == len(jobs)


def _scores_csv(tmp_path: Path, seed: int = 0) -> Path:
    events = tmp_path / f"events{seed}.h5"
    assert main(["export", "--task", "synth/unsup", "--seed", str(seed), "--out", str(events)]) == 0
    with h5py.File(events) as f:
        ids, mass = f["test/event_id"][:], f["test/jets"][:, 0, 3]
    path = tmp_path / f"scores{seed}.csv"
    path.write_text("event_id,score\n" + "".join(f"{i},{m:.6f}\n" for i, m in zip(ids.tolist(), mass.tolist())))
    return path


def test_evaluate_never_replaces_a_computed_result_without_overwrite(synth_registry, tmp_path, capsys):
    results = tmp_path / "results"
    _run(results, [0, 1])
    target = results / "synth/unsup/MassScorer/generated/seed0.json"
    before = target.read_bytes()
    scores = _scores_csv(tmp_path)
    args = ["evaluate", "--task", "synth/unsup", "--scores", str(scores), "--name", "MassScorer",
            "--results", str(results)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert str(target) in err and "--overwrite" in err
    assert target.read_bytes() == before
    # with --overwrite it is replaced, marked external, and never aggregated with the computed seed 1
    assert main([*args, "--overwrite"]) == 0
    record = json.loads(target.read_text())
    assert record["job"]["origin"] == "external" and record["identity"]["origin"] == "external"
    from benchmark.leaderboard import collect

    entries = [e for e in collect(results).values() if e.scorer.startswith("MassScorer")]
    assert sorted(len(e.records) for e in entries) == [1, 1], [e.scorer for e in entries]


def test_merge_keeps_colliding_entries_named_by_bundle(synth_registry, tmp_path):
    from benchmark.bundles import make_bundle, merge_bundles

    _run(tmp_path / "a", [0], n_boot=10)
    _run(tmp_path / "b", [0], n_boot=20)
    a = make_bundle(tmp_path / "a", tmp_path / "alice.tar.gz")
    b = make_bundle(tmp_path / "b", tmp_path / "bob.tar.gz")
    report = merge_bundles([a, b], tmp_path / "lb", plots=False)
    assert all(v.startswith("accepted") for v in report.values()), report
    merged = sorted(p.relative_to(tmp_path / "lb/results").as_posix()
                    for p in (tmp_path / "lb/results").rglob("seed*.json"))
    assert merged == ["synth/unsup/MassScorer~alice/generated/seed0.json",
                      "synth/unsup/MassScorer~bob/generated/seed0.json"]
    table = (tmp_path / "lb/synth__unsup.md").read_text()
    assert "MassScorer~alice" in table and "MassScorer~bob" in table
    # merging alice again changes nothing; a third, different result is added beside, not over
    assert merge_bundles([a], tmp_path / "lb", plots=False)[str(a)].startswith("accepted")
    assert len(list((tmp_path / "lb/results").rglob("seed*.json"))) == 2


def test_merge_blames_a_corrupt_maintainer_file_on_the_maintainer(synth_registry, _isolated_cache, tmp_path):
    from benchmark.bundles import make_bundle, merge_bundles

    _run(tmp_path / "a", [0])
    bundle = make_bundle(tmp_path / "a", tmp_path / "alice.tar.gz")
    class_file = _isolated_cache / "synth/generated/bkg.h5"
    class_file.write_bytes(class_file.read_bytes()[: 5000])  # the maintainer's copy is truncated
    verdict = merge_bundles([bundle], tmp_path / "lb", plots=False)[str(bundle)]
    assert verdict.startswith("not verified: error on the maintainer's side"), verdict
    assert str(class_file) in verdict and "lhcad generate synth" in verdict
