"""Per-particle relative coordinates, input cleaning and the masked Standardiser."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.features.constituents import (
    RELATIVE_FEATURES,
    Standardiser,
    clean,
    jet_four_vector,
    rapidity,
    relative_coordinates,
)
from test_features_toys import permute, toy_jets


def test_relative_coordinates_layout_and_values():
    x, mask = toy_jets(15, 20, seed=1, phi0=3.0, dtype=np.float64)
    xp, mp = permute(x, mask)
    feats, m, jet = relative_coordinates(xp, mp)
    assert feats.shape == (15, 20, len(RELATIVE_FEATURES)) and feats.dtype == np.float32
    np.testing.assert_array_equal(m, mask)  # pt-ordered again, real particles first
    np.testing.assert_allclose(jet, jet_four_vector(x, mask))
    pt_rel = feats[..., 2]
    assert np.all(np.diff(np.where(m, pt_rel, -1), axis=1) <= 0)
    np.testing.assert_allclose(pt_rel[m], (x[..., 0] / jet[:, :1])[mask], rtol=1e-6)
    np.testing.assert_allclose(feats[..., 3][m], np.log(pt_rel[m]), rtol=1e-5)
    assert np.all(np.abs(feats[..., 1]) <= np.pi)  # wrapped across the phi seam
    assert np.all(feats[~m] == 0)
    single, sm = toy_jets(3, 4, seed=2)
    sm[:, 1:] = False
    f1, _, _ = relative_coordinates(single, sm)
    assert np.all(np.isfinite(f1)) and np.allclose(f1[:, 0, 4], np.log(1e-8))


def test_truncation_and_padding():
    x, mask = toy_jets(10, 20, seed=3, pad=False)
    f5, m5, j5 = relative_coordinates(x, mask, n_particles=5)
    assert f5.shape[1] == 5 and m5.all()
    np.testing.assert_allclose(j5, jet_four_vector(x[:, :5], mask[:, :5]), rtol=1e-6)
    f30, m30, _ = relative_coordinates(x, mask, n_particles=30)
    assert f30.shape[1] == 30 and not m30[:, 20:].any() and np.all(f30[:, 20:] == 0)


def test_clean_and_rapidity():
    x, mask = toy_jets(4, 6, seed=4)
    x[0, 1, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        clean(x, mask)
    xc, m = clean(x, mask, "drop")
    assert not m[0, 1] and np.all(xc[~m] == 0) and np.all(np.isfinite(xc))
    x[0, 1, 2] = 0.1
    x[1, 2:] = np.nan  # NaN in padding only is fine
    mask[1, 2:] = False
    clean(x, mask)
    pt, eta = np.array([1.0, 2.0, 0.0]), np.array([0.5, -1.0, 0.0])
    np.testing.assert_allclose(rapidity(pt, pt * np.sinh(eta), pt * np.cosh(eta)), eta, atol=1e-12)
    with pytest.raises(ValueError):
        clean(x[..., :3], mask)


def test_standardiser_ignores_padding():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, (200, 10, 3))
    mask = rng.random((200, 10)) < 0.6
    data[~mask] = 1e6  # garbage in padding must not matter
    st = Standardiser().fit(data, mask)
    np.testing.assert_allclose(st.mean_, data[mask].mean(0))
    out = st.transform(data, mask)
    np.testing.assert_allclose(out[mask].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(out[mask].std(0), 1, atol=1e-12)
    assert np.all(out[~mask] == 0)
    back = Standardiser.from_state_dict(st.state_dict()).inverse_transform(out, mask)
    np.testing.assert_allclose(back[mask], data[mask])
    const = Standardiser().fit(np.ones((5, 2)))
    assert np.all(np.isfinite(const.transform(np.ones((5, 2)))))
    with pytest.raises(RuntimeError):
        Standardiser().transform(data)
    with pytest.raises(ValueError):
        Standardiser().fit(data, np.zeros_like(mask))


def test_no_jets_and_no_particle_slots():
    from benchmark.features.efp import efp
    from benchmark.features.images import jet_images
    from benchmark.features.nsubjettiness import nsubjettiness
    from benchmark.features.observables import jet_observables

    none = (np.zeros((0, 5, 4), np.float32), np.zeros((0, 5), bool))
    assert efp(*none).shape == (0, 8)
    assert jet_images(*none).shape == (0, 40, 40)
    assert nsubjettiness(*none).shape == (0, 3)
    assert jet_observables(*none).shape == (0, 4)
    slotless = (np.zeros((3, 0, 4), np.float32), np.zeros((3, 0), bool))
    for out in (efp(*slotless), jet_images(*slotless), nsubjettiness(*slotless),
                jet_observables(*slotless), jet_four_vector(*slotless)):
        assert len(out) == 3 and np.all(out == 0)
