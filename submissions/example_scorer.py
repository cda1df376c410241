"""A complete, working lhcad scorer: copy this file to start your own.

Run it with::

    lhcad run --scorer submissions/example_scorer.py --task top/qcd-vs-top --seeds 3

The contract (see README, "The scorer contract"):

* ``info`` -- a :class:`benchmark.contract.ScorerInfo`: a name, a version (bump it when the
  method changes, results are kept per version), the protocols it supports, the representation it
  reads, whether it needs a GPU, its default hyper-parameters and a paper reference.
* ``fit(train, *, context)`` -- learn from the training events. For the unsupervised protocol
  ``train`` holds background only. ``context.seed`` and ``context.params`` are yours to use;
  ``context.device`` says ``cpu`` or ``cuda``.
* ``score(events)`` -- one finite float per event, higher = more anomalous. You never get labels
  for these events, and their ids are just 0..N-1.

This example learns the 2-D density of (jet mass, constituent multiplicity) of the leading jet with
a smoothed histogram and scores each jet by its negative log density: jets in regions where the
background rarely goes (heavy, many-constituent jets, for instance) are anomalous. Crude, but an
honest density-based anomaly score, and short enough to read in one go.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet


class JetMassDensityScorer(BaseScorer):
    info = ScorerInfo(
        name="example-jet-mass-density",
        version="1.0",
        protocols=("unsupervised",),
        representation="jets",
        needs_gpu=False,
        defaults={"bins": 40, "smoothing": 1.0},
        paper="",
        description="Negative log of a smoothed 2-D histogram of leading-jet mass and multiplicity.",
    )

    @staticmethod
    def _observables(events: EventSet) -> np.ndarray:
        mass = events["jets"][:, 0, 3]                      # leading jet mass [GeV]
        multiplicity = events["constituents_mask"][:, 0].sum(axis=1)
        return np.stack([np.log1p(mass), np.log1p(multiplicity)], axis=1)

    def fit(self, train: EventSet, *, context: FitContext) -> "JetMassDensityScorer":
        x = self._observables(train)
        bins = int(self.params["bins"])
        lo, hi = x.min(axis=0), x.max(axis=0)
        pad = 0.1 * (hi - lo) + 1e-6
        self._edges = [np.linspace(lo[i] - pad[i], hi[i] + pad[i], bins + 1) for i in range(2)]
        counts, _, _ = np.histogram2d(x[:, 0], x[:, 1], bins=self._edges)
        density = gaussian_filter(counts, sigma=float(self.params["smoothing"])) + 0.5  # no empty bins
        self._log_density = np.log(density / density.sum())
        self._floor = self._log_density.min() - 1.0    # outside the histogram: rarer than anything seen
        return self

    def score(self, events: EventSet) -> np.ndarray:
        x = self._observables(events)
        ix = [np.searchsorted(self._edges[i], x[:, i]) - 1 for i in range(2)]
        nbins = self._log_density.shape
        inside = (ix[0] >= 0) & (ix[0] < nbins[0]) & (ix[1] >= 0) & (ix[1] < nbins[1])
        log_p = np.full(len(events), self._floor)
        log_p[inside] = self._log_density[ix[0][inside], ix[1][inside]]
        return -log_p
