"""Physics of the shipped generated samples (benchmark/samples): fast, no Pythia needed.

Mass peaks, substructure and multiplicities that each look-alike must reproduce, plus the
canonical layout, sizes and checksums recorded in benchmark/samples/MANIFEST.json.
"""
from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pytest

from benchmark.events import EventSet, make_event_ids
from benchmark.generate.pythia import SAMPLES_DIR, sample_manifest
from benchmark.generate.validate import mass_peak, observables

MANIFEST_PATH = SAMPLES_DIR / "MANIFEST.json"
BUDGET_BYTES = 25_000_000  # 25 MB


def _manifest() -> dict:
    if not MANIFEST_PATH.exists():
        pytest.skip("no shipped samples (benchmark/samples/MANIFEST.json missing)")
    return json.loads(MANIFEST_PATH.read_text())


@lru_cache(maxsize=None)
def obs(dataset: str, cls: str) -> dict[str, np.ndarray]:
    path = SAMPLES_DIR / dataset / f"{cls}.h5"
    if not path.exists():
        pytest.skip(f"shipped sample {path} missing")
    return observables(path)


def test_manifest_matches_files_and_budget():
    manifest = _manifest()
    assert manifest == sample_manifest(SAMPLES_DIR), "MANIFEST.json is stale: rerun write_manifest()"
    assert manifest["total_bytes"] <= BUDGET_BYTES
    expected = {"top": {"qcd", "top"}, "darkjets": {"qcd", "aachen", "heidelberg"}, "zprime": {"zprime"},
                "lhco": {"background", "signal"},
                "darkmachines": {"chan1/background", "chan1/glgl1600_neutralino800", "chan1/sqsq_sq1800_neut800"}}
    for dataset, classes in expected.items():
        assert classes <= set(manifest["datasets"][dataset]["classes"])


def test_shipped_counts_are_enough_for_the_quick_suite():
    manifest = _manifest()["datasets"]
    for dataset in ("top", "darkjets", "zprime"):
        for cls, entry in manifest[dataset]["classes"].items():
            assert entry["n_events"] >= 2500, (dataset, cls)
    assert manifest["lhco"]["classes"]["background"]["n_events"] >= 6000
    assert manifest["lhco"]["classes"]["signal"]["n_events"] >= 2000
    # darkmachines/chan1 runs at fractions (suites.quick.task_sizes)
    from benchmark.registry import load_registry
    from benchmark.tasks import MIN_TEST_EVENTS

    test_fraction = load_registry().suite("quick").task_sizes["darkmachines/chan1"]["test"]
    dm = manifest["darkmachines"]["classes"]
    assert int(test_fraction * dm["chan1/background"]["n_events"]) >= MIN_TEST_EVENTS
    assert min(dm[c]["n_events"] for c in dm if c != "chan1/background") >= MIN_TEST_EVENTS


def test_shipped_files_are_canonical():
    for dataset, entry in _manifest()["datasets"].items():
        for cls, info in entry["classes"].items():
            es = EventSet.load(SAMPLES_DIR / info["file"])
            n = len(es)
            np.testing.assert_array_equal(es.event_id, make_event_ids(f"{dataset}/generated/{cls}", n))
            assert es.meta["recipe"] == entry["recipe"] and es.meta["seed"] == entry["seed"]
            if dataset == "darkmachines":  # objects: tests/test_generate_darkmachines.py
                assert es["objects"].shape == (n, 20, 5) and es["met"].shape == (n, 2)
                continue
            j, p = (2, 279) if dataset == "lhco" else (1, 200)
            assert es["constituents"].shape == (n, j, p, 4) and es["constituents"].dtype == np.float32
            assert es["constituents_mask"].shape == (n, j, p)
            assert es["jets"].shape == (n, j, 4)
            np.testing.assert_array_equal(es.event_id, make_event_ids(f"{dataset}/generated/{cls}", n))
            assert es.meta["recipe"] == entry["recipe"] and es.meta["seed"] == entry["seed"]
            if dataset == "lhco":
                assert es["jet_nsubjettiness"].shape == (n, 2, 3) and es["mjj"].shape == (n,)


# -- top ------------------------------------------------------------------------------------------
def test_top_jet_mass_peaks_at_the_top_mass():
    top = obs("top", "top")
    assert 165 <= mass_peak(top["jet_mass"], 0, 400) <= 185
    assert 160 <= np.median(top["jet_mass"]) <= 190


