"""Detector speed: the LHCO R&D card (fine ECAL, Delphes energy flow) beside the ATLAS card.

Both run on the same synthetic batch (25 events of 700 particles collimated into two jets, the
size of one LHCO ``nextBatch``); the ATLAS card is the reference, the ratio is reported in
``extra_info``. Nothing is asserted about timing.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

from benchmark.generate.detector import ATLAS, CMS_RND, apply_detector


def _batch(n_events: int = 25, n_particles: int = 700, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = n_events * n_particles
    pid = rng.choice([211, -211, 22, 22, 130, 321, 2112, 11], size=n)
    charge = np.where(np.isin(pid, [211, 321]), 1.0, np.where(np.isin(pid, [-211, 11]), -1.0, 0.0))
    jet = rng.integers(0, 2, n)
    eta = np.where(jet == 0, 0.3, -0.8) + rng.normal(0, 0.3, n)
    phi = np.where(jet == 0, 0.0, np.pi - 0.01) + rng.normal(0, 0.3, n)
    pt = rng.exponential(4.0, n) + 0.2
    mass = np.where(pid == 22, 0.0, 0.14)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    return pid, charge, px, py, pz, e, mass, np.full(n_events, n_particles)


@pytest.mark.parametrize("card", ["cms-rnd"])
def test_detector_rate(benchmark, card):
    args = _batch()
    t0 = time.perf_counter()
    ref = apply_detector(*args, np.random.default_rng(1), ATLAS)
    ref_s = time.perf_counter() - t0
    out = benchmark.pedantic(apply_detector, args=(*args, np.random.default_rng(1), CMS_RND), rounds=1, iterations=1)
    t0 = time.perf_counter()
    apply_detector(*args, np.random.default_rng(1), CMS_RND)
    ours_s = time.perf_counter() - t0
    assert out.counts.sum() > 0 and ref.counts.sum() > 0
    # the finer ECAL resolves more photon candidates than the ATLAS card's 0.1 x 0.1745 cells
    assert (out.kind == 1).sum() > (ref.kind == 1).sum()
    benchmark.extra_info.update({"card": card, "reference": "atlas", "reference_seconds": ref_s,
                                 "seconds": ours_s, "ratio_to_reference": ours_s / max(ref_s, 1e-9),
                                 "events": 25, "particles_per_event": 700})
