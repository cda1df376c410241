"""Image preprocessing options the k-means scores of arXiv:2202.00686 depend on (sec. 2.3):
pT^n reweighting down to n = 0 (hit map), the log variant, the Gaussian filter, on both paths."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.features.images import jet_images
from test_features_toys import toy_jets


def test_power_zero_is_unweighted_hit_map():
    x, mask = toy_jets(12, 30, seed=11)
    base = jet_images(x, mask, dtype=np.float64)
    hits = jet_images(x, mask, power=0.0, dtype=np.float64)
    expect = (base > 0) / (base > 0).sum((1, 2), keepdims=True)
    np.testing.assert_allclose(hits, expect, atol=1e-12)
    # every hit pixel weighs the same, whatever its pt: the hardest pixel is no longer special
    for img in hits:
        lit = img[img > 0]
        assert np.ptp(lit) < 1e-12 and lit.size > 1


def test_log_variant_and_its_conflict_with_power():
    x, mask = toy_jets(12, 30, seed=12)
    base = jet_images(x, mask, dtype=np.float64)
    logged = jet_images(x, mask, log_scale=1000.0, dtype=np.float64)
    expect = np.log1p(1000.0 * base)
    expect /= expect.sum((1, 2), keepdims=True)
    np.testing.assert_allclose(logged, expect, atol=1e-12)
    assert np.all((logged > 0) == (base > 0))  # empty pixels stay empty
    with pytest.raises(ValueError, match="log_scale=1000.0 and power=0.5"):
        jet_images(x, mask, log_scale=1000.0, power=0.5)
    with pytest.raises(ValueError, match="power must be >= 0"):
        jet_images(x, mask, power=-0.5)


def test_sigma_smooths_and_keeps_unit_total():
    x, mask = toy_jets(12, 30, seed=13)
    sharp = jet_images(x, mask, power=0.25, dtype=np.float64)
    smooth = jet_images(x, mask, power=0.25, sigma=3.0, dtype=np.float64)
    np.testing.assert_allclose(smooth.sum((1, 2)), 1.0, atol=1e-12)
    assert np.all((smooth > 1e-12).sum((1, 2)) > (sharp > 0).sum((1, 2)))  # intensity spread out
    assert np.all(smooth.max((1, 2)) < sharp.max((1, 2)))                   # peaks lowered


@pytest.mark.parametrize("opts", [{"power": 0.0}, {"log_scale": 100.0, "sigma": 1.0}])
def test_new_options_same_on_torch_path(opts):
    pytest.importorskip("torch")
    x, mask = toy_jets(9, 25, seed=14, dtype=np.float64)
    ref = jet_images(x, mask, dtype=np.float64, **opts)
    got = jet_images(x, mask, dtype=np.float64, device="cpu", **opts)
    np.testing.assert_allclose(got, ref, atol=1e-10)


def test_options_reach_the_event_set_representation():
    from benchmark.events import EventSet

    x, mask = toy_jets(6, 20, seed=15)
    ev = EventSet({"constituents": x[:, None], "constituents_mask": mask[:, None]}, np.arange(len(x)))
    hits = ev.features("images", power=0.0, cache=False)[:, 0]
    np.testing.assert_allclose(hits, jet_images(x, mask, power=0.0), atol=1e-7)
