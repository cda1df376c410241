"""Issue 16 items 8 and 9: a broken result file is reported, skipped and rerun; bad inputs give
messages naming the file (row, column, fix) instead of tracebacks."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest

from benchmark.cli import main

PROBES = "tests.scorers.probes"
BROKEN = {"empty": "", "truncated": '{"schema": 1, "job": {"task": "synth/un', "braces": "{}",
          "no_metrics": '{"schema": 1, "job": {"task": "synth/unsup", "scorer": "x", "source": "generated", "seed": 0}}'}


def _jobs(root: Path, seeds=2):
    from benchmark.runner import plan_jobs

    return plan_jobs(tasks=["synth/unsup"], scorers=[f"{PROBES}:MassScorer"], seeds=seeds, source="generated",
                     results_dir=root, n_boot=0)


def test_broken_result_files_are_reported_skipped_and_rerun(synth_registry, tmp_path, capsys):
    from benchmark.leaderboard import build_leaderboard, collect
    from benchmark.runner import job_finished, run_jobs

    root = tmp_path / "results"
    jobs = _jobs(root)
    run_jobs(jobs, progress=False, fail_fast=True)
    folder = root / "synth/unsup/MassScorer/generated"
    for i, (name, text) in enumerate(BROKEN.items()):
        other = root / f"synth/unsup/broken-{name}/generated/seed{i}.json"
        other.parent.mkdir(parents=True)
        other.write_text(text)
    problems: list[str] = []
    entries = collect(root, problems)
    assert [e.scorer for e in entries.values()] == ["MassScorer"] and len(problems) == 4
    joined = "\n".join(problems)
    for what in ("is empty", "not valid JSON", "schema None", "lacks metrics"):
        assert what in joined, joined
    assert all("broken-" in p for p in problems)
    build_leaderboard(root, tmp_path / "lb", plots=False)
    assert "skipped result file" in capsys.readouterr().err
    # resume: a broken result is not finished and is rerun, healing the file
    (folder / "seed1.json").write_text('{"schema": 1, "job"')
    assert not job_finished(jobs[1]) and job_finished(jobs[0])
    capsys.readouterr()
    summary = run_jobs(jobs, progress=False, fail_fast=True)
    assert len(summary.done) == 1 and len(summary.skipped_existing) == 1
    assert "unreadable result" in capsys.readouterr().out
    assert json.loads((folder / "seed1.json").read_text())["metrics"]["auc"] > 0.9


@pytest.mark.parametrize("text, expected", [
    ("", "the file is empty"),
    ("event_id,score\n", "a header but no rows"),
    ("event_id,score\n1,0.5\n2,high\n", "row 3, column 'score': 'high' is not a number"),
    ("event_id,score\n1.0,0.5\n", "row 2, column 'event_id': '1.0' is not an integer - event ids were written as "
                                  "floats; write them as integers (e.g. `%d`"),
    ("id,value\n1,2\n", "missing column 'event_id'"),
])
def test_score_csv_problems_name_the_file_and_row(synth_registry, tmp_path, capsys, text, expected):
    scores = tmp_path / "scores.csv"
    scores.write_text(text)
    assert main(["evaluate", "--task", "synth/unsup", "--scores", str(scores), "--results", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert str(scores) in err and expected in err and "Traceback" not in err, err


def test_truncated_scores_and_class_files_name_the_file_and_the_rebuild(synth_registry, _isolated_cache, tmp_path,
                                                                         capsys):
    scores = tmp_path / "scores.h5"
    with h5py.File(scores, "w") as f:
        f["event_id"], f["score"] = list(range(400)), [0.5] * 400
    scores.write_bytes(scores.read_bytes()[:300])
    assert main(["evaluate", "--task", "synth/unsup", "--scores", str(scores), "--results", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert str(scores) in err and "truncated" in err
    class_file = _isolated_cache / "synth/generated/sig.h5"
    class_file.write_bytes(class_file.read_bytes()[:4000])
    assert main(["export", "--task", "synth/unsup", "--out", str(tmp_path / "e.h5")]) == 1
    err = capsys.readouterr().err
    assert str(class_file) in err and "truncated or corrupt" in err and "lhcad generate synth" in err


def test_unregistered_example_points_at_its_file(synth_registry, capsys):
    assert main(["run", "--scorer", "example", "--task", "synth/unsup"]) == 1
    err = capsys.readouterr().err
    assert "unknown scorer 'example'" in err and "give the file path" in err
    assert "submissions/example_scorer.py" in err
