"""A parametric detector: generator-level final-state particles -> energy-flow candidates.

This stands in for the Delphes fast simulation (ATLAS card) that the real top-tagging,
dark-jet and LHC Olympics samples went through. It is deliberately simple, vectorised over whole
batches of events, and driven by ONE dataclass, :class:`DetectorParams`, whose defaults follow the
Delphes ``delphes_card_ATLAS.tcl`` numbers. The steps, in order:

1. **Invisible particles are removed**: neutrinos (12, 14, 16), the lightest neutralino
   (1000022), and every Hidden Valley state (``4900000 <= |id| < 5000000``: stable dark mesons,
   dark quarks, dark gluons). The dark-jet recipes make the dark mesons that should be seen decay
   back to Standard Model particles, so whatever Hidden Valley state is still final is invisible.
2. **Tracks**: charged particles with ``|eta| < tracker_eta_max`` (2.5) and
   ``pT > track_pt_min`` (0.1 GeV) are reconstructed with the ATLAS-card tracking efficiency
   (``|eta| <= 1.5``: 70 % for pT <= 1 GeV, 95 % above; ``1.5 < |eta| <= 2.5``: 60 % / 85 %).
   Their transverse momentum is smeared with a Gaussian of relative width::

       sigma(pT) / pT = min( sqrt(a^2 + (b * pT)^2), track_res_max )

   with (a, b) = (0.01, 5e-4 / GeV) in the barrel and (0.02, 1e-3 / GeV) in the end-caps
   (the ATLAS inner-detector design resolution, 0.05 % pT (+) 1 %), capped at 5 % like the
   card's piecewise table above 200 GeV. Direction is kept; E is recomputed with the
   particle's mass. Muons are tracks too (they leave nothing in the calorimeters).
3. **Calorimeters**: every other visible particle inside ``|eta| < calo_eta_max`` (4.9) --
   neutral particles and charged ones that were not tracked -- deposits its energy in the ECAL
   (electrons and photons) or in the HCAL (hadrons). Tracked particles are taken out of the
   calorimeter exactly (ideal energy-flow subtraction). Energy resolutions (E in GeV), from the
   ATLAS card::

       ECAL  sigma_E = sqrt((0.0017 E)^2 + 0.101^2 E)           |eta| <= 3.2
                       sqrt((0.0350 E)^2 + 0.285^2 E)           3.2 < |eta| <= 4.9
       HCAL  sigma_E = sqrt((0.0302 E)^2 + 0.5205^2 E + 1.59^2) |eta| <= 1.7
                       sqrt((0.0500 E)^2 + 0.706^2 E)           1.7 < |eta| <= 3.2
                       sqrt((0.0942 E)^2 + 1.00^2 E)            3.2 < |eta| <= 4.9

   i.e. sigma/E ~ sqrt(0.1^2/E + 0.002^2) for the ECAL and ~ sqrt(0.52^2/E + 0.03^2) for the
   HCAL. Smearing is log-normal with that mean and width (as Delphes does, so energies stay
   positive).
4. **Towers** (``towers=True``, the default): deposits are summed in eta-phi cells separately
   for ECAL and HCAL -- 0.1 x 10 degrees (0.1745 rad) up to ``|eta| = 3.2`` and 8 eta bins x
   20 degrees over 3.2-4.9 as in the card -- then each cell is smeared, and kept if
   ``E > ecal_e_min`` (0.5 GeV) / ``hcal_e_min`` (1.0 GeV) and ``E / sigma_E > significance_min``
   (1.0). A surviving cell becomes a massless energy-flow photon / neutral hadron pointing at a
   uniformly random position inside the cell (Delphes' ``SmearTowerCenter``). With
   ``towers=False`` each deposit is smeared and thresholded on its own, keeping its direction.

The output of :func:`apply_detector` is flat (px, py, pz, E) arrays with per-event counts, ready
for :func:`benchmark.clustering.cluster_flat`. All randomness comes from the
:class:`numpy.random.Generator` passed in, so a seeded generator gives identical output.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: |PDG id| of invisible Standard Model / SUSY particles (Hidden Valley ids are handled by range)
INVISIBLE_IDS = (12, 14, 16, 1000022)
HIDDEN_VALLEY_RANGE = (4_900_000, 5_000_000)


@dataclass(frozen=True)
class DetectorParams:
    """Every number of the parametric detector (defaults: Delphes ATLAS card; see module doc).

    Energy resolutions are ``sigma_E = sqrt((c E)^2 + s^2 E + n^2)`` with one ``(c, s, n)`` triple
    per eta region; region ``i`` covers ``|eta| <= *_res_eta[i]``.
    """

    # acceptance
    tracker_eta_max: float = 2.5
    calo_eta_max: float = 4.9
    track_pt_min: float = 0.1
    # tracking efficiency: barrel |eta| <= barrel_eta_max, end-cap up to tracker_eta_max,
    # (low-pT value for pT <= track_eff_pt_knee, high-pT value above)
    barrel_eta_max: float = 1.5
    track_eff_pt_knee: float = 1.0
    track_eff_barrel: tuple[float, float] = (0.70, 0.95)
    track_eff_endcap: tuple[float, float] = (0.60, 0.85)
    # track pT resolution sigma/pT = min(sqrt(a^2 + (b pT)^2), track_res_max)
    track_res_barrel: tuple[float, float] = (0.01, 5e-4)
    track_res_endcap: tuple[float, float] = (0.02, 1e-3)
    track_res_max: float = 0.05
    # calorimeter resolutions (c, s, n) per region
    ecal_res_eta: tuple[float, ...] = (3.2, 4.9)
    ecal_res: tuple[tuple[float, float, float], ...] = ((0.0017, 0.101, 0.0), (0.0350, 0.285, 0.0))
    hcal_res_eta: tuple[float, ...] = (1.7, 3.2, 4.9)
    hcal_res: tuple[tuple[float, float, float], ...] = (
        (0.0302, 0.5205, 1.59), (0.0500, 0.706, 0.0), (0.0942, 1.00, 0.0))
    # thresholds on (tower) energies
    ecal_e_min: float = 0.5
    hcal_e_min: float = 1.0
    significance_min: float = 1.0
    # towers: regions (|eta| upper edge, number of eta bins in the region, number of phi bins)
    towers: bool = True
    tower_regions: tuple[tuple[float, int, int], ...] = ((3.2, 32, 36), (4.9, 8, 18))
    smear_tower_center: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


ATLAS = DetectorParams()


@dataclass
class DetectorOutput:
    """Flat energy-flow candidates of a batch: ``counts[i]`` candidates belong to event ``i``.

    ``kind`` is 0 for tracks, 1 for ECAL (photon) and 2 for HCAL (neutral hadron) candidates.
    """

    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    kind: np.ndarray
    counts: np.ndarray


def is_invisible(pid: np.ndarray) -> np.ndarray:
    """True for particles the detector cannot see (neutrinos, LSP, any Hidden Valley state)."""
    a = np.abs(np.asarray(pid, dtype=np.int64))
    hv = (a >= HIDDEN_VALLEY_RANGE[0]) & (a < HIDDEN_VALLEY_RANGE[1])
    return hv | np.isin(a, INVISIBLE_IDS)


def _region_formula(abs_eta: np.ndarray, edges: tuple[float, ...],
                    coeffs: tuple[tuple[float, float, float], ...]) -> np.ndarray:
    """(c, s, n) per entry: the first region whose upper |eta| edge is >= abs_eta."""
    idx = np.searchsorted(np.asarray(edges), abs_eta, side="left")
    idx = np.clip(idx, 0, len(edges) - 1)
    return np.asarray(coeffs, dtype=np.float64)[idx]


def energy_resolution(energy: np.ndarray, abs_eta: np.ndarray, calo: str,
                      params: DetectorParams = ATLAS) -> np.ndarray:
    """Absolute energy resolution sigma_E (GeV) of the ``"ecal"`` or ``"hcal"``."""
    if calo == "ecal":
        csn = _region_formula(abs_eta, params.ecal_res_eta, params.ecal_res)
    elif calo == "hcal":
        csn = _region_formula(abs_eta, params.hcal_res_eta, params.hcal_res)
    else:
        raise ValueError(f"calo must be 'ecal' or 'hcal', got {calo!r}")
    c, s, n = csn[:, 0], csn[:, 1], csn[:, 2]
    return np.sqrt((c * energy) ** 2 + s * s * energy + n * n)


def track_resolution(pt: np.ndarray, abs_eta: np.ndarray, params: DetectorParams = ATLAS) -> np.ndarray:
    """Relative transverse-momentum resolution sigma(pT)/pT of tracks."""
    barrel = abs_eta <= params.barrel_eta_max
    a = np.where(barrel, params.track_res_barrel[0], params.track_res_endcap[0])
    b = np.where(barrel, params.track_res_barrel[1], params.track_res_endcap[1])
    return np.minimum(np.sqrt(a * a + (b * pt) ** 2), params.track_res_max)


def tracking_efficiency(pt: np.ndarray, abs_eta: np.ndarray, params: DetectorParams = ATLAS) -> np.ndarray:
    barrel = abs_eta <= params.barrel_eta_max
    high = pt > params.track_eff_pt_knee
    eff = np.where(barrel, np.where(high, params.track_eff_barrel[1], params.track_eff_barrel[0]),
                   np.where(high, params.track_eff_endcap[1], params.track_eff_endcap[0]))
    ok = (pt > params.track_pt_min) & (abs_eta < params.tracker_eta_max)
    return np.where(ok, eff, 0.0)


def lognormal_smear(mean: np.ndarray, sigma: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Log-normal random numbers with the given mean and standard deviation (mean > 0)."""
    ratio2 = (sigma / mean) ** 2
    s = np.sqrt(np.log1p(ratio2))
    mu = np.log(mean) - 0.5 * s * s
    return np.exp(mu + s * rng.standard_normal(mean.shape))


