"""numba kernels of the class-split sort behind :mod:`benchmark.metrics`' bootstrap, and of ROC read-offs.

The bootstrap resamples each class separately, so it sorts each class once and replays resamples
as multiplicities over that order (:func:`merge_roc`); the one-pass walk of ``evaluate_scores`` and
``roc_curve`` lives in :mod:`benchmark._roc_stream` and shares the keys defined here. Kept apart
from ``metrics.py`` so that importing the metric definitions (the leaderboard does) costs no numba
start-up; ``metrics`` imports this module on first use.

Why this shape: at 1e7 events a ROC is dominated by memory traffic, not arithmetic. ``np.argsort``
and every gather through its permutation read memory at random; ``np.sort`` of a plain 64-bit
array is a SIMD sort that is several times faster. So:

* every score becomes a 64-bit unsigned *key* whose order is the order of the floats (sign bit
  flipped for positives, all bits flipped for negatives, -0.0 folded onto +0.0 so that the two
  zeros form one tie group);
* the events are split by class, so the label rides along implicitly;
* the weights (and each event's place) must follow the sort: the low ``shift`` bits of each key
  are replaced by the event's index within its class, those *codes* are sorted, and one pass reads
  each event's (score, weight) record and writes exact keys and weights in sorted order. Events
  whose keys agree on all but the low bits come out next to each other in arbitrary order; that
  pass re-sorts such runs by the full key (they are rare and short for continuous scores; a run of
  equal keys -- ties -- needs no sort).

Only the group structure of tied scores matters downstream, never the order inside a group.
Large arrays are allocated by numpy and filled here: numpy asks the kernel for huge pages, which
makes first writes to fresh memory several times cheaper than numba's own allocations.
"""
from __future__ import annotations

import numpy as np

from benchmark.features.jit import compiled

_SIGN = np.uint64(1) << np.uint64(63)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)
# Sums of more terms than this are added block by block (pairwise-like error growth, as numpy's sum).
_BLOCK = 1024


@compiled()
def _monotone_key(bits: np.uint64) -> np.uint64:
    """Unsigned key with the order of the float64 whose bit pattern is ``bits`` (not NaN): all bits
    flipped for a negative float, the sign bit set for a positive one; -0.0 is +0.0. Branch-free
    (a select and an xor): the signs of scores are unpredictable."""
    bits = _ZERO if bits == _SIGN else bits
    return bits ^ ((_ZERO - (bits >> np.uint64(63))) | _SIGN)


@compiled()
def _float_bits(key: np.uint64) -> np.uint64:
    """Inverse of :func:`_monotone_key`: the float64 bit pattern of a key."""
    if key & _SIGN:
        return key & ~_SIGN
    return ~key


@compiled()
def class_codes(scores: np.ndarray, is_signal: np.ndarray, weights: np.ndarray | None, shift_s: int,
                shift_b: int, cs: np.ndarray, rs: np.ndarray, cb: np.ndarray, rb: np.ndarray) -> None:
    """Fill, per class (signal ``cs``/``rs``, background ``cb``/``rb``): codes (key with its low
    ``shift`` bits replaced by the index within the class) and the (score, weight) record of each
    event, both in input order (weight 1 when None)."""
    n = scores.shape[0]
    bits = scores.view(np.uint64)
    low_s = (_ONE << np.uint64(shift_s)) - _ONE
    low_b = (_ONE << np.uint64(shift_b)) - _ONE
    a = 0
    b = 0
    for i in range(n):
        x = 1.0
        if weights is not None:
            x = weights[i]
        if is_signal[i]:
            cs[a] = (_monotone_key(bits[i]) & ~low_s) | np.uint64(a)
            rs[a, 0] = scores[i]
            rs[a, 1] = x
            a += 1
        else:
            cb[b] = (_monotone_key(bits[i]) & ~low_b) | np.uint64(b)
            rb[b, 0] = scores[i]
            rb[b, 1] = x
            b += 1


@compiled()
def _sort_run(keys: np.ndarray, weights: np.ndarray | None, order: np.ndarray | None, lo: int, hi: int) -> None:
    """Sort ``keys[lo:hi]`` ascending, carrying ``weights`` and ``order`` along: insertion sort
    for the usual handful of events (no allocation), ``argsort`` beyond."""
    if hi - lo > 32:
        perm = np.argsort(keys[lo:hi]) + lo
        keys[lo:hi] = keys[perm]
        if weights is not None:
            weights[lo:hi] = weights[perm]
        if order is not None:
            order[lo:hi] = order[perm]
        return
    for t in range(lo + 1, hi):
        k = keys[t]
        u = t
        while u > lo and keys[u - 1] > k:
            u -= 1
        if u == t:
            continue
        x = 0.0
        if weights is not None:
            x = weights[t]
        o = 0
        if order is not None:
            o = order[t]
        for v in range(t, u, -1):
            keys[v] = keys[v - 1]
            if weights is not None:
                weights[v] = weights[v - 1]
            if order is not None:
                order[v] = order[v - 1]
        keys[u] = k
        if weights is not None:
            weights[u] = x
        if order is not None:
            order[u] = o


