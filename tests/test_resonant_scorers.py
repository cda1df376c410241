"""Idealized AD and CATHODE (low-dimensional) on toys with a known law and on the shipped samples.

The null tests train on one part of the SR data and judge the data-vs-background classifier on
held-out data against held-out background (the template, or fresh flow samples): with no signal
the two follow one law, so a sound background estimate leaves the classifier nothing to learn and
its held-out AUC is 0.5 up to the Mann-Whitney null spread (Hanley-McNeil at A = 0.5). We allow
|AUC - 0.5| < 3 sigma: a 0.3 % two-sided false-alarm rate for an unbiased estimate, while a biased
one (a flow that misses the mjj dependence, a template that overlaps the data) is caught.
"""
from __future__ import annotations

import numpy as np
import pytest
from resonant_toys import (SIDEBANDS, SR, background, background_mean_mj, context, hanley_mcneil_null_sigma,
                           in_windows, signal)

from baselines.cathode import CathodeLowDim
from baselines.common import tabular_features
from baselines.idealized import IdealizedAD
from baselines.supervised_resonant import ResonantSupervised
from benchmark import metrics as M
from benchmark.events import EventSet

SMOKE_CLF = {"n_models": 2, "hgb_max_iter": 20}
TOY_FLOW = {"flow_transforms": 4, "flow_hidden": [48, 48], "flow_epochs": 12, "flow_lr": 5e-3,
            "flow_batch_size": 256, "flow_n_best_epochs": 3, "oversample": 2.0}


def held_out_auc(scorer, data: EventSet, reference: np.ndarray | EventSet) -> tuple[float, float]:
    """(AUC, null sigma) of the scorer's data-vs-reference separation on held-out events."""
    s1 = scorer.score(data)
    s0 = scorer._clf.score(reference) if isinstance(reference, np.ndarray) else scorer.score(reference)
    y = np.concatenate([np.ones(len(s1)), np.zeros(len(s0))])
    return M.auc(y, np.concatenate([s1, s0])), hanley_mcneil_null_sigma(len(s1), len(s0))


def signal_auc(scorer, rng: np.random.Generator) -> float:
    test_bkg, test_sig = in_windows(background(rng, 10000), (SR,)), signal(rng, 500)
    y = np.concatenate([np.zeros(len(test_bkg)), np.ones(len(test_sig))])
    return M.auc(y, np.concatenate([scorer.score(test_bkg), scorer.score(test_sig)]))


# -- idealized AD -----------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["hgb", "mlp"])
def test_idealized_null_auc_is_one_half(model):
    rng = np.random.default_rng(1)
    sr = in_windows(background(rng, 30000), (SR,))
    half = len(sr) // 4
    data_a, data_b = sr.take(np.arange(half)), sr.take(np.arange(half, 2 * half))
    tmpl_a, tmpl_b = sr.take(np.arange(2 * half, 3 * half)), sr.take(np.arange(3 * half, 4 * half))
    params = {**SMOKE_CLF, "model": model, "mlp_epochs": 4, "mlp_hidden": [32, 32], "mlp_n_best_epochs": 2}
    scorer = IdealizedAD(**params).fit(data_a, context=context(background_template=tmpl_a))
    auc, sigma = held_out_auc(scorer, data_b, tmpl_b)
    assert abs(auc - 0.5) < 3 * sigma, f"{model}: held-out AUC {auc:.4f}, null sigma {sigma:.4f}"
    assert scorer.training_record["model"] == model and scorer.training_record["n_models"] == 2


def test_idealized_finds_injected_signal():
    rng = np.random.default_rng(2)
    bkg = in_windows(background(rng, 30000), (SR,))
    n = len(bkg) // 2
    data = EventSet.concatenate([bkg.take(np.arange(n)), signal(rng, 400)])
    scorer = IdealizedAD(**SMOKE_CLF).fit(data, context=context(background_template=bkg.take(np.arange(n, 2 * n))))
    auc = signal_auc(scorer, rng)
    assert auc > 0.8, auc


def test_idealized_without_template_names_the_registry_key():
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError, match="resonant.background_template"):
        IdealizedAD(**SMOKE_CLF).fit(in_windows(background(rng, 5000), (SR,)), context=context())