def tower_cells(eta: np.ndarray, phi: np.ndarray, params: DetectorParams = ATLAS
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cell index and (eta_lo, eta_hi, phi_lo, phi_hi) of each (eta, phi) in the tower grid.

    The cell index is unique over the whole grid (both signs of eta, every region).
    """
    abs_eta = np.abs(eta)
    n_cell = np.zeros_like(eta, dtype=np.int64)
    eta_lo = np.zeros_like(eta)
    eta_hi = np.zeros_like(eta)
    phi_lo = np.zeros_like(eta)
    phi_hi = np.zeros_like(eta)
    offset = 0
    lower = 0.0
    twopi = 2.0 * np.pi
    for upper, n_eta, n_phi in params.tower_regions:
        sel = (abs_eta >= lower) & (abs_eta < upper) if lower > 0 else abs_eta < upper
        deta = (upper - lower) / n_eta
        ieta = np.clip(np.floor((abs_eta[sel] - lower) / deta).astype(np.int64), 0, n_eta - 1)
        dphi = twopi / n_phi
        ph = np.mod(phi[sel] + np.pi, twopi)  # 0 .. 2 pi
        iphi = np.clip(np.floor(ph / dphi).astype(np.int64), 0, n_phi - 1)
        sign = eta[sel] >= 0
        n_cell[sel] = offset + (np.where(sign, 1, 0) * n_eta + ieta) * n_phi + iphi
        lo = lower + ieta * deta
        eta_lo[sel] = np.where(sign, lo, -(lo + deta))
        eta_hi[sel] = np.where(sign, lo + deta, -lo)
        phi_lo[sel] = iphi * dphi - np.pi
        phi_hi[sel] = (iphi + 1) * dphi - np.pi
        offset += 2 * n_eta * n_phi
        lower = upper
    return n_cell, eta_lo, eta_hi, phi_lo, phi_hi


def apply_detector(
    pid: np.ndarray,
    charge: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    mass: np.ndarray,
    counts: np.ndarray,
    rng: np.random.Generator,
    params: DetectorParams = ATLAS,
) -> DetectorOutput:
    """Run the parametric detector on final-state particles given as flat arrays + ``counts``.

    Returns energy-flow candidates (tracks, ECAL and HCAL candidates) as flat arrays grouped by
    event in input order (within an event: tracks, then ECAL, then HCAL candidates).
    """
    counts = np.asarray(counts, dtype=np.int64)
    n_events = len(counts)
    event = np.repeat(np.arange(n_events, dtype=np.int64), counts)
    pid = np.asarray(pid, dtype=np.int64)
    px, py, pz, e, mass = (np.asarray(x, dtype=np.float64) for x in (px, py, pz, e, mass))
    charge = np.asarray(charge, dtype=np.float64)

    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0, np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pz), where=pt > 0)),
                       np.sign(pz) * 1e9)
    phi = np.arctan2(py, px)
    abs_eta = np.abs(eta)
    apid = np.abs(pid)

    visible = ~is_invisible(pid) & (pt > 0)
    charged = visible & (charge != 0)

    # -- tracks ---------------------------------------------------------------------------------
    eff = tracking_efficiency(pt, abs_eta, params)
    u = rng.random(len(pt))
    tracked = charged & (u < eff)
    t_pt = pt[tracked] * (1.0 + track_resolution(pt[tracked], abs_eta[tracked], params)
                          * rng.standard_normal(int(tracked.sum())))
    good = t_pt > 0
    t_pt, t_eta, t_phi = t_pt[good], eta[tracked][good], phi[tracked][good]
    t_m, t_event = mass[tracked][good], event[tracked][good]
    t_px, t_py, t_pz = t_pt * np.cos(t_phi), t_pt * np.sin(t_phi), t_pt * np.sinh(t_eta)
    t_e = np.sqrt(t_px ** 2 + t_py ** 2 + t_pz ** 2 + t_m ** 2)

    # -- calorimeter deposits -------------------------------------------------------------------
    muon = apid == 13
    deposit = visible & ~tracked & ~muon & (abs_eta < params.calo_eta_max)
    is_em = (apid == 11) | (apid == 22)
    parts: list[tuple[np.ndarray, ...]] = []
    for calo, sel_calo, e_min, kind in (("ecal", deposit & is_em, params.ecal_e_min, 1),
                                        ("hcal", deposit & ~is_em, params.hcal_e_min, 2)):
        d_e, d_eta, d_phi, d_event = e[sel_calo], eta[sel_calo], phi[sel_calo], event[sel_calo]
        if params.towers:
            cell, elo, ehi, plo, phi_hi = tower_cells(d_eta, d_phi, params)
            n_cells = sum(2 * ne * nphi for _, ne, nphi in params.tower_regions)
            key = d_event * n_cells + cell
            uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            c_e = np.bincount(inverse, weights=d_e, minlength=len(uniq))
            c_event = d_event[first]
            elo, ehi, plo, phi_hi = elo[first], ehi[first], plo[first], phi_hi[first]
            if params.smear_tower_center:
                c_eta = elo + (ehi - elo) * rng.random(len(uniq))
                c_phi = plo + (phi_hi - plo) * rng.random(len(uniq))
            else:
                c_eta, c_phi = 0.5 * (elo + ehi), 0.5 * (plo + phi_hi)
        else:
            c_e, c_eta, c_phi, c_event = d_e, d_eta, d_phi, d_event
        # resolution evaluated at the cell's |eta| (centre-independent region lookup)
        sigma = energy_resolution(c_e, np.abs(c_eta), calo, params)
        c_e_s = lognormal_smear(c_e, sigma, rng) if len(c_e) else c_e
        keep = (c_e_s > e_min) & (c_e_s > params.significance_min * sigma)
        c_e_s, c_eta, c_phi, c_event = c_e_s[keep], c_eta[keep], c_phi[keep], c_event[keep]
        c_pt = c_e_s / np.cosh(c_eta)
        parts.append((c_pt * np.cos(c_phi), c_pt * np.sin(c_phi), c_pt * np.sinh(c_eta), c_e_s,
                      np.full(len(c_e_s), kind, dtype=np.int8), c_event))

    all_parts = [(t_px, t_py, t_pz, t_e, np.zeros(len(t_e), dtype=np.int8), t_event), *parts]
    out_event = np.concatenate([p[5] for p in all_parts])
    order = np.argsort(out_event, kind="stable")
    cols = [np.concatenate([p[i] for p in all_parts])[order] for i in range(5)]
    out_counts = np.bincount(out_event, minlength=n_events).astype(np.int64)
    return DetectorOutput(cols[0], cols[1], cols[2], cols[3], cols[4].astype(np.int8), out_counts)
