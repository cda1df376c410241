"""Jet clustering of whole batches of events with FastJet, into the canonical padded layout.

Both the generated look-alikes (:mod:`benchmark.generate`) and the LHC Olympics converter
(:mod:`benchmark.sources.lhco`) cluster particles into anti-kT jets; this module is the one place
that does it. It uses FastJet's multi-event awkward interface, so the loop over events runs in C++.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALGORITHMS = ("antikt", "kt", "cambridge")


@dataclass
class ClusteredJets:
    """Leading jets of each event, pt-ordered, with their pt-ordered constituents.

    ``constituents`` (N, J, C, 4) float32 (pt, eta, phi, E) zero-padded; ``constituents_mask``
    (N, J, C); ``jets`` (N, J, 4) float64 (pt, eta, phi, mass), zeros where an event has fewer than
    J jets; ``n_jets`` (N,) number of jets above ``ptmin`` found; ``n_constituents`` (N, J) before
    truncation to C (so a caller can tell whether truncation dropped particles).
    """

    constituents: np.ndarray
    constituents_mask: np.ndarray
    jets: np.ndarray
    n_jets: np.ndarray
    n_constituents: np.ndarray


def _jet_definition(algorithm: str, radius: float):  # type: ignore[no-untyped-def]
    import fastjet

    algos = {
        "antikt": fastjet.antikt_algorithm,
        "kt": fastjet.kt_algorithm,
        "cambridge": fastjet.cambridge_algorithm,
    }
    if algorithm not in algos:
        raise ValueError(f"unknown jet algorithm {algorithm!r}; choose one of {ALGORITHMS}")
    return fastjet.JetDefinition(algos[algorithm], float(radius))


def to_ptetaphie(px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray) -> np.ndarray:
    """(px, py, pz, E) -> (pt, eta, phi, E); eta of a zero-pt entry is 0 (padding stays zero)."""
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0, np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pz), where=pt > 0)), 0.0)
    phi = np.where(pt > 0, np.arctan2(py, px), 0.0)
    return np.stack([pt, eta, phi, e], axis=-1)


def mass_from_p4(px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Invariant mass, with small negative m^2 from rounding clipped to zero."""
    m2 = e * e - px * px - py * py - pz * pz
    return np.sqrt(np.clip(m2, 0.0, None))


def cluster_padded(
    particles: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    radius: float,
    n_jets: int,
    max_constituents: int,
    ptmin: float = 0.0,
    algorithm: str = "antikt",
    massless: bool = False,
) -> ClusteredJets:
    """Cluster padded events ``particles`` (N, P, 3|4) in (pt, eta, phi[, E]) into jets.

    ``massless`` (or a 3-column input) sets E = pt cosh(eta), as for the LHC Olympics particles.
    Padding is where ``mask`` is False (default: pt > 0).
    """
    particles = np.asarray(particles, dtype=np.float64)
    if particles.ndim != 3 or particles.shape[-1] not in (3, 4):
        raise ValueError(f"particles must be (N, P, 3|4) in (pt, eta, phi[, E]), got {particles.shape}")
    if mask is None:
        mask = particles[..., 0] > 0
    bad = ~np.isfinite(particles).all(axis=-1) & mask
    if bad.any():
        first = int(np.argwhere(bad)[0][0])
        raise ValueError(f"non-finite particle kinematics in event {first} of the batch")
    pt, eta, phi = particles[..., 0], particles[..., 1], particles[..., 2]
    if particles.shape[-1] == 3 or massless:
        e = pt * np.cosh(eta)
    else:
        e = particles[..., 3]
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    counts = mask.sum(axis=1)
    return cluster_flat(
        px[mask], py[mask], pz[mask], e[mask], counts,
        radius=radius, n_jets=n_jets, max_constituents=max_constituents, ptmin=ptmin,
        algorithm=algorithm,
    )


