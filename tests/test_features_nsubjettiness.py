"""N-subjettiness: agreement between backends and with a per-jet reference, physics, edge cases."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from benchmark.features.nsubjettiness import jet_four_vector, nsubjettiness, tau_ratios
from test_features_toys import permute, toy_jets


def reference_taus(x, mask, n_max=3, beta=1.0, R=1.0):
    """Straightforward per-jet implementation: FastJet classic interface + a Python loop."""
    import fastjet

    jet_def = fastjet.JetDefinition(fastjet.kt_algorithm, fastjet.JetDefinition.max_allowable_R,
                                    fastjet.E_scheme)
    out = np.zeros((len(x), n_max))
    for k in range(len(x)):
        parts = []
        for pt, eta, phi, e in x[k][mask[k]].astype(np.float64):
            if pt <= 0:
                continue
            parts.append(fastjet.PseudoJet(pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), e))
        if not parts:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seq = fastjet.ClusterSequence(parts, jet_def)
        d0 = sum(p.pt() for p in parts) * R**beta
        for n in range(1, n_max + 1):
            if len(parts) <= n:
                continue
            axes = seq.exclusive_jets(n)
            num = 0.0
            for p in parts:
                dr = min(np.sqrt(p.squared_distance(a)) for a in axes)
                num += p.pt() * dr**beta
            out[k, n - 1] = num / d0
    return out


@pytest.mark.parametrize("backend", ["fastjet", "numpy", "torch"])
def test_backends_match_per_jet_reference(backend):
    x, mask = toy_jets(120, 40, seed=1)
    mask[:4] = np.arange(40)[None] < np.array([0, 1, 2, 3])[:, None]
    got = nsubjettiness(x, mask, backend=backend)
    ref = reference_taus(x, mask)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)
    assert got.shape == (120, 3) and got.dtype == np.float64


def test_beta_and_radius():
    x, mask = toy_jets(30, 25, seed=2)
    got = nsubjettiness(x, mask, n_max=2, beta=2.0, R=0.8)
    np.testing.assert_allclose(got, reference_taus(x, mask, 2, 2.0, 0.8), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("prongs", [1, 2, 3])
def test_n_prong_jets_have_small_tau_n(prongs):
    x, mask = toy_jets(50, 60, seed=prongs, prongs=prongs, pad=False)
    taus = nsubjettiness(x, mask, n_max=3)
    # tau_N of an N-prong jet is much smaller than tau_(N-1)
    if prongs >= 2:
        assert np.all(taus[:, prongs - 1] < 0.2 * taus[:, prongs - 2])
    assert np.all(taus[:, prongs - 1] < 0.05)
    assert np.all(np.diff(taus, axis=1) <= 1e-12)  # tau_N decreases with N


def test_edge_cases_are_finite():
    x = np.zeros((4, 5, 4), np.float32)
    mask = np.zeros((4, 5), bool)
    x[1, 0] = [10, 0.1, 0.2, 10 * np.cosh(0.1)]
    mask[1, 0] = True
    x[2, :2] = [[10, 0.1, 0.2, 10 * np.cosh(0.1)], [5, -0.1, 0.3, 5 * np.cosh(0.1)]]
    mask[2, :2] = True
    x[3, :3] = np.nan  # NaN padding is ignored
    taus = nsubjettiness(x, mask)
    assert np.all(np.isfinite(taus))
    np.testing.assert_array_equal(taus[[0, 1, 3]], 0.0)
    assert taus[2, 0] > 0 and taus[2, 1] == 0 and taus[2, 2] == 0
    t21, t32 = tau_ratios(taus)
    assert np.all(np.isfinite(t21)) and t21[0] == 0 and t32[2] == 0


def test_nan_real_particle_raises_or_drops():
    x, mask = toy_jets(5, 10, seed=3)
    mask[:] = True
    x[2, 3, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        nsubjettiness(x, mask)
    dropped = nsubjettiness(x, mask, on_invalid="drop")
    m2 = mask.copy()
    m2[2, 3] = False
    np.testing.assert_allclose(dropped, nsubjettiness(x, m2))


def test_permutation_invariance_and_padding_position():
    x, mask = toy_jets(20, 30, seed=4)
    xp, mp = permute(x, mask)
    np.testing.assert_allclose(nsubjettiness(xp, mp), nsubjettiness(x, mask), rtol=1e-10, atol=1e-14)


def test_jet_four_vector():
    x, mask = toy_jets(10, 20, seed=5)
    jv = jet_four_vector(x, mask)
    xd = x.astype(np.float64)
    px = (xd[..., 0] * np.cos(xd[..., 2]) * mask).sum(1)
    py = (xd[..., 0] * np.sin(xd[..., 2]) * mask).sum(1)
    pz = (xd[..., 0] * np.sinh(xd[..., 1]) * mask).sum(1)
    e = (xd[..., 3] * mask).sum(1)
    np.testing.assert_allclose(jv[:, 0], np.hypot(px, py))
    np.testing.assert_allclose(jv[:, 3], np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0)),
                               rtol=1e-6, atol=1e-3)
    assert np.all(jet_four_vector(np.zeros((2, 3, 4)), np.zeros((2, 3), bool)) == 0)


def test_tau_ratios():
    t21, t32 = tau_ratios(np.array([[0.5, 0.25, 0.05], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(t21, [0.5, 0.0])
    np.testing.assert_allclose(t32, [0.2, 0.0])


def test_bad_arguments():
    x, mask = toy_jets(3, 5)
    with pytest.raises(ValueError):
        nsubjettiness(x[..., :3], mask)
    with pytest.raises(ValueError):
        nsubjettiness(x, mask[:, :4])
    with pytest.raises(ValueError, match="backend"):
        nsubjettiness(x, mask, backend="cuda-magic")


@pytest.mark.gpu
def test_torch_backend_on_cuda_matches_fastjet():
    x, mask = toy_jets(400, 60, seed=7)
    np.testing.assert_allclose(nsubjettiness(x, mask, device="cuda"),
                               nsubjettiness(x, mask, backend="fastjet"), rtol=1e-9, atol=1e-12)
