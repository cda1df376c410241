"""Toy jets shared by the feature tests (imported as ``test_features_toys``), and their checks."""
from __future__ import annotations

import numpy as np


def toy_jets(n_jets: int, n_part: int, seed: int = 0, prongs: int = 0, spread: float = 0.3,
             pad: bool = True, phi0: float = 0.0, prong_radius: float = 0.4,
             dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Random massless jets (pt, eta, phi, E), pt-ordered, zero-padded with random multiplicity.

    ``prongs`` > 0 puts the particles in that many narrow (0.01) prongs on a circle of radius
    ``prong_radius`` (random orientation); otherwise Gaussian around the origin of width ``spread``.
    """
    rng = np.random.default_rng(seed)
    pt = rng.exponential(10.0, (n_jets, n_part)) + 0.1
    if prongs:
        ang = rng.uniform(0, 2 * np.pi, (n_jets, 1)) + 2 * np.pi * np.arange(prongs) / prongs
        rad = prong_radius if prongs > 1 else 0.0
        centres = np.stack([rad * np.cos(ang), rad * np.sin(ang)], -1)
        which = rng.integers(0, prongs, (n_jets, n_part))
        which[:, :prongs] = np.arange(prongs)  # every prong populated
        c = np.take_along_axis(centres, which[..., None], axis=1)
        eta = c[..., 0] + rng.normal(0, 0.01, (n_jets, n_part))
        phi = c[..., 1] + rng.normal(0, 0.01, (n_jets, n_part))
    else:
        eta = rng.normal(0, spread, (n_jets, n_part))
        phi = rng.normal(0, spread, (n_jets, n_part))
    phi = phi + phi0
    order = np.argsort(-pt, axis=1)
    pt, eta, phi = (np.take_along_axis(a, order, 1) for a in (pt, eta, phi))
    x = np.stack([pt, eta, phi, pt * np.cosh(eta)], -1).astype(dtype)
    mult = rng.integers(1, n_part + 1, n_jets) if pad else np.full(n_jets, n_part)
    mask = np.arange(n_part)[None] < mult[:, None]
    x[~mask] = 0
    return x, mask


def permute(x: np.ndarray, mask: np.ndarray, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle particles within each jet (padding moves too)."""
    rng = np.random.default_rng(seed)
    perm = np.stack([rng.permutation(x.shape[1]) for _ in range(len(x))])
    return np.take_along_axis(x, perm[..., None], 1), np.take_along_axis(mask, perm, 1)


def test_toy_jets_layout():
    x, mask = toy_jets(20, 15, prongs=2)
    assert x.shape == (20, 15, 4) and mask.shape == (20, 15)
    assert np.all(x[~mask] == 0) and np.all(x[mask][:, 0] > 0)
    assert np.all(np.diff(np.where(mask, x[..., 0], -1), axis=1) <= 0)  # pt-ordered
