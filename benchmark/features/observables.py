"""Jet observables of whats-anomalous Eq. 4: mass, multiplicity, girth and C_0.2.

* mass: invariant mass of the E-scheme sum of the real constituents;
* multiplicity n_PF: number of real constituents (mask True, finite, pt > 0);
* girth w_PF = sum_i pt_i R_(i,jet) / sum_i pt_i, with R in (rapidity, azimuth) from the jet axis
  (the constituent sum);
* C_0.2 = sum_(i,j) pt_i pt_j R_ij^0.2 / (sum_i pt_i)^2 (= the one-edge EFP with beta = 0.2).

Empty jets give zeros.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from benchmark.features.constituents import clean, four_momenta, rapidity, wrap_phi
from benchmark.features.efp import efp

OBSERVABLES = ("mass", "multiplicity", "girth", "c02")


def jet_observables(
    constituents: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    device: Any = None,
    n_threads: int | None = None,
    on_invalid: str = "raise",
) -> np.ndarray:
    """(M, 4) float64 [mass, multiplicity, girth, C_0.2] of jets (M, P, 4) (pt, eta, phi, E)."""
    x, m = clean(constituents, mask, on_invalid)
    px, py, pz, e = four_momenta(x)
    jpx, jpy, jpz, je = px.sum(1), py.sum(1), pz.sum(1), e.sum(1)
    mass = np.sqrt(np.maximum(je * je - jpx * jpx - jpy * jpy - jpz * jpz, 0.0))
    mult = m.sum(1).astype(np.float64)
    pt = x[..., 0]
    jpt = np.hypot(jpx, jpy)
    jy = rapidity(jpt, jpz, je)
    jphi = np.arctan2(jpy, jpx)
    y = rapidity(pt, pz, e)
    r = np.hypot(y - jy[:, None], wrap_phi(x[..., 2] - jphi[:, None]))
    spt = pt.sum(1)
    num = np.where(m, pt * r, 0.0).sum(1)
    girth = np.divide(num, spt, out=np.zeros_like(num), where=spt > 0)
    c02 = efp(x, m, graphs=[[(0, 1)]], beta=0.2, device=device, n_threads=n_threads)[:, 0]
    return np.stack([mass, mult, girth, c02], axis=-1)
