"""Tests of benchmark.stats: seed bands and (stratified) bootstrap intervals."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from benchmark import metrics as M
from benchmark import stats as S


def gaussian_sample(n_per_class: int, seed: int, shift: float = 1.0):
    """Signal ~ N(shift, 1), background ~ N(0, 1): true AUC = Phi(shift / sqrt(2))."""
    rng = np.random.default_rng(seed)
    s = np.concatenate([rng.normal(shift, 1.0, n_per_class), rng.normal(0.0, 1.0, n_per_class)])
    y = np.concatenate([np.ones(n_per_class, int), np.zeros(n_per_class, int)])
    return y, s


def auc_fn(y, s, w):
    return M.auc(y, s, w)


# ------------------------------------------------------------------------------------------
# seed bands
# ------------------------------------------------------------------------------------------


def test_seed_band_known_values():
    band = S.seed_band([5, 1, 4, 2, 3])
    # sorted 1..5: 16th pct at position .64 -> 1.64; 84th at 3.36 -> 4.36
    assert band == pytest.approx({"median": 3.0, "lo": 1.64, "hi": 4.36, "n": 5})
    vals = np.random.default_rng(0).normal(size=37)
    band = S.seed_band(vals)
    assert band["median"] == pytest.approx(np.median(vals))
    assert band["lo"] == pytest.approx(np.percentile(vals, 16))
    assert band["hi"] == pytest.approx(np.percentile(vals, 84))
    assert band["n"] == 37


def test_seed_band_ignores_nan_and_none():
    band = S.seed_band([1.0, float("nan"), 2.0, None, 3.0])
    assert band == pytest.approx({"median": 2.0, "lo": 1.32, "hi": 2.68, "n": 3})
    empty = S.seed_band([None, float("nan")])
    assert empty["n"] == 0 and math.isnan(empty["median"]) and math.isnan(empty["lo"])
    one = S.seed_band([7.0])
    assert one == {"median": 7.0, "lo": 7.0, "hi": 7.0, "n": 1}


def test_seed_band_orders_infinities():
    # an infinite rejection in one seed: the median stays finite, the upper edge is inf
    band = S.seed_band([10.0, 20.0, 30.0, math.inf])
    assert band["median"] == pytest.approx(25.0)
    assert band["lo"] == pytest.approx(14.8)
    assert band["hi"] == math.inf
    assert S.seed_band([math.inf, math.inf, 1.0])["median"] == math.inf


# ------------------------------------------------------------------------------------------
# bootstrap
# ------------------------------------------------------------------------------------------


def test_bootstrap_contains_true_auc():
    y, s = gaussian_sample(20000, seed=1)
    true_auc = norm.cdf(1.0 / math.sqrt(2.0))
    res = S.bootstrap_metrics(y, s, keys=("auc",), n_boot=200, seed=0, level=0.95)["auc"]
    assert res["lo"] < true_auc < res["hi"]
    assert res["lo"] < res["value"] < res["hi"]
    assert res["value"] == M.auc(y, s)
    # the analytic standard error of an AUC of ~0.76 with 20000 + 20000 events is ~0.0024
    assert 0.003 < res["hi"] - res["lo"] < 0.015
    assert res["n_boot"] == 200


def test_bootstrap_width_shrinks_like_inverse_sqrt_n():
    widths = {}
    for n in (1000, 16000):
        y, s = gaussian_sample(n, seed=2)
        r = S.bootstrap_metrics(y, s, keys=("auc",), n_boot=300, seed=3)["auc"]
        widths[n] = r["hi"] - r["lo"]
    ratio = widths[1000] / widths[16000]
    assert 3.0 < ratio < 5.3, ratio  # sqrt(16) = 4


def test_bootstrap_interval_generic_metric_and_agreement_with_fast_path():
    y, s = gaussian_sample(1500, seed=4)
    w = np.random.default_rng(5).uniform(0.2, 2.0, y.shape[0])
    slow = S.bootstrap_interval(y, s, w, auc_fn, n_boot=60, seed=11)
    fast = S.bootstrap_metrics(y, s, w, keys=("auc", "max_sic"), n_boot=60, seed=11)
    # same seed -> the same resampled events: the multiplicity trick must reproduce them
    assert slow["value"] == pytest.approx(M.auc(y, s, w), abs=1e-15)
    for k in ("value", "lo", "hi"):
        assert fast["auc"][k] == pytest.approx(slow[k], abs=1e-12)
    assert slow["n_boot"] == fast["auc"]["n_boot"] == 60
    # the same for a metric that depends on unweighted counts (the low-statistics rule)
    slow_sic = S.bootstrap_interval(y, s, w, lambda a, b, c: M.max_sic(M.roc_curve(a, b, c)).value,
                                    n_boot=60, seed=11)
    for k in ("value", "lo", "hi"):
        assert fast["max_sic"][k] == pytest.approx(slow_sic[k], rel=1e-10)


def test_bootstrap_is_stratified_and_deterministic():
    # one signal event among five: unstratified resampling would lose it in (4/5)^5 = 33% of the
    # replicates and the AUC would be undefined there
    y = [1, 0, 0, 0, 0]
    s = [0.5, 0.1, 0.9, 0.2, 0.3]
    seen = []

    def spy(yy, ss, ww):
        seen.append((int(yy.sum()), len(yy)))
        return M.auc(yy, ss, ww)

    r = S.bootstrap_interval(y, s, None, spy, n_boot=100, seed=0)
    assert r["n_boot"] == 100
    assert all(k == (1, 5) for k in seen)
    assert r["value"] == 0.75
    assert S.bootstrap_interval(y, s, None, auc_fn, n_boot=100, seed=0) == r
    y2, s2 = gaussian_sample(200, seed=7)
    r2 = S.bootstrap_interval(y2, s2, None, auc_fn, n_boot=50, seed=0)
    assert S.bootstrap_interval(y2, s2, None, auc_fn, n_boot=50, seed=0) == r2
    assert S.bootstrap_interval(y2, s2, None, auc_fn, n_boot=50, seed=1)["lo"] != r2["lo"]


def test_bootstrap_metrics_several_keys():
    y, s = gaussian_sample(3000, seed=6, shift=2.0)
    keys = ("auc", "max_sic", "rejection@eps_s=0.3", "si@eps_b=0.01", "si_all")
    res = S.bootstrap_metrics(y, s, keys=keys, n_boot=50, seed=0)
    full = M.evaluate_scores(y, s)
    assert set(res) == set(keys)
    for k in keys:
        assert res[k]["value"] == pytest.approx(full[k])
        assert res[k]["lo"] <= res[k]["hi"]
        assert res[k]["n_boot"] == 50
    # unresolved metrics (3000 background events cannot resolve 1e-4) give NaN intervals
    un = S.bootstrap_metrics(y, s, keys=("si@eps_b=0.0001",), n_boot=5)["si@eps_b=0.0001"]
    assert un["n_boot"] == 0 and math.isnan(un["value"]) and math.isnan(un["lo"])


def test_bootstrap_bad_arguments():
    y, s = gaussian_sample(50, seed=0)
    with pytest.raises(KeyError, match="unknown metric key"):
        S.bootstrap_metrics(y, s, keys=("nope",))
    with pytest.raises(ValueError, match="not a scalar number"):
        S.bootstrap_metrics(y, s, keys=("si_all_complete",))
    with pytest.raises(ValueError, match="n_boot must be"):
        S.bootstrap_interval(y, s, None, auc_fn, n_boot=0)
    with pytest.raises(ValueError, match="level must be"):
        S.bootstrap_metrics(y, s, level=1.0)
    with pytest.raises(ValueError, match="no signal events"):
        S.bootstrap_interval(np.zeros(5), np.arange(5.0), None, auc_fn)
