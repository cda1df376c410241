"""Result bundles: round trip, and rejection of edited numbers, other data, and truncated archives."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.bundles import BundleError, make_bundle, merge_bundles, read_members, verify_bundle, write_members
from benchmark.runner import plan_jobs, run_jobs

PROBES = "tests.scorers.probes"


@pytest.fixture
def bundle(synth_registry, tmp_path) -> Path:
    jobs = plan_jobs(tasks=["synth/unsup", "synthres/rnd"], scorers=[f"{PROBES}:MassScorer"], seeds=2,
                     source="generated", results_dir=tmp_path / "res", n_boot=20)
    assert len(run_jobs(jobs, progress=False).done) == 4
    return make_bundle(tmp_path / "res", tmp_path / "mine.tar.gz")


def _member(members, suffix):
    return next(k for k in members if k.endswith(suffix))


def test_bundle_round_trip_and_merge(bundle, tmp_path):
    members = read_members(bundle)
    assert "MANIFEST.json" in members and "provenance.json" in members
    prov = json.loads(members["provenance.json"])
    assert prov["class_sha256"] and prov["versions"]["python"] and prov["results"] == 4
    assert len(verify_bundle(bundle)) == 4
    report = merge_bundles([bundle], tmp_path / "lb", plots=False)
    assert report[str(bundle)] == "accepted (4 results)"
    assert len(list((tmp_path / "lb" / "results").rglob("seed*.json"))) == 4
    assert (tmp_path / "lb" / "README.md").exists()


def test_edited_auc_rejected(bundle, tmp_path):
    members = read_members(bundle)
    name = _member(members, "synth/unsup/MassScorer/generated/seed0.json")
    record = json.loads(members[name])
    record["metrics"]["auc"] = min(1.0, record["metrics"]["auc"] + 0.05)
    members[name] = json.dumps(record).encode()
    # edited without updating the manifest: caught by the hash
    members_raw = dict(members)
    manifest = json.loads(members_raw.pop("MANIFEST.json"))
    with pytest.raises(BundleError, match="does not match its manifest sha256"):
        write_members(members_raw, tmp_path / "x.tar.gz")
        raw = read_members(tmp_path / "x.tar.gz")
        raw["MANIFEST.json"] = json.dumps(manifest).encode()
        import io
        import tarfile

        with tarfile.open(tmp_path / "x.tar.gz", "w:gz") as tar:
            for k, v in raw.items():
                info = tarfile.TarInfo(k)
                info.size = len(v)
                tar.addfile(info, io.BytesIO(v))
        verify_bundle(tmp_path / "x.tar.gz")
    # edited with a recomputed manifest: caught by recomputing the metric from the scores
    write_members(members_raw, tmp_path / "y.tar.gz")
    with pytest.raises(BundleError, match=r"metrics\.auc: claimed .*, rebuilt "):
        verify_bundle(tmp_path / "y.tar.gz")
    report = merge_bundles([tmp_path / "y.tar.gz"], tmp_path / "lb", plots=False)
    assert report[str(tmp_path / "y.tar.gz")].startswith("rejected: ") and not (tmp_path / "lb" / "results").exists()


def test_scores_from_other_data_rejected(bundle, tmp_path):
    members = read_members(bundle)
    members.pop("MANIFEST.json")
    # the scores file of another seed (other test events) in place of seed 0's
    a = _member(members, "synth/unsup/MassScorer/generated/seed0.scores.h5")
    b = _member(members, "synth/unsup/MassScorer/generated/seed1.scores.h5")
    swapped = {**members, a: members[b]}
    write_members(swapped, tmp_path / "swap.tar.gz")
    with pytest.raises(BundleError, match="event ids are not the maintainer's test events"):
        verify_bundle(tmp_path / "swap.tar.gz")
    # a result that claims other class files (another dataset version)
    name = _member(members, "synth/unsup/MassScorer/generated/seed0.json")
    record = json.loads(members[name])
    cls = next(iter(record["data"]["class_sha256"]))
    record["data"]["class_sha256"][cls] = "0" * 64
    write_members({**members, name: json.dumps(record).encode()}, tmp_path / "other.tar.gz")
    with pytest.raises(BundleError, match="scored on different data: class synth:"):
        verify_bundle(tmp_path / "other.tar.gz")


def test_truncated_archive_rejected(bundle, tmp_path):
    data = bundle.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="truncated or corrupt archive"):
        verify_bundle(cut)
    report = merge_bundles([cut, bundle], tmp_path / "lb", plots=False)
    assert report[str(cut)].startswith("rejected: ") and report[str(bundle)].startswith("accepted")
