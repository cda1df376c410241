"""Dark Machines objects from Pythia events: jets, b-tags, isolated leptons and photons, MET.

The Dark Machines challenge (arXiv:2105.14027) ran MadGraph + Pythia 8 + Delphes with a modified
ATLAS card and stored, per event, up to 20 reconstructed objects and the missing transverse
momentum. This module rebuilds the same objects from one ``Pythia.nextBatch`` with the parametric
ATLAS-like detector (:func:`benchmark.generate.detector.apply_detector`) and writes them exactly in
the canonical format of the real converter (:mod:`benchmark.sources.darkmachines`):

1. **Isolated electrons, muons, photons** are chosen among final-state generator particles with
   the challenge's stored thresholds (:class:`ObjectParams`: e and mu pT > 15 GeV, |eta| < 2.47 /
   2.7; photons pT > 20 GeV, |eta| < 2.37) that are isolated like Delphes' ATLAS card: the scalar
   sum of the pT of the other visible particles with pT > 0.5 GeV within dR < 0.5 is below 12 %
   (e, gamma) or 25 % (mu) of the candidate's pT. Each is reconstructed with an efficiency and
   smeared with the detector's ECAL (e, gamma) or tracker (mu) resolution. Candidates that fail
   stay in the detector input (they end up in jets and MET like any other particle).
2. **Everything else that is visible** (invisible: neutrinos, the neutralino, Hidden Valley
   states and Pythia's dark-matter particles 51-53) goes through the parametric detector; the
   energy-flow candidates are clustered into anti-kT R = 0.4 jets with pT > 20 GeV, |eta| < 2.8.
3. **b-tags** by truth matching: a jet within dR < 0.4 of a b hadron (pT > 5 GeV) is tagged with
   probability ``btag_eff`` (70 %, the ATLAS 70 % working point), one near a c hadron with
   ``ctag_mistag`` (11 %), any other with ``light_mistag`` (0.3 %).
4. **MET** is minus the vector sum of every energy-flow candidate and reconstructed object (the
   visible sum, as Delphes computes it from its energy flow).

Objects are ordered like the real files (jets and b-jets together by pT, then electrons, muons,
photons, each by pT), kept up to 20, with (type code, E, pT, eta, phi) in GeV. The channel cuts
of the challenge (:data:`CHANNEL_CUTS`) select the events of one channel.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from benchmark.events import OBJECT_TYPES
from benchmark.generate.detector import (
    ATLAS,
    DetectorParams,
    apply_detector,
    energy_resolution,
    is_invisible,
    jet_response_tail,
    lognormal_smear,
    track_resolution,
)

N_OBJECTS = 20
#: invisible beyond the detector's list: Pythia's dark-matter particles (51 scalar, 52 fermion,
#: 53 vector DM) and the ADD graviton (5000039) of the monojet stand-in
DARK_MATTER_IDS = (51, 52, 53, 5000039)
CHANNELS = ("chan1", "chan2a", "chan2b", "chan3")


@dataclass(frozen=True)
class ObjectParams:
    """Object definitions of the challenge (stored objects) and the reconstruction efficiencies."""

    jet_radius: float = 0.4
    jet_pt_min: float = 20.0
    jet_abs_eta_max: float = 2.8
    electron_pt_min: float = 15.0
    electron_abs_eta_max: float = 2.47
    muon_pt_min: float = 15.0
    muon_abs_eta_max: float = 2.7
    photon_pt_min: float = 20.0
    photon_abs_eta_max: float = 2.37
    # isolation (Delphes ATLAS card): sum pT of visible particles with pT > iso_pt_min in dR < iso_dr
    iso_dr: float = 0.5
    iso_pt_min: float = 0.5
    iso_ratio_electron: float = 0.12
    iso_ratio_muon: float = 0.25
    iso_ratio_photon: float = 0.12
    # reconstruction efficiencies (barrel |eta| <= 1.5, end-cap)
    electron_eff: tuple[float, float] = (0.95, 0.85)
    muon_eff: tuple[float, float] = (0.95, 0.95)
    photon_eff: tuple[float, float] = (0.95, 0.85)
    # b-tagging by truth matching to b / c hadrons
    btag_dr: float = 0.4
    btag_hadron_pt_min: float = 5.0
    btag_eff: float = 0.70
    ctag_mistag: float = 0.11
    light_mistag: float = 0.003

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


OBJECTS = ObjectParams()


@dataclass(frozen=True)
class ChannelCuts:
    """One channel's event selection (arXiv:2105.14027 Table 1; H_T sums the stored jets' pT)."""

    met_min: float = 0.0
    ht_min: float = 0.0
    met_over_ht_min: float = 0.0
    n_jets_50_min: int = 0
    n_jets_200_min: int = 0
    n_leptons_min: int = 0
    lepton_pt_min: float = 15.0

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v}


CHANNEL_CUTS: dict[str, ChannelCuts] = {
    "chan1": ChannelCuts(met_min=200.0, ht_min=600.0, met_over_ht_min=0.2, n_jets_50_min=4, n_jets_200_min=1),
    "chan2a": ChannelCuts(met_min=50.0, n_leptons_min=3),
    "chan2b": ChannelCuts(met_min=50.0, ht_min=50.0, n_leptons_min=2),
    "chan3": ChannelCuts(met_min=100.0, ht_min=600.0),
}

JET, BJET = OBJECT_TYPES["j"], OBJECT_TYPES["b"]
LEPTON_CODES = (OBJECT_TYPES["e-"], OBJECT_TYPES["e+"], OBJECT_TYPES["m-"], OBJECT_TYPES["m+"])


# -- small vector helpers ------------------------------------------------------------------------
def _eta_phi(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0, np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pz), where=pt > 0)),
                       np.sign(pz) * 1e9)
    return pt, eta, np.arctan2(py, px)


def _delta_r(eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    dphi = np.mod(phi1 - phi2 + np.pi, 2 * np.pi) - np.pi
    return np.hypot(eta1 - eta2, dphi)


def _barrel_value(abs_eta: np.ndarray, pair: tuple[float, float]) -> np.ndarray:
    return np.where(abs_eta <= 1.5, pair[0], pair[1])


def heavy_flavour(pid: np.ndarray) -> np.ndarray:
    """5 for b hadrons, 4 for c hadrons (without b), 0 otherwise, from PDG codes."""
    a = np.abs(np.asarray(pid, dtype=np.int64))
    meson_q, baryon_q = (a // 100) % 10, (a // 1000) % 10
    hadron = (a > 100) & (a < 10_000)
    is_b = hadron & ((meson_q == 5) | (baryon_q == 5))
    is_c = hadron & ~is_b & ((meson_q == 4) | (baryon_q == 4))
    return np.where(is_b, 5, np.where(is_c, 4, 0))


# -- isolation -----------------------------------------------------------------------------------
def isolation_ratio(cand: np.ndarray, event: np.ndarray, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray,
                    offsets: np.ndarray, iso_dr: float, iso_pt_min: float, visible: np.ndarray) -> np.ndarray:
    """sum pT(other visible particles with pT > iso_pt_min, dR < iso_dr) / pT for each candidate index."""
    if not len(cand):
        return np.zeros(0)
    ev = event[cand]
    start, stop = offsets[ev], offsets[ev + 1]
    n = stop - start
    owner = np.repeat(np.arange(len(cand)), n)
    other = np.repeat(start - np.r_[0, np.cumsum(n)[:-1]], n) + np.arange(int(n.sum()))
    ok = (other != cand[owner]) & visible[other] & (pt[other] > iso_pt_min)
    dr = _delta_r(eta[cand][owner], phi[cand][owner], eta[other], phi[other])
    ok &= dr < iso_dr
    sums = np.bincount(owner[ok], weights=pt[other][ok], minlength=len(cand))
    return sums / pt[cand]


# -- one batch -----------------------------------------------------------------------------------
@dataclass
class EventObjects:
    """Canonical rows of a batch: ``objects`` (B, 20, 5), ``objects_mask``, ``met`` (B, 2)."""

    objects: np.ndarray
    objects_mask: np.ndarray
    met: np.ndarray


@dataclass
class MeasuredBatch:
    """A batch after the particle-level detector and the jet clustering, before the jet-response tail.

    Jets (every clustered jet, also beyond |eta| 2.8: a mismeasured forward jet changes the MET)
    as flat arrays with their event index and b-tag code; isolated leptons and photons as
    ``found``; ``met_x``/``met_y`` the missing momentum of the unmodified visible sum.
    """

    n_events: int
    jets: tuple[np.ndarray, ...]  # (event, code, pt, eta, phi, mass)
    found: list[tuple[np.ndarray, ...]]  # (event, code, E, pt, eta, phi)
    met_x: np.ndarray
    met_y: np.ndarray


def measure(prt: Any, rng: np.random.Generator, charge_of: Callable[[np.ndarray], np.ndarray],
            detector: DetectorParams = ATLAS, params: ObjectParams = OBJECTS) -> MeasuredBatch:
    """Isolated objects, energy-flow jets with b-tags and the MET of a ``nextBatch`` record ``prt``."""
    import awkward as ak

    from benchmark.clustering import cluster_flat

    n_events = len(prt)
    final = prt[prt.status > 0]
    counts = ak.to_numpy(ak.num(final.id)).astype(np.int64)
    offsets = np.r_[0, np.cumsum(counts)]
    event = np.repeat(np.arange(n_events), counts)
    flat = ak.flatten
    pid = ak.to_numpy(flat(final.id)).astype(np.int64)
    px, py, pz, e, m = (ak.to_numpy(flat(x)).astype(np.float64) for x in
                        (final.p.px, final.p.py, final.p.pz, final.p.e, final.m))
    charge = charge_of(pid)
    pt, eta, phi = _eta_phi(px, py, pz)
    apid = np.abs(pid)
    invisible = is_invisible(pid) | np.isin(apid, DARK_MATTER_IDS)
    visible = ~invisible & (pt > 0)

    # isolated electrons, muons, photons
    kinds = ((11, params.electron_pt_min, params.electron_abs_eta_max, params.iso_ratio_electron, params.electron_eff),
             (13, params.muon_pt_min, params.muon_abs_eta_max, params.iso_ratio_muon, params.muon_eff),
             (22, params.photon_pt_min, params.photon_abs_eta_max, params.iso_ratio_photon, params.photon_eff))
    used = np.zeros(len(pid), dtype=bool)
    found: list[tuple[np.ndarray, ...]] = []  # (event, code, E, pt, eta, phi)
    for code, pt_min, eta_max, ratio_max, eff in kinds:
        cand = np.flatnonzero((apid == code) & (pt > pt_min) & (np.abs(eta) < eta_max))
        iso = isolation_ratio(cand, event, pt, eta, phi, offsets, params.iso_dr, params.iso_pt_min, visible)
        u = rng.random(len(cand))
        cand = cand[(iso < ratio_max) & (u < _barrel_value(np.abs(eta[cand]), eff))]
        if code == 13:
            r_pt = pt[cand] * (1.0 + track_resolution(pt[cand], np.abs(eta[cand]), detector)
                               * rng.standard_normal(len(cand)))
            r_pt = np.maximum(r_pt, 1e-3)
            r_e = np.sqrt((r_pt * np.cosh(eta[cand])) ** 2 + m[cand] ** 2)
        else:
            sigma = energy_resolution(e[cand], np.abs(eta[cand]), "ecal", detector)
            r_e = lognormal_smear(e[cand], sigma, rng) if len(cand) else e[cand]
            r_pt = r_e / np.cosh(eta[cand])
        keep = r_pt > pt_min  # the threshold applies to the measured pT
        cand, r_e, r_pt = cand[keep], r_e[keep], r_pt[keep]
        used[cand] = True
        if code == 22:
            codes = np.full(len(cand), OBJECT_TYPES["g"])
        else:
            neg, pos = ("e-", "e+") if code == 11 else ("m-", "m+")
            codes = np.where(pid[cand] > 0, OBJECT_TYPES[neg], OBJECT_TYPES[pos])  # e- is +11
        found.append((event[cand], codes, r_e, r_pt, eta[cand], phi[cand]))

    # everything else visible -> detector -> anti-kT R=0.4 jets
    rest = visible & ~used
    rest_counts = np.bincount(event[rest], minlength=n_events).astype(np.int64)
    det = apply_detector(pid[rest], charge[rest], px[rest], py[rest], pz[rest], e[rest], m[rest], rest_counts,
                         rng, detector)
    det_event = np.repeat(np.arange(n_events), det.counts)
    met_x = -np.bincount(det_event, weights=det.px, minlength=n_events)
    met_y = -np.bincount(det_event, weights=det.py, minlength=n_events)
    for ev, _, r_e, r_pt, r_eta, r_phi in found:
        met_x -= np.bincount(ev, weights=r_pt * np.cos(r_phi), minlength=n_events)
        met_y -= np.bincount(ev, weights=r_pt * np.sin(r_phi), minlength=n_events)

    cj = cluster_flat(det.px, det.py, det.pz, det.e, det.counts, radius=params.jet_radius, n_jets=N_OBJECTS,
                      max_constituents=1, ptmin=params.jet_pt_min)
    jets = cj.jets  # (B, 20, 4) pt, eta, phi, mass; pt-ordered, zero-padded
    has = np.arange(N_OBJECTS)[None, :] < cj.n_jets[:, None]
    j_ev, j_slot = np.nonzero(has)
    j_pt, j_eta, j_phi, j_m = (jets[j_ev, j_slot, i] for i in range(4))

    # b-tagging: truth match to b / c hadrons of the full record (jets of the stored |eta| range)
    flavour_all = heavy_flavour(ak.to_numpy(flat(prt.id)))
    all_counts = ak.to_numpy(ak.num(prt.id)).astype(np.int64)
    all_event = np.repeat(np.arange(n_events), all_counts)
    hpx, hpy, hpz = (ak.to_numpy(flat(x)).astype(np.float64) for x in (prt.p.px, prt.p.py, prt.p.pz))
    h_pt, h_eta, h_phi = _eta_phi(hpx, hpy, hpz)
    heavy = (flavour_all > 0) & (h_pt > params.btag_hadron_pt_min)
    central = np.abs(j_eta) < params.jet_abs_eta_max
    jet_flavour = _match_flavour(j_ev[central], j_eta[central], j_phi[central], all_event[heavy], h_eta[heavy],
                                 h_phi[heavy], flavour_all[heavy], params.btag_dr, n_events)
    p_tag = np.where(jet_flavour == 5, params.btag_eff,
                     np.where(jet_flavour == 4, params.ctag_mistag, params.light_mistag))
    j_code = np.full(len(j_pt), JET)
    j_code[central] = np.where(rng.random(len(p_tag)) < p_tag, BJET, JET)
    return MeasuredBatch(n_events, (j_ev, j_code, j_pt, j_eta, j_phi, j_m), found, met_x, met_y)


def finish(meas: MeasuredBatch, rng: np.random.Generator, detector: DetectorParams = ATLAS,
           params: ObjectParams = OBJECTS) -> EventObjects:
    """Apply the detector's jet-response tail (:func:`jet_response_tail`) and pack the objects.

    Called once per batch, or K times on one :class:`MeasuredBatch` with fresh random numbers to
    re-smear the jets of the same generated events (``resmear`` classes of the recipe).
    """
    j_ev, j_code, j_pt, j_eta, j_phi, j_m = meas.jets
    r = jet_response_tail(len(j_pt), rng, detector)
    lost = (1.0 - r) * j_pt  # the momentum a jet loses is missing momentum
    met_x = meas.met_x + np.bincount(j_ev, weights=lost * np.cos(j_phi), minlength=meas.n_events)
    met_y = meas.met_y + np.bincount(j_ev, weights=lost * np.sin(j_phi), minlength=meas.n_events)
    pt, mass = j_pt * r, j_m * r
    keep = (np.abs(j_eta) < params.jet_abs_eta_max) & (pt > params.jet_pt_min)
    pt, mass = pt[keep], mass[keep]
    energy = np.sqrt((pt * np.cosh(j_eta[keep])) ** 2 + mass ** 2)
    pieces = [(j_ev[keep], j_code[keep], energy, pt, j_eta[keep], j_phi[keep]), *meas.found]
    objects, mask = _pack(pieces, meas.n_events)
    met = np.stack([np.hypot(met_x, met_y), np.arctan2(met_y, met_x)], axis=1)
    return EventObjects(objects, mask, met)


def passes_without_tail(meas: MeasuredBatch, detector: DetectorParams, params: ObjectParams,
                        channel: str) -> np.ndarray:
    """Events of ``meas`` that pass ``channel``'s cuts with no jet-response tail at all.

    A re-smeared class keeps only draws whose pass the tail made: an event that passes untailed
    (MET from neutrinos of heavy-flavour decays) would pass nearly all K draws and appear as up to K
    identical rows. Such events are left out of a re-smeared class (the shipped chan1 pilot saw
    none in 11450 multijet events; the tail's probability, fitted to the real multijet share,
    absorbs them).
    """
    from dataclasses import replace

    rec = finish(meas, np.random.default_rng(0), replace(detector, jet_tail_prob=0.0), params)  # draws nothing
    return channel_mask(rec.objects, rec.objects_mask, rec.met, channel)


def reconstruct(prt: Any, rng: np.random.Generator, charge_of: Callable[[np.ndarray], np.ndarray],
                detector: DetectorParams = ATLAS, params: ObjectParams = OBJECTS) -> EventObjects:
    """Objects and MET of every event of a ``nextBatch`` particle record ``prt``."""
    return finish(measure(prt, rng, charge_of, detector, params), rng, detector, params)


def _match_flavour(j_ev: np.ndarray, j_eta: np.ndarray, j_phi: np.ndarray, h_ev: np.ndarray, h_eta: np.ndarray,
                   h_phi: np.ndarray, h_flav: np.ndarray, dr: float, n_events: int) -> np.ndarray:
    """Highest heavy flavour (5, 4, else 0) among hadrons within ``dr`` of each jet."""
    out = np.zeros(len(j_ev), dtype=np.int64)
    if not len(j_ev) or not len(h_ev):
        return out
    order = np.argsort(h_ev, kind="stable")
    h_ev, h_eta, h_phi, h_flav = h_ev[order], h_eta[order], h_phi[order], h_flav[order]
    bounds = np.searchsorted(h_ev, np.arange(n_events + 1))
    start, stop = bounds[j_ev], bounds[j_ev + 1]
    n = stop - start
    owner = np.repeat(np.arange(len(j_ev)), n)
    idx = np.repeat(start - np.r_[0, np.cumsum(n)[:-1]], n) + np.arange(int(n.sum()))
    close = _delta_r(j_eta[owner], j_phi[owner], h_eta[idx], h_phi[idx]) < dr
    np.maximum.at(out, owner[close], h_flav[idx][close])
    return out


def _pack(pieces: list[tuple[np.ndarray, ...]], n_events: int) -> tuple[np.ndarray, np.ndarray]:
    """(B, 20, 5) objects in the real files' order: jets+b-jets by pT, then e, mu, gamma by pT."""
    ev = np.concatenate([p[0] for p in pieces]).astype(np.int64)
    code = np.concatenate([p[1] for p in pieces]).astype(np.int64)
    vals = np.stack([np.concatenate([p[i] for p in pieces]) for i in range(2, 6)], axis=1)  # E, pt, eta, phi
    group = np.select([code <= BJET, code <= OBJECT_TYPES["e+"], code <= OBJECT_TYPES["m+"]], [0, 1, 2], 3)
    order = np.lexsort((-vals[:, 1], group, ev))
    ev, code, vals = ev[order], code[order], vals[order]
    start = np.searchsorted(ev, np.arange(n_events))
    rank = np.arange(len(ev)) - start[ev]
    ok = rank < N_OBJECTS
    objects = np.zeros((n_events, N_OBJECTS, 5), dtype=np.float32)
    mask = np.zeros((n_events, N_OBJECTS), dtype=bool)
    objects[ev[ok], rank[ok], 0] = code[ok]
    objects[ev[ok], rank[ok], 1:] = vals[ok]
    mask[ev[ok], rank[ok]] = True
    return objects, mask


