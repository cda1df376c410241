"""Energy flow polynomials: energyflow oracle, symmetries, small-angle limit, torch path, inputs."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.features.efp import ALL_D3, PRIME_D3, _plan, efp, efp_names
from test_features_toys import permute, toy_jets


def _p4(x: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    """Per-jet (E, px, py, pz) float64 arrays of the real particles (energyflow input)."""
    out = []
    for k in range(len(x)):
        pt, eta, phi, e = x[k][mask[k]].astype(np.float64).T
        out.append(np.stack([e, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], -1))
    return out


@pytest.mark.parametrize("kw", [
    {},
    {"kappa": 0.5, "beta": 0.5},
    {"kappa": 2.0, "beta": 2.0, "normed": False},
    {"beta": 1.5},
])
def test_matches_energyflow_all_d3(kw):
    ef = pytest.importorskip("energyflow")
    x, mask = toy_jets(40, 30, seed=3, dtype=np.float64)
    # massless float64 input: energyflow's rapidity from (E, pz) equals ours to rounding
    ref = ef.EFPSet("d<=3", measure="hadr", coords="epxpypz", **kw).batch_compute(_p4(x, mask), n_jobs=1)
    got = efp(x, mask, graphs=ALL_D3, n_threads=1, **kw)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=0)


def test_prime_set_is_energyflow_prime_order():
    ef = pytest.importorskip("energyflow")
    s = ef.EFPSet("d<=3", "p<=1", "d>=1", measure="hadr", beta=1, normed=True)
    assert [sorted(map(tuple, g)) for g in s.graphs()] == [sorted(g) for g in PRIME_D3]
    x, mask = toy_jets(25, 40, seed=4, dtype=np.float64)
    oracle = ef.EFPSet("d<=3", "p<=1", "d>=1", measure="hadr", coords="epxpypz")
    ref = oracle.batch_compute(_p4(x, mask), n_jobs=1)
    np.testing.assert_allclose(efp(x, mask), ref, rtol=1e-10, atol=0)


def test_generic_graph_fallback_matches_energyflow():
    ef = pytest.importorskip("energyflow")
    graphs = [[(0, 1), (1, 2), (2, 3), (3, 0)], [(0, 1), (0, 1), (1, 2), (2, 0)]]  # d = 4
    x, mask = toy_jets(10, 12, seed=5, dtype=np.float64)
    ref = ef.EFPSet(*graphs, measure="hadr", coords="epxpypz").batch_compute(_p4(x, mask), n_jobs=1)
    np.testing.assert_allclose(efp(x, mask, graphs=graphs), ref, rtol=1e-10, atol=0)


def test_graph_classification_and_relabelling():
    assert _plan([]) == ["vertex"]
    assert _plan([(5, 7)]) == ["e1"]
    assert _plan([(1, 0), (2, 0), (0, 2)]) == ["de"]
    assert _plan([(0, 1), (1, 2), (2, 0)]) == ["tri"]
    assert _plan([(3, 0), (3, 1), (3, 2)]) == ["star"]
    assert _plan([(0, 1), (1, 2), (2, 3)]) == ["p3"]
    assert sorted(_plan([(0, 1), (2, 3), (2, 3)])) == ["e1", "e2"]
    with pytest.raises(ValueError, match="self-loops"):
        _plan([(1, 1)])
    assert efp_names()[:2] == ["EFP1", "EFP2"]


def test_permutation_invariance_and_padding():
    x, mask = toy_jets(30, 40, seed=6)
    xp, mp = permute(x, mask)
    np.testing.assert_allclose(efp(xp, mp, graphs=ALL_D3), efp(x, mask, graphs=ALL_D3), rtol=1e-12)
    wide = np.concatenate([x, np.full((30, 7, 4), np.nan, np.float32)], axis=1)  # NaN padding
    wmask = np.concatenate([mask, np.zeros((30, 7), bool)], axis=1)
    np.testing.assert_allclose(efp(wide, wmask), efp(x, mask), rtol=1e-12)


def test_efp2_is_twice_mass_over_pt_squared_in_small_angle_limit():
    x, mask = toy_jets(20, 30, seed=7, spread=0.01, pad=False, dtype=np.float64)
    e2 = efp(x, mask)[:, 1]
    pt, eta, phi, e = np.moveaxis(x, -1, 0)
    px, py, pz = (pt * np.cos(phi)).sum(1), (pt * np.sin(phi)).sum(1), (pt * np.sinh(eta)).sum(1)
    m2 = e.sum(1) ** 2 - px**2 - py**2 - pz**2
    ratio = e2 / (2 * m2 / pt.sum(1) ** 2)
    np.testing.assert_allclose(ratio, 1.0, rtol=2e-3)


def test_phi_wrap_around_pi():
    x, mask = toy_jets(20, 25, seed=8, phi0=np.pi - 0.05, spread=0.2)
    x2 = x.copy()
    x2[..., 2] = np.where(mask, (x[..., 2] + np.pi) % (2 * np.pi) - np.pi, 0)  # wrapped copy
    y, m = toy_jets(20, 25, seed=8, phi0=0.0, spread=0.2)  # same jets, away from the seam
    np.testing.assert_allclose(efp(x2, mask), efp(y, m), rtol=1e-5)
    # a jet spread over more than pi/2 in phi takes the general (wrapping) path
    wide, wm = toy_jets(5, 20, seed=9, spread=1.5, pad=False, dtype=np.float64)
    assert np.all(np.isfinite(efp(wide, wm)))


def test_torch_path_matches_numpy_on_cpu():
    pytest.importorskip("torch")
    x, mask = toy_jets(30, 35, seed=10)
    for kw in ({}, {"kappa": 0.5, "beta": 0.7}):
        np.testing.assert_allclose(efp(x, mask, graphs=ALL_D3, device="cpu", **kw),
                                   efp(x, mask, graphs=ALL_D3, **kw), rtol=1e-12)


@pytest.mark.gpu
def test_torch_path_matches_numpy_on_cuda():
    x, mask = toy_jets(300, 60, seed=11)
    np.testing.assert_allclose(efp(x, mask, graphs=ALL_D3, device="cuda"),
                               efp(x, mask, graphs=ALL_D3), rtol=1e-11)


def test_threads_give_identical_results():
    x, mask = toy_jets(200, 50, seed=12)
    np.testing.assert_array_equal(efp(x, mask, n_threads=1), efp(x, mask, n_threads=3))


def test_empty_and_bad_inputs():
    x, mask = toy_jets(6, 10, seed=13)
    mask[0] = False  # empty jet
    mask[1, 1:] = False  # one particle: every EFP with an edge is 0
    x[2, 3] = 0  # a real particle with pt = 0 is dropped
    out = efp(x, mask, graphs=ALL_D3)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[0], 0.0)
    np.testing.assert_allclose(out[1], [1.0] + [0.0] * 12)
    x[4, 2, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        efp(x, mask)
    dropped = efp(x, mask, on_invalid="drop")
    assert np.all(np.isfinite(dropped))
    with pytest.raises(ValueError, match="beta"):
        efp(x, mask, beta=0)
    with pytest.raises(ValueError, match="on_invalid"):
        efp(x, mask, on_invalid="ignore")
