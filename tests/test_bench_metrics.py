"""Benchmarks of the metrics engine on 1e6 events beside sklearn, in the same process.

Run with ``pytest tests/test_bench_metrics.py --benchmark-enable`` to time; the speed ratio to
sklearn is stored in ``benchmark.extra_info["ratio_vs_sklearn"]`` (our time / sklearn's time,
< 1 = faster) and printed. Nothing here asserts on timing (CI runs with --benchmark-disable and
machine speed must not decide pass/fail); the tests do assert that the results agree.
"""
from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from benchmark import metrics as M

N_EVENTS = 1_000_000


@pytest.fixture(scope="module")
def big_sample():
    rng = np.random.default_rng(2024)
    y = (rng.random(N_EVENTS) < 0.1).astype(np.int8)
    s = rng.normal(size=N_EVENTS) + 1.0 * y
    w = rng.uniform(0.5, 1.5, N_EVENTS)
    s_tied = np.round(s, 2)  # ~1000 distinct values, every one shared by both classes
    return y, s, w, s_tied


def _best_of(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _our_time(benchmark, fn) -> float:
    """Time of our call: from the benchmark's own statistics when enabled, else one timed call."""
    stats = getattr(benchmark, "stats", None)
    if not getattr(benchmark, "disabled", False) and stats is not None:
        return float(stats.stats.min)
    return _best_of(fn, 1)[0]


def _record(benchmark, name: str, ours: float, sklearn: float) -> None:
    ratio = ours / sklearn
    benchmark.extra_info["ratio_vs_sklearn"] = ratio
    benchmark.extra_info["ours_s"] = ours
    benchmark.extra_info["sklearn_s"] = sklearn
    print(f"\n{name}: ours {ours:.3f} s, sklearn {sklearn:.3f} s, ratio {ratio:.2f}")


def _repeat(benchmark) -> int:
    return 1 if getattr(benchmark, "disabled", False) else 3


def test_bench_evaluate_scores_vs_sklearn(benchmark, big_sample):
    y, s, _, _ = big_sample
    res = benchmark(M.evaluate_scores, y, s)

    def sk():
        return roc_auc_score(y, s), sk_roc_curve(y, s, drop_intermediate=False)

    t_sk, (auc_sk, (fpr, tpr, _)) = _best_of(sk, _repeat(benchmark))
    _record(benchmark, "evaluate_scores", _our_time(benchmark, lambda: M.evaluate_scores(y, s)), t_sk)
    assert abs(res["auc"] - auc_sk) < 1e-12
    # an independent read-off of eps_S at eps_B = 1e-3 on sklearn's curve agrees
    j = np.searchsorted(fpr, 1e-3, side="right") - 1
    ref = tpr[j] + (1e-3 - fpr[j]) / (fpr[j + 1] - fpr[j]) * (tpr[j + 1] - tpr[j])
    assert res["eps_s@eps_b=0.001"] == pytest.approx(ref, abs=1e-12)


def test_bench_roc_curve_vs_sklearn(benchmark, big_sample):
    y, s, _, _ = big_sample
    roc = benchmark(M.roc_curve, y, s)
    t_sk, (fpr, tpr, thr) = _best_of(lambda: sk_roc_curve(y, s, drop_intermediate=False), _repeat(benchmark))
    _record(benchmark, "roc_curve", _our_time(benchmark, lambda: M.roc_curve(y, s)), t_sk)
    np.testing.assert_allclose(roc.fpr, fpr, rtol=0, atol=1e-12)
    np.testing.assert_allclose(roc.tpr, tpr, rtol=0, atol=1e-12)
    assert np.array_equal(roc.thresholds[1:], thr[1:])


def test_bench_weighted_tied_vs_sklearn(benchmark, big_sample):
    y, _, w, s = big_sample
    res = benchmark(M.evaluate_scores, y, s, w)

    def sk():
        return roc_auc_score(y, s, sample_weight=w), sk_roc_curve(y, s, sample_weight=w, drop_intermediate=False)

    t_sk, (auc_sk, (fpr, tpr, _)) = _best_of(sk, _repeat(benchmark))
    _record(benchmark, "evaluate_scores weighted+tied", _our_time(benchmark, lambda: M.evaluate_scores(y, s, w)), t_sk)
    assert abs(res["auc"] - auc_sk) < 1e-12
    roc = M.roc_curve(y, s, w)
    np.testing.assert_allclose(roc.fpr, fpr, rtol=0, atol=1e-12)
    np.testing.assert_allclose(roc.tpr, tpr, rtol=0, atol=1e-12)
