"""``lhcad reproduce``: a quick-suite entry reruns from its records alone and is reported reproduced;
a changed recorded configuration is named and its numbers reported as different."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.runner import jobs_for_suite, run_jobs


@pytest.fixture
def quick_entry(tmp_path) -> Path:
    """The quick suite's jet-mass entry on top/qcd-vs-top (shipped samples, suite sizes), 2 seeds."""
    jobs = [j for j in jobs_for_suite("quick", ["jet-mass"], results_dir=tmp_path / "results", seeds=2, skipped=[])
            if j.task == "top/qcd-vs-top"]
    assert len(jobs) == 2
    run_jobs(jobs, progress=False)
    return tmp_path / "results" / "top" / "qcd-vs-top" / "jet-mass" / "generated"


def test_quick_suite_entry_is_reproduced(quick_entry, tmp_path):
    from benchmark.reproduce import reproduce

    report = reproduce(str(quick_entry), work_dir=tmp_path / "rerun", progress=False)
    text = report.text()
    assert report.reproduced, text
    assert "differences from the recorded run: none" in text
    assert text.splitlines()[-1].startswith("reproduced: 5 metrics over seeds [0, 1]")
    assert "lhcad run --scorer jet-mass --task top/qcd-vs-top --source generated --seeds 2" in report.command
    # the rerun is an ordinary result folder with the same identities
    for seed in (0, 1):
        old = json.loads((quick_entry / f"seed{seed}.json").read_text())
        new = json.loads(next((tmp_path / "rerun").rglob(f"seed{seed}.json")).read_text())
        assert new["identity"] == old["identity"] and new["metrics"]["auc"] == old["metrics"]["auc"]


def test_changed_recorded_configuration_is_named_and_differs(quick_entry, tmp_path):
    """Flipping the recorded ``sign`` of the mass floor: the edit is detected (identity hash), the
    rerun follows the record and its AUC (1 - AUC) is reported outside the published band."""
    from benchmark.reproduce import reproduce

    published = []
    for path in sorted(quick_entry.glob("seed*.json")):
        record = json.loads(path.read_text())
        published.append(record["metrics"]["auc"])
        record["identity"]["config"]["sign"] = -1.0
        path.write_text(json.dumps(record))
    report = reproduce(str(quick_entry / "seed0.json"), work_dir=tmp_path / "rerun", progress=False)
    text = report.text()
    assert not report.reproduced, text
    assert "the recorded identity was changed after the run" in text
    auc = next(c for c in report.checks if c.metric == "auc")
    assert not auc.ok and auc.rerun["median"] == pytest.approx(1 - sorted(published)[0], abs=0.02)
    assert "auc: published" in text and "differs by" in text and "published half-bands" in text
    assert "--param sign=-1.0" in report.command
    assert text.splitlines()[-1].startswith("NOT reproduced: auc")


def test_cli_reproduce_by_identity_hash(quick_entry, tmp_path, capsys):
    from benchmark.cli import main
    from benchmark.leaderboard import entry_identity

    record = json.loads((quick_entry / "seed0.json").read_text())
    code = main(["reproduce", entry_identity(record)[:8], "--results", str(quick_entry.parents[3]),
                 "--work", str(tmp_path / "rerun"), "--no-isolation", "--no-progress", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0 and "reproduced: 5 metrics" in out, out


def test_unknown_entry_says_what_is_accepted(tmp_path):
    from benchmark.reproduce import find_entry

    with pytest.raises(FileNotFoundError, match="neither a result file, an entry folder nor an identity hash"):
        find_entry(str(tmp_path / "nope"), tmp_path)
    with pytest.raises(FileNotFoundError, match="no entry with identity hash"):
        find_entry("abcdef12", tmp_path)
