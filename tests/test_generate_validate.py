"""validate_dataset: comparison plots and the summary numbers, on the shipped samples."""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchmark.events import EventSet
from benchmark.generate import validate_dataset
from benchmark.generate.pythia import SAMPLES_DIR
from benchmark.generate.validate import mass_peak, min_subjet_pair_mass, summarize


def _subset(dataset: str, tmp_path, n: int = 400):
    """A small copy of the shipped classes of ``dataset`` (plots need no full statistics)."""
    src = SAMPLES_DIR / dataset
    if not src.is_dir() or not list(src.glob("*.h5")):
        pytest.skip(f"no shipped samples for {dataset}")
    dst = tmp_path / dataset
    dst.mkdir()
    for path in src.glob("*.h5"):
        EventSet.load(path, stop=n).save(dst / path.name)
    return dst


def _is_png(path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_validate_lhco_plots_every_observable(tmp_path):
    in_dir = _subset("lhco", tmp_path)
    out = validate_dataset("lhco", in_dir, tmp_path / "plots")
    names = {p.name for p in out}
    assert {"lhco_jet_mass.png", "lhco_mjj.png", "lhco_tau21.png", "lhco_tau32.png",
            "lhco_multiplicity.png", "lhco_constituent_pt.png"} <= names
    assert all(p.exists() and _is_png(p) for p in out)
    summary = json.loads((tmp_path / "plots" / "lhco_summary.json").read_text())
    assert {"background", "signal"} <= set(summary)
    assert summary["signal"]["n_events"] == 400 and "mjj_median" in summary["signal"]


def test_validate_single_jet_dataset_has_no_mjj(tmp_path):
    in_dir = _subset("top", tmp_path, n=200)
    out = validate_dataset("top", in_dir, tmp_path / "plots")
    names = {p.name for p in out}
    assert "top_jet_mass.png" in names and "top_min_subjet_pair_mass.png" in names
    assert "top_mjj.png" not in names


def test_validate_needs_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no <class>.h5"):
        validate_dataset("top", tmp_path, tmp_path / "plots")


def test_mass_peak_and_subjets_on_a_toy():
    rng = np.random.default_rng(0)
    assert mass_peak(rng.normal(80, 5, 5000), 0, 200) == pytest.approx(80, abs=5)
    # three well separated massless prongs: the smallest pair mass is the closest pair's
    pts = np.array([[300.0, 0.0, 0.0], [200.0, 0.4, 0.0], [100.0, 0.0, 0.9], [1.0, 0.05, 0.05]])
    e = pts[:, 0] * np.cosh(pts[:, 1])
    const = np.concatenate([pts, e[:, None]], axis=1)[None].astype(np.float32)
    mask = np.ones((1, 4), bool)
    got = min_subjet_pair_mass(const, mask)[0]

    def pair(i, j):
        return np.sqrt(2 * pts[i, 0] * pts[j, 0] * (np.cosh(pts[i, 1] - pts[j, 1]) - np.cos(pts[i, 2] - pts[j, 2])))

    assert got == pytest.approx(min(pair(0, 1), pair(0, 2), pair(1, 2)), rel=0.02)
    assert min_subjet_pair_mass(const[:, :3], mask[:, :3])[0] == 0.0  # <= 3 particles


def test_summarize_keys():
    obs = {"jet_mass": np.array([10.0, 20.0]), "jet_pt": np.array([1.0, 2.0]), "multiplicity": np.array([3.0, 4.0]),
           "tau21": np.array([0.5, 0.6]), "tau32": np.array([0.7, 0.8]), "min_subjet_pair_mass": np.array([1.0, 2.0]),
           "jet_index": np.array([0, 0])}
    s = summarize(obs)
    assert s["n_jets"] == 2 and s["multiplicity_mean"] == 3.5 and "mjj_median" not in s