# -- CATHODE ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cathode_null():
    """CATHODE fitted on a toy without signal: (scorer, held-out SR data, held-out SB data)."""
    rng = np.random.default_rng(4)
    events = background(rng, 12000)
    sb = in_windows(events, SIDEBANDS)
    sr = in_windows(events, (SR,))
    n_sb = int(0.8 * len(sb))
    half = len(sr) // 2
    scorer = CathodeLowDim(**SMOKE_CLF, **TOY_FLOW)
    scorer.fit(sr.take(np.arange(half)), context=context(sideband=sb.take(np.arange(n_sb))))
    return scorer, sr.take(np.arange(half, len(sr))), sb.take(np.arange(n_sb, len(sb)))


def test_cathode_null_auc_is_one_half(cathode_null):
    scorer, sr_held_out, _ = cathode_null
    fresh = scorer.sample(len(sr_held_out))
    auc, sigma = held_out_auc(scorer, sr_held_out, fresh)
    assert abs(auc - 0.5) < 3 * sigma, f"held-out data vs fresh samples: AUC {auc:.4f}, null sigma {sigma:.4f}"
    record = scorer.training_record
    assert record.epochs_run == TOY_FLOW["flow_epochs"] and len(record.extra["ensemble_epochs"]) == 3
    assert record.extra["n_samples"] == round(2.0 * record.extra["n_signal_region"])


def test_flow_samples_match_the_sideband_features(cathode_null):
    """Two-sample KS per feature: samples at the held-out SB masses vs those events' features."""
    from scipy.stats import ks_2samp

    scorer, _, sb_held_out = cathode_null
    x = tabular_features(sb_held_out)
    xs = scorer.sample(len(sb_held_out), sb_held_out["mjj"])
    stats = [ks_2samp(x[:, j], xs[:, j]).statistic for j in range(x.shape[1])]
    # the 1 % critical value of the KS statistic for these sample sizes (~2000 each) is ~0.05; we
    # allow 0.1 for a small flow trained for seconds: a flow that misses a feature's shape, its
    # logit bounds or its scale is far above it (an untrained flow gives > 0.3).
    assert max(stats) < 0.1, stats


def test_flow_follows_the_mjj_dependence(cathode_null):
    """The toy's mj_min mean moves SLOPE GeV per TeV of mjj; the samples must follow it."""
    scorer, _, _ = cathode_null
    n = 4000
    for mjj in (2600.0, 3500.0, 4300.0):
        xs = scorer.sample(n, np.full(n, mjj))
        mean = xs[:, 0].mean()
        # background_mean_mj is the toy's truth; 8 GeV = 25 % of the 3.3-4.3 TeV shift (~3 standard
        # errors of a flow fitted on ~30k sideband events), far below the ~100 GeV lever arm.
        assert abs(mean - background_mean_mj(np.array([mjj]))[0]) < 8.0, (mjj, mean)
    low, high = (scorer.sample(n, np.full(n, m))[:, 0].mean() for m in (2600.0, 4300.0))
    assert high - low > 0.6 * 60.0 * 1.7


def test_cathode_sample_uses_the_sr_kde(cathode_null):
    scorer, _, _ = cathode_null
    x, m = scorer.generator.sample(3000)
    assert x.shape == (3000, 4) and np.all((m > SR[0]) & (m < SR[1]))
    with pytest.raises(ValueError, match="condition has 2 masses"):
        scorer.generator.sample(3, np.array([3400.0, 3500.0]))


def test_cathode_finds_injected_signal():
    rng = np.random.default_rng(5)
    events = EventSet.concatenate([background(rng, 8000), signal(rng, 300)])
    sb, sr = in_windows(events, SIDEBANDS), in_windows(events, (SR,))
    scorer = CathodeLowDim(**SMOKE_CLF, **{**TOY_FLOW, "flow_epochs": 4}).fit(sr, context=context(sideband=sb))
    assert signal_auc(scorer, rng) > 0.75


