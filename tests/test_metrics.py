"""Tests of benchmark.metrics against sklearn and against brute-force implementations written here."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from benchmark import metrics as M

# ------------------------------------------------------------------------------------------
# independent brute-force references (O(n^2) or explicit threshold scans, no shared code)
# ------------------------------------------------------------------------------------------


def brute_auc(y, s, w=None):
    """Weighted Mann-Whitney: sum over (signal, background) pairs, ties counted 1/2."""
    y = np.asarray(y)
    s = np.asarray(s, dtype=float)
    w = np.ones_like(s) if w is None else np.asarray(w, dtype=float)
    sig = y == 1
    ss, ws, sb, wb = s[sig], w[sig], s[~sig], w[~sig]
    win = (ss[:, None] > sb[None, :]) + 0.5 * (ss[:, None] == sb[None, :])
    return float((ws[:, None] * wb[None, :] * win).sum() / (ws.sum() * wb.sum()))


def brute_points(y, s, w=None):
    """Threshold scan: for each distinct score t (descending) the cut s >= t. Starts at (0, 0)."""
    y = np.asarray(y)
    s = np.asarray(s, dtype=float)
    w = np.ones_like(s) if w is None else np.asarray(w, dtype=float)
    sig = y == 1
    ws, wb = w[sig].sum(), w[~sig].sum()
    pts = [(0.0, 0.0, 0, math.inf)]  # (fpr, tpr, n_bkg_pass, threshold)
    for t in sorted(set(s.tolist()), reverse=True):
        sel = s >= t
        pts.append((w[sel & ~sig].sum() / wb, w[sel & sig].sum() / ws, int((sel & ~sig).sum()), t))
    return pts


def brute_eps_b_at_eps_s(pts, target):
    """Smallest eps_B anywhere on the ROC polyline where eps_S >= target."""
    best = math.inf
    for (f0, t0, *_), (f1, t1, *_) in zip(pts[:-1], pts[1:]):
        if t0 >= target:
            best = min(best, f0)
        elif t0 < target <= t1:
            best = min(best, f0 + (f1 - f0) * (target - t0) / (t1 - t0))
    best = min(best, pts[-1][0]) if pts[-1][1] >= target else best
    return best


def brute_eps_s_at_eps_b(pts, target):
    """Largest eps_S anywhere on the ROC polyline where eps_B <= target."""
    best = -math.inf
    for (f0, t0, *_), (f1, t1, *_) in zip(pts[:-1], pts[1:]):
        if f0 <= target:
            best = max(best, t0)
        if f1 <= target:
            best = max(best, t1)
        elif f0 <= target < f1:
            best = max(best, t0 + (t1 - t0) * (target - f0) / (f1 - f0))
    return best


def make_data(kind: str, n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    y[:2] = [0, 1]
    s = rng.normal(size=n) + 0.8 * y
    w = None
    if kind == "tied":
        s = np.round(s * 2) / 2  # a handful of distinct values, ties mixing both classes
    elif kind == "weighted":
        w = rng.uniform(0.1, 3.0, n)
    elif kind == "tied_weighted":
        s = np.round(s)
        w = rng.exponential(1.0, n) + 0.01
    return y, s, w


KINDS = ["random", "tied", "weighted", "tied_weighted"]


# ------------------------------------------------------------------------------------------
# ROC / AUC
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_matches_sklearn(kind, seed):
    y, s, w = make_data(kind, seed=seed)
    roc = M.roc_curve(y, s, w)
    fpr, tpr, thr = sk_roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    np.testing.assert_allclose(roc.fpr, fpr, rtol=0, atol=1e-12)
    np.testing.assert_allclose(roc.tpr, tpr, rtol=0, atol=1e-12)
    assert roc.thresholds[0] == np.inf and np.array_equal(roc.thresholds[1:], thr[1:])
    assert roc.fpr[0] == 0 and roc.tpr[0] == 0 and roc.fpr[-1] == 1 and roc.tpr[-1] == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_matches_threshold_scan(kind, seed):
    y, s, w = make_data(kind, n=150, seed=seed)
    roc = M.roc_curve(y, s, w)
    pts = brute_points(y, s, w)
    assert len(roc) == len(pts)
    np.testing.assert_allclose(roc.fpr, [p[0] for p in pts], atol=1e-12)
    np.testing.assert_allclose(roc.tpr, [p[1] for p in pts], atol=1e-12)
    assert roc.n_bkg_above.tolist() == [p[2] for p in pts]
    assert roc.n_signal == int((y == 1).sum()) and roc.n_background == int((y == 0).sum())
    ww = np.ones(len(y)) if w is None else w
    assert roc.total_signal == pytest.approx(ww[y == 1].sum(), rel=1e-12)
    assert roc.total_background == pytest.approx(ww[y == 0].sum(), rel=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_auc_matches_sklearn_and_pair_count(kind, seed):
    y, s, w = make_data(kind, seed=seed)
    a = M.auc(y, s, w)
    assert abs(a - roc_auc_score(y, s, sample_weight=w)) < 1e-12
    assert abs(a - brute_auc(y, s, w)) < 1e-12
    assert M.auc(M.roc_curve(y, s, w)) == a


def test_auc_hand_example_with_ties():
    # signal scores 3, 2, 2; background 2, 1. Pairs: (3>2)=1, (3>1)=1, (2=2)=.5, (2>1)=1, (2=2)=.5,
    # (2>1)=1 -> 5 / 6.
    y = [1, 1, 1, 0, 0]
    s = [3, 2, 2, 2, 1]
    assert M.auc(y, s) == pytest.approx(5 / 6, abs=1e-15)
    roc = M.roc_curve(y, s)
    # the tie group at 2 is one point: (0, 1/3) -> (1/2, 1)
    np.testing.assert_allclose(roc.fpr, [0, 0, 0.5, 1])
    np.testing.assert_allclose(roc.tpr, [0, 1 / 3, 1, 1])
    assert roc.n_bkg_above.tolist() == [0, 0, 1, 2]


def test_zero_weights_and_order_invariance():
    y, s, w = make_data("tied_weighted", seed=5)
    w = w.copy()
    w[::7] = 0.0
    a = M.auc(y, s, w)
    assert abs(a - roc_auc_score(y, s, sample_weight=w)) < 1e-12
    perm = np.random.default_rng(9).permutation(len(y))
    assert M.auc(y[perm], s[perm], w[perm]) == pytest.approx(a, abs=1e-13)
    r1, r2 = M.evaluate_scores(y, s, w), M.evaluate_scores(y[perm], s[perm], w[perm])
    for k, v in r1.items():
        if isinstance(v, float):
            assert r2[k] == pytest.approx(v, rel=1e-12, abs=1e-13), k
        else:
            assert r2[k] == v, k


def test_infinite_scores_form_one_tie_group():
    y = [1, 0, 1, 0]
    s = [np.inf, np.inf, 0.0, -np.inf]
    roc = M.roc_curve(y, s)
    assert len(roc) == 4  # (0,0), the +inf group, 0.0, -inf
    np.testing.assert_allclose(roc.fpr, [0, 0.5, 0.5, 1])
    np.testing.assert_allclose(roc.tpr, [0, 0.5, 1, 1])
    assert M.auc(y, s) == pytest.approx(brute_auc(y, s))


def test_boolean_and_float_labels_accepted():
    s = [0.1, 0.9, 0.5, 0.3]
    assert M.auc([False, True, True, False], s) == M.auc([0.0, 1.0, 1.0, 0.0], s) == 1.0


# ------------------------------------------------------------------------------------------
# fixed-efficiency working points
# ------------------------------------------------------------------------------------------


def hand_roc():
    # signal 5, 3, 3, 1; background 4, 3, 2, 2, 0. Groups (desc): 5{S} 4{B} 3{S,S,B} 2{B,B} 1{S} 0{B}
    # ROC points: (0,0) (0,.25) (.2,.25) (.4,.75) (.8,.75) (.8,1) (1,1)
    y = [1, 1, 1, 1, 0, 0, 0, 0, 0]
    s = [5, 3, 3, 1, 4, 3, 2, 2, 0]
    return M.roc_curve(y, s)


def test_hand_roc_points():
    roc = hand_roc()
    np.testing.assert_allclose(roc.fpr, [0, 0, 0.2, 0.4, 0.8, 0.8, 1])
    np.testing.assert_allclose(roc.tpr, [0, 0.25, 0.25, 0.75, 0.75, 1, 1])
    assert roc.n_bkg_above.tolist() == [0, 0, 1, 2, 4, 4, 5]


def test_rejection_hand_values():
    roc = hand_roc()
    # eps_S = 0.5 on the diagonal tie segment (.2,.25)-(.4,.75): eps_B = .2 + .5 * .2 = .3
    assert M.eps_b_at_eps_s(roc, 0.5) == pytest.approx(0.3)
    assert M.rejection_at_eps_s(roc, 0.5) == pytest.approx(1 / 0.3)
    # eps_S = 0.3: eps_B = .2 + (.05 / .5) * .2 = .22
    assert M.rejection_at_eps_s(roc, 0.3) == pytest.approx(1 / 0.22)
    # eps_S = 0.2 is reached before any background passes: eps_B = 0, rejection = inf
    assert M.eps_b_at_eps_s(roc, 0.2) == 0.0
    assert M.rejection_at_eps_s(roc, 0.2) == math.inf
    # eps_S = 0.25 exactly: the best point reaching it has eps_B = 0
    assert M.eps_b_at_eps_s(roc, 0.25) == 0.0
    # eps_S = 0.75 exactly: smallest eps_B among (.4,.75) and (.8,.75)
    assert M.eps_b_at_eps_s(roc, 0.75) == pytest.approx(0.4)
    assert M.eps_b_at_eps_s(roc, 1.0) == pytest.approx(0.8)


def test_eps_s_at_eps_b_hand_values():
    roc = hand_roc()
    # eps_B = 0.3 on the segment (.2,.25)-(.4,.75): eps_S = .25 + .5 * .5 = .5; SI = .5/sqrt(.3)
    assert M.eps_s_at_eps_b(roc, 0.3) == pytest.approx(0.5)
    assert M.si_at_eps_b(roc, 0.3) == pytest.approx(0.5 / math.sqrt(0.3))
    assert M.eps_s_at_eps_b(roc, 0.2) == pytest.approx(0.25)  # exact hit
    assert M.eps_s_at_eps_b(roc, 0.8) == pytest.approx(1.0)  # vertical run: highest eps_S
    assert M.eps_s_at_eps_b(roc, 0.6) == pytest.approx(0.75)  # flat segment
    # 5 background events cannot resolve eps_B = 0.1 (needs >= 10): NaN unless forced
    assert not M.background_resolves(roc, 0.1)
    assert math.isnan(M.eps_s_at_eps_b(roc, 0.1))
    assert math.isnan(M.si_at_eps_b(roc, 0.1))
    assert M.eps_s_at_eps_b(roc, 0.1, allow_unresolved=True) == pytest.approx(0.25)
    assert M.background_resolves(roc, 0.2)  # 5 * 0.2 = 1 event: just resolved


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_interpolation_matches_brute_force(kind, seed):
    y, s, w = make_data(kind, n=120, seed=seed)
    roc = M.roc_curve(y, s, w)
    pts = brute_points(y, s, w)
    for target in [0.01, 0.05, 0.2, 0.3, 0.333, 0.5, 0.77, 0.9, 1.0]:
        assert M.eps_b_at_eps_s(roc, target) == pytest.approx(brute_eps_b_at_eps_s(pts, target), abs=1e-12)
        assert M.eps_s_at_eps_b(roc, target, allow_unresolved=True) == pytest.approx(
            brute_eps_s_at_eps_b(pts, target), abs=1e-12
        )
    # exact ROC coordinates as targets exercise the tie conventions (the references walk the
    # ROC's own coordinates here, so that summation-order rounding cannot shift a target across
    # a vertex; the coordinates themselves were checked against the scan above)
    own = list(zip(roc.fpr.tolist(), roc.tpr.tolist()))
    for f, t in own[1:]:
        if t > 0:
            assert M.eps_b_at_eps_s(roc, t) == pytest.approx(brute_eps_b_at_eps_s(own, t), abs=1e-12)
        if f > 0:
            assert M.eps_s_at_eps_b(roc, f, allow_unresolved=True) == pytest.approx(
                brute_eps_s_at_eps_b(own, f), abs=1e-12
            )


def test_efficiency_targets_validated():
    roc = hand_roc()
    for bad in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="eps_s must be in"):
            M.eps_b_at_eps_s(roc, bad)
        with pytest.raises(ValueError, match="eps_b must be in"):
            M.eps_s_at_eps_b(roc, bad)


# ------------------------------------------------------------------------------------------
# SIC
# ------------------------------------------------------------------------------------------


def low_stat_sample():
    """1000 background events with distinct scores 0..999; 40 of 100 signal events sit at 997.5,
    between the 2nd- and 3rd-highest background event. Unconstrained max SIC: eps_S = .4 with 2
    background events passing (SIC = .4/sqrt(.002) = 8.94); the 10-event rule must pick
    something else."""
    bkg = np.arange(1000, dtype=float)  # 999 is the highest
    sig = np.concatenate([np.full(40, 997.5), np.linspace(900.25, 0.25, 60)])
    s = np.concatenate([sig, bkg])
    y = np.concatenate([np.ones(100, int), np.zeros(1000, int)])
    return y, s


def brute_max_sic(y, s, min_bkg):
    best = (-math.inf, None)
    for f, t, nb, thr in brute_points(y, s):
        if f > 0 and nb >= min_bkg:
            v = t / math.sqrt(f)
            if v > best[0]:
                best = (v, (f, t, nb, thr))
    return best


def test_max_sic_low_statistics_rule():
    y, s = low_stat_sample()
    roc = M.roc_curve(y, s)
    ms = M.max_sic(roc)
    assert ms.min_background_events == 10
    # unconstrained: the cut at 997.5 keeps 40 signal and 2 background events (999, 998)
    assert ms.unconstrained == pytest.approx(0.4 / math.sqrt(0.002))
    assert ms.unconstrained_n_bkg == 2 and ms.unconstrained_threshold == 997.5
    assert (ms.unconstrained_eps_s, ms.unconstrained_eps_b) == pytest.approx((0.4, 0.002))
    ref, (f, t, nb, thr) = brute_max_sic(y, s, 10)
    assert ms.value == pytest.approx(ref)
    assert (ms.eps_b, ms.eps_s, ms.n_bkg, ms.threshold) == pytest.approx((f, t, nb, thr))
    assert ms.n_bkg >= 10 and ms.value < ms.unconstrained
    ref0, _ = brute_max_sic(y, s, 0)
    assert ms.unconstrained == pytest.approx(ref0)
    # a looser rule reaches back to the unconstrained optimum
    assert M.max_sic(roc, min_background_events=2).value == pytest.approx(ms.unconstrained)
    assert M.max_sic(roc, min_background_events=3).value < ms.unconstrained
    # a rule demanding more background events than exist has no eligible point
    assert math.isnan(M.max_sic(roc, min_background_events=1001).value)


@pytest.mark.parametrize("kind", KINDS)
def test_max_sic_matches_brute_force(kind):
    y, s, w = make_data(kind, n=300, seed=4)
    roc = M.roc_curve(y, s, w)
    pts = brute_points(y, s, w)
    for rule in (0, 10, 50):
        ok = [(t / math.sqrt(f)) for f, t, nb, _ in pts if f > 0 and nb >= rule]
        assert M.max_sic(roc, rule).value == pytest.approx(max(ok), rel=1e-12)
    eb, es, sic = M.sic_curve(roc)
    assert np.all(eb > 0) and np.allclose(sic, es / np.sqrt(eb))


# ------------------------------------------------------------------------------------------
# Dark Machines SI_All and Total Improvement
# ------------------------------------------------------------------------------------------


def dm_like_roc():
    """10000 background events with scores 0..9999; 100 signal events placed so that
    eps_S(1e-2) = .20, eps_S(1e-3) = .05, eps_S(1e-4) = .01."""
    bkg = np.arange(10000, dtype=float)
    sig = np.concatenate([[9999.5], np.full(4, 9995.5), np.full(15, 9950.5), np.full(80, -1.0)])
    y = np.concatenate([np.ones(100, int), np.zeros(10000, int)])
    return M.roc_curve(y, np.concatenate([sig, bkg]))


def test_si_all_from_roc_hand_numbers():
    roc = dm_like_roc()
    assert M.eps_s_at_eps_b(roc, 1e-2) == pytest.approx(0.20)
    assert M.eps_s_at_eps_b(roc, 1e-3) == pytest.approx(0.05)
    assert M.eps_s_at_eps_b(roc, 1e-4) == pytest.approx(0.01)
    # SI: .20/.1 = 2.0; .05/.031623 = 1.5811; .01/.01 = 1.0 -> SI_All = 2.0
    assert M.si_at_eps_b(roc, 1e-2) == pytest.approx(2.0)
    assert M.si_at_eps_b(roc, 1e-3) == pytest.approx(1.5811388)
    assert M.si_at_eps_b(roc, 1e-4) == pytest.approx(1.0)
    assert M.si_all(roc) == pytest.approx(2.0)
    res = M.evaluate_roc(roc)
    assert res["si_all"] == pytest.approx(2.0) and res["si_all_complete"] is True


def test_si_all_drops_unresolved_cuts():
    roc = hand_roc()  # 5 background events: none of 1e-2..1e-4 resolves
    assert math.isnan(M.si_all(roc))
    y = np.concatenate([np.ones(10, int), np.zeros(500, int)])
    s = np.concatenate([np.linspace(1000, 2000, 10), np.arange(500.0)])  # signal above all
    roc = M.roc_curve(y, s)  # 500 events: 1e-2 resolves (5 events), 1e-3 and 1e-4 do not
    assert M.si_all(roc) == pytest.approx(1.0 / 0.1)
    res = M.evaluate_roc(roc)
    assert res["si_all_complete"] is False
    assert res["resolved@eps_b=0.01"] is True and res["resolved@eps_b=0.001"] is False
    assert res["eps_s@eps_b=0.001"] is None and res["si@eps_b=0.001"] is None


def si_all_by_hand(e2, e3, e4):
    return max(e2 / 0.1, e3 / math.sqrt(1e-3), e4 / 0.01)


# Two channels, three signals. eps_S at eps_B = (1e-2, 1e-3, 1e-4) and the SI_All worked out:
#   (ch1, A): (.20, .05, .010) -> SI (2.0, 1.581, 1.0)  -> 2.0
#   (ch2, A): (.30, .10, .020) -> SI (3.0, 3.162, 2.0)  -> 3.1623
#   (ch1, B): (.05, .01, .005) -> SI (0.5, 0.316, 0.5)  -> 0.5     (B only exists in ch1)
#   (ch1, C): (.10, .03, .002) -> SI (1.0, 0.949, 0.2)  -> 1.0
#   (ch2, C): (.15, .02, .000) -> SI (1.5, 0.632, 0.0)  -> 1.5
# TI(A) = 3.1623 (ch2), TI(B) = 0.5 (ch1), TI(C) = 1.5 (ch2) -> min .5, median 1.5, max 3.1623
HAND_SI_ALL = {
    ("ch1", "A"): si_all_by_hand(0.20, 0.05, 0.010),
    ("ch2", "A"): si_all_by_hand(0.30, 0.10, 0.020),
    ("ch1", "B"): si_all_by_hand(0.05, 0.01, 0.005),
    ("ch1", "C"): si_all_by_hand(0.10, 0.03, 0.002),
    ("ch2", "C"): si_all_by_hand(0.15, 0.02, 0.000),
}
EXPECTED_PAIRS = [("ch1", "A"), ("ch2", "A"), ("ch1", "B"), ("ch1", "C"), ("ch2", "C")]


def test_total_improvement_hand_example():
    assert HAND_SI_ALL[("ch1", "A")] == pytest.approx(2.0)
    assert HAND_SI_ALL[("ch2", "A")] == pytest.approx(3.16227766)
    assert HAND_SI_ALL[("ch1", "B")] == pytest.approx(0.5)
    assert HAND_SI_ALL[("ch1", "C")] == pytest.approx(1.0)
    assert HAND_SI_ALL[("ch2", "C")] == pytest.approx(1.5)
    ti = M.total_improvement(HAND_SI_ALL, expected=EXPECTED_PAIRS)
    assert ti["per_signal"] == pytest.approx({"A": 3.16227766, "B": 0.5, "C": 1.5})
    assert ti["best_channel"] == {"A": "ch2", "B": "ch1", "C": "ch2"}
    assert (ti["min"], ti["median"], ti["max"]) == pytest.approx((0.5, 1.5, 3.16227766))
    assert ti["complete"] is True and ti["missing"] == [] and ti["n_signals"] == 3
    json.dumps({k: v for k, v in ti.items() if k not in ("per_signal", "best_channel")})
    # without `expected` the same numbers come out
    ti2 = M.total_improvement(HAND_SI_ALL)
    assert (ti2["min"], ti2["median"], ti2["max"]) == pytest.approx((0.5, 1.5, 3.16227766))


def test_total_improvement_incomplete_and_even_median():
    si = dict(HAND_SI_ALL)
    del si[("ch2", "C")]  # model did not run channel 2 for signal C
    ti = M.total_improvement(si, expected=EXPECTED_PAIRS)
    assert ti["complete"] is False and ti["missing"] == [("ch2", "C")]
    assert ti["per_signal"]["C"] == pytest.approx(1.0)  # best of what is there, flagged
    si[("ch2", "C")] = float("nan")  # NaN counts as missing too
    assert M.total_improvement(si, expected=EXPECTED_PAIRS)["missing"] == [("ch2", "C")]
    assert M.total_improvement(si)["complete"] is False
    # a pair outside `expected` is ignored (and reported)
    si2 = dict(HAND_SI_ALL)
    si2[("ch2", "B")] = 99.0
    ti2 = M.total_improvement(si2, expected=EXPECTED_PAIRS)
    assert ti2["per_signal"]["B"] == pytest.approx(0.5) and ti2["ignored"] == [("ch2", "B")]
    # even number of signals: median is the mean of the middle two, (3.1623 + .5) / 2
    only_ab = {k: v for k, v in HAND_SI_ALL.items() if k[1] != "C"}
    assert M.total_improvement(only_ab)["median"] == pytest.approx((3.16227766 + 0.5) / 2)
    empty = M.total_improvement({}, expected=[("ch1", "A")])
    assert math.isnan(empty["median"]) and empty["complete"] is False
    with pytest.raises(ValueError, match="channel, signal"):
        M.total_improvement({"A": 1.0})


# ------------------------------------------------------------------------------------------
# density-ratio gap
# ------------------------------------------------------------------------------------------


def test_density_ratio_gap():
    g = M.density_ratio_gap(0.9, 0.8)
    assert g["gap"] == pytest.approx(0.1) and g["normalised"] == pytest.approx(0.25)
    g = M.density_ratio_gap(0.8, 0.8)
    assert g["gap"] == 0 and g["normalised"] == 0
    assert M.density_ratio_gap(0.8, 0.5)["normalised"] == pytest.approx(1.0)
    assert M.density_ratio_gap(0.8, 0.85)["normalised"] == pytest.approx(-1 / 6)
    assert math.isnan(M.density_ratio_gap(0.5, 0.6)["normalised"])
    with pytest.raises(ValueError, match="auc_ratio must be an AUC"):
        M.density_ratio_gap(0.9, 1.2)
    with pytest.raises(ValueError, match="auc_supervised must be an AUC"):
        M.density_ratio_gap(float("nan"), 0.5)


# ------------------------------------------------------------------------------------------
# input validation
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "y, s, w, match",
    [
        ([0, 1, 0], [0.1, 0.2], None, "lengths differ: y has 3 entries but scores has 2"),
        ([0, 2, 1], [0.1, 0.2, 0.3], None, r"labels must be 0 \(background\) or 1 \(signal\); found \['2'\]"),
        ([0, -1, 1], [0.1, 0.2, 0.3], None, "labels must be 0"),
        (["b", "s"], [0.1, 0.2], None, "labels must be 0"),
        ([0, 1, 1], [0.1, np.nan, 0.3], None, r"scores contain 1 NaN value"),
        ([0, 1, 1], [0.1, 0.2, 0.3], [1.0, -0.5, 1.0], "weights must be non-negative; found 1 negative"),
        ([0, 1, 1], [0.1, 0.2, 0.3], [1.0, np.nan, 1.0], "weights must be finite"),
        ([0, 1, 1], [0.1, 0.2, 0.3], [1.0, 1.0], "lengths differ: weights has 2 entries"),
        ([0, 0, 0], [0.1, 0.2, 0.3], None, r"no signal events \(y == 1\)"),
        ([1, 1], [0.1, 0.2], None, r"no background events \(y == 0\)"),
        ([], [], None, "no signal events"),
        ([0, 1, 1], [0.1, 0.2, 0.3], [1.0, 0.0, 0.0], "no signal weight"),
        ([0, 1, 1], [0.1, 0.2, 0.3], [0.0, 1.0, 1.0], "no background weight"),
        ([[0, 1]], [[0.1, 0.2]], None, "labels y must be a 1-D array"),
        ([0, 1], ["a", "b"], None, "scores must be numeric"),
    ],
)
def test_bad_inputs(y, s, w, match):
    with pytest.raises(ValueError, match=match):
        M.roc_curve(y, s, w)
    with pytest.raises(ValueError, match=match):
        M.evaluate_scores(y, s, w)


def test_auc_call_forms():
    roc = hand_roc()
    with pytest.raises(TypeError):
        M.auc(roc, [1, 2])
    with pytest.raises(TypeError):
        M.auc([0, 1])
    with pytest.raises(ValueError, match="n_points must be"):
        M.thinned_curves(roc, n_points=3)
    with pytest.raises(ValueError, match="min_background_events"):
        M.max_sic(roc, -1)


# ------------------------------------------------------------------------------------------
# evaluate_scores and thinned curves
# ------------------------------------------------------------------------------------------

EXPECTED_KEYS = {
    "n_signal", "n_background", "sum_w_signal", "sum_w_background", "n_background_effective", "auc",
    "max_sic", "max_sic_eps_s", "max_sic_eps_b", "max_sic_n_background",
    "max_sic_unconstrained", "max_sic_unconstrained_eps_s", "max_sic_unconstrained_eps_b",
    "max_sic_unconstrained_n_background", "min_background_events",
    "rejection@eps_s=0.2", "rejection@eps_s=0.3", "rejection@eps_s=0.5",
    "eps_s@eps_b=0.01", "eps_s@eps_b=0.001", "eps_s@eps_b=0.0001",
    "si@eps_b=0.01", "si@eps_b=0.001", "si@eps_b=0.0001",
    "resolved@eps_b=0.01", "resolved@eps_b=0.001", "resolved@eps_b=0.0001",
    "si_all", "si_all_complete",
}  # fmt: skip


def test_evaluate_scores_keys_and_consistency():
    rng = np.random.default_rng(3)
    n = 30000
    y = (rng.random(n) < 0.2).astype(int)
    s = rng.normal(size=n) + 1.2 * y
    w = rng.uniform(0.5, 1.5, n)
    res = M.evaluate_scores(y, s, w)
    assert set(res) == EXPECTED_KEYS
    json.loads(json.dumps(res))  # JSON-friendly
    roc = M.roc_curve(y, s, w)
    assert res["auc"] == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)
    ms = M.max_sic(roc)
    assert res["max_sic"] == ms.value and res["max_sic_eps_s"] == ms.eps_s
    assert res["rejection@eps_s=0.3"] == M.rejection_at_eps_s(roc, 0.3)
    assert res["eps_s@eps_b=0.001"] == M.eps_s_at_eps_b(roc, 1e-3)
    assert res["si@eps_b=0.001"] == pytest.approx(M.eps_s_at_eps_b(roc, 1e-3) / math.sqrt(1e-3))
    assert res["si_all"] == M.si_all(roc)
    assert res["n_signal"] == int(y.sum()) and res["n_background"] == int(n - y.sum())
    assert res["sum_w_signal"] == pytest.approx(w[y == 1].sum())
    wb = w[y == 0]
    assert res["n_background_effective"] == pytest.approx(wb.sum() ** 2 / (wb**2).sum(), rel=1e-12)
    assert M.evaluate_scores(y, s)["n_background_effective"] == res["n_background"]  # unit weights: the count
    # n_background = 24000: 1e-4 needs 10000 events -> resolved
    assert res["resolved@eps_b=0.0001"] is True and res["si_all_complete"] is True
    custom = M.evaluate_scores(y, s, eps_s_points=(0.4,), eps_b_points=(1e-5,), min_background_events=50)
    assert "rejection@eps_s=0.4" in custom and "rejection@eps_s=0.3" not in custom
    assert custom["resolved@eps_b=1e-05"] is False and custom["eps_s@eps_b=1e-05"] is None
    assert custom["max_sic_n_background"] >= 50 and custom["min_background_events"] == 50


def test_evaluate_scores_infinite_rejection_and_nan_to_none():
    y, s = [1, 1, 0, 0, 0], [9, 8, 3, 2, 1]  # perfect separation, 3 background events
    res = M.evaluate_scores(y, s)
    assert res["auc"] == 1.0
    assert res["rejection@eps_s=0.5"] == math.inf
    assert res["max_sic"] is None  # only 3 background events < 10
    assert res["max_sic_unconstrained"] == pytest.approx(1 / math.sqrt(1 / 3))
    assert res["si_all"] is None and res["si_all_complete"] is False


def test_thinned_curves():
    rng = np.random.default_rng(8)
    n = 200000
    y = (rng.random(n) < 0.05).astype(int)
    s = rng.normal(size=n) + 2.0 * y
    roc = M.roc_curve(y, s)
    c = M.thinned_curves(roc, n_points=200)
    assert set(c) == {"eps_b", "eps_s", "sic", "n_bkg_above"}
    eb, es = np.array(c["eps_b"]), np.array(c["eps_s"])
    assert 150 <= len(eb) <= 200 and len(es) == len(eb) == len(c["sic"]) == len(c["n_bkg_above"])
    assert (eb[0], es[0]) == (0.0, 0.0) and (eb[-1], es[-1]) == (1.0, 1.0)
    assert np.all(np.diff(eb) >= 0) and np.all(np.diff(es) >= 0)
    # every stored point is a ROC point
    on_roc = set(zip(roc.fpr.tolist(), roc.tpr.tolist()))
    assert all(p in on_roc for p in zip(eb.tolist(), es.tolist()))
    # log spacing: the low-eps_B decades keep many points (uniform spacing would keep ~0)
    assert np.sum((eb > 0) & (eb < 1e-3)) >= 30
    assert np.sum(eb >= 0.1) >= 20
    # both max-SIC points survive
    ms = M.max_sic(roc)
    sic = [v for v in c["sic"] if v is not None]
    assert max(sic) == pytest.approx(ms.unconstrained)
    assert any(b == ms.eps_b and e == ms.eps_s for b, e in zip(eb, es))
    assert all(v is None for b, v in zip(eb, c["sic"]) if b == 0)
    json.dumps(c)
    small = M.thinned_curves(hand_roc())
    assert small["eps_b"] == hand_roc().fpr.tolist()


# ------------------------------------------------------------------------------------------
# the sort: ties, signed zeros, extreme magnitudes, keys that differ only in their lowest bits
# ------------------------------------------------------------------------------------------


def check_against_references(y, s, w=None):
    """ROC, AUC and counts equal sklearn's and the brute-force scan's."""
    roc = M.roc_curve(y, s, w)
    fpr, tpr, thr = sk_roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    np.testing.assert_allclose(roc.fpr, fpr, rtol=0, atol=1e-12)
    np.testing.assert_allclose(roc.tpr, tpr, rtol=0, atol=1e-12)
    assert np.array_equal(roc.thresholds[1:], thr[1:]) and roc.thresholds[0] == np.inf
    pts = brute_points(y, s, w)
    assert roc.n_bkg_above.tolist() == [p[2] for p in pts]
    assert abs(M.auc(roc) - roc_auc_score(y, s, sample_weight=w)) < 1e-12
    assert abs(M.auc(roc) - brute_auc(y, s, w)) < 1e-12
    return roc


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_values", [1, 2, 3, 7])
def test_heavy_ties(weighted, n_values):
    rng = np.random.default_rng(n_values)
    n = 600
    y = (rng.random(n) < 0.4).astype(int)
    y[:2] = [0, 1]
    s = rng.integers(0, n_values, n).astype(float) * 0.5 - 1.0  # a handful of values, both classes
    w = rng.exponential(1.0, n) if weighted else None
    roc = check_against_references(y, s, w)
    assert len(roc) == len(np.unique(s)) + 1


def test_all_tied():
    y = np.array([1, 0, 0, 1, 0])
    roc = check_against_references(y, np.full(5, 3.25))
    np.testing.assert_array_equal(roc.fpr, [0, 1])
    assert roc.thresholds.tolist() == [np.inf, 3.25]
    res = M.evaluate_scores(y, np.full(5, 3.25), np.array([1.0, 2.0, 0.0, 1.0, 3.0]))
    assert res["auc"] == 0.5 and res["rejection@eps_s=0.3"] == pytest.approx(1 / 0.3)  # on the diagonal


def test_signed_zeros_are_one_tie_group():
    y = np.array([1, 0, 1, 0, 1, 0])
    s = np.array([0.0, -0.0, -0.0, 0.0, 1.0, -1.0])
    for w in (None, np.array([1.0, 2.0, 0.5, 1.5, 1.0, 1.0])):
        roc = check_against_references(y, s, w)
        assert len(roc) == 4  # +inf, 1.0, the zeros, -1.0
        zero = roc.thresholds[2]
        assert zero == 0.0 and math.copysign(1.0, zero) == 1.0
    assert M.auc([1, 0], [-0.0, 0.0]) == 0.5


def test_extreme_magnitudes():
    tiny = np.nextafter(0.0, 1.0)  # the smallest subnormal
    big = np.finfo(np.float64).max
    s = np.array([big, -big, tiny, -tiny, 2e-308, -2e-308, 1e-300, -1e300, 0.0, big, -tiny, 1e300])
    y = np.array([1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1, 0])
    w = np.linspace(0.5, 2.0, s.shape[0])
    for ww in (None, w):
        check_against_references(y, s, ww)
        # infinities beyond the largest floats (sklearn refuses them; the scan does not)
        s_inf = np.concatenate([s, [np.inf, -np.inf, np.inf]])
        y_inf = np.concatenate([y, [0, 1, 1]])
        w_inf = None if ww is None else np.concatenate([ww, [1.0, 2.0, 3.0]])
        roc = M.roc_curve(y_inf, s_inf, w_inf)
        pts = brute_points(y_inf, s_inf, w_inf)
        np.testing.assert_allclose(roc.fpr, [p[0] for p in pts], atol=1e-12)
        np.testing.assert_allclose(roc.tpr, [p[1] for p in pts], atol=1e-12)
        assert roc.thresholds.tolist() == [np.inf] + [p[3] for p in pts[1:]]
        assert M.auc(roc) == pytest.approx(brute_auc(y_inf, s_inf, w_inf), abs=1e-12)
    # scale invariance at the extremes: the group structure and therefore the ROC stay the same
    rng = np.random.default_rng(1)
    y2 = (rng.random(500) < 0.5).astype(int)
    s2 = rng.normal(size=500)
    ref = M.roc_curve(y2, s2)
    for scale in (1e-300, 1e300):
        r = M.roc_curve(y2, s2 * scale)
        assert np.array_equal(r.fpr, ref.fpr) and np.array_equal(r.tpr, ref.tpr)


@pytest.mark.parametrize("weighted", [False, True])
def test_scores_that_differ_only_in_their_lowest_bits(weighted):
    """Adjacent floats: the packed sort codes share their high bits, so the exact key decides."""
    rng = np.random.default_rng(3)
    ulp_steps = np.concatenate([
        np.arange(3000),  # one long run of distinct keys (longer than the insertion-sort limit)
        np.repeat(10_000_000 + 5000 * np.arange(40), 3) + np.tile([0, 1, 1], 40),  # short runs with ties
    ])
    s = 1.0 + ulp_steps * np.finfo(np.float64).eps
    s = s[rng.permutation(s.shape[0])]
    y = (rng.random(s.shape[0]) < 0.5).astype(int)
    w = rng.uniform(0.1, 2.0, s.shape[0]) if weighted else None
    roc = check_against_references(y, s, w)
    assert len(roc) == len(np.unique(s)) + 1
    if weighted:  # the bootstrap's sort (with the permutation) goes through the same runs
        from benchmark import stats as S

        fast = S.bootstrap_metrics(y, s, w, keys=("auc",), n_boot=8, seed=2)["auc"]
        slow = S.bootstrap_interval(y, s, w, lambda a, b, c: M.auc(a, b, c), n_boot=8, seed=2)
        for k in ("value", "lo", "hi"):
            assert fast[k] == pytest.approx(slow[k], abs=1e-12)


def test_zero_weight_groups_and_negative_weights():
    y = np.array([1, 0, 1, 0, 1, 0, 0])
    s = np.array([3.0, 3.0, 2.0, 2.0, 1.0, 1.0, 0.0])
    w = np.array([0.0, 0.0, 1.0, 2.0, 1.0, 0.0, 1.0])  # the top tie group weighs nothing
    # zero-weight events still form their tie group and count as events (sklearn drops them, so
    # only its AUC is comparable)
    roc = M.roc_curve(y, s, w)
    pts = brute_points(y, s, w)
    np.testing.assert_allclose(roc.fpr, [p[0] for p in pts], atol=1e-12)
    np.testing.assert_allclose(roc.tpr, [p[1] for p in pts], atol=1e-12)
    assert abs(M.auc(roc) - roc_auc_score(y, s, sample_weight=w)) < 1e-12
    assert roc.n_bkg_above.tolist() == [0, 1, 2, 3, 4]  # counts stay unweighted
    assert roc.fpr[1] == 0.0 and roc.tpr[1] == 0.0
    assert roc.n_background_effective == pytest.approx(9.0 / 5.0)  # (2 + 1)^2 / (4 + 1)
    with pytest.raises(ValueError, match="weights must be non-negative; found 2 negative"):
        M.roc_curve(y, s, np.where(s > 2.5, -1.0, 1.0))
    with pytest.raises(ValueError, match="weights must be finite"):
        M.roc_curve(y, s, np.where(s > 2.5, np.inf, 1.0))


# ------------------------------------------------------------------------------------------
# the one-pass walk: streamed metrics, the grouping and codes routes
# ------------------------------------------------------------------------------------------

ROUTES = [None, "groups", "codes"]


def same_value(a, b):
    return a == b or (a is None and b is None) or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def streamed_and_from_roc(y, s, w, route, **opts):
    """evaluate_scores' streamed dict and evaluate_roc's dict of the written ROC, by one route."""
    inputs = M._checked(y, s, w)
    eps_s_points = opts.get("eps_s_points", M.DEFAULT_EPS_S_POINTS)
    eps_b_points = opts.get("eps_b_points", M.DEFAULT_EPS_B_POINTS)
    min_bkg = opts.get("min_background_events", M.DEFAULT_MIN_BACKGROUND_EVENTS)
    eps_s, eps_b = M._targets(eps_s_points, eps_b_points)
    streamed = M._report(M._streamed_readout(inputs, min_bkg, eps_s, eps_b, route), min_bkg, eps_s_points,
                         eps_b_points)
    roc = M._roc_of(inputs, route)
    return streamed, M.evaluate_roc(roc, **opts), roc


def lowest_bits_data(seed=3):
    rng = np.random.default_rng(seed)
    steps = np.concatenate([np.arange(300), np.repeat(10_000_000 + 5000 * np.arange(40), 3) + np.tile([0, 1, 1], 40)])
    s = (1.0 + steps * np.finfo(np.float64).eps)[rng.permutation(steps.shape[0])]
    y = (rng.random(s.shape[0]) < 0.5).astype(int)
    y[:2] = [0, 1]
    return y, s, rng.uniform(0.1, 2.0, s.shape[0])


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("kind", KINDS + ["lowest_bits", "lowest_bits_weighted", "infinities", "zero_weights"])
def test_streamed_metrics_equal_the_roc_metrics_bit_for_bit(kind, route):
    if kind.startswith("lowest_bits"):
        y, s, w = lowest_bits_data()
        w = w if kind.endswith("weighted") else None
    elif kind == "infinities":
        y, s, w = make_data("weighted", n=3000, seed=4)
        s[:40] = np.inf
        s[40:60] = -np.inf
        s[60:90] = -0.0
        s[90:120] = 0.0
    elif kind == "zero_weights":
        y, s, w = make_data("tied_weighted", n=3000, seed=5)
        w[s == s.max()] = 0.0  # the top tie group weighs nothing
        w[::7] = 0.0
    else:
        y, s, w = make_data(kind, n=3000, seed=6)
    for opts in ({}, {"eps_s_points": (0.05, 0.4, 1.0), "eps_b_points": (1e-5, 0.02, 0.5, 1.0), "min_background_events": 0},
                 {"min_background_events": 50}):
        streamed, from_roc, roc = streamed_and_from_roc(y, s, w, route, **opts)
        assert set(streamed) == set(from_roc)
        differ = {k: (streamed[k], from_roc[k]) for k in streamed if not same_value(streamed[k], from_roc[k])}
        assert not differ, differ
    # the written ROC is the references' ROC, whichever route made it
    fpr, tpr, thr = sk_roc_curve(y, s, sample_weight=w, drop_intermediate=False) if kind != "infinities" else (None,) * 3
    pts = brute_points(y, s, w)
    np.testing.assert_allclose(roc.fpr, [p[0] for p in pts], rtol=0, atol=1e-12)
    np.testing.assert_allclose(roc.tpr, [p[1] for p in pts], rtol=0, atol=1e-12)
    assert roc.n_bkg_above.tolist() == [p[2] for p in pts]
    assert roc.thresholds.tolist() == [np.inf] + [p[3] for p in pts[1:]]
    assert roc.fpr[-1] == 1.0 and roc.tpr[-1] == 1.0
    if fpr is not None and kind != "zero_weights":  # sklearn drops zero-weight events
        np.testing.assert_allclose(roc.tpr, tpr, rtol=0, atol=1e-12)
    assert abs(streamed["auc"] - brute_auc(y, s, w)) < 1e-12


@pytest.mark.parametrize("kind", KINDS)
def test_routes_agree(kind):
    """Grouping sums per score then across scores, the codes route one event at a time: the same
    numbers up to rounding (exactly the same without weights)."""
    y, s, w = make_data(kind, n=5000, seed=7)
    results = [M._report(M._streamed_readout(M._checked(y, s, w), 10, *M._targets((0.2, 0.3, 0.5), (1e-2, 1e-3)), route),
                         10, (0.2, 0.3, 0.5), (1e-2, 1e-3)) for route in ("groups", "codes")]
    for k, v in results[0].items():
        other = results[1][k]
        if w is None or not isinstance(v, float):
            assert same_value(v, other), k
        else:
            assert other == pytest.approx(v, rel=1e-12, abs=1e-12), k


def test_grouping_route_gives_up_beyond_its_cap():
    from benchmark import _roc_stream as K

    rng = np.random.default_rng(9)
    n = 20000
    y = (rng.random(n) < 0.3).astype(np.int8)
    s = np.round(rng.normal(size=n) + y, 2)  # ~800 distinct values
    w = rng.uniform(0.5, 1.5, n)
    used, keys, sums, counts = K.group_scores(y, s, w, n, True)
    assert used == len(np.unique(s)) == np.count_nonzero(keys)
    assert counts.sum() == n and counts[:, 0].sum() == y.sum()
    np.testing.assert_allclose(sums[:, 0].sum(), w[y == 1].sum(), rtol=1e-12)
    np.testing.assert_allclose(sums[:, 2].sum(), (w[y == 0] ** 2).sum(), rtol=1e-12)
    assert K.group_scores(y, s, w, used - 1, True)[0] == -1  # one distinct score too many
    assert K.group_scores(y, s, w, used, True)[0] == used
    s_cont = rng.normal(size=n) + y
    assert K.group_scores(y, s_cont, w, n, True)[0] == -1  # most of the first events distinct
    assert K.group_scores(y, s_cont, w, n, False)[0] == n  # unless told to go on
    # the default route gives up on continuous scores and takes the codes route
    assert M._group_cap(n) < n
    auto = M.evaluate_scores(y, s_cont, w)
    codes = M._report(M._streamed_readout(M._checked(y, s_cont, w), 10, *M._targets(M.DEFAULT_EPS_S_POINTS,
                      M.DEFAULT_EPS_B_POINTS), "codes"), 10, M.DEFAULT_EPS_S_POINTS, M.DEFAULT_EPS_B_POINTS)
    assert all(same_value(auto[k], codes[k]) for k in auto)
    assert auto["auc"] == pytest.approx(roc_auc_score(y, s_cont, sample_weight=w), abs=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_codes_whose_high_bits_are_the_whole_key(weighted):
    """Integer and float32 scores leave the low key bits zero: equal high bits are then ties."""
    from benchmark import _roc_stream as K

    rng = np.random.default_rng(10)
    n = 4000
    y = (rng.random(n) < 0.4).astype(int)
    for s in (rng.integers(-50, 50, n).astype(float), (rng.normal(size=n) + y).astype(np.float32).astype(float)):
        shift = M._code_shift(n)
        assert K.label_codes(y, s, shift, np.empty(n, np.uint64))
        w = rng.exponential(1.0, n) if weighted else None
        streamed, from_roc, roc = streamed_and_from_roc(y, s, w, "codes")
        assert all(same_value(streamed[k], from_roc[k]) for k in streamed)
        check_against_references(y, s, w)
        assert len(roc) == len(np.unique(s)) + 1
    assert not K.label_codes(y, 1.0 + rng.random(n), M._code_shift(n), np.empty(n, np.uint64))


def test_label_dtypes_and_non_contiguous_inputs():
    y, s, w = make_data("tied_weighted", n=2000, seed=11)
    ref = M.evaluate_scores(y, s, w)
    for labels in (y.astype(bool), y.astype(np.int8), y.astype(np.uint8), y.astype(np.float32), y.astype(np.int64)):
        assert M.evaluate_scores(labels, s, w) == ref
    y2, s2, w2 = (np.repeat(a, 2)[::2] for a in (y, s, w))  # strided views
    assert M.evaluate_scores(y2, s2, w2) == ref
    assert M.evaluate_scores(y, s.astype(np.float32), w)["n_signal"] == ref["n_signal"]
