"""Generation recipes: one per physics process family, with every Pythia setting and cut written down.

A :class:`Recipe` is what ``lhcad generate DATASET`` runs for one dataset: Pythia 8 settings shared
by its classes plus per-class settings (:class:`ProcessSpec`), a jet selection
(:class:`Selection`), and the detector (:class:`~benchmark.generate.detector.DetectorParams`).
The same settings and cuts are listed in ``datasets.yaml`` under each dataset's ``generated:``
block (a test keeps the two in agreement; this module is what the generator runs).

Each recipe names the detector its real dataset went through (``Recipe.detector``, one of the
named cards in :data:`benchmark.generate.detector.DETECTORS`; ``datasets.yaml`` lists the name and
the source of that fact under ``detector:`` / ``detector_source:``): ``top``, ``darkjets`` and
``zprime`` use ``atlas`` (Delphes' ATLAS card), ``lhco`` uses ``cms-rnd`` (the organisers'
``delphes_card_RnD.dat``). Every recipe stores energy-flow candidates.

Recipes:

``top``
    Look-alike of the top-tagging reference dataset (arXiv:1902.09914): 14 TeV, Pythia 8 default
    tune, MPI off (the real set has "no MPI / pile-up"). Background: QCD 2->2 (``HardQCD:all``);
    signal: ttbar with both W forced to quarks. ``PhaseSpace:pTHatMin/Max = 350/900 GeV`` keeps
    the generation where jets of 550-650 GeV come from (not public for the real set; our choice:
    with a 300 GeV cut about 3 % of the selected jets come from pTHat < 350 GeV).
    Every one of the two leading anti-kT R=0.8 jets of an event with 550 < pT < 650 GeV and
    |eta| < 2 is one row (up to 200 pT-ordered constituents); a top jet must be truth-matched:
    the top within dR < 0.8 of the jet axis and all three decay quarks (b, q, q') within 0.8.

``darkjets``
    Look-alike of the "What's anomalous in LHC jets?" samples (arXiv:2202.00686): 13 TeV, MPI on
    (the paper showers MadGraph events with Pythia's defaults; its card is not public), anti-kT
    R=0.8, 150 < pT < 300 GeV, |eta| < 2, leading two jets per event.

    * ``qcd``: ``HardQCD:all`` with pTHat 80-400 GeV (with a 40 GeV cut no selected jet came from
      pTHat below 97 GeV).
    * ``aachen``: semi-visible jets. Pythia's Hidden Valley ``ffbar2Zv`` with m(Zv) = 2 TeV
      (Pythia's Zv has small SM couplings so that it can be produced; its decays are restricted
      to dark quarks), SU(3) dark sector with one flavour, m(q_d) = 0.5 GeV, running dark coupling
      with Lambda_d = 5 GeV, dark pions (4900111) of 4 GeV made stable -> invisible, dark rho^0
      (4900113) of 5 GeV decaying to SM quarks (the Z'-rho mixing), vector fraction
      ``probVector = 0.25`` so that r_inv = 0.75 of the dark hadrons escape. The jets' visible
      pT is a fraction of the 1 TeV dark-quark pT, so jets land in 150-300 GeV unaided.
      Signal jets must lie within dR < 0.8 of a dark quark.
    * ``heidelberg``: ``gg/qqbar -> Dv Dvbar`` (dark quarks charged under QCD and SU(3)_d),
      m(Dv) = 50 GeV, each Dv -> d + q_v; q_v (5 GeV) showers and hadronises into 10 GeV dark
      mesons that all decay back to SM quarks (r_inv ~ 0; Pythia defaults for q_v and mesons are
      exactly 5 and 10 GeV; Pythia ships the dark-meson decay tables switched off, the recipe
      switches them on, vectors to quarks only). The paper made these with "just the Hidden
      Valley model in Pythia", so the dark shower keeps Pythia's default fixed coupling
      (alpha_d = 0.1); a running coupling with Lambda_d = 5 GeV showers more and washes out the
      two prongs (tau21 median 0.62 instead of 0.57, QCD 0.71). pTHat 80-500 GeV (about 5 % of
      the selected jets would come from lower pTHat); jets within dR < 0.8 of a Dv.

``zprime``
    Look-alike of the Z' dark-shower jets of arXiv:2306.03933: 14 TeV, MPI off (as the top set it
    is compared with), Hidden Valley ``ffbar2Zv`` m(Zv) = 1.4 TeV -> q_d q_d with m(q_d) = 75 GeV,
    dark pions and rho mesons of 150 GeV decaying to SM quarks (Pythia's default decay tables,
    switched on: pions mass-proportionally, mostly b bbar; rhos to quarks only), r_inv = 0 ->
    two-prong jets. The paper's
    "strongly coupled U(1)'" has no hadronisation model in Pythia; an SU(3)_d with
    Lambda_d = 75 GeV is used instead. Jets are selected exactly like the top set's
    (anti-kT R=0.8, 550 < pT < 650 GeV, |eta| < 2, 200 constituents) because the paper compares
    them with top-tagging QCD; they must lie within dR < 0.8 of a dark quark.

``lhco``
    Look-alike of the LHC Olympics 2020 R&D set (arXiv:2101.08320) with the organisers' Pythia
    cards (13 TeV, MPI off): signal W'(3.5 TeV) -> X(500) Y(100), X -> qq (X is Pythia's W,
    id 24), Y -> qq (the Z, id 23), ``PhaseSpace:pTHatMin = 500``; ``signal_qqq`` the card's
    three-prong variant (Y -> d d u, ``23:oneChannel = 1 1.0 101 1 1 2``); background QCD dijets
    with ``PhaseSpace:pTHatMin = 1100``. The organisers' QCD card is not public, and their sample
    *is* sculpted by its generator cut: generated with 800 GeV (which loses only about 3 % of the
    events passing the 1.2 TeV jet cut) and cut at pTHat = 800 ... 1200 GeV afterwards, the KS
    distance of the leading-jet pT to the real tiny file's 907 background events is 0.096, 0.086,
    0.076, 0.044, 0.170 for 800, 900, 1000, 1100, 1200 GeV (subleading pT 0.134 ... 0.049 at
    1100 ... 0.198; mjj 0.097 ... 0.045 ... 0.091; 560-750 look-alike events of the cms-rnd
    detector): 1100 GeV matches best (it drops a quarter of the events the 800 GeV sample passes,
    mostly near the turn-on), and it makes the generation about four times cheaper. Events need at
    least one anti-kT R=1.0 jet with pT > 1.2 TeV and |eta| < 2.5 and at least two jets; the two
    leading jets are stored with up to 279 constituents, their masses, N-subjettiness
    (beta = 1, exclusive-kT axes) and mjj. ``extra_qcd`` is the background recipe restricted to
    3.3 < mjj < 3.7 TeV (the signal region).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from benchmark.generate.detector import ATLAS, CMS_RND, DetectorParams, detector_name

#: bumped whenever a change alters the generated events of any recipe
RECIPE_FORMAT = 1

QUIET = ("Print:quiet = on", "Next:numberCount = 0", "Next:numberShowEvent = 0",
         "Next:numberShowProcess = 0", "Next:numberShowInfo = 0")


@dataclass(frozen=True)
class ProcessSpec:
    """One class of a recipe: its own Pythia settings and truth requirements.

    ``match`` is ``None`` (no truth requirement), ``"top"`` (the jet contains a top and all its
    decay quarks within ``Selection.match_dr``) or ``"partons"`` (the jet lies within
    ``match_dr`` of a hard-process particle whose |id| is in ``match_ids``).
    ``mjj_window`` restricts dijet events to lo < mjj < hi (GeV). ``resmear = K > 1`` (Dark
    Machines objects only) draws the detector's jet-response tail K times per generated event and
    keeps every passing draw as a row (each stands for 1/K event; see
    :func:`benchmark.generate.darkmachines.object_rows`).
    """

    settings: tuple[str, ...]
    description: str
    match: str | None = None
    match_ids: tuple[int, ...] = ()
    mjj_window: tuple[float, float] | None = None
    resmear: int = 1

    def __post_init__(self) -> None:
        if self.resmear < 1:
            raise ValueError(f"resmear must be >= 1, got {self.resmear}")


@dataclass(frozen=True)
class Selection:
    """Jet definition and cuts.

    ``mode = "jets"``: each of the ``n_candidates`` leading jets of an event that passes
    ``jet_pt_min < pT < jet_pt_max`` and ``|eta| < jet_abs_eta_max`` (and the class's truth
    match) is one row with J = 1. ``mode = "dijet"``: an event is one row with its two leading
    jets (J = 2) when at least one jet has ``pT > lead_pt_min`` and ``|eta| < lead_abs_eta_max``
    and there are at least two jets with ``pT > jet_pt_min``.
    """

    mode: str
    radius: float
    max_constituents: int
    jet_pt_min: float
    jet_pt_max: float = math.inf
    jet_abs_eta_max: float = math.inf
    n_candidates: int = 2
    match_dr: float = 0.8
    lead_pt_min: float = 0.0
    lead_abs_eta_max: float = math.inf
    nsubjettiness: bool = False
    cluster_pt_min: float = 10.0
    #: treat energy-flow candidates as massless (E = |p|) before clustering, as the real files do
    #: that store only (pT, eta, phi) per particle (LHCO); their converter assumes massless particles
    massless: bool = False

    @property
    def n_jets(self) -> int:
        return 1 if self.mode == "jets" else 2

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"algorithm": "antikt", "R": self.radius, "mode": self.mode,
                               "max_constituents": self.max_constituents}
        if self.mode == "jets":
            out.update({"jet_pt": [self.jet_pt_min, self.jet_pt_max],
                        "jet_abs_eta_max": self.jet_abs_eta_max,
                        "leading_jets_considered": self.n_candidates,
                        "truth_match_dR": self.match_dr})
        else:
            out.update({"lead_jet_pt_min": self.lead_pt_min,
                        "lead_jet_abs_eta_max": self.lead_abs_eta_max,
                        "min_jets": 2, "jet_pt_min": self.jet_pt_min,
                        "nsubjettiness": "beta=1, R=1.0, exclusive-kT axes" if self.nsubjettiness
                        else None})
        if self.massless:  # only listed when set, so the other recipes' fingerprints stay as they were
            out["massless_constituents"] = True
        return out


@dataclass(frozen=True)
class Recipe:
    """Everything needed to generate one dataset's classes, reproducibly."""

    name: str
    dataset: str
    description: str
    common: tuple[str, ...]
    classes: dict[str, ProcessSpec]
    selection: Selection
    detector: DetectorParams = ATLAS
    #: events per ``Pythia.nextBatch`` call; each batch has its own detector random stream, so
    #: this must never change for a given recipe version (it fixes which events are drawn)
    batch_events: int = 50
    #: stop (error) when a chunk needs more than this many generated events per accepted row
    max_trials_per_row: int = 2000
    #: stored precision of constituents (pythia.quantize_constituents): significant bits of pT
    #: and E, eta and phi in multiples of 2**-bits; 12 = pythia.STORAGE_BITS unless a recipe needs
    #: smaller files
    storage_bits: int = 12
    notes: str = ""
    version: str = "1"
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def detector_name(self) -> str:
        """The name of the recipe's detector in :data:`~benchmark.generate.detector.DETECTORS`."""
        name = detector_name(self.detector)
        if name is None:
            raise ValueError(f"recipe {self.name!r} uses a detector that is not in DETECTORS; name it there")
        return name

    def settings(self, cls: str) -> list[str]:
        """Pythia settings of class ``cls``, common ones first (seeds and quiet flags excluded)."""
        if cls not in self.classes:
            raise KeyError(f"recipe {self.name!r} has no class {cls!r} (classes: {', '.join(self.classes)})")
        return [*self.common, *self.classes[cls].settings]

    def settings_listing(self) -> list[str]:
        """Settings as listed in datasets.yaml: common lines, then ``[class] setting`` lines."""
        lines = list(self.common)
        for cls, spec in self.classes.items():
            lines.extend(f"[{cls}] {s}" for s in spec.settings)
        return lines

    def selection_dict(self) -> dict[str, Any]:
        """The selection as listed in datasets.yaml (jet definition, cuts, per-class matching)."""
        out = self.selection.as_dict()
        per_class = {}
        for cls, spec in self.classes.items():
            entry: dict[str, Any] = {}
            if spec.match == "top":
                entry["truth_match"] = "top and its b, q, q' within dR"
            elif spec.match == "partons":
                entry["truth_match"] = f"hard-process |id| in {list(spec.match_ids)} within dR"
            if spec.mjj_window:
                entry["mjj_window"] = list(spec.mjj_window)
            if entry:
                per_class[cls] = entry
        if per_class:
            out["classes"] = per_class
        return out


