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

from typing import Any

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
    if x.shape[1] == 0:  # no particle slots at all: one padded slot, so every jet is "empty"
        x = np.zeros((x.shape[0], 1, 4), dtype=x.dtype)
        m = np.zeros((x.shape[0], 1), dtype=bool)
    return x, m


def clean(
    constituents: np.ndarray, mask: np.ndarray | None, on_invalid: str = "raise",
    first_jet: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """float64 copy with padded entries zeroed, and the effective mask (real, finite, pt > 0).

    Raises :class:`ValueError` for non-finite real particles unless ``on_invalid="drop"``
    (``first_jet``: index of the first row, for the message when called on a slice).
    """
    if on_invalid not in ON_INVALID:
        raise ValueError(f"on_invalid must be one of {ON_INVALID}, got {on_invalid!r}")
    x, m = as_per_jet(constituents, mask)
    finite = _finite(x)
    bad = m & ~finite
    if bad.any():
        if on_invalid == "raise":
            _raise_non_finite(bad, first_jet)
        m = m & finite
    m = m & (x[..., 0] > 0)
    out = x.astype(np.float64, copy=True)
    if not m.all():
        np.copyto(out, 0.0, where=~m[..., None])
    return out, m


def _finite(x: np.ndarray) -> np.ndarray:
    """(M, P) True where all 4 components are finite (one isfinite pass, read 4 bytes as uint32)."""
    fin4 = np.ascontiguousarray(np.isfinite(x))
    return fin4.view(np.uint32)[..., 0] == 0x01010101


def _raise_non_finite(bad: np.ndarray, first_jet: int = 0) -> None:
    jets = np.unique(np.nonzero(bad)[0])
    raise ValueError(
        f"{int(bad.sum())} real constituents in {len(jets)} jets "
        f"(first: jet {first_jet + int(jets[0])}) have non-finite (NaN/inf) components; "
        "fix the input or pass on_invalid='drop'"
    )


def check_finite(constituents: np.ndarray, mask: np.ndarray, on_invalid: str = "raise") -> None:
    """Validate ``on_invalid`` and, for ``"raise"``, raise on non-finite real particles."""
    if on_invalid not in ON_INVALID:
        raise ValueError(f"on_invalid must be one of {ON_INVALID}, got {on_invalid!r}")
    if on_invalid == "raise":
        bad = mask & ~_finite(constituents)
        if bad.any():
            _raise_non_finite(bad)


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


# -- per-particle representation ----------------------------------------------------------------
#: channels of :func:`relative_coordinates`
RELATIVE_FEATURES = ("deta", "dphi", "pt_rel", "log_pt_rel", "log_one_minus_pt_rel", "e_rel")
#: floor of 1 - pt_rel inside the log (a one-particle jet has pt_rel = 1): log(1e-8) = -18.4
LOG_FLOOR = 1e-8


def relative_coordinates(
    constituents: np.ndarray,
    mask: np.ndarray | None = None,
    n_particles: int | None = None,
    *,
    dtype: Any = np.float32,
    on_invalid: str = "raise",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-particle features relative to the jet: (features, mask, jet).

    Particles are pt-ordered (hardest first), truncated or zero-padded to ``n_particles`` (default:
    the input width). The jet is the E-scheme sum of the *kept* particles (as in the
    permutation-invariant diffusion model). Channels (:data:`RELATIVE_FEATURES`):
    eta - eta_jet, phi - phi_jet wrapped to [-pi, pi), pt / pt_jet, log(pt / pt_jet),
    log(max(1 - pt / pt_jet, 1e-8)), E / E_jet. Padded rows are all zero.

    Returns features (M, n, 6), mask (M, n) and jet (M, 4) (pt, eta, phi, mass).
    """
    x, m = clean(constituents, mask, on_invalid)
    order = np.argsort(np.where(m, -x[..., 0], np.inf), axis=1, kind="stable")
    n = x.shape[1] if n_particles is None else int(n_particles)
    if n < 1:
        raise ValueError(f"n_particles must be >= 1, got {n}")
    keep = order[:, : min(n, x.shape[1])]
    x = np.take_along_axis(x, keep[..., None], axis=1)
    m = np.take_along_axis(m, keep, axis=1)
    if n > x.shape[1]:
        pad = n - x.shape[1]
        x = np.concatenate([x, np.zeros((len(x), pad, 4))], axis=1)
        m = np.concatenate([m, np.zeros((len(m), pad), bool)], axis=1)
    jet = jet_four_vector(x, m)
    jpt, jeta, jphi = jet[:, 0:1], jet[:, 1:2], jet[:, 2:3]
    je = x[..., 3].sum(axis=1)[:, None]
    pt_rel = np.divide(x[..., 0], jpt, out=np.zeros_like(x[..., 0]), where=m & (jpt > 0))
    e_rel = np.divide(x[..., 3], je, out=np.zeros_like(x[..., 0]), where=m & (je > 0))
    deta = np.where(m, x[..., 1] - jeta, 0.0)
    dphi = np.where(m, wrap_phi(x[..., 2] - jphi), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pt = np.where(m & (pt_rel > 0), np.log(np.where(pt_rel > 0, pt_rel, 1.0)), 0.0)
        log_1m = np.where(m, np.log(np.maximum(1.0 - pt_rel, LOG_FLOOR)), 0.0)
    feats = np.stack([deta, dphi, pt_rel, log_pt, log_1m, e_rel], axis=-1).astype(dtype)
    return feats, m, jet


class Standardiser:
    """Per-channel z-scoring fitted on real (unmasked) entries only; padding stays exactly 0.

    ``fit`` on training data, then ``transform`` anything (validation, test). Works on arrays
    (..., C) with a mask of shape ``arr.shape[:-1]`` (or no mask for dense features).
    Channels with zero spread are only centred (std taken as 1).
    """

    def __init__(self, eps: float = 1e-12) -> None:
        self.eps = eps
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None

    def fit(self, x: np.ndarray, mask: np.ndarray | None = None) -> Standardiser:
        x = np.asarray(x, dtype=np.float64)
        flat = x.reshape(-1, x.shape[-1])
        if mask is not None:
            mk = np.asarray(mask, dtype=bool)
            if mk.shape != x.shape[:-1]:
                raise ValueError(f"mask shape {mk.shape} does not match data {x.shape[:-1]}")
            flat = flat[mk.reshape(-1)]
        if len(flat) == 0:
            raise ValueError("cannot fit a Standardiser on zero real entries")
        if not np.isfinite(flat).all():
            raise ValueError("cannot fit a Standardiser on non-finite values")
        self.mean_ = flat.mean(axis=0)
        std = flat.std(axis=0)
        self.std_ = np.where(std > self.eps, std, 1.0)
        return self

    def transform(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        if self.mean_ is None or self.std_ is None:
            raise RuntimeError("Standardiser is not fitted; call fit() on training data first")
        x = np.asarray(x)
        if x.shape[-1] != len(self.mean_):
            raise ValueError(f"fitted on {len(self.mean_)} channels, got {x.shape[-1]}")
        out = ((x - self.mean_) / self.std_).astype(x.dtype if x.dtype.kind == "f" else np.float64)
        if mask is not None:
            out = np.where(np.asarray(mask, bool)[..., None], out, 0).astype(out.dtype)
        return out

    def fit_transform(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        return self.fit(x, mask).transform(x, mask)

    def inverse_transform(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        if self.mean_ is None or self.std_ is None:
            raise RuntimeError("Standardiser is not fitted")
        out = np.asarray(x) * self.std_ + self.mean_
        if mask is not None:
            out = np.where(np.asarray(mask, bool)[..., None], out, 0)
        return out

    def state_dict(self) -> dict[str, list[float]]:
        if self.mean_ is None or self.std_ is None:
            raise RuntimeError("Standardiser is not fitted")
        return {"mean": self.mean_.tolist(), "std": self.std_.tolist()}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Standardiser:
        obj = cls()
        obj.mean_ = np.asarray(state["mean"], dtype=np.float64)
        obj.std_ = np.asarray(state["std"], dtype=np.float64)
        return obj
