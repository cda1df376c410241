"""Supervised reference of resonant anomaly detection: labelled SR signal vs SR background.

The ceiling of a weakly supervised bump hunt (CATHODE, arXiv:2109.00546; "supervised" of
arXiv:2310.06897 Fig. 7): the same classifier as the idealized detector and CATHODE
(:class:`baselines.weak_supervision.DataVsReference`: HGB ensemble or the CATHODE MLP with its
best-epoch averaging), but trained on events whose class is known, so it does not depend on the
injected signal. Its inputs are the resonant protocol's context extras, which reach only scorers
that ask for them: ``signal_train`` (the signal class's SR events that are not test events) as
label 1 and ``background_template`` (the independent SR background sample, as CATHODE's extra
QCD) as label 0. The SR data itself is not used.
"""
from __future__ import annotations

import numpy as np

from baselines.common import tabular_features, tabular_features_needed
from baselines.weak_supervision import CLASSIFIER_DEFAULTS, CLASSIFIER_PRESETS, DataVsReference
from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet


class ResonantSupervised(BaseScorer):
    """Classifier of labelled SR signal (1) vs independent SR background (0) on the CATHODE four
    features (mj_min, Delta mj, tau21 of both jets; no mjj); classes weighted to equal total weight."""

    info = ScorerInfo(
        name="supervised-resonant", version="1.0", protocols=("resonant",), representation="highlevel",
        defaults=dict(CLASSIFIER_DEFAULTS), presets=CLASSIFIER_PRESETS,
        extras=("signal_train", "background_template"),
        paper="Supervised reference of Hallin et al. (CATHODE), PRD 106, 055006 (2022), arXiv:2109.00546; "
              "Buhmann et al., 'Full Phase Space Resonant Anomaly Detection', arXiv:2310.06897 Fig. 7",
        description="Labelled SR signal vs independent SR background (HGB ensemble or MLP); supervised ceiling.",
    )

    features_needed = staticmethod(tabular_features_needed)  # computed once by the worker (benchmark.precomputed)

    def fit(self, train: EventSet, *, context: FitContext) -> "ResonantSupervised":
        missing = [name for name, events in (("signal_train", context.signal_train),
                                             ("background_template", context.background_template)) if events is None]
        if missing:
            raise ValueError(f"supervised-resonant needs labelled SR signal and an independent SR background "
                             f"sample, but task {context.task!r} gives no {' and no '.join(missing)}: it runs on "
                             "resonant tasks with resonant.background_template set in datasets.yaml")
        assert context.signal_train is not None and context.background_template is not None
        self._clf = DataVsReference(self.params).fit(tabular_features(context.signal_train),
                                                     tabular_features(context.background_template),
                                                     context, "supervised-resonant")
        self.training_record = {**self._clf.record, "n_signal": len(context.signal_train),
                                "n_background": len(context.background_template)}
        return self

    def score(self, events: EventSet) -> np.ndarray:
        return self._clf.score(tabular_features(events))