# -- channel selection ---------------------------------------------------------------------------
def event_summary(objects: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """H_T (stored jets and b-jets), jet counts above 50 / 200 GeV and lepton pTs per event."""
    code = objects[..., 0]
    pt = np.where(mask, objects[..., 2], 0.0).astype(np.float64)
    is_jet = mask & ((code == JET) | (code == BJET))
    is_lep = mask & np.isin(code, LEPTON_CODES)
    return {"ht": np.where(is_jet, pt, 0.0).sum(axis=1),
            "n_jets_50": (is_jet & (pt > 50.0)).sum(axis=1),
            "n_jets_200": (is_jet & (pt > 200.0)).sum(axis=1),
            "lepton_pt": np.where(is_lep, pt, 0.0)}


def channel_mask(objects: np.ndarray, mask: np.ndarray, met: np.ndarray, channel: str) -> np.ndarray:
    """True for the events that pass ``channel``'s cuts."""
    if channel not in CHANNEL_CUTS:
        raise ValueError(f"unknown Dark Machines channel {channel!r} (channels: {', '.join(CHANNEL_CUTS)})")
    cuts = CHANNEL_CUTS[channel]
    s = event_summary(objects, mask)
    m = np.asarray(met)[:, 0]
    ok = (m >= cuts.met_min) & (s["ht"] >= cuts.ht_min)
    if cuts.met_over_ht_min:
        with np.errstate(divide="ignore", invalid="ignore"):
            ok &= np.where(s["ht"] > 0, m / s["ht"], np.inf) >= cuts.met_over_ht_min
    ok &= (s["n_jets_50"] >= cuts.n_jets_50_min) & (s["n_jets_200"] >= cuts.n_jets_200_min)
    if cuts.n_leptons_min:
        ok &= (s["lepton_pt"] > cuts.lepton_pt_min).sum(axis=1) >= cuts.n_leptons_min
    return ok


def channel_of(cls: str) -> str:
    """The channel a generated class belongs to (its name starts with ``<channel>/``)."""
    channel = cls.split("/", 1)[0]
    if channel not in CHANNEL_CUTS or "/" not in cls:
        raise ValueError(f"Dark Machines class {cls!r} must be named '<channel>/<process>' with a channel in "
                         f"{', '.join(CHANNEL_CUTS)}")
    return channel


# -- rows of the generator (hook of benchmark.generate.pythia.process_batch) -------------------------
def process_code(name: str) -> int:
    from benchmark.sources.darkmachines import process_code as code

    return code(name)


def object_rows(batch: Any, recipe: Any, cls: str, rng: np.random.Generator,
                charge_of: Callable[[np.ndarray], np.ndarray]) -> dict[str, np.ndarray]:
    """Canonical Dark Machines rows of the events of ``batch`` that pass ``cls``'s channel cuts.

    A class with ``resmear = K > 1`` (multijets) measures each event once and draws the jet-response
    tail K times (rebalance-and-smear style): every passing draw is one row, with the event's index
    in ``_event``; rows come event by event, draws in order. The selection efficiency is then
    passed rows / (K x generated events), and every row stands for 1/K of an event.
    """
    channel = channel_of(cls)
    params = getattr(recipe.selection, "objects", OBJECTS)
    k = int(getattr(recipe.classes[cls], "resmear", 1))
    meas = measure(batch.prt, rng, charge_of, recipe.detector, params)
    untailed = passes_without_tail(meas, recipe.detector, params, channel) if k > 1 else None
    pieces = []
    for _ in range(k):
        rec = finish(meas, rng, recipe.detector, params)
        ev = np.flatnonzero(channel_mask(rec.objects, rec.objects_mask, rec.met, channel))
        if untailed is not None:
            ev = ev[~untailed[ev]]  # only the tail's fake MET (see passes_without_tail)
        pieces.append((ev, rec.objects[ev], rec.objects_mask[ev], rec.met[ev]))
    ev = np.concatenate([p[0] for p in pieces])
    order = np.argsort(ev, kind="stable")
    rows = {"objects": np.concatenate([p[1] for p in pieces])[order],
            "objects_mask": np.concatenate([p[2] for p in pieces])[order],
            "met": np.concatenate([p[3] for p in pieces])[order]}
    ev = ev[order]
    return {**rows, "weights": np.ones(len(ev)),
            "process_code": np.full(len(ev), process_code(cls.split("/", 1)[1]), np.int32), "_event": ev}


def empty_object_rows() -> dict[str, np.ndarray]:
    return {"objects": np.zeros((0, N_OBJECTS, 5), np.float32), "objects_mask": np.zeros((0, N_OBJECTS), bool),
            "met": np.zeros((0, 2)), "weights": np.zeros(0), "process_code": np.zeros(0, np.int32)}


__all__ = ["object_rows", "empty_object_rows", "process_code", "ObjectParams", "OBJECTS", "ChannelCuts", "CHANNEL_CUTS", "CHANNELS", "EventObjects", "reconstruct", "measure", "finish", "MeasuredBatch", "passes_without_tail",
           "channel_mask", "event_summary", "heavy_flavour", "isolation_ratio", "channel_of", "N_OBJECTS"]
