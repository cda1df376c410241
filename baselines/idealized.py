"""Idealized anomaly detector (IAD): signal-region data vs an independent background sample.

Resonant AD by classification: a classifier of signal-region (SR) data (label 1) against a sample
that follows the SR background (label 0) learns, in the limit, a monotonic function of
p_data/p_bkg = 1 + (S/B) p_sig/p_bkg, so its output ranks signal-like events first. The
idealized detector uses a *perfect* background sample: independent SR background events from the
same source (the task's ``resonant.background_template``, never the background inside the data),
so it is the upper reference a background-estimation method (CATHODE, CWoLa, ...) can approach
(CATHODE, arXiv:2109.00546; arXiv:2310.06897 Fig. 7).

Two classifiers (``model``): an ensemble of histogram gradient-boosted trees (cheap and strong on
four features; member k trains on all folds but k) and the CATHODE MLP (3 x 64 ReLU) through the
shared training loop, each run's prediction averaged over its ``n_best_epochs`` lowest-validation-
loss epochs (CATHODE ``classifier_training_utils.py``), ``n_models`` runs averaged.
"""
from __future__ import annotations

import numpy as np

from baselines.common import tabular_features
from baselines.weak_supervision import CLASSIFIER_DEFAULTS, CLASSIFIER_PRESETS, DataVsReference
from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet


class IdealizedAD(BaseScorer):
    """Idealized anomaly detector: SR data vs an independent SR background sample.

    Needs the task's background template (``resonant.background_template`` in ``datasets.yaml``),
    which reaches this scorer only because ``info.extras`` asks for it. Features: the CATHODE four
    (mj_min, Delta mj, tau21 of both jets), no mjj.
    """

    info = ScorerInfo(
        name="idealized-ad", version="1.0", protocols=("resonant",), representation="highlevel",
        defaults=dict(CLASSIFIER_DEFAULTS), presets=CLASSIFIER_PRESETS, extras=("background_template",),
        paper="Idealized anomaly detector of Hallin et al. (CATHODE), PRD 106, 055006 (2022), arXiv:2109.00546; "
              "upper reference of Buhmann et al., 'Full Phase Space Resonant Anomaly Detection', arXiv:2310.06897",
        description="Classifier of SR data vs independent SR background (HGB ensemble or MLP); upper reference.",
    )

    def fit(self, train: EventSet, *, context: FitContext) -> "IdealizedAD":
        template = context.background_template
        if template is None:
            raise ValueError(f"idealized-ad needs an independent background sample, but task {context.task!r} gives "
                             "none: set resonant.background_template (e.g. lhco:extra_qcd) in the task's block of "
                             "datasets.yaml")
        self._clf = DataVsReference(self.params).fit(tabular_features(train), tabular_features(template),
                                                     context, "idealized-ad")
        self.training_record = self._clf.record
        return self

    def score(self, events: EventSet) -> np.ndarray:
        return self._clf.score(tabular_features(events))
