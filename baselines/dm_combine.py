"""Score combinations of the Dark Machines challenge (DMPDF Sec. 4.13; methods.md d.4-d.5): several
scorers' outputs mapped to background efficiencies and combined, e.g. Deep SVDD with the spline
flow ("Combined-AND-DeepSVDD-Flow", the challenge's second-best median TI).

Each member's score s is mapped to its background efficiency f(s) = N_bkg(score > s) / N_bkg,
measured on background events the members did not train on (a held-out ``calibration_fraction``
of the training events; 0: the training events themselves); the efficiencies are combined with
``rule`` as the challenge defined it: AND = min, OR = max, PROD = product, AVG = mean of the f_i;
a small combined efficiency is anomalous, so the score is -combination.

Design: one scorer whose params name its members (``members``: registry names, ``module:Class`` or
file specs) and which fits them itself, each at the combination's preset (``--preset smoke`` runs
smoke members) with optional per-member overrides in ``member_params``. So a combination is an
ordinary job: it runs in the sandbox, resumes, records its identity (members and their
configurations are part of its params) and needs no result files of other runs. The members'
training records land under ``training.members``; the time budget is split evenly between them.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from benchmark.contract import BaseScorer, FitContext, ScorerInfo, load_scorer, validate_scores
from benchmark.events import EventSet

RULES = ("AND", "OR", "PROD", "AVG")


def efficiency_map(calibration: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Background efficiency of each score: the fraction of calibration scores above it."""
    ref = np.sort(np.asarray(calibration, dtype=np.float64))
    return (len(ref) - np.searchsorted(ref, np.asarray(scores, dtype=np.float64), side="right")) / len(ref)


def combine(efficiencies: np.ndarray, rule: str) -> np.ndarray:
    """(M, N) efficiencies of M members -> (N,) combined efficiency by the challenge's rule."""
    rule = rule.upper()
    if rule == "AND":
        return efficiencies.min(0)
    if rule == "OR":
        return efficiencies.max(0)
    if rule == "PROD":
        return efficiencies.prod(0)
    if rule == "AVG":
        return efficiencies.mean(0)
    raise ValueError(f"dm-combine: rule must be one of {RULES}, got {rule!r}")


class ScoreCombination(BaseScorer):
    """Score = -(AND|OR|PROD|AVG of the members' background efficiencies)."""

    info = ScorerInfo(
        name="dm-combine", version="1.0", protocols=("unsupervised",), representation="objects",
        defaults={"members": ["deep-svdd", "dm-flow"], "rule": "AND", "member_params": {},
                  "calibration_fraction": 0.2},
        presets={"smoke": {}, "paper": {}},  # the preset is handed to the members
        paper="Combined scores, Dark Machines unsupervised challenge (arXiv:2105.14027, Sec. 4.13)",
        description="Fits its member scorers (default Deep SVDD and the spline flow) and combines their "
                    "background efficiencies with AND=min, OR=max, PROD=product or AVG=mean.",
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        members = self.params["members"]
        if isinstance(members, str):
            members = [m.strip() for m in members.split(",") if m.strip()]
        if len(members) < 2:
            raise ValueError(f"dm-combine: param 'members' needs at least two scorers, got {members!r}")
        self.members: list[str] = list(members)
        if str(self.params["rule"]).upper() not in RULES:
            raise ValueError(f"dm-combine: param 'rule' must be one of {RULES}, got {self.params['rule']!r}")
        overrides = self.params["member_params"] or {}
        if not isinstance(overrides, Mapping) or set(overrides) - set(self.members):
            raise ValueError(f"dm-combine: 'member_params' must map member names {self.members} to their "
                             f"parameters, got {overrides!r}")
        if not 0.0 <= float(self.params["calibration_fraction"]) < 1.0:
            raise ValueError("dm-combine: 'calibration_fraction' must be in [0, 1)")

    def _load(self, preset: str | None) -> list[Any]:
        overrides = self.params["member_params"] or {}
        return [load_scorer(spec, dict(overrides.get(spec, {})), preset) for spec in self.members]

    def features_needed(self, arrays: Iterable[str] = frozenset()) -> list[tuple[str, dict[str, Any]]]:
        """The union of what the members declare (so the worker computes it once for all)."""
        import inspect

        out: list[tuple[str, dict[str, Any]]] = []
        for scorer in self._load(None):
            method = getattr(scorer, "features_needed", None)
            if callable(method):
                items = method(frozenset(arrays)) if inspect.signature(method).parameters else method()
                out.extend(item for item in items or [] if item not in out)
        return out

    def fit(self, train: EventSet, *, context: FitContext) -> "ScoreCombination":
        self.scorers = self._load(context.preset)
        rng = np.random.default_rng(context.seed)
        n_cal = int(round(float(self.params["calibration_fraction"]) * len(train)))
        order = rng.permutation(len(train))
        fit_part = train.take(np.sort(order[n_cal:])) if n_cal else train
        cal_part = train.take(np.sort(order[:n_cal])) if n_cal else train
        budget = context.time_budget_s / len(self.scorers) if context.time_budget_s else None
        self.calibration: list[np.ndarray] = []
        records = {}
        for k, (spec, scorer) in enumerate(zip(self.members, self.scorers)):
            workdir = None
            if context.workdir is not None:
                workdir = context.workdir / f"member{k}"
                workdir.mkdir(parents=True, exist_ok=True)
            sub = dataclasses.replace(context, params=dict(scorer.params), time_budget_s=budget, workdir=workdir,
                                      log=lambda message, spec=spec: context.log(f"[{spec}] {message}"))
            scorer.fit(fit_part, context=sub)
            self.calibration.append(validate_scores(scorer.score(cal_part), len(cal_part), scorer=spec))
            record = getattr(scorer, "training_record", None)
            records[spec] = record.to_dict() if hasattr(record, "to_dict") else record
        self.training_record = {"members": records, "calibration_events": len(cal_part),
                                "fit_events": len(fit_part)}
        return self

    def member_efficiencies(self, events: EventSet) -> np.ndarray:
        """(M, N) background efficiency of every event under every member."""
        return np.stack([efficiency_map(cal, validate_scores(s.score(events), len(events), scorer=spec))
                         for spec, s, cal in zip(self.members, self.scorers, self.calibration)])

    def score(self, events: EventSet) -> np.ndarray:
        return -combine(self.member_efficiencies(events), str(self.params["rule"]))

