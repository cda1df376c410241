"""Event-level features of the resonant (LHC Olympics) task, as CATHODE builds them.

``[mjj, mj_min, mj_max - mj_min, tau21(jet with mj_min), tau21(jet with mj_max)]`` from the two
leading jets (CATHODE ``run_data_preparation_LHCORD.py``; masses in GeV here, ``unit="TeV"``
divides them by 1000 as CATHODE does). tau21 = tau2 / tau1, 0 where tau1 = 0 (CATHODE adds 1e-5 to
the denominator instead). When the two jets have equal masses the leading jet counts as the
lighter one.

Sources, in order: ``jets`` (N, J, 4) (pt, eta, phi, mass), ``jet_nsubjettiness`` (N, J, 3) and
``mjj`` (N,) when the event set has them; otherwise jet four-vectors, N-subjettiness and mjj are
computed from ``constituents`` / ``constituents_mask`` (per jet, see
:mod:`benchmark.features.nsubjettiness`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from benchmark.features.nsubjettiness import jet_four_vector, nsubjettiness, tau_ratios

HIGHLEVEL_NAMES = ("mjj", "mj_min", "delta_mj", "tau21_min", "tau21_max")


def dijet_mass(jets: np.ndarray) -> np.ndarray:
    """(N,) invariant mass of the first two jets of ``jets`` (N, J, 4) (pt, eta, phi, mass)."""
    j = np.asarray(jets, dtype=np.float64)[:, :2]
    pt, eta, phi, m = j[..., 0], j[..., 1], j[..., 2], j[..., 3]
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px * px + py * py + pz * pz + m * m)
    s = e.sum(1) ** 2 - px.sum(1) ** 2 - py.sum(1) ** 2 - pz.sum(1) ** 2
    return np.sqrt(np.maximum(s, 0.0))


def highlevel_features(
    jets: np.ndarray,
    taus: np.ndarray,
    mjj: np.ndarray | None = None,
    unit: str = "GeV",
) -> np.ndarray:
    """(N, 5) features from jets (N, J>=2, 4) (pt, eta, phi, mass), taus (N, J>=2, >=2), mjj (N,)."""
    jets = np.asarray(jets, dtype=np.float64)
    taus = np.asarray(taus, dtype=np.float64)
    if jets.ndim != 3 or jets.shape[1] < 2 or jets.shape[2] != 4:
        raise ValueError(f"need jets of shape (N, J>=2, 4), got {jets.shape}")
    if taus.shape[:2] != jets.shape[:2] or taus.shape[2] < 2:
        raise ValueError(f"taus shape {taus.shape} does not match jets {jets.shape[:2]} x (>=2)")
    if unit not in ("GeV", "TeV"):
        raise ValueError(f"unit must be 'GeV' or 'TeV', got {unit!r}")
    mjj = dijet_mass(jets) if mjj is None else np.asarray(mjj, dtype=np.float64)
    m1, m2 = jets[:, 0, 3], jets[:, 1, 3]
    t = taus[:, :2, :2]
    t21 = np.divide(t[..., 1], t[..., 0], out=np.zeros(t.shape[:2]), where=t[..., 0] > 0)
    first_lighter = m1 <= m2
    mj_min = np.where(first_lighter, m1, m2)
    mj_max = np.where(first_lighter, m2, m1)
    t_min = np.where(first_lighter, t21[:, 0], t21[:, 1])
    t_max = np.where(first_lighter, t21[:, 1], t21[:, 0])
    scale = 1e-3 if unit == "TeV" else 1.0
    out = np.stack([mjj * scale, mj_min * scale, (mj_max - mj_min) * scale, t_min, t_max], axis=-1)
    if not np.isfinite(out).all():
        bad = np.nonzero(~np.isfinite(out).all(axis=1))[0]
        raise ValueError(f"high-level features are non-finite for {len(bad)} events (first: {bad[0]}); "
                         "check the jets / jet_nsubjettiness / mjj arrays")
    return out


def highlevel_from_events(events: Any, unit: str = "GeV", source: str = "auto",
                          **tau_params: Any) -> np.ndarray:
    """:func:`highlevel_features` of an EventSet (stored arrays first, else from constituents).

    ``source``: ``"auto"`` (stored arrays where present), ``"stored"`` (require them) or
    ``"constituents"`` (always recompute from constituents).
    """
    if source not in ("auto", "stored", "constituents"):
        raise ValueError(f"source must be 'auto', 'stored' or 'constituents', got {source!r}")
    have = source != "constituents"
    jets = events.get("jets") if have else None
    taus = events.get("jet_nsubjettiness") if have else None
    mjj = events.get("mjj") if have else None
    if source == "stored" and (jets is None or taus is None):
        raise KeyError("source='stored' needs the arrays 'jets' and 'jet_nsubjettiness'")
    if jets is None or taus is None:
        cons = events["constituents"]
        mask = events.get("constituents_mask")
        N, J = cons.shape[:2]
        if J < 2:
            raise ValueError(f"high-level dijet features need at least 2 jets per event, got J={J}")
        flat = cons[:, :2].reshape(N * 2, *cons.shape[2:])
        fmask = None if mask is None else mask[:, :2].reshape(N * 2, -1)
        if jets is None:
            jets = jet_four_vector(flat, fmask).reshape(N, 2, 4)
        if taus is None:
            taus = nsubjettiness(flat, fmask, n_max=2, **tau_params).reshape(N, 2, 2)
    return highlevel_features(jets, taus, mjj, unit)


__all__ = ["HIGHLEVEL_NAMES", "dijet_mass", "highlevel_features", "highlevel_from_events", "tau_ratios"]
