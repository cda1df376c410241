"""hlf-gmm on Dark Machines objects: integer counts are dequantised, so rare counts do not blow up."""
from __future__ import annotations

import numpy as np

from baselines.hlf_gmm import HighLevelGMM
from benchmark.contract import FitContext
from benchmark.events import EventSet
from benchmark.generate.pythia import SAMPLES_DIR

SAMPLE = SAMPLES_DIR / "darkmachines" / "chan1"


def _fit_and_score(params: dict) -> tuple[np.ndarray, np.ndarray]:
    background = EventSet.load(SAMPLE / "background.h5")
    signal = EventSet.load(SAMPLE / "sqsq_sq1800_neut800.h5")
    order = np.random.default_rng(0).permutation(len(background))
    train, test = background.take(order[:180]), background.take(order[180:])
    scorer = HighLevelGMM(**params)
    ctx = FitContext(task="darkmachines/chan1", protocol="unsupervised", seed=0, params=scorer.params)
    scorer.fit(train, context=ctx)
    return scorer.score(test), scorer.score(signal)


def test_counts_are_dequantised_so_one_rare_lepton_does_not_outrank_every_signal():
    bkg_raw, sig_raw = _fit_and_score({"dequantize": False, "reg_covar": 1e-4})  # version 1.0's density
    bkg, sig = _fit_and_score({})
    # undequantised, a test background event with a count unseen in its component scores ~1e4 or more
    assert bkg_raw.max() > 1e4
    assert bkg.max() < 1e3
    # the squark signal (more MET, harder jets) then passes a 1 % background-efficiency cut
    cut = np.quantile(bkg, 0.99)
    assert (sig > cut).mean() > 0.1 > (sig_raw > np.quantile(bkg_raw, 0.99)).mean()
