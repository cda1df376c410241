"""Jet images: symmetries, rotation to 12 o'clock, reweighting, smoothing, oracle, torch path."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.features.images import gaussian_matrix, jet_images
from test_features_toys import permute, toy_jets


def test_unit_sum_shape_and_dtype():
    x, mask = toy_jets(20, 30, seed=1)
    img = jet_images(x, mask)
    assert img.shape == (20, 40, 40) and img.dtype == np.float32
    np.testing.assert_allclose(img.sum((1, 2)), 1.0, rtol=1e-5)
    assert np.all(img >= 0)


def test_permutation_invariance():
    x, mask = toy_jets(25, 30, seed=2, dtype=np.float64)
    xp, mp = permute(x, mask)
    for kw in ({}, {"power": 0.5, "sigma": 1.0}, {"rotate": False, "flip": False}):
        np.testing.assert_allclose(jet_images(xp, mp, dtype=np.float64, **kw),
                                   jet_images(x, mask, dtype=np.float64, **kw), atol=1e-12)


def test_two_prong_jet_is_rotated_to_vertical():
    x, mask = toy_jets(30, 40, seed=3, prongs=2, pad=False, prong_radius=0.25)
    img = jet_images(x, mask, npix=40, extent=0.8)
    rows = img.sum(2)  # intensity per row (vertical profile)
    cols = img.sum(1)  # per column
    # both prongs sit on the vertical axis: almost all intensity in the 2 central columns,
    # spread over rows above and below the centre
    assert np.all(cols[:, 19:21].sum(1) > 0.95)
    assert np.all(rows[:, :20].sum(1) > 0.2) and np.all(rows[:, 20:].sum(1) > 0.2)
    # flip: the upper half carries at least as much as the lower half
    assert np.all(rows[:, :20].sum(1) >= rows[:, 20:].sum(1) - 1e-6)
    # without rotation the prongs are at random angles
    plain = jet_images(x, mask, rotate=False, flip=False)
    assert np.mean(plain.sum(1)[:, 19:21].sum(1) > 0.95) < 0.5


def test_rotation_invariance():
    """Images of a jet and of a rotated copy agree (up to pixel edge effects)."""
    x, mask = toy_jets(20, 50, seed=4, prongs=3, pad=False, prong_radius=0.3, dtype=np.float64)
    ang = 0.7
    eta, phi = x[..., 1], x[..., 2]
    rot = x.copy()
    rot[..., 1] = eta * np.cos(ang) - phi * np.sin(ang)
    rot[..., 2] = eta * np.sin(ang) + phi * np.cos(ang)
    a = jet_images(x, mask, sigma=1.5, dtype=np.float64)
    b = jet_images(rot, mask, sigma=1.5, dtype=np.float64)
    assert np.abs(a - b).sum((1, 2)).max() < 0.3  # L1 distance (of 2) after smoothing


def test_power_reweighting_and_gaussian_filter():
    ndimage = pytest.importorskip("scipy.ndimage")
    x, mask = toy_jets(10, 30, seed=5)
    base = jet_images(x, mask, dtype=np.float64)
    half = jet_images(x, mask, power=0.5, dtype=np.float64)
    expect = np.sqrt(base) / np.sqrt(base).sum((1, 2), keepdims=True)
    np.testing.assert_allclose(half, expect, atol=1e-12)
    smooth = jet_images(x, mask, power=0.5, sigma=2.0, dtype=np.float64)
    ref = ndimage.gaussian_filter(expect, sigma=(0, 2.0, 2.0))
    ref /= ref.sum((1, 2), keepdims=True)
    np.testing.assert_allclose(smooth, ref, atol=1e-12)
    for s in (0.5, 3.0, 30.0):
        a = np.random.default_rng(0).random((40, 40))
        g = gaussian_matrix(40, s)
        np.testing.assert_allclose(g @ a @ g.T, ndimage.gaussian_filter(a, s), atol=1e-12)


def test_matches_energyflow_pixelate():
    ef = pytest.importorskip("energyflow")
    x, mask = toy_jets(40, 30, seed=6, phi0=1.0, dtype=np.float64)
    ours = jet_images(x, mask, npix=33, extent=0.4, centre="pixel", rotate=False, flip=False,
                      dtype=np.float64)
    for k in range(len(x)):
        jet = x[k][mask[k]][:, :3]
        ref = ef.utils.pixelate(jet, npix=33, img_width=0.8)[..., 0]
        np.testing.assert_allclose(ours[k], ref[::-1], atol=1e-12)  # our row 0 is the top


def test_jet_across_phi_seam():
    x, mask = toy_jets(10, 30, seed=7, phi0=np.pi - 0.05, dtype=np.float64)
    wrapped = x.copy()
    wrapped[..., 2] = np.where(mask, (x[..., 2] + np.pi) % (2 * np.pi) - np.pi, 0)
    np.testing.assert_allclose(jet_images(wrapped, mask, dtype=np.float64),
                               jet_images(x, mask, dtype=np.float64), atol=1e-9)


def test_torch_path_matches_numpy_on_cpu():
    pytest.importorskip("torch")
    x, mask = toy_jets(30, 30, seed=8)
    for kw in ({}, {"power": 0.25, "sigma": 1.0}, {"centre": "none"},
               {"centre": "pixel", "rotate": False, "flip": False}):
        np.testing.assert_allclose(jet_images(x, mask, device="cpu", dtype=np.float64, **kw),
                                   jet_images(x, mask, dtype=np.float64, **kw), atol=1e-12)


@pytest.mark.gpu
def test_torch_path_matches_numpy_on_cuda():
    x, mask = toy_jets(500, 60, seed=9)
    np.testing.assert_allclose(jet_images(x, mask, device="cuda", sigma=1.0),
                               jet_images(x, mask, sigma=1.0), atol=1e-6)


def test_empty_jets_and_bad_inputs():
    x, mask = toy_jets(5, 10, seed=10)
    mask[0] = False
    x[1, :, 1] = np.where(mask[1], 5.0, 0)  # every particle far outside the image...
    x[1, 0, 1] = -5.0  # ...on both sides of the centroid
    img = jet_images(x, mask, power=0.5, sigma=1.0)
    assert np.all(np.isfinite(img))
    np.testing.assert_array_equal(img[0], 0)
    np.testing.assert_array_equal(img[1], 0)
    x[2, 0, 0] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        jet_images(x, mask)
    assert np.all(np.isfinite(jet_images(x, mask, on_invalid="drop")))
    for bad in ({"npix": 0}, {"power": -1}, {"sigma": -1}, {"centre": "middle"},
                {"centre": "pixel"}):
        with pytest.raises(ValueError):
            jet_images(x, mask, on_invalid="drop", **bad)
