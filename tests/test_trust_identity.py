"""Issue 16 item 2: a result's identity holds everything that changes its numbers; resume reruns
on any difference (saying why, keeping the old result aside); the leaderboard shows sizes and never
aggregates different identities."""
from __future__ import annotations

import json
from pathlib import Path

SCORER = '''
import numpy as np
from benchmark.contract import BaseScorer, ScorerInfo

class Versioned(BaseScorer):
    info = ScorerInfo(name="versioned", version="{version}", protocols=("unsupervised",), representation="jets",
                      defaults={{"shift": 0.0}})

    def fit(self, train, *, context):
        self.mu = train["jets"][:, 0, 3].mean()
        return self

    def score(self, events):
        return np.abs(events["jets"][:, 0, 3] - self.mu) + self.params["shift"]
'''


def _write_scorer(path: Path, version: str) -> str:
    path.write_text(SCORER.format(version=version))
    return str(path)


def _run(tmp_path: Path, scorer: str, **kw):
    from benchmark.runner import plan_jobs, run_jobs

    jobs = plan_jobs(tasks=["synth/unsup"], scorers=[scorer], seeds=kw.pop("seeds", 1), source="generated",
                     results_dir=tmp_path / "results", n_boot=kw.pop("n_boot", 0), **kw)
    return run_jobs(jobs, progress=False, fail_fast=True)


def test_identity_is_stored_and_resume_reruns_on_any_change(synth_registry, tmp_path, capsys):
    scorer = _write_scorer(tmp_path / "versioned.py", "1.0")
    first = _run(tmp_path, scorer)
    assert len(first.done) == 1
    path = tmp_path / "results/synth/unsup/versioned/generated/seed0.json"
    record = json.loads(path.read_text())
    ident = record["identity"]
    assert ident["scorer_version"] == "1.0" and ident["task_version"] == 1 and ident["seed"] == 0
    assert ident["sizes"] == {"train": 600.0, "test": 400.0} and ident["config"] == {"shift": 0.0}
    assert set(ident["class_sha256"]) == {"synth:bkg", "synth:sig"} and ident["n_boot"] == 0
    assert len(record["identity_hash"]) == 12 and record["sizes_used"] == {"train": 600, "test": 400}

    assert len(_run(tmp_path, scorer).skipped_existing) == 1  # same identity: finished

    _write_scorer(tmp_path / "versioned.py", "1.1")
    capsys.readouterr()
    again = _run(tmp_path, scorer)
    out = capsys.readouterr().out
    assert len(again.done) == 1, "a new scorer version must rerun"
    assert "rerun" in out and "scorer_version '1.0' -> '1.1'" in out
    aside = sorted(path.parent.glob("seed0.json.superseded-*"))
    assert len(aside) == 1 and json.loads(aside[0].read_text())["identity"]["scorer_version"] == "1.0"
    assert len(list(path.parent.glob("seed0.scores.h5.superseded-*"))) == 1

    for change, expect in (({"sizes": {"test": 300}}, "sizes.test 400.0 -> 300.0"),
                           ({"params": {"shift": 1.0}}, None),
                           ({"n_boot": 20}, "n_boot 0 -> 20")):
        capsys.readouterr()
        summary = _run(tmp_path, scorer, **change)
        assert len(summary.done) == 1, change
        if expect:
            assert expect in capsys.readouterr().out


def test_leaderboard_shows_sizes_and_keeps_identities_apart(synth_registry, tmp_path):
    from benchmark.leaderboard import build_leaderboard, collect

    scorer = _write_scorer(tmp_path / "versioned.py", "1.0")
    _run(tmp_path, scorer, seeds=[0, 1, 2])
    _run(tmp_path, scorer, seeds=[3, 4], sizes={"test": 300})
    entries = collect(tmp_path / "results")
    rows = sorted((e.scorer, len(e.records)) for e in entries.values())
    assert len(rows) == 2 and sorted(n for _, n in rows) == [2, 3], rows
    assert all(label.startswith("versioned #") for label, _ in rows)
    build_leaderboard(tmp_path / "results", tmp_path / "lb", plots=False)
    table = (tmp_path / "lb/synth__unsup.md").read_text()
    assert "train/test" in table and "600/400" in table and "600/300" in table
    data = json.loads((tmp_path / "lb/synth__unsup.json").read_text())
    assert {d["sizes"] for d in data} == {"600/400", "600/300"}
