"""Toy dijet events for the resonant-AD tests: the four CATHODE features with a known law.

Background: mjj falling from 2.3 TeV; the lighter jet's mass shifts linearly with mjj
(``SLOPE`` GeV per TeV), so a conditional generator must follow mjj; signal: a 3.5 TeV resonance
with jet masses 100 and 500 GeV and two-prong (low tau21) jets.
"""
from __future__ import annotations

import numpy as np

from benchmark.contract import FitContext
from benchmark.events import EventSet, make_event_ids

SR = (3300.0, 3700.0)
SIDEBANDS = ((2300.0, 3300.0), (3700.0, 5000.0))
SLOPE = 60.0  # GeV of mj_min per TeV of mjj
MJ0 = 150.0   # mj_min at mjj = 3.5 TeV


def background_mean_mj(mjj: np.ndarray) -> np.ndarray:
    """The toy background's mean lighter-jet mass (GeV) at ``mjj`` (GeV)."""
    return MJ0 + SLOPE * (np.asarray(mjj, float) - 3500.0) / 1000.0


def dijet_events(mjj: np.ndarray, mj_min: np.ndarray, dmj: np.ndarray, tau21_min: np.ndarray,
                 tau21_max: np.ndarray, namespace: str) -> EventSet:
    """An EventSet whose ``highlevel`` features are exactly (mjj, mj_min, dmj, tau21_min, tau21_max)."""
    n = len(mjj)
    jets = np.zeros((n, 2, 4))
    jets[:, :, 0] = np.asarray(mjj)[:, None] / 2
    jets[:, 0, 3], jets[:, 1, 3] = mj_min, np.asarray(mj_min) + np.asarray(dmj)
    taus = np.ones((n, 2, 3))
    taus[:, 0, 1], taus[:, 1, 1] = tau21_min, tau21_max
    taus[:, :, 2] = 0.5 * taus[:, :, 1]
    return EventSet({"jets": jets, "jet_nsubjettiness": taus, "mjj": np.asarray(mjj, float),
                     "weights": np.ones(n)}, make_event_ids(namespace, n))


def background(rng: np.random.Generator, n: int, window: tuple[float, float] = (2300.0, 5000.0),
               namespace: str = "toy/bkg") -> EventSet:
    mjj = np.empty(0)
    while len(mjj) < n:
        draw = 2300.0 + rng.exponential(900.0, 2 * n)
        mjj = np.concatenate([mjj, draw[(draw > window[0]) & (draw < window[1])]])
    mjj = mjj[:n]
    mj = rng.normal(background_mean_mj(mjj), 25.0)
    return dijet_events(mjj, np.clip(mj, 10.0, None), rng.gamma(2.0, 60.0, n), rng.beta(6, 3, n),
                        rng.beta(6, 3, n), namespace)


def signal(rng: np.random.Generator, n: int, namespace: str = "toy/sig") -> EventSet:
    mjj = np.clip(rng.normal(3500.0, 80.0, n), SR[0] + 1, SR[1] - 1)
    return dijet_events(mjj, rng.normal(100.0, 8.0, n), rng.normal(400.0, 15.0, n), rng.beta(2, 6, n),
                        rng.beta(2, 6, n), namespace)


def in_windows(events: EventSet, windows: tuple[tuple[float, float], ...]) -> EventSet:
    m = events["mjj"]
    keep = np.zeros(len(m), bool)
    for lo, hi in windows:
        keep |= (m > lo) & (m < hi)
    return events.take(np.flatnonzero(keep))


def context(seed: int = 0, **fields: object) -> FitContext:
    return FitContext(task="toy/rnd", protocol="resonant", seed=seed, device="cpu", signal_region=SR,
                      log=lambda msg: None, **fields)  # type: ignore[arg-type]


def hanley_mcneil_null_sigma(n_pos: int, n_neg: int) -> float:
    """Standard deviation of the AUC of a score with no information (AUC = 0.5), Hanley & McNeil
    (1982) at A = 0.5, i.e. the Mann-Whitney null: sqrt((n_pos + n_neg + 1) / (12 n_pos n_neg))."""
    return float(np.sqrt((n_pos + n_neg + 1) / (12.0 * n_pos * n_neg)))


def dijet_cloud_events(rng: np.random.Generator, n: int, window: tuple[float, float] = (2300.0, 5000.0),
                       namespace: str = "toy/cloud") -> EventSet:
    """Toy dijet events with constituents and a known law: mjj as :func:`background`, jet masses as
    there (mean moving with mjj), 4-12 particles per jet spread around the axis by a width that
    grows with the jet mass (so the particle model must follow the jet features and thus mjj), pT
    fractions from a flat Dirichlet, massless constituents."""
    base = background(rng, n, window, namespace)
    mjj = base["mjj"]
    masses = np.stack([base["jets"][:, 0, 3], base["jets"][:, 1, 3]], 1)
    P = 12
    jets = np.zeros((n, 2, 4))
    jets[..., 0] = mjj[:, None] / 2 * rng.uniform(0.9, 1.0, (n, 2))
    jets[..., 1] = rng.normal(0.0, 0.5, (n, 2))
    phi1 = rng.uniform(-np.pi, np.pi, n)
    jets[:, 0, 2], jets[:, 1, 2] = phi1, np.mod(phi1 + np.pi + rng.normal(0, 0.05, n) + np.pi, 2 * np.pi) - np.pi
    jets[..., 3] = masses
    counts = rng.integers(4, P + 1, (n, 2))
    mask = np.arange(P)[None, None, :] < counts[..., None]
    frac = -np.sort(-rng.dirichlet(np.ones(P), (n, 2)) * mask, axis=-1)
    frac /= frac.sum(-1, keepdims=True)
    width = 0.05 * masses[..., None] / 150.0
    cons = np.zeros((n, 2, P, 4))
    cons[..., 0] = frac * jets[..., 0:1]
    cons[..., 1] = jets[..., 1:2] + rng.normal(0, 1, (n, 2, P)) * width
    cons[..., 2] = jets[..., 2:3] + rng.normal(0, 1, (n, 2, P)) * width
    cons[..., 3] = cons[..., 0] * np.cosh(cons[..., 1])
    cons *= mask[..., None]
    return EventSet({"jets": jets, "constituents": cons, "constituents_mask": mask, "mjj": mjj,
                     "jet_nsubjettiness": base["jet_nsubjettiness"], "weights": np.ones(n)}, make_event_ids(namespace, n))