# -- top ------------------------------------------------------------------------------------------
TOP = Recipe(
    name="top",
    dataset="top",
    description="QCD dijets vs hadronic ttbar at 14 TeV, anti-kT R=0.8 jets with 550 < pT < 650 GeV",
    common=("Beams:eCM = 14000.", "PartonLevel:MPI = off",
            "PhaseSpace:pTHatMin = 350.", "PhaseSpace:pTHatMax = 900."),
    classes={
        "qcd": ProcessSpec(("HardQCD:all = on",), "QCD 2->2 dijets"),
        "top": ProcessSpec(("Top:gg2ttbar = on", "Top:qqbar2ttbar = on",
                            "24:onMode = off", "24:onIfAny = 1 2 3 4 5"),
                           "all-hadronic ttbar", match="top"),
    },
    selection=Selection(mode="jets", radius=0.8, max_constituents=200, jet_pt_min=550.0,
                        jet_pt_max=650.0, jet_abs_eta_max=2.0, n_candidates=2, match_dr=0.8),
    notes=("Real set: Pythia 8 default tune + Delphes ATLAS card, 14 TeV, no MPI or pile-up; its "
           "pTHat range is not public, 350-900 GeV is our choice (covers the 550-650 GeV jets)."),
)

# -- dark jets ------------------------------------------------------------------------------------
_HV_COMMON = ("HiddenValley:Ngauge = 3", "HiddenValley:nFlav = 1", "HiddenValley:FSR = on",
              "HiddenValley:fragment = on", "HiddenValley:alphaOrder = 1",
              "HiddenValley:setLambda = on")
