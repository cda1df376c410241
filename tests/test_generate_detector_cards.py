"""Named detector cards: the LHCO R&D card's grids, resolutions and Delphes energy flow; ATLAS unchanged."""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchmark.generate.detector import (
    ATLAS,
    ATLAS_DM,
    CMS_RND,
    DETECTORS,
    DetectorParams,
    apply_detector,
    detector_name,
    energy_resolution,
    get_detector,
    n_tower_cells,
    tower_cells,
    track_resolution,
)
from benchmark.generate.recipes import RECIPES


def _event(rows, seed=0, params=CMS_RND):
    """rows: (pid, charge, pt, eta, phi, mass) of one event -> detector output."""
    pid = np.array([r[0] for r in rows])
    charge = np.array([r[1] for r in rows], dtype=float)
    pt, eta, phi, m = (np.array([r[i] for r in rows], dtype=float) for i in (2, 3, 4, 5))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    return apply_detector(pid, charge, px, py, pz, e, m, np.array([len(rows)]), np.random.default_rng(seed), params)


def test_atlas_parameters_and_fingerprint_are_unchanged():
    # the ATLAS card's dict (part of every recipe fingerprint) must not pick up the new card fields
    assert list(ATLAS.as_dict()) == [
        "tracker_eta_max", "calo_eta_max", "track_pt_min", "barrel_eta_max", "track_eff_pt_knee",
        "track_eff_barrel", "track_eff_endcap", "track_res_barrel", "track_res_endcap", "track_res_max",
        "ecal_res_eta", "ecal_res", "hcal_res_eta", "hcal_res", "ecal_e_min", "hcal_e_min",
        "significance_min", "towers", "tower_regions", "smear_tower_center"]
    assert "eflow" in CMS_RND.as_dict() and "hcal_tower_regions" in CMS_RND.as_dict()
    assert ATLAS.towers_of("ecal") == ATLAS.towers_of("hcal") == ATLAS.tower_regions
    assert RECIPES["top"].detector is ATLAS and RECIPES["top"].detector_name == "atlas"


def test_named_detectors_and_recipes():
    assert DETECTORS == {"atlas": ATLAS, "cms-rnd": CMS_RND, "atlas-dm": ATLAS_DM}
    assert detector_name(CMS_RND) == "cms-rnd" and get_detector("atlas") is ATLAS
    assert RECIPES["lhco"].detector_name == "cms-rnd"
    with pytest.raises(KeyError, match="did you mean"):
        get_detector("cms-rdn")
    with pytest.raises(ValueError, match="eflow"):
        DetectorParams(eflow="perfect")


def test_rnd_card_grids():
    # ECAL 0.0174 x 1 degree up to 2.958, HCAL 0.087 x 5 degrees up to 1.653, 10 degrees beyond
    eta = np.array([0.01, 1.0, 2.4, 3.2])
    phi = np.zeros(4) + 0.001
    _, elo, ehi, plo, phi_hi = tower_cells(eta, phi, CMS_RND, CMS_RND.towers_of("ecal"))
    assert np.allclose((ehi - elo)[:3], 0.0174) and np.allclose((phi_hi - plo)[:3], np.pi / 180)
    assert ehi[3] - elo[3] == pytest.approx(0.175) and phi_hi[3] - plo[3] == pytest.approx(np.pi / 18)
    _, elo, ehi, plo, phi_hi = tower_cells(eta, phi, CMS_RND, CMS_RND.towers_of("hcal"))
    assert np.allclose((ehi - elo)[:2], 0.087) and np.allclose((phi_hi - plo)[:2], np.pi / 36)
    assert (elo[2], ehi[2]) == pytest.approx((2.322, 2.5)) and phi_hi[2] - plo[2] == pytest.approx(np.pi / 18)
    assert n_tower_cells(CMS_RND.towers_of("ecal")) > 100 * n_tower_cells(ATLAS.tower_regions) / 10


def test_rnd_card_resolutions():
    e = np.array([100.0, 100.0, 100.0])
    eta = np.array([1.0, 2.2, 3.5])
    ecal = energy_resolution(e, eta, "ecal", CMS_RND)
    base = np.sqrt((0.008 * 100) ** 2 + 0.11**2 * 100 + 0.40**2)
    assert ecal[0] == pytest.approx((1 + 0.64) * base)
    assert ecal[1] == pytest.approx((2.16 + 5.6 * 0.2**2) * base)
    assert ecal[2] == pytest.approx(np.sqrt((0.107 * 100) ** 2 + 2.08**2 * 100))
    hcal = energy_resolution(e[:2], np.array([1.0, 3.5]), "hcal", CMS_RND)
    assert hcal == pytest.approx([np.sqrt(5.0**2 + 1.5**2 * 100), np.sqrt(13.0**2 + 2.7**2 * 100)])
    res = track_resolution(np.array([100.0, 100.0, 100.0, 2000.0]), np.array([0.2, 1.0, 2.0, 0.2]), CMS_RND)
    assert res[:3] == pytest.approx([np.hypot(0.06, 0.13), np.hypot(0.10, 0.17), np.hypot(0.25, 0.31)])
    assert res[3] == 1.0  # capped like Delphes' MomentumSmearing


