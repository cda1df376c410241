"""Parametric detector: invisibles, acceptance, efficiencies, resolutions, towers, determinism."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.generate.detector import (
    ATLAS,
    DetectorParams,
    apply_detector,
    energy_resolution,
    is_invisible,
    lognormal_smear,
    tower_cells,
    track_resolution,
    tracking_efficiency,
)


def _particles(rows):
    """rows: (event, pid, charge, pt, eta, phi, mass) -> flat arrays + counts."""
    rows = sorted(rows, key=lambda r: r[0])
    ev = np.array([r[0] for r in rows])
    pid = np.array([r[1] for r in rows])
    charge = np.array([r[2] for r in rows], dtype=float)
    pt, eta, phi, m = (np.array([r[i] for r in rows], dtype=float) for i in (3, 4, 5, 6))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    counts = np.bincount(ev, minlength=ev.max() + 1)
    return pid, charge, px, py, pz, e, m, counts


def _run(rows, seed=0, params=ATLAS):
    return apply_detector(*_particles(rows), np.random.default_rng(seed), params)


def test_invisible_ids():
    pid = np.array([12, -14, 16, 1000022, 4900111, -4900211, 4900101, 4999999, 211, 22, 5000000])
    assert is_invisible(pid).tolist() == [True] * 8 + [False] * 3


def test_invisible_particles_leave_nothing():
    out = _run([(0, 12, 0, 50, 0.1, 0.2, 0), (0, 4900111, 0, 80, 0.3, 1.0, 4.0),
                (0, -4900213, 0, 30, -0.5, 2.0, 5.0), (1, 14, 0, 10, 1.0, 0.0, 0)])
    assert out.counts.tolist() == [0, 0]
    assert len(out.e) == 0


def test_charged_tracks_and_calorimeter_split():
    no_eff = DetectorParams(track_eff_barrel=(1.0, 1.0), track_eff_endcap=(1.0, 1.0), towers=False)
    out = _run([(0, 211, 1, 20.0, 0.5, 0.1, 0.1396),      # track
                (0, 22, 0, 20.0, 0.5, 1.1, 0.0),          # ECAL
                (0, 2112, 0, 20.0, -0.5, 2.1, 0.9396),    # HCAL
                (0, 211, 1, 20.0, 3.0, -1.0, 0.1396),     # outside tracker -> HCAL
                (0, 22, 0, 20.0, 5.5, 0.0, 0.0),          # outside calorimeter -> lost
                (0, 13, -1, 20.0, 3.5, 0.0, 0.1057)],     # muon outside tracker -> lost
               params=no_eff)
    assert out.counts.tolist() == [4]
    assert sorted(out.kind.tolist()) == [0, 1, 2, 2]
    pt = np.hypot(out.px, out.py)
    assert np.all(np.abs(pt - 20.0) < 20.0 * 0.5)


def test_tracking_efficiency_values():
    pt = np.array([0.05, 0.5, 5.0, 0.5, 5.0, 5.0])
    eta = np.array([0.0, 0.0, 0.0, 2.0, 2.0, 2.7])
    assert tracking_efficiency(pt, eta).tolist() == [0.0, 0.70, 0.95, 0.60, 0.85, 0.0]


def test_track_resolution_formula_and_cap():
    got = track_resolution(np.array([10.0, 10.0, 1000.0]), np.array([0.0, 2.0, 0.0]))
    assert got[0] == pytest.approx(np.hypot(0.01, 5e-4 * 10))
    assert got[1] == pytest.approx(np.hypot(0.02, 1e-3 * 10))
    assert got[2] == pytest.approx(0.05)


def test_calorimeter_resolution_formulas():
    e = np.array([100.0, 100.0, 100.0, 100.0])
    eta = np.array([0.5, 4.0, 1.0, 2.0])
    ecal = energy_resolution(e[:2], eta[:2], "ecal")
    assert ecal[0] == pytest.approx(np.sqrt((0.0017 * 100) ** 2 + 0.101**2 * 100))
    assert ecal[1] == pytest.approx(np.sqrt((0.035 * 100) ** 2 + 0.285**2 * 100))
    hcal = energy_resolution(e[2:], eta[2:], "hcal")
    assert hcal[0] == pytest.approx(np.sqrt((0.0302 * 100) ** 2 + 0.5205**2 * 100 + 1.59**2))
    assert hcal[1] == pytest.approx(np.sqrt((0.05 * 100) ** 2 + 0.706**2 * 100))
    with pytest.raises(ValueError):
        energy_resolution(e, eta, "muon")


def test_lognormal_smear_mean_and_width():
    rng = np.random.default_rng(1)
    mean = np.full(200_000, 50.0)
    x = lognormal_smear(mean, np.full_like(mean, 5.0), rng)
    assert x.min() > 0
    assert x.mean() == pytest.approx(50.0, rel=3e-3)
    assert x.std() == pytest.approx(5.0, rel=2e-2)


def test_hcal_smearing_statistics():
    n = 4000
    rows = [(i, 2112, 0, 100.0, 0.0, 0.3, 0.9396) for i in range(n)]
    out = _run(rows, params=DetectorParams(towers=False))
    e = out.e[out.kind == 2]
    sigma = energy_resolution(np.array([100.0]), np.array([0.0]), "hcal")[0]
    assert e.mean() == pytest.approx(100.0, abs=4 * sigma / np.sqrt(n))
    assert e.std() == pytest.approx(sigma, rel=0.08)


def test_towers_merge_deposits_in_one_cell():
    # two photons in the same 0.1 x 10 degree cell, one far away
    out = _run([(0, 22, 0, 30.0, 0.52, 0.01, 0.0), (0, 22, 0, 20.0, 0.57, 0.05, 0.0),
                (0, 22, 0, 10.0, -1.0, 2.0, 0.0)])
    assert out.counts.tolist() == [2]
    e = np.sort(out.e)
    assert e[1] == pytest.approx((30.0 + 20.0) * np.cosh(0.55), rel=0.1)
    pt = np.hypot(out.px, out.py)
    eta = np.arcsinh(out.pz / pt)
    big = np.argmax(out.e)
    assert 0.5 <= eta[big] <= 0.6  # inside the cell (tower centre smeared within it)
    assert np.allclose(out.e, pt * np.cosh(eta))  # massless


def test_tower_cells_grid():
    eta = np.array([0.05, -0.05, 3.1, 3.3, -4.8])
    phi = np.array([0.0, 0.0, 3.1, -3.1, 1.0])
    cell, elo, ehi, plo, phi_hi = tower_cells(eta, phi)
    assert len(set(cell.tolist())) == 5
    assert np.all((elo <= eta) & (eta <= ehi)) and np.all((plo <= phi) & (phi <= phi_hi))
    assert ehi[0] - elo[0] == pytest.approx(0.1)
    assert phi_hi[0] - plo[0] == pytest.approx(2 * np.pi / 36)
    assert phi_hi[3] - plo[3] == pytest.approx(2 * np.pi / 18)


def test_thresholds_remove_soft_deposits():
    out = _run([(0, 22, 0, 0.2, 0.0, 0.0, 0.0), (0, 130, 0, 0.5, 1.0, 1.0, 0.4976)])
    assert out.counts.tolist() == [0]


def test_deterministic_for_a_seed_and_grouped_by_event():
    rng = np.random.default_rng(5)
    rows = [(int(rng.integers(0, 6)), int(rng.choice([211, -211, 22, 2112, 130, 11, 13, 12])), 0,
             float(rng.exponential(10) + 0.2), float(rng.uniform(-5, 5)), float(rng.uniform(-np.pi, np.pi)), 0.14)
            for _ in range(300)]
    rows = [(r[0], r[1], {211: 1, -211: -1, 11: -1, 13: -1}.get(r[1], 0), *r[3:]) for r in rows]
    a, b, c = _run(rows, seed=3), _run(rows, seed=3), _run(rows, seed=4)
    assert np.array_equal(a.e, b.e) and np.array_equal(a.counts, b.counts)
    assert not (len(a.e) == len(c.e) and np.array_equal(a.e, c.e))
    assert a.counts.sum() == len(a.e) == len(a.px)
    assert len(a.counts) == max(r[0] for r in rows) + 1