# Pythia ships the dark-meson decay tables switched off; the vector decays to quarks only
_RHO_TO_QUARKS = ("4900113:onMode = on", "4900113:offIfAny = 11 12 13 14 15 16")

DARKJETS = Recipe(
    name="darkjets",
    dataset="darkjets",
    description="low-pT QCD jets vs semi-visible (Aachen) and two-prong (Heidelberg) dark jets, 13 TeV",
    common=("Beams:eCM = 13000.",),
    classes={
        "qcd": ProcessSpec(("HardQCD:all = on", "PhaseSpace:pTHatMin = 80.",
                            "PhaseSpace:pTHatMax = 400."), "QCD 2->2 dijets"),
        "aachen": ProcessSpec(
            ("HiddenValley:ffbar2Zv = on", "4900023:m0 = 2000.", "4900023:mWidth = 20.",
             "4900023:onMode = off", "4900023:onIfAny = 4900101",
             *_HV_COMMON, "HiddenValley:Lambda = 5.", "HiddenValley:pTminFSR = 5.5",
             "HiddenValley:probVector = 0.25",
             "4900101:m0 = 0.5", "4900111:m0 = 4.", "4900113:m0 = 5.",
             "4900111:mayDecay = off", *_RHO_TO_QUARKS),
            "Z'(2 TeV) -> dark quarks, r_inv = 0.75", match="partons", match_ids=(4900101,)),
        "heidelberg": ProcessSpec(
            ("HiddenValley:gg2DvDvbar = on", "HiddenValley:qqbar2DvDvbar = on",
             "PhaseSpace:pTHatMin = 80.", "PhaseSpace:pTHatMax = 500.",
             "4900001:m0 = 50.", "HiddenValley:Ngauge = 3", "HiddenValley:nFlav = 1",
             "HiddenValley:FSR = on", "HiddenValley:fragment = on", "4900101:m0 = 5.",
             "4900111:m0 = 10.", "4900113:m0 = 10.", "4900111:onMode = on", *_RHO_TO_QUARKS),
            "Dv Dvbar (50 GeV) -> d q_v, dark mesons (10 GeV) -> SM", match="partons",
            match_ids=(4900001,)),
    },
    selection=Selection(mode="jets", radius=0.8, max_constituents=200, jet_pt_min=150.0,
                        jet_pt_max=300.0, jet_abs_eta_max=2.0, n_candidates=2, match_dr=0.8),
    notes=("The paper's Hidden Valley cards are not public: masses and r_inv follow its Sec. 2.1; "
           "Lambda_d, probVector and the Zv width are our choices. MPI is left on (Pythia default)."),
)