def test_top_jets_contain_a_w():
    """The W shows as the smallest pair mass of the jet's three exclusive-kT subjets."""
    w_peak = mass_peak(obs("top", "top")["min_subjet_pair_mass"], 20, 200)
    assert 65 <= w_peak <= 90
    assert mass_peak(obs("top", "qcd")["min_subjet_pair_mass"], 0, 200) < 45


def test_qcd_jet_mass_well_below_top():
    qcd, top = obs("top", "qcd"), obs("top", "top")
    assert np.median(qcd["jet_mass"]) < 100
    assert np.median(top["jet_mass"]) - np.median(qcd["jet_mass"]) > 70
    assert mass_peak(qcd["jet_mass"], 0, 400) < 100
    assert np.median(top["tau32"]) < np.median(qcd["tau32"]) - 0.1
    assert np.mean(top["multiplicity"]) > np.mean(qcd["multiplicity"])


def test_top_kinematic_window():
    for cls in ("qcd", "top"):
        o = obs("top", cls)
        assert o["jet_pt"].min() > 550 and o["jet_pt"].max() < 650


# -- dark jets ------------------------------------------------------------------------------------
def test_darkjets_window():
    for cls in ("qcd", "aachen", "heidelberg"):
        o = obs("darkjets", cls)
        assert o["jet_pt"].min() > 150 and o["jet_pt"].max() < 300


def test_heidelberg_jets_are_two_pronged():
    qcd, hd = obs("darkjets", "qcd"), obs("darkjets", "heidelberg")
    assert np.median(hd["tau21"]) < np.median(qcd["tau21"]) - 0.1
    assert np.median(hd["jet_mass"]) > np.median(qcd["jet_mass"]) + 10
    assert 40 <= mass_peak(hd["jet_mass"], 0, 200) <= 80  # the 50 GeV dark quark (+ radiation)


def test_aachen_jets_have_fewer_visible_constituents():
    qcd, aa = obs("darkjets", "qcd"), obs("darkjets", "aachen")
    assert np.mean(aa["multiplicity"]) < 0.95 * np.mean(qcd["multiplicity"])
    # ... but are otherwise QCD-like (semi-visible jets are hard to tell apart)
    assert abs(np.median(aa["tau21"]) - np.median(qcd["tau21"])) < 0.1


# -- Z' dark showers ------------------------------------------------------------------------------
def test_zprime_jets_carry_the_dark_meson_mass():
    zp, qcd = obs("zprime", "zprime"), obs("top", "qcd")
    assert np.median(zp["jet_mass"]) > 140
    assert np.median(zp["tau21"]) < np.median(qcd["tau21"])
    assert zp["jet_pt"].min() > 550 and zp["jet_pt"].max() < 650


# -- LHC Olympics ---------------------------------------------------------------------------------
def _jet_masses(o: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    m = o["jet_mass"].reshape(-1, 2)
    return m.min(axis=1), m.max(axis=1)


def test_lhco_signal_masses_and_mjj():
    sig = obs("lhco", "signal")
    light, heavy = _jet_masses(sig)
    assert 90 <= mass_peak(light, 0, 700) <= 130  # Y(100) plus radiation caught by the R=1 jet
    assert 470 <= mass_peak(heavy, 0, 700) <= 530
    assert 3300 <= np.median(sig["mjj"]) <= 3700
    assert 3200 <= mass_peak(sig["mjj"], 1500, 6000, width=100) <= 3700
    t21_sig = sig["tau21"].reshape(-1, 2)
    t21_bkg = obs("lhco", "background")["tau21"].reshape(-1, 2)
    assert np.median(t21_sig) < np.median(t21_bkg) - 0.1


def test_lhco_background_fills_the_sidebands():
    bkg = obs("lhco", "background")
    mjj = bkg["mjj"]
    assert (bkg["jet_pt"].reshape(-1, 2).max(axis=1) > 1200).all()
    sb_low = (mjj > 2300) & (mjj < 3300)
    sr = (mjj > 3300) & (mjj < 3700)
    sb_high = (mjj > 3700) & (mjj < 5000)
    assert sb_low.sum() > 3000 and sr.sum() > 400 and sb_high.sum() > 300
    light, heavy = _jet_masses(bkg)
    assert np.median(light) < 150 and mass_peak(heavy, 0, 700) < 250