def test_delphes_eflow_pulls_a_poor_track_to_the_calorimeter():
    # a 500 GeV pion: track resolution ~65 %, HCAL ~9 %; the combined estimate is near the HCAL's
    # (either the track is rescaled, or a track-sized deficit leaves a neutral with the excess:
    # track + neutral then add up to the calorimeter energy)
    n = 200
    pion = [(211, 1, 500.0, 0.2, 0.5, 0.1396)]
    total = np.asarray([np.hypot(o.px.sum(), o.py.sum()) for o in (_event(pion, seed=s) for s in range(n))])
    assert np.std(total) / 500.0 < 0.15
    assert np.median(total) == pytest.approx(500.0, rel=0.05)
    ideal = DetectorParams(**{**CMS_RND.__dict__, "eflow": "ideal"})
    bare = np.asarray([np.hypot(o.px.sum(), o.py.sum()) for o in (_event(pion, seed=s, params=ideal) for s in range(n))])
    assert np.std(bare) / 500.0 > 0.3  # the bare track really is that poor


def test_delphes_eflow_neutral_excess_and_separate_cells():
    # a 100 GeV photon and a 50 GeV neutral hadron next to a 20 GeV pion: photon in the ECAL, the
    # neutral hadron's energy shows up as an HCAL excess over the pion track in the same HCAL cell
    out = _event([(22, 0, 100.0, 0.30, 0.30, 0.0), (130, 0, 50.0, 0.31, 0.31, 0.4976),
                  (211, 1, 20.0, 0.32, 0.32, 0.1396)], seed=3)
    kinds = sorted(out.kind.tolist())
    assert kinds == [0, 1, 2]
    e_hcal = out.e[out.kind == 2][0]
    assert e_hcal == pytest.approx(50.0 * np.cosh(0.31), rel=0.35)
    # two photons 0.05 apart are two ECAL candidates (0.0174 cells), one with the ATLAS grid (0.1)
    pair = [(22, 0, 50.0, 0.52, 0.02, 0.0), (22, 0, 50.0, 0.57, 0.02, 0.0)]
    assert (_event(pair).kind == 1).sum() == 2
    assert (_event(pair, params=ATLAS).kind == 1).sum() == 1


def test_delphes_eflow_deterministic_and_muons_pass():
    rows = [(13, -1, 80.0, 0.1, 1.0, 0.1057), (211, 1, 5.0, -1.0, 2.0, 0.1396), (22, 0, 3.0, 2.0, -1.0, 0.0)]
    a, b = _event(rows, seed=7), _event(rows, seed=7)
    for x, y in zip((a.px, a.py, a.pz, a.e, a.kind), (b.px, b.py, b.pz, b.e, b.kind)):
        np.testing.assert_array_equal(x, y)
    ideal = DetectorParams(**{**CMS_RND.__dict__, "eflow": "ideal"})
    for seed in range(20):  # same random stream up to the calorimeters: the muon track is identical
        d, i = _event(rows, seed=seed), _event(rows, seed=seed, params=ideal)
        mu_d = [p for p, k in zip(np.hypot(d.px, d.py), d.kind) if k == 0 and p > 20]
        mu_i = [p for p, k in zip(np.hypot(i.px, i.py), i.kind) if k == 0 and p > 20]
        assert mu_d == mu_i


def test_shipped_fingerprints_match_the_recipes():
    # the new card fields, storage_bits and massless are left out of the fingerprint at their
    # defaults: the shipped ATLAS-card samples still belong to their recipes unchanged
    from benchmark.generate.pythia import SAMPLES_DIR, recipe_fingerprint

    path = SAMPLES_DIR / "MANIFEST.json"
    if not path.exists():
        pytest.skip("no shipped samples")
    manifest = json.loads(path.read_text())["datasets"]
    for dataset, entry in manifest.items():
        if dataset not in RECIPES:
            continue
        for cls, info in entry["classes"].items():
            if cls not in RECIPES[entry["recipe"]].classes:
                continue  # a mixture of the recipe's processes (Dark Machines background): test_generate_reproduce
            assert info["recipe_fingerprint"] == recipe_fingerprint(RECIPES[entry["recipe"]], cls), (dataset, cls)