# -- Z' dark showers ------------------------------------------------------------------------------
ZPRIME = Recipe(
    name="zprime",
    dataset="zprime",
    description="Z'(1.4 TeV) -> dark quarks (75 GeV) -> dark mesons (150 GeV) -> SM, two-prong jets",
    common=("Beams:eCM = 14000.", "PartonLevel:MPI = off"),
    classes={
        "zprime": ProcessSpec(
            ("HiddenValley:ffbar2Zv = on", "4900023:m0 = 1400.", "4900023:mWidth = 14.",
             "4900023:onMode = off", "4900023:onIfAny = 4900101",
             *_HV_COMMON, "HiddenValley:Lambda = 75.", "HiddenValley:pTminFSR = 82.5",
             "4900101:m0 = 75.", "4900111:m0 = 150.", "4900113:m0 = 150.",
             "4900111:onMode = on", *_RHO_TO_QUARKS),
            "Z' dark-shower jets", match="partons", match_ids=(4900101,)),
    },
    selection=Selection(mode="jets", radius=0.8, max_constituents=200, jet_pt_min=550.0,
                        jet_pt_max=650.0, jet_abs_eta_max=2.0, n_candidates=2, match_dr=0.8),
    notes=("Selected like the top set's jets (550-650 GeV, R=0.8) because arXiv:2306.03933 "
           "compares them with top-tagging QCD. SU(3)_d stands in for the paper's U(1)'."),
)

