"""Jet and event representations computed from canonical :class:`~benchmark.events.EventSet` arrays.

``compute(name, events, **params)`` dispatches to a registry (``available()`` lists it); scorers
normally call ``events.features(name, **params)``, which memoises the result on the event set.
Per-jet representations read ``constituents`` (N, J, P, 4) (pt, eta, phi, E) and
``constituents_mask`` (N, J, P) and return (N, J, ...); ``jet=j`` selects one jet and returns
(N, ...). Results are cached on disk per (event-set fingerprint, name, parameters) unless
``cache=False`` (see :mod:`benchmark.features.cache`); ``device="cuda"`` runs the torch paths.

==================  ==========================  ===============================================
name                output                      parameters (defaults)
==================  ==========================  ===============================================
``constituents``    (N, J, n, 6) float32        n_particles (P); channels
                                                :data:`~benchmark.features.constituents.RELATIVE_FEATURES`;
                                                padded rows 0 (real rows have pt_rel > 0)
``images``          (N, J, npix, npix) float32  npix (40), extent (0.8), centre ("centroid"),
                                                rotate (True), flip (True), power (1.0,
                                                0 = hit map), log_scale (0.0 = off),
                                                sigma (0.0), normalise (True), device,
                                                n_threads
``efp``             (N, J, G) float64           graphs (8 prime EFPs, d <= 3), kappa (1),
                                                beta (1), normed (True), device, n_threads
``nsubjettiness``   (N, J, 5) float64           tau1, tau2, tau3, tau21, tau32; beta (1), R (1),
                                                backend ("auto"), device
``jet_observables`` (N, J, 4) float64           mass, multiplicity, girth, C_0.2; device
``highlevel``       (N, 5) float64              mjj, mj_min, mj_max - mj_min, tau21(j_min),
                                                tau21(j_max); unit ("GeV"), source ("auto")
==================  ==========================  ===============================================

All accept ``on_invalid`` ("raise": non-finite real constituents are an error; "drop": they are
masked out) and ``cache`` (True).

The functions live in the submodules (``efp.efp``, ``images.jet_images``,
``nsubjettiness.nsubjettiness``, ...); ``efp`` and ``nsubjettiness`` are not re-exported here, so
``benchmark.features.efp`` and ``benchmark.features.nsubjettiness`` stay the modules.
"""
from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark.features import cache as _cache
from benchmark.features.constituents import RELATIVE_FEATURES, Standardiser, relative_coordinates
from benchmark.features.efp import ALL_D3, PRIME_D3
from benchmark.features.efp import efp as _efp
from benchmark.features.highlevel import HIGHLEVEL_NAMES, highlevel_from_events
from benchmark.features.images import jet_images
from benchmark.features.nsubjettiness import jet_four_vector, tau_ratios
from benchmark.features.nsubjettiness import nsubjettiness as _nsubjettiness
from benchmark.features.observables import OBSERVABLES, jet_observables

__all__ = [
    "ALL_D3", "HIGHLEVEL_NAMES", "OBSERVABLES", "PRIME_D3", "RELATIVE_FEATURES", "Representation",
    "Standardiser", "available", "compute", "jet_four_vector", "jet_images", "jet_observables",
    "register", "relative_coordinates", "tau_ratios",
]


@dataclass(frozen=True)
class Representation:
    """A registered representation: ``function`` maps per-jet arrays (M, P, 4), (M, P) to (M, ...)
    when ``per_jet``, else the whole :class:`EventSet` to (N, ...)."""

    name: str
    description: str
    function: Callable[..., np.ndarray]
    per_jet: bool = True
    version: int = 1


_REGISTRY: dict[str, Representation] = {}


def register(rep: Representation) -> Representation:
    _REGISTRY[rep.name] = rep
    return rep


def available() -> dict[str, str]:
    """Registered representation names and one-line descriptions."""
    return {name: rep.description for name, rep in sorted(_REGISTRY.items())}


def compute(name: str, events: Any, **params: Any) -> np.ndarray:
    """Representation ``name`` of ``events`` (see the module table for names and parameters)."""
    rep = _REGISTRY.get(name)
    if rep is None:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown representation {name!r}{hint} (available: {', '.join(sorted(_REGISTRY))})")
    use_cache = bool(params.pop("cache", True))
    jet = params.pop("jet", None)
    if jet is not None and not rep.per_jet:
        raise ValueError(f"representation {name!r} is per event; it takes no jet= parameter")
    key_params = dict(_check_params(rep, params), jet=jet)

    def run() -> np.ndarray:
        if not rep.per_jet:
            return rep.function(events, **params)
        cons = events["constituents"] if "constituents" in events or name != "nsubjettiness" else None
        if cons is None:
            return _stored_nsubjettiness(events, jet, **params)
        return _per_jet(rep, events, jet, params)

    if use_cache:
        return _cache.cached(events, name, key_params, rep.version, run)
    return run()