# -- supervised reference ---------------------------------------------------------------------------
def test_supervised_separates_signal_far_above_chance_and_ignores_the_data():
    """Labelled toy signal vs SR background: the held-out AUC is far above 0.5 (and above the 3
    sigma null spread by a wide margin); the SR data play no part (a fit on data with no signal
    and one on data full of signal give the same scores)."""
    rng = np.random.default_rng(4)
    bkg = in_windows(background(rng, 30000), (SR,))
    n = len(bkg) // 2
    ctx = dict(signal_train=signal(rng, 600), background_template=bkg.take(np.arange(n)))
    no_signal = bkg.take(np.arange(n, 2 * n))
    with_signal = EventSet.concatenate([no_signal, signal(rng, 400)])
    a = ResonantSupervised(**SMOKE_CLF).fit(no_signal, context=context(**ctx))
    b = ResonantSupervised(**SMOKE_CLF).fit(with_signal, context=context(**ctx))
    auc = signal_auc(a, rng)
    assert auc > 0.95, auc
    probe = in_windows(background(rng, 5000), (SR,))
    assert np.array_equal(a.score(probe), b.score(probe))
    assert a.training_record["n_signal"] == 600 and a.training_record["n_background"] == n


@pytest.mark.parametrize("missing", ["signal_train", "background_template"])
def test_supervised_without_its_extras_names_them(missing):
    rng = np.random.default_rng(5)
    bkg = in_windows(background(rng, 5000), (SR,))
    ctx = {"signal_train": signal(rng, 50), "background_template": bkg}
    ctx.pop(missing)
    with pytest.raises(ValueError, match=missing):
        ResonantSupervised(**SMOKE_CLF).fit(bkg, context=context(**ctx))


# -- shipped LHCO-like samples -------------------------------------------------------------------
# The shipped generated samples hold 2000 signal events (1601 in the SR), 13000 background (1711
# in the SR) and 500 extra-QCD events (the template). With a test set of 600 (200 signal), 1800
# signal events are left for injection: 1500 is the largest scan point these samples allow.
def test_supervised_on_the_shipped_lhco_samples_never_sees_test_labels(tmp_path):
    """Through the protocol: the scorer's training signal is the signal class's SR events outside
    the test set (never a test event), its context carries no labels, and it separates the test
    signal far above chance."""
    from benchmark.fitting import FitRun, fit_and_score_once
    from benchmark.registry import load_registry
    from benchmark.tasks import build_task_data

    data = build_task_data(load_registry().task("lhco/rnd"), "generated", 0, injection=0, sizes={"test": 600})
    assert not set(data.signal_train.event_id) & set(data.test.event_id)
    run = FitRun(0, "cpu", tmp_path, lambda m: None, {})
    scores, scorer = fit_and_score_once(data, "supervised-resonant", SMOKE_CLF, run, train=data.train)
    y = data.test_labels.is_signal
    auc = M.auc(y, scores)
    sigma = hanley_mcneil_null_sigma(int(y.sum()), int((1 - y).sum()))
    assert scorer.training_record["n_signal"] == len(data.signal_train)
    assert scorer.training_record["n_background"] == 500
    assert auc > 0.5 + 10 * sigma and auc > 0.85, auc


@pytest.mark.parametrize("injection", [0, 1500])
def test_idealized_on_the_shipped_lhco_samples(injection, tmp_path):
    from benchmark.fitting import FitRun, fit_and_score_once
    from benchmark.registry import load_registry
    from benchmark.tasks import build_task_data

    data = build_task_data(load_registry().task("lhco/rnd"), "generated", 0, injection=injection, sizes={"test": 600})
    assert data.background_template is not None and len(data.background_template) == 500
    run = FitRun(0, "cpu", tmp_path, lambda m: None, {})
    scores, scorer = fit_and_score_once(data, "idealized-ad", SMOKE_CLF, run, train=data.train)
    y = data.test_labels.is_signal
    auc = M.auc(y, scores)
    sigma = hanley_mcneil_null_sigma(int(y.sum()), int((1 - y).sum()))
    assert scorer.training_record["n_reference"] == 500
    if injection:
        assert auc > 0.5 + 5 * sigma, auc
    else:
        # no signal in the data: the classifier ranks the test signal at random, up to how the noise
        # it fitted extrapolates into the signal's corner of feature space; 5 sigma allows for that.
        assert abs(auc - 0.5) < 5 * sigma, auc