# -- LHC Olympics R&D -----------------------------------------------------------------------------
_WPRIME = ("NewGaugeBoson:ffbar2Wprime = on", "PhaseSpace:pTHatMin = 500.",
           "34:m0 = 3500.", "24:m0 = 500.", "23:m0 = 100.",
           "Wprime:vq = 0.0000001", "Wprime:aq = 0.", "Wprime:vl = 0.", "Wprime:al = 0.",
           "Wprime:coup2WZ = 1.", "24:onMode = off", "24:onIfAny = -1 2", "24:onIfAny = -3 4")
_QCD_HIGH = ("HardQCD:all = on", "PhaseSpace:pTHatMin = 1100.")

LHCO = Recipe(
    name="lhco",
    dataset="lhco",
    description="LHC Olympics R&D look-alike: QCD dijets and W'(3.5 TeV) -> X(500) Y(100) at 13 TeV",
    common=("Beams:eCM = 13000.", "PartonLevel:MPI = off"),
    classes={
        "background": ProcessSpec(_QCD_HIGH, "QCD dijets"),
        "signal": ProcessSpec((*_WPRIME, "23:onMode = off", "23:onIfAny = -1 1", "23:onIfAny = -2 2",
                               "23:onIfAny = -3 3", "23:onIfAny = -4 4"),
                              "W' -> X Y, X -> qq, Y -> qq"),
        "signal_qqq": ProcessSpec((*_WPRIME, "23:onMode = off", "23:oneChannel = 1 1.0 101 1 1 2"),
                                  "W' -> X Y, Y -> qqq (organisers' three-prong card)"),
        "extra_qcd": ProcessSpec(_QCD_HIGH, "QCD dijets in the signal region",
                                 mjj_window=(3300.0, 3700.0)),
    },
    selection=Selection(mode="dijet", radius=1.0, max_constituents=279, jet_pt_min=20.0,
                        lead_pt_min=1200.0, lead_abs_eta_max=2.5, nsubjettiness=True, massless=True),
    detector=CMS_RND,
    batch_events=25,
    version="2",
    # 9 bits (pT, E to 0.1 %, eta and phi to 0.002, a ninth of the finest ECAL cell, while the
    # jets, masses and N-subjettiness are computed before rounding) keep the shipped sample within
    # its size budget although the fine ECAL resolves 10-20 % more constituents per jet
    storage_bits=9,
    notes=("Signal cards are the organisers' (Zenodo 6466204). Their QCD card is not public: "
           "pTHatMin = 1100 GeV is fitted to the real tiny file's leading-jet pT and mjj spectra "
           "(KS scan over 800-1200 GeV; see the module docstring). Detector: the organisers' Delphes "
           "card delphes_card_RnD.dat (CMS_RND); constituents are massless like the real file's "
           "(pT, eta, phi)."),
)

RECIPES: dict[str, Recipe] = {r.name: r for r in (TOP, DARKJETS, ZPRIME, LHCO)}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        from benchmark.registry import unknown_name

        raise unknown_name("generation recipe", name, list(RECIPES))
    return RECIPES[name]

# Dark Machines recipes live in their own module (object reconstruction, per-channel classes)
from benchmark.generate.dm_recipes import DM_RECIPES  # noqa: E402

RECIPES.update(DM_RECIPES)
