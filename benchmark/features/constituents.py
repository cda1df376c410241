"""Per-particle representations: input checks, four-momenta and relative coordinates.

Every feature module takes per-jet arrays ``constituents`` (M, P, 4) = (pt, eta, phi, E) and a
``mask`` (M, P) (True for real particles). :func:`clean` is the one place that decides what a
"real" particle is and what happens to bad input:

* padded entries (mask False) are ignored whatever they hold (NaN padding is fine);
* real particles with ``pt <= 0`` carry no momentum and are dropped from the mask;
* real particles with a non-finite component raise :class:`ValueError` (``on_invalid="raise"``,
  the default) or are dropped (``on_invalid="drop"``), so NaNs never reach a feature silently.

Empty jets (no real particle) are allowed everywhere and give documented finite outputs (zeros).
"""
from __future__ import annotations

import numpy as np

ON_INVALID = ("raise", "drop")


def as_per_jet(constituents: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes: (M, P, 4) particles and (M, P) mask (all True when ``mask`` is None)."""
    x = np.asarray(constituents)
    if x.ndim != 3 or x.shape[-1] != 4:
        raise ValueError(f"constituents must have shape (M, P, 4) (pt, eta, phi, E), got {x.shape}")
    if mask is None:
        m = np.ones(x.shape[:2], dtype=bool)
    else:
        m = np.asarray(mask)
        if m.shape != x.shape[:2]:
            raise ValueError(f"mask shape {m.shape} does not match constituents {x.shape[:2]}")
        m = m.astype(bool, copy=False)
    return x, m


def clean(
    constituents: np.ndarray, mask: np.ndarray | None, on_invalid: str = "raise"
) -> tuple[np.ndarray, np.ndarray]:
    """float64 copy with padded entries zeroed, and the effective mask (real, finite, pt > 0).

    Raises :class:`ValueError` for non-finite real particles unless ``on_invalid="drop"``.
    """
    if on_invalid not in ON_INVALID:
        raise ValueError(f"on_invalid must be one of {ON_INVALID}, got {on_invalid!r}")
    x, m = as_per_jet(constituents, mask)
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x).all(axis=-1)
    bad = m & ~finite
    if bad.any():
        if on_invalid == "raise":
            jets = np.unique(np.nonzero(bad)[0])
            raise ValueError(
                f"{int(bad.sum())} real constituents in {len(jets)} jets (first: jet {int(jets[0])}) "
                "have non-finite (NaN/inf) components; fix the input or pass on_invalid='drop'"
            )
    m = m & finite
    m &= x[..., 0] > 0
    x = np.where(m[..., None], x, 0.0)
    return x, m


def four_momenta(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(px, py, pz, E) from (pt, eta, phi, E) (any leading shape)."""
    pt, eta, phi, e = x[..., 0], x[..., 1], x[..., 2], x[..., 3]
    return pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), e


def rapidity(pt: np.ndarray, pz: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Rapidity, computed exactly as FastJet's ``PseudoJet::rap`` (so values agree to rounding).

    y = sign(pz) * 0.5 * log((E + |pz|)^2 / (pt^2 + max(m^2, 0))), m^2 = (E + pz)(E - pz) - pt^2.
    For massless input this is the pseudorapidity up to the rounding of E. Finite whenever
    pt > 0 (an unphysical E + |pz| <= 0 falls back to sqrt(pt^2 + pz^2) + |pz|); 0 where pt = 0.
    """
    return _rapidity(np, pt * pt, pz, e)


def _rapidity(xp, pt2, pz, e):
    """:func:`rapidity` for numpy or torch (``xp`` is the module), from pt^2."""
    m2 = xp.maximum((e + pz) * (e - pz) - pt2, 0.0 * pt2)
    apz = xp.abs(pz)
    epz = e + apz
    epz = xp.where(epz > 0, epz, xp.sqrt(pt2 + pz * pz) + apz)
    mt2 = pt2 + m2
    ok = mt2 > 0
    y = 0.5 * xp.log(xp.where(ok, epz * epz, 1.0 + 0.0 * pt2) / xp.where(ok, mt2, 1.0 + 0.0 * pt2))
    return xp.where(pz > 0, y, -y)


def wrap_phi(dphi: np.ndarray) -> np.ndarray:
    """Wrap angles to [-pi, pi)."""
    return (dphi + np.pi) % (2 * np.pi) - np.pi


def jet_four_vector(constituents: np.ndarray, mask: np.ndarray | None = None,
                    on_invalid: str = "raise") -> np.ndarray:
    """(M, 4) float64 jet (pt, eta, phi, mass) from the E-scheme sum of the real constituents.

    eta is the pseudorapidity asinh(pz / pt); mass = sqrt(max(E^2 - p^2, 0)). An empty jet gives
    all zeros.
    """
    x, m = clean(constituents, mask, on_invalid)
    px, py, pz, e = (c.sum(axis=1) for c in four_momenta(x))
    pt = np.hypot(px, py)
    safe = np.where(pt > 0, pt, 1.0)
    eta = np.where(pt > 0, np.arcsinh(pz / safe), 0.0)
    phi = np.where(pt > 0, np.arctan2(py, px), 0.0)
    mass = np.sqrt(np.maximum(e * e - px * px - py * py - pz * pz, 0.0))
    return np.stack([pt, eta, phi, mass], axis=-1)