def _check_params(rep: Representation, params: dict[str, Any]) -> dict[str, Any]:
    """Reject unknown parameters; return all parameters with defaults filled in (the cache key)."""
    sig = inspect.signature(rep.function)
    named = [p for p in sig.parameters.values()
             if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)][2 if rep.per_jet else 1:]
    allowed = [p.name for p in named]
    for key in params:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(f"representation {rep.name!r} has no parameter {key!r}{hint}; "
                            f"parameters: {', '.join(allowed + ['jet', 'cache'])}")
    return {p.name: params.get(p.name, p.default) for p in named}


def _per_jet(rep: Representation, events: Any, jet: int | None, params: dict[str, Any]) -> np.ndarray:
    cons = np.asarray(events["constituents"])
    if cons.ndim != 4 or cons.shape[-1] != 4:
        raise ValueError(f"constituents must have shape (N, J, P, 4), got {cons.shape}")
    mask = events.get("constituents_mask")
    N, J, P = cons.shape[:3]
    if mask is None:
        mask = np.ones((N, J, P), dtype=bool)
    if jet is not None:
        if not -J <= int(jet) < J:
            raise ValueError(f"jet={jet} is out of range for J={J} jets per event")
        out = rep.function(cons[:, int(jet)], mask[:, int(jet)], **params)
        return out
    out = rep.function(cons.reshape(N * J, P, 4), mask.reshape(N * J, P), **params)
    return out.reshape(N, J, *out.shape[1:])


def _stored_nsubjettiness(events: Any, jet: int | None, **params: Any) -> np.ndarray:
    """tau1..3 + ratios from the stored ``jet_nsubjettiness`` when there are no constituents."""
    if params.get("beta", 1.0) != 1.0 or params.get("R", 1.0) != 1.0:
        raise ValueError("this event set has no constituents and its stored jet_nsubjettiness "
                         "is beta = 1, R = 1 only")
    taus = np.asarray(events["jet_nsubjettiness"], dtype=np.float64)
    if jet is not None:
        taus = taus[:, int(jet)]
    if not np.isfinite(taus).all():
        raise ValueError("the stored jet_nsubjettiness has non-finite values "
                         f"({int((~np.isfinite(taus)).sum())} entries)")
    return _with_ratios(taus)


def _with_ratios(taus: np.ndarray) -> np.ndarray:
    t21, t32 = tau_ratios(taus)
    return np.concatenate([taus, t21[..., None], t32[..., None]], axis=-1)


# -- registry entries -------------------------------------------------------------------------
def _constituents_rep(cons, mask, n_particles=None, *, on_invalid="raise"):
    feats, _, _ = relative_coordinates(cons, mask, n_particles, on_invalid=on_invalid)
    return feats


def _images_rep(cons, mask, npix=40, extent=0.8, *, centre="centroid", rotate=True, flip=True,
                power=1.0, sigma=0.0, log_scale=0.0, normalise=True, device=None, n_threads=None,
                on_invalid="raise"):
    return jet_images(cons, mask, npix, extent, centre=centre, rotate=rotate, flip=flip,
                      power=power, sigma=sigma, log_scale=log_scale, normalise=normalise, device=device,
                      n_threads=n_threads, on_invalid=on_invalid)


def _efp_rep(cons, mask, graphs=None, kappa=1.0, beta=1.0, normed=True, *, device=None,
             n_threads=None, on_invalid="raise"):
    return _efp(cons, mask, graphs, kappa, beta, normed, device=device, n_threads=n_threads,
               on_invalid=on_invalid)


def _nsub_rep(cons, mask, beta=1.0, R=1.0, *, backend="auto", device=None, on_invalid="raise"):
    taus = _nsubjettiness(cons, mask, 3, beta, R, backend=backend, device=device,
                         on_invalid=on_invalid)
    return _with_ratios(taus)


def _observables_rep(cons, mask, *, device=None, n_threads=None, on_invalid="raise"):
    return jet_observables(cons, mask, device=device, n_threads=n_threads, on_invalid=on_invalid)


def _highlevel_rep(events, unit="GeV", source="auto", *, beta=1.0, R=1.0, backend="auto",
                   device=None, on_invalid="raise"):
    return highlevel_from_events(events, unit, source, beta=beta, R=R, backend=backend,
                                 device=device, on_invalid=on_invalid)


register(Representation(
    "constituents", "per-particle (deta, dphi, pt_rel, log pt_rel, log(1-pt_rel), E_rel), pt-ordered",
    _constituents_rep))
register(Representation(
    "images", "jet images: centred, principal axis to 12 o'clock, flipped, unit sum (npix x npix)",
    _images_rep))
register(Representation(
    "efp", "energy flow polynomials (default: the 8 prime EFPs with d <= 3)", _efp_rep))
register(Representation(
    "nsubjettiness", "tau1, tau2, tau3 (exclusive-kT axes, beta = 1), tau21, tau32", _nsub_rep))
register(Representation(
    "jet_observables", "jet mass, multiplicity, girth, C_0.2", _observables_rep))
register(Representation(
    "highlevel", "event-level [mjj, mj_min, mj_max - mj_min, tau21(j_min), tau21(j_max)]",
    _highlevel_rep, per_jet=False))