@compiled()
def resolve_codes(codes: np.ndarray, records: np.ndarray, shift: int, keys: np.ndarray,
                  weights: np.ndarray | None, order: np.ndarray | None) -> None:
    """From ``np.sort``-ed codes, write the exact keys (and weights, and the within-class index of
    each event when ``order`` is given) in ascending key order."""
    n = codes.shape[0]
    low = (_ONE << np.uint64(shift)) - _ONE
    score = np.empty(1)
    score_bits = score.view(np.uint64)  # reads a score's bit pattern (one record = one cache line)
    # Pass 1, the gather: a loop without data-dependent branches, so that the processor keeps many
    # of these random reads in flight at once.
    for t in range(n):
        idx = np.int64(codes[t] & low)
        score[0] = records[idx, 0]
        keys[t] = _monotone_key(score_bits[0])
        if weights is not None:
            weights[t] = records[idx, 1]
        if order is not None:
            order[t] = idx
    # Pass 2, sequential: runs of codes with equal high bits whose full keys differ are put in
    # key order.
    j = 0
    while j < n:
        top = codes[j] & ~low
        i = j + 1
        tied = True
        while i < n and (codes[i] & ~low) == top:
            tied = tied and keys[i] == keys[j]
            i += 1
        if not tied:
            _sort_run(keys, weights, order, j, i)
        j = i


@compiled(error_model="numpy")
def merge_roc(keys_s: np.ndarray, w_s: np.ndarray | None, m_s: np.ndarray | None, keys_b: np.ndarray,
              w_b: np.ndarray | None, m_b: np.ndarray | None, fpr: np.ndarray, tpr: np.ndarray,
              n_bkg: np.ndarray, n_sig: np.ndarray, thresholds: np.ndarray) -> tuple[int, float, float, float]:
    """The ROC from the two classes' ascending keys, walking both from the highest score down.

    ``w_*`` (None: unit weights) and ``m_*`` (None: each event once; else an integer multiplicity
    that scales both the weights and the counts, as a bootstrap resample does) follow the keys.
    Writes points ``0..g`` of the output arrays (point 0 = nothing selected, threshold +inf; point
    k = every event of the k highest tie groups) and returns ``g``, the weighted signal and
    background totals and the background's sum of squared weights times multiplicity (for the
    effective event count).
    """
    i = keys_s.shape[0] - 1
    j = keys_b.shape[0] - 1
    cs = 0
    cb = 0
    ws = 0.0
    wb = 0.0
    w2b = 0.0
    fpr[0] = 0.0
    tpr[0] = 0.0
    n_bkg[0] = 0
    n_sig[0] = 0
    thresholds[0] = np.inf
    as_float = np.empty(1, np.uint64)
    k = 0
    while i >= 0 or j >= 0:
        if j < 0 or (i >= 0 and keys_s[i] >= keys_b[j]):
            key = keys_s[i]
        else:
            key = keys_b[j]
        while i >= 0 and keys_s[i] == key:
            m = 1
            if m_s is not None:
                m = m_s[i]
            cs += m
            if w_s is not None:
                ws += w_s[i] * m
            else:
                ws += m
            i -= 1
        while j >= 0 and keys_b[j] == key:
            m = 1
            if m_b is not None:
                m = m_b[j]
            cb += m
            if w_b is not None:
                x = w_b[j] * m
                wb += x
                w2b += w_b[j] * x
            else:
                wb += m
            j -= 1
        k += 1
        n_sig[k] = cs
        n_bkg[k] = cb
        tpr[k] = ws
        fpr[k] = wb
        as_float[0] = _float_bits(key)
        thresholds[k] = as_float.view(np.float64)[0]
    if w_b is None:
        w2b = wb
    for t in range(1, k + 1):
        tpr[t] /= ws
        fpr[t] /= wb
    return k, ws, wb, w2b


@compiled()
def add_draws(mult: np.ndarray, positions: np.ndarray, draws: np.ndarray) -> None:
    """``mult[positions[d]] += 1`` for every drawn ``d`` (a resample's multiplicities, in one pass)."""
    for d in draws:
        mult[positions[d]] += 1


@compiled()
def trapezoid_auc(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Trapezoidal area under the polyline ``(fpr, tpr)``, summed block by block."""
    total = 0.0
    n = fpr.shape[0]
    for start in range(1, n, _BLOCK):
        part = 0.0
        for k in range(start, min(start + _BLOCK, n)):
            part += (fpr[k] - fpr[k - 1]) * (tpr[k] + tpr[k - 1])
        total += part
    return 0.5 * total


@compiled()
def max_sic_points(fpr: np.ndarray, tpr: np.ndarray, n_bkg: np.ndarray, min_background: int) -> tuple[int, int]:
    """Indices of the largest ``tpr / sqrt(fpr)`` over points with ``fpr > 0``: among those passed
    by at least ``min_background`` background events, and among all (-1 where none). The first
    point wins a tie."""
    best_con = -1.0
    best_all = -1.0
    i_con = -1
    i_all = -1
    for k in range(fpr.shape[0]):
        if fpr[k] > 0:
            v = tpr[k] / np.sqrt(fpr[k])
            if v > best_all:
                best_all = v
                i_all = k
            if n_bkg[k] >= min_background and v > best_con:
                best_con = v
                i_con = k
    return i_con, i_all