def cluster_flat(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    counts: np.ndarray,
    *,
    radius: float,
    n_jets: int,
    max_constituents: int,
    ptmin: float = 0.0,
    algorithm: str = "antikt",
) -> ClusteredJets:
    """Cluster events given as flat particle arrays and per-event ``counts`` (ragged layout)."""
    import awkward as ak
    import fastjet

    counts = np.asarray(counts, dtype=np.int64)
    n_events = len(counts)
    out_c = np.zeros((n_events, n_jets, max_constituents, 4), dtype=np.float32)
    out_m = np.zeros((n_events, n_jets, max_constituents), dtype=bool)
    out_j = np.zeros((n_events, n_jets, 4), dtype=np.float64)
    n_found = np.zeros(n_events, dtype=np.int64)
    n_const = np.zeros((n_events, n_jets), dtype=np.int64)
    if n_events == 0:
        return ClusteredJets(out_c, out_m, out_j, n_found, n_const)

    def ragged(x: np.ndarray) -> ak.Array:
        return ak.unflatten(np.asarray(x, dtype=np.float64), counts)

    vectors = ak.zip(
        {"px": ragged(px), "py": ragged(py), "pz": ragged(pz), "E": ragged(e)},
        with_name="Momentum4D",
    )
    sequence = fastjet.ClusterSequence(vectors, _jet_definition(algorithm, radius))
    jets = sequence.inclusive_jets(min_pt=float(ptmin))
    constituents = sequence.constituents(min_pt=float(ptmin))

    jet_pt = np.hypot(jets.px, jets.py)
    order = ak.argsort(jet_pt, axis=1, ascending=False)
    jets = jets[order][:, :n_jets]
    constituents = constituents[order][:, :n_jets]
    n_found[:] = ak.to_numpy(ak.num(jet_pt, axis=1))

    # Jets: pad to n_jets with zeros.
    def padded_jets(field: str) -> np.ndarray:
        arr = ak.fill_none(ak.pad_none(getattr(jets, field), n_jets, axis=1, clip=True), 0.0)
        return ak.to_numpy(arr).astype(np.float64)

    jpx, jpy, jpz, je = (padded_jets(f) for f in ("px", "py", "pz", "E"))
    out_j[..., :3] = to_ptetaphie(jpx, jpy, jpz, je)[..., :3]
    out_j[..., 3] = mass_from_p4(jpx, jpy, jpz, je)

    # Constituents: pt-order inside each jet, truncate/pad to max_constituents.
    cpt = np.hypot(constituents.px, constituents.py)
    corder = ak.argsort(cpt, axis=2, ascending=False)
    constituents = constituents[corder]
    n_const_ak = ak.fill_none(ak.pad_none(ak.num(constituents, axis=2), n_jets, axis=1, clip=True), 0)
    n_const[:] = ak.to_numpy(n_const_ak)

    def padded_constituents(field: str) -> np.ndarray:
        arr = getattr(constituents, field)
        arr = ak.pad_none(arr, max_constituents, axis=2, clip=True)
        arr = ak.pad_none(arr, n_jets, axis=1, clip=True)
        arr = ak.fill_none(ak.fill_none(arr, [None] * max_constituents, axis=1), 0.0, axis=None)
        return ak.to_numpy(arr).astype(np.float64)

    cpx, cpy, cpz, ce = (padded_constituents(f) for f in ("px", "py", "pz", "E"))
    out_c[:] = to_ptetaphie(cpx, cpy, cpz, ce)
    out_m[:] = out_c[..., 0] > 0
    return ClusteredJets(out_c, out_m, out_j, n_found, n_const)


def dijet_mass(jets: np.ndarray) -> np.ndarray:
    """Invariant mass of the two leading jets of ``jets`` (N, J>=2, 4) in (pt, eta, phi, mass)."""
    pt, eta, phi, m = (jets[:, :2, i] for i in range(4))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px * px + py * py + pz * pz + m * m)
    return mass_from_p4(px.sum(1), py.sum(1), pz.sum(1), e.sum(1))
