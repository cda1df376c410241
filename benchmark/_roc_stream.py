"""numba kernels behind :func:`benchmark.metrics.evaluate_scores` and :func:`benchmark.metrics.roc_curve`.

The ROC's points are produced highest score first by one of two routes:

* **grouping** (few distinct scores: rounded, discrete or saturated scorers): one pass over the
  events in input order sums counts and weights per score in a small hash table; sorting its few
  keys orders the points. No event is sorted or moved. The route gives up (and the codes route
  runs) as soon as more distinct scores turn up than it was allowed.
* **codes** (many distinct scores): each event becomes one 64-bit code -- the high bits of its
  score's order-preserving key, then its label, then its index -- and ``np.sort`` (unstable,
  SIMD; only which events tie matters) orders them. One pass in score order then fetches each
  event's weight (the only random reads), recovers the exact keys where codes of different
  scores share their high bits, and sums the class totals; a second, sequential pass emits the
  points.

Both routes hand their points, in chunks, to one *sink*: it either writes the ROC's arrays or
reads every scalar metric off the points as they pass -- the trapezoidal AUC, max SIC with and
without the low-statistics rule, the two points around each working point -- and never stores the
curve. At 1e6-1e7 events writing and re-reading the curve's arrays cost more than the arithmetic.
The sink divides by class totals summed beforehand in the same order as the running sums, so the
last point is exactly (1, 1), and both modes see bit-identical points: metrics streamed here equal
those :mod:`benchmark.metrics` reads off the written ROC.

Running sums add one event at a time within each class, in descending score order (ties: the
later event first), exactly as :func:`benchmark._roc_kernels.merge_roc` does; the grouping route
adds per-score subtotals instead (the same numbers up to rounding, exact for unit weights).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from benchmark._roc_kernels import _BLOCK, _float_bits, _monotone_key
from benchmark.features.jit import compiled

_ONE = np.uint64(1)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the product's top bits are well mixed
_FIRST_TABLE_BITS = 11
#: The grouping route gives up when more than this many of the first twice as many events have
#: distinct scores (continuous scores: after about that many events).
_EARLY_DISTINCT = 1024
#: Points handed to the sink at a time (their running sums, counts and keys stay in L1 cache).
CHUNK = 512
# The max-SIC prefilter skips a point without computing its SIC when tpr^2 < (1 - slack) best^2 fpr;
# the slack dwarfs the rounding of both sides, so a point that could win is never skipped.
_SIC_SLACK = 1e-9

#: How many events ahead the weights' random reads are prefetched (about what keeps the memory
#: system busy at 1e6-1e7 events: ~30 % off the gather measured here).
_PREFETCH_AHEAD = 32


@intrinsic
def _prefetch(typingctx, array, index):  # type: ignore[no-untyped-def]
    """Ask the processor to start loading ``array[index]`` (no fault, no result): llvm.prefetch."""
    sig = types.void(array, index)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, signature.args[0], ary, [args[1]], wraparound=False,
                                       boundscheck=False)
        byte_ptr = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32]),
                                            "llvm.prefetch.p0")
        # read, high temporal locality, data cache
        builder.call(fn, [builder.bitcast(ptr, byte_ptr), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


# Sink layout (arrays made by ``benchmark.metrics._Sink``):
#   totals (3,): signal weight, background weight, background sum of squared weights
#   st (4,):     previous point's fpr and tpr, AUC sum of the closed blocks, of the open block
#   ist (5,):    points emitted, next eps_S target, next eps_B target, write mode (1/0), min background
#   best (2, 4): max SIC with the low-statistics rule / without: SIC (-1: none yet), tpr, fpr, n_bkg
#   best_keys (2,): their threshold keys
#   ts, rs (m, 4): eps_S targets ascending; tpr, fpr of the point before the first one reaching it,
#                  tpr, fpr of that point
#   tb, rb (m, 5): eps_B targets ascending; fpr, tpr of the last point at or below it, of the next
#                  point, 1.0 where there is a next point
#   fpr, tpr, n_bkg, n_sig, thresholds: the ROC's arrays (write mode; point 0 set by the caller)


@compiled(error_model="numpy")
def _flush(m: int, chunk, sink) -> None:  # type: ignore[no-untyped-def]
    """Hand the first ``m`` points of ``chunk`` (running signal and background sums and counts,
    keys) to the sink."""
    cws, cwb, ccs, ccb, ckeys = chunk
    totals, st, ist, best, best_keys, ts, rs, tb, rb, fpr_out, tpr_out, nb_out, ns_out, thr_out = sink
    ws_tot = totals[0]
    wb_tot = totals[1]
    for c in range(m):  # vectorised divisions
        cws[c] = cws[c] / ws_tot
        cwb[c] = cwb[c] / wb_tot
    k0 = ist[0]
    ist[0] = k0 + m
    if ist[3]:
        thr_bits = thr_out.view(np.uint64)
        for c in range(m):
            k = k0 + 1 + c
            tpr_out[k] = cws[c]
            fpr_out[k] = cwb[c]
            ns_out[k] = ccs[c]
            nb_out[k] = ccb[c]
            thr_bits[k] = _float_bits(ckeys[c])
        return
    pf = st[0]
    pt = st[1]
    total = st[2]
    part = st[3]
    ps = ist[1]
    pb = ist[2]
    min_bkg = ist[4]
    next_s = ts[ps] if ps < ts.shape[0] else np.inf
    next_b = tb[pb] if pb < tb.shape[0] else np.inf
    lim_con = _sic_limit(best[0, 0])
    lim_all = _sic_limit(best[1, 0])
    for c in range(m):
        k = k0 + 1 + c
        tpr = cws[c]
        fpr = cwb[c]
        nb = ccb[c]
        # AUC exactly as trapezoid_auc: blocks of _BLOCK points, each summed, then added up
        if (k - 1) % _BLOCK == 0:
            total += part
            part = 0.0
        part += (fpr - pf) * (tpr + pt)
        # max SIC exactly as max_sic_points (first point wins a tie); the sqrt only where it can win
        lim = lim_con if nb >= min_bkg else lim_all
        if (fpr > 0.0) & ((tpr * tpr >= lim * fpr) | (tpr < 1e-150)):
            v = tpr / np.sqrt(fpr)
            if v > best[1, 0]:
                lim_all = _sic_limit(v)
                best[1, 0] = v
                best[1, 1] = tpr
                best[1, 2] = fpr
                best[1, 3] = nb
                best_keys[1] = ckeys[c]
            if nb >= min_bkg and v > best[0, 0]:
                lim_con = _sic_limit(v)
                best[0, 0] = v
                best[0, 1] = tpr
                best[0, 2] = fpr
                best[0, 3] = nb
                best_keys[0] = ckeys[c]
        # working points: the first point reaching each eps_S, the first point passing each eps_B
        if tpr >= next_s:
            while ps < ts.shape[0] and tpr >= ts[ps]:
                rs[ps, 0] = pt
                rs[ps, 1] = pf
                rs[ps, 2] = tpr
                rs[ps, 3] = fpr
                ps += 1
            next_s = ts[ps] if ps < ts.shape[0] else np.inf
        if fpr > next_b:
            while pb < tb.shape[0] and fpr > tb[pb]:
                rb[pb, 0] = pf
                rb[pb, 1] = pt
                rb[pb, 2] = fpr
                rb[pb, 3] = tpr
                rb[pb, 4] = 1.0
                pb += 1
            next_b = tb[pb] if pb < tb.shape[0] else np.inf
        pf = fpr
        pt = tpr
    st[0] = pf
    st[1] = pt
    st[2] = total
    st[3] = part
    ist[1] = ps
    ist[2] = pb


@compiled(inline="always")
def _sic_limit(best: float) -> float:
    """A point can beat SIC ``best`` only where tpr^2 >= this * fpr: (1 - slack) best^2, or -inf
    (always check) before the first point and where best^2 would overflow."""
    if best < 0.0 or best > 1e150:
        return -np.inf
    return best * best * (1.0 - _SIC_SLACK)


@compiled(inline="always")
def _new_chunk():  # type: ignore[no-untyped-def]
    """Running signal and background sums, counts and keys of up to CHUNK points."""
    return (np.empty(CHUNK), np.empty(CHUNK), np.empty(CHUNK, np.int64), np.empty(CHUNK, np.int64),
            np.empty(CHUNK, np.uint64))


@compiled(inline="always")
def _put(chunk, m: int, ws: float, wb: float, cs: int, cb: int, key: np.uint64) -> None:  # type: ignore[no-untyped-def]
    chunk[0][m] = ws
    chunk[1][m] = wb
    chunk[2][m] = cs
    chunk[3][m] = cb
    chunk[4][m] = key


# --------------------------------------------------------------------------------------------
# grouping route
# --------------------------------------------------------------------------------------------


@compiled()
def _fill_table(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None, start: int, stop: int,
                keys: np.ndarray, sums: np.ndarray, counts: np.ndarray, used: int, table_bits: int,
                limit: int) -> tuple[int, int]:
    """Add events ``start`` to ``stop`` to the table until one more distinct score than ``limit``
    turns up; returns (where it stopped, distinct scores in the table)."""
    bits = scores.view(np.uint64)
    mask = keys.shape[0] - 1
    for i in range(start, stop):
        key = _monotone_key(bits[i])
        h = np.int64((key * _GOLDEN) >> np.uint64(64 - table_bits))
        while keys[h] != key and keys[h] != 0:
            h = (h + 1) & mask
        if keys[h] == 0:
            if used == limit:
                return i, used
            keys[h] = key
            used += 1
        x = 1.0
        if weights is not None:
            x = weights[i]
        bkg = np.int64(labels[i] == 0)
        sums[h, bkg] += x
        sums[h, 2] += x * x * bkg  # adds 0.0 for a signal event
        counts[h, bkg] += 1
    return stop, used


@compiled()
def group_scores(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None, cap: int, early: bool):  # type: ignore[no-untyped-def]
    """Per distinct score: (signal weight, background weight, background squared weight) and
    (signal, background) event counts, in a hash table keyed by the score's order-preserving key
    (0 = empty: it is a NaN's key). Returns ``(distinct, keys, sums, counts)``, ``distinct = -1``
    as soon as more than ``cap`` distinct scores turn up, or (``early``) more than _EARLY_DISTINCT
    among the first 2 * _EARLY_DISTINCT events. Weight 1 where ``weights`` is None."""
    table_bits = _FIRST_TABLE_BITS
    keys = np.zeros(1 << table_bits, np.uint64)
    sums = np.zeros((1 << table_bits, 3))
    counts = np.zeros((1 << table_bits, 2), np.int64)
    n = scores.shape[0]
    # continuous scores are seen early: more than half of the first events distinct gives up
    first = min(n, 2 * _EARLY_DISTINCT)
    i, used = _fill_table(labels, scores, weights, 0, first, keys, sums, counts, 0, table_bits,
                          min(cap, _EARLY_DISTINCT))  # half the first table
    if i < first and early and first < n:
        return -1, keys, sums, counts
    while True:
        i, used = _fill_table(labels, scores, weights, i, n, keys, sums, counts, used, table_bits,
                              min(cap, keys.shape[0] // 2))  # load at most 1/2
        if i == n:
            return used, keys, sums, counts
        if used == cap:
            return -1, keys, sums, counts
        table_bits += 1  # double the table and re-insert
        new_keys = np.zeros(1 << table_bits, np.uint64)
        new_sums = np.zeros((1 << table_bits, 3))
        new_counts = np.zeros((1 << table_bits, 2), np.int64)
        mask = new_keys.shape[0] - 1
        for old in range(keys.shape[0]):
            if keys[old] != 0:
                h = np.int64((keys[old] * _GOLDEN) >> np.uint64(64 - table_bits))
                while new_keys[h] != 0:
                    h = (h + 1) & mask
                new_keys[h] = keys[old]
                new_sums[h] = sums[old]
                new_counts[h] = counts[old]
        keys, sums, counts = new_keys, new_sums, new_counts


@compiled()
def emit_groups(keys: np.ndarray, sums: np.ndarray, counts: np.ndarray, sink) -> None:  # type: ignore[no-untyped-def]
    """The points of per-score sums (``group_scores``' rows with ascending ``keys``), from the top."""
    totals = sink[0]
    ws = 0.0
    wb = 0.0
    w2b = 0.0
    for g in range(keys.shape[0] - 1, -1, -1):  # same order as the running sums below
        ws += sums[g, 0]
        wb += sums[g, 1]
        w2b += sums[g, 2]
    totals[0] = ws
    totals[1] = wb
    totals[2] = w2b
    chunk = _new_chunk()
    ws = 0.0
    wb = 0.0
    cs = 0
    cb = 0
    m = 0
    for g in range(keys.shape[0] - 1, -1, -1):
        ws += sums[g, 0]
        wb += sums[g, 1]
        cs += counts[g, 0]
        cb += counts[g, 1]
        _put(chunk, m, ws, wb, cs, cb, keys[g])
        m += 1
        if m == CHUNK:
            _flush(m, chunk, sink)
            m = 0
    if m:
        _flush(m, chunk, sink)


# --------------------------------------------------------------------------------------------
# codes route
# --------------------------------------------------------------------------------------------


@compiled()
def label_codes(labels: np.ndarray, scores: np.ndarray, shift: int, codes: np.ndarray) -> bool:
    """``codes[i]`` = high bits of score i's key | label << ``shift`` | i. Returns whether every
    score's bit pattern is zero below the label bit (integer or float32 scores, say): a key's low
    bits then follow from its sign, so equal high bits mean a tie and no score needs reading back."""
    bits = scores.view(np.uint64)
    high = ~((_ONE << np.uint64(shift + 1)) - _ONE)
    lost = np.uint64(0)
    for i in range(scores.shape[0]):
        key = _monotone_key(bits[i])
        lost |= bits[i] & ~high
        codes[i] = (key & high) | (np.uint64(labels[i] != 0) << np.uint64(shift)) | np.uint64(i)
    return lost == 0


@compiled()
def _order_run(codes: np.ndarray, bits: np.ndarray, low: np.uint64, lo: int, hi: int) -> None:
    """Put ``codes[lo:hi]`` (equal high bits) in exact key order, keeping the code order of equal
    keys (a stable sort); nothing moves when they are all one tie group, the usual case."""
    first = _monotone_key(bits[np.int64(codes[lo] & low)])
    u = lo + 1
    while u < hi and _monotone_key(bits[np.int64(codes[u] & low)]) == first:
        u += 1
    if u == hi:
        return
    exact = np.empty(hi - lo, np.uint64)
    for u in range(lo, hi):
        exact[u - lo] = _monotone_key(bits[np.int64(codes[u] & low)])
    perm = np.argsort(exact, kind="mergesort")
    run = codes[lo:hi].copy()
    for u in range(hi - lo):
        codes[lo + u] = run[perm[u]]


@compiled(inline="always")
def _place(codes: np.ndarray, u: int, key: np.uint64, shift: int, weights: np.ndarray | None, labels: np.ndarray,
           sorted_weights: np.ndarray | None) -> tuple[float, float]:
    """Replace code ``u`` by ``key``, store its event's label and weight; return (weight, label)."""
    c = codes[u]
    sig = np.float64((c >> np.uint64(shift)) & _ONE)
    x = 1.0
    if weights is not None:
        x = weights[np.int64(c & ((_ONE << np.uint64(shift)) - _ONE))]
    codes[u] = key
    labels[u] = np.uint8(sig)
    if sorted_weights is not None:
        sorted_weights[u] = x
    return x, sig


@compiled()
def resolve_codes_stream(codes: np.ndarray, scores: np.ndarray, weights: np.ndarray | None, shift: int,
                         exact: bool, key_scores: np.ndarray | None, labels: np.ndarray,
                         sorted_weights: np.ndarray | None, totals: np.ndarray) -> None:
    """From ``np.sort``-ed codes (see :func:`label_codes`), in place: ``codes`` become keys that
    separate the tie groups in order, ``labels``/``sorted_weights`` the events' labels and weights
    in that order, ``totals`` the class totals, summed from the top as the sink's running sums are.

    The keys are exact everywhere when ``key_scores`` (the scores again) is given (the written
    ROC's thresholds); otherwise a code keeps its high bits where they separate it from its
    neighbours just as well (its score is never read): where no other code shares them, or
    everywhere when ``exact`` (see :func:`label_codes`). Runs of shared high bits get exact keys.
    """
    bits = scores.view(np.uint64)
    low = (_ONE << np.uint64(shift)) - _ONE
    high = ~((_ONE << np.uint64(shift + 1)) - _ONE)
    ws = 0.0
    wb = 0.0
    w2b = 0.0
    n = codes.shape[0]
    u = n - 1
    while u >= 0:
        # Codes sharing their high bits with no neighbour, in a loop that reads no score: the only
        # random reads are the weights', and the processor keeps many of them in flight.
        while u >= 0:
            c = codes[u]
            top = c & high
            if u > 0 and (codes[u - 1] & high) == top:
                break
            if u >= _PREFETCH_AHEAD:
                ahead = np.int64(codes[u - _PREFETCH_AHEAD] & low)
                if weights is not None:
                    _prefetch(weights, ahead)
                if key_scores is not None:
                    _prefetch(key_scores, ahead)
            key = top
            if key_scores is not None:
                key = _monotone_key(key_scores.view(np.uint64)[np.int64(c & low)])
            x, sig = _place(codes, u, key, shift, weights, labels, sorted_weights)
            ws += x * sig  # adds 0.0 for the other class: the same sums as one class at a time
            wb += x * (1.0 - sig)
            w2b += x * x * (1.0 - sig)
            u -= 1
        if u < 0:
            break
        # a run of codes with equal high bits: put in exact key order, then exact keys
        top = codes[u] & high
        if not exact:
            j = u - 1
            while j > 0 and (codes[j - 1] & high) == top:
                j -= 1
            _order_run(codes, bits, low, j, u + 1)
        while u >= 0 and (codes[u] & high) == top:
            key = top
            if key_scores is not None or not exact:
                key = _monotone_key(bits[np.int64(codes[u] & low)])
            x, sig = _place(codes, u, key, shift, weights, labels, sorted_weights)
            ws += x * sig
            wb += x * (1.0 - sig)
            w2b += x * x * (1.0 - sig)
            u -= 1
    totals[0] = ws
    totals[1] = wb
    totals[2] = w2b


@compiled()
def emit_events(keys: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, sink) -> None:  # type: ignore[no-untyped-def]
    """The points of events in ascending key order (``resolve_codes_stream``'s output), from the top:
    one point per run of equal keys."""
    chunk = _new_chunk()
    ws = 0.0
    wb = 0.0
    cs = 0
    cb = 0
    m = 0
    for t in range(keys.shape[0] - 1, -1, -1):
        sig = np.int64(labels[t])
        x = 1.0
        if weights is not None:
            x = weights[t]
        ws += x * sig  # as resolve_codes_stream sums the totals
        wb += x * (1 - sig)
        cs += sig
        cb += 1 - sig
        if t == 0 or keys[t - 1] != keys[t]:
            _put(chunk, m, ws, wb, cs, cb, keys[t])
            m += 1
            if m == CHUNK:
                _flush(m, chunk, sink)
                m = 0
    if m:
        _flush(m, chunk, sink)


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------


@compiled()
def scan_inputs(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None) -> tuple[int, int, int, int, int, bool, bool]:
    """Every value check, in loops without branches: labels other than 0/1, signal events, NaN
    scores, non-finite and negative weights, and whether any signal / background weight is > 0."""
    n_bad_labels = 0
    n_sig = 0
    n_nan = 0
    for i in range(scores.shape[0]):
        v = labels[i]
        is_sig = v == 1
        n_sig += np.int64(is_sig)
        n_bad_labels += np.int64((v != 0) & (v != 1))
        n_nan += np.int64(scores[i] != scores[i])
    n_bad_w = 0
    n_neg_w = 0
    pos_sig = 0
    pos_bkg = 0
    if weights is not None:
        for i in range(scores.shape[0]):
            x = weights[i]
            sig = np.int64(labels[i] == 1)
            n_bad_w += np.int64(np.abs(x) > np.finfo(np.float64).max) + np.int64(x != x)
            n_neg_w += np.int64(x < 0.0)
            pos = np.int64(x > 0.0)
            pos_sig += pos & sig
            pos_bkg += pos & (1 - sig)
    return n_bad_labels, n_sig, n_nan, n_bad_w, n_neg_w, pos_sig > 0, pos_bkg > 0
