"""Metrics engine: ROC, AUC, SIC, rejections, Dark Machines total improvement, density-ratio gap.

Conventions shared by every function here (stated once, relied on everywhere):

* **Labels** ``y`` are 0 (background) or 1 (signal, i.e. the anomaly we hope to find). Booleans
  are accepted (True = signal).
* **Scores**: higher always means *more anomalous*; there is no direction switch
  (:data:`SCORES_DIRECTION`). A scorer whose natural output runs the other way must negate it
  before handing it in, so that a leaderboard can never silently mix conventions.
* **Cuts**: an event passes a working point with threshold ``t`` when ``score >= t``. Events with
  equal scores are never split by a cut (there is no score that separates them), so a group of
  tied events forms ONE point of the ROC; a run of ties mixing both classes gives a diagonal
  segment. This matches ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``.
* **Weights**: optional non-negative float per event (default 1). Efficiencies are weighted;
  *counts* (``n_bkg_above``, ``n_signal``, ``n_background``) are always unweighted event numbers,
  because the statistical rules below (low-statistics cut, resolvable eps_B) are about how many
  simulated events back a number, not about what cross section they represent.
* **Efficiencies**: ``eps_S = tpr`` (signal efficiency), ``eps_B = fpr`` (background efficiency).
* Everything is computed from ONE ordering of the scores, walked once from the top: each ROC
  point is produced once, and :func:`evaluate_scores` reads every scalar metric off the points as
  they pass, without storing the curve (bit for bit what :func:`evaluate_roc` reads off the
  written :func:`roc_curve`). Only which events tie matters, never their order inside a tie
  group, so no stable sort is needed: scores with few distinct values are grouped in a hash table
  (no event is sorted), others go through one unstable ``np.sort`` of 64-bit codes packing the
  score's order-preserving key, the label and the event index (:mod:`benchmark._roc_stream`). The
  bootstrap sorts each class once and resamples by multiplicities (:mod:`benchmark._roc_kernels`).
* Non-finite scores: NaN is refused; +-inf is allowed (it is ordered like any number).
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "SCORES_DIRECTION",
    "DARK_MACHINES_EPS_B",
    "DEFAULT_EPS_S_POINTS",
    "DEFAULT_EPS_B_POINTS",
    "DEFAULT_MIN_BACKGROUND_EVENTS",
    "Roc",
    "MaxSic",
    "roc_curve",
    "auc",
    "sic_curve",
    "max_sic",
    "eps_b_at_eps_s",
    "rejection_at_eps_s",
    "background_resolves",
    "eps_s_at_eps_b",
    "si_at_eps_b",
    "si_all",
    "total_improvement",
    "density_ratio_gap",
    "evaluate_roc",
    "evaluate_scores",
    "thinned_curves",
    "metric_key",
]

#: Higher score = more anomalous, always. There is deliberately no option to flip it.
SCORES_DIRECTION = "higher_is_more_anomalous"
#: Background efficiencies at which the Dark Machines challenge evaluated SI = eps_S/sqrt(eps_B).
DARK_MACHINES_EPS_B: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
DEFAULT_EPS_S_POINTS: tuple[float, ...] = (0.2, 0.3, 0.5)
DEFAULT_EPS_B_POINTS: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
#: Low-statistics rule for max SIC: at least this many (unweighted) background events must pass.
DEFAULT_MIN_BACKGROUND_EVENTS = 10

# Relative slack when deciding whether n_background * eps_B >= 1 (eps_B given as a decimal float).
_RESOLVE_SLACK = 1e-9


# --------------------------------------------------------------------------------------------
# ROC
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Roc:
    """A tie-collapsed ROC curve, starting at (0, 0) and ending at (1, 1).

    Point ``k`` (k >= 1) selects every event with ``score >= thresholds[k]``; point 0 selects
    nothing and carries the sentinel threshold ``+inf`` (as sklearn does). ``fpr``/``tpr`` are
    non-decreasing. ``n_bkg_above[k]``/``n_sig_above[k]`` are the unweighted numbers of
    background/signal events passing point ``k``. ``total_signal``/``total_background`` are the
    weighted totals that normalise ``tpr``/``fpr``; ``n_signal``/``n_background`` the unweighted
    event counts; ``sum_w2_background`` the background's sum of squared weights (NaN: unknown).
    """

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    n_bkg_above: np.ndarray
    n_sig_above: np.ndarray
    total_signal: float
    total_background: float
    n_signal: int
    n_background: int
    sum_w2_background: float = math.nan

    @property
    def n_background_effective(self) -> float:
        """Kish effective number of background events, ``(sum w)^2 / sum w^2``.

        The statistical weight the background sample really has (equal to ``n_background`` for
        unit weights): an infinite rejection is only known to exceed about this many.
        """
        if not self.sum_w2_background > 0:
            return math.nan
        return self.total_background**2 / self.sum_w2_background

    @property
    def eps_b(self) -> np.ndarray:
        """Background efficiency (alias of ``fpr``)."""
        return self.fpr

    @property
    def eps_s(self) -> np.ndarray:
        """Signal efficiency (alias of ``tpr``)."""
        return self.tpr

    def __len__(self) -> int:
        return int(self.fpr.shape[0])


@dataclass(frozen=True, eq=False)
class _Inputs:
    """Checked inputs: ``labels`` (1-D, contiguous, bool or numeric, every value 0 or 1), ``scores``
    (contiguous float64 without NaN), ``weights`` (contiguous float64, finite, >= 0; None: unit)."""

    labels: np.ndarray
    scores: np.ndarray
    weights: np.ndarray | None
    n_signal: int

    @property
    def is_signal(self) -> np.ndarray:
        """Labels as a bool array (a view where the labels are one byte each)."""
        y = self.labels
        if y.dtype == np.bool_:
            return y
        if y.dtype.itemsize == 1 and y.dtype.kind in "iu":  # checked 0/1 bytes are valid bools
            return y.view(np.bool_)
        return y == 1


def _bad_labels_error(y_arr: np.ndarray, bad: np.ndarray) -> ValueError:
    found = np.unique(y_arr[bad].astype(str))[:5].tolist()
    return ValueError(f"labels must be 0 (background) or 1 (signal); found {found}")


def _checked(y: Any, scores: Any, weights: Any = None) -> _Inputs:
    """Check the inputs (shapes, types, then every value in one pass) and return them as used."""
    y_arr = np.asarray(y)
    s = np.asarray(scores)
    if y_arr.ndim != 1:
        raise ValueError(f"labels y must be a 1-D array, got shape {y_arr.shape}")
    if s.ndim != 1:
        raise ValueError(f"scores must be a 1-D array, got shape {s.shape}")
    if y_arr.shape[0] != s.shape[0]:
        raise ValueError(f"lengths differ: y has {y_arr.shape[0]} entries but scores has {s.shape[0]}")
    try:
        s = np.ascontiguousarray(s, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"scores must be numeric: {exc}") from None
    if y_arr.dtype.kind in "biuf":
        labels = np.ascontiguousarray(y_arr)
    else:  # strings, objects, complex: numpy compares, and anything but 0/1 is refused
        try:
            bad = (y_arr != 0) & (y_arr != 1)
        except TypeError:
            bad = np.ones(y_arr.shape, dtype=bool)
        bad = np.asarray(bad, dtype=bool)
        if bad.shape != y_arr.shape:  # numpy returned a scalar for incomparable dtypes
            bad = np.ones(y_arr.shape, dtype=bool)
        if bad.any():
            raise _bad_labels_error(y_arr, bad)
        labels = np.ascontiguousarray(y_arr == 1)
    w: np.ndarray | None = None
    weight_error: str | None = None
    if weights is not None:
        w = np.asarray(weights)
        if w.ndim != 1:
            weight_error = f"weights must be a 1-D array, got shape {w.shape}"
        elif w.shape[0] != s.shape[0]:
            weight_error = f"lengths differ: weights has {w.shape[0]} entries but scores has {s.shape[0]}"
        else:
            try:
                w = np.ascontiguousarray(w, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                weight_error = f"weights must be numeric: {exc}"
        if weight_error is not None:
            w = None
    n_bad_labels, n_sig, n_nan, n_bad_w, n_neg_w, any_sig_w, any_bkg_w = _stream_kernels().scan_inputs(labels, s, w)
    if n_bad_labels:
        raise _bad_labels_error(y_arr, (y_arr != 0) & (y_arr != 1))
    if n_nan:
        raise ValueError(f"scores contain {n_nan} NaN value(s); score every event with a number")
    if weight_error is not None:
        raise ValueError(weight_error)
    if n_bad_w:
        raise ValueError("weights must be finite (found NaN or inf)")
    if n_neg_w:
        raise ValueError(f"weights must be non-negative; found {n_neg_w} negative weight(s)")
    if n_sig == 0:
        raise ValueError("no signal events (y == 1): ROC metrics need both classes")
    if n_sig == s.shape[0]:
        raise ValueError("no background events (y == 0): ROC metrics need both classes")
    if w is not None:
        if not any_sig_w:
            raise ValueError("no signal weight: the signal weights sum to zero")
        if not any_bkg_w:
            raise ValueError("no background weight: the background weights sum to zero")
    return _Inputs(labels, s, w, int(n_sig))


def _validate(y: Any, scores: Any, weights: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Check inputs and return (is_signal bool array, scores float64, weights float64 or None)."""
    inputs = _checked(y, scores, weights)
    return inputs.is_signal, inputs.scores, inputs.weights


def _kernels():  # type: ignore[no-untyped-def]
    """The numba kernels of the class-split sort (the bootstrap's), imported on first use
    (importing this module stays numba-free)."""
    from benchmark import _roc_kernels

    return _roc_kernels


def _stream_kernels():  # type: ignore[no-untyped-def]
    """The numba kernels of the one-pass ROC walks, imported on first use."""
    from benchmark import _roc_stream

    return _roc_stream


@dataclass(frozen=True, eq=False)
class _ClassSorted:
    """One class's events sorted by score (ascending; order inside a tie group arbitrary).

    ``keys`` are the kernels' order-preserving integer keys of the scores, ``weights`` (None: unit
    weights) follow them, and ``order`` (only when asked for) is each sorted event's position
    among its class's events in input order.
    """

    keys: np.ndarray
    weights: np.ndarray | None = None
    order: np.ndarray | None = None


def _code_shift(n: int) -> int:
    """Low key bits that make room for an index below ``n``."""
    return max(1, (n - 1).bit_length())


def _sort_by_class(
    s: np.ndarray, is_sig: np.ndarray, w: np.ndarray | None, *, with_order: bool = False,
) -> tuple[_ClassSorted, _ClassSorted]:
    """Each class's events sorted by score, for the bootstrap (which resamples per class and
    needs each event's place: ``with_order``), with one ``np.sort`` (unstable, SIMD) per class.

    Packed (key, index) codes are sorted and one pass turns them into exact keys, weights and
    order (see :mod:`benchmark._roc_kernels`). Splitting by class keeps the label out of the sort
    key; only which events tie matters downstream, never their order in a tie group.
    """
    kernels = _kernels()
    s = np.ascontiguousarray(s, dtype=np.float64)
    n_sig = int(np.count_nonzero(is_sig))
    n_bkg = s.shape[0] - n_sig
    shift_s, shift_b = _code_shift(n_sig), _code_shift(n_bkg)
    n = n_sig + n_bkg
    code_block, rec_block = np.empty(n, np.uint64), np.empty(2 * n)
    codes_s, codes_b = code_block[:n_sig], code_block[n_sig:]
    rec_s, rec_b = rec_block[: 2 * n_sig].reshape(n_sig, 2), rec_block[2 * n_sig:].reshape(n_bkg, 2)
    kernels.class_codes(s, is_sig, w, shift_s, shift_b, codes_s, rec_s, codes_b, rec_b)
    out = []
    for codes, rec, shift in ((codes_s, rec_s, shift_s), (codes_b, rec_b, shift_b)):
        codes.sort()
        m = codes.shape[0]
        keys = np.empty(m, np.uint64)
        weights = None if w is None else np.empty(m)
        order = np.empty(m, np.int64) if with_order else None
        kernels.resolve_codes(codes, rec, shift, keys, weights, order)
        out.append(_ClassSorted(keys, weights, order))
    return out[0], out[1]


def _roc_buffers(n_points: int) -> tuple[np.ndarray, ...]:
    """Empty (fpr, tpr, n_bkg_above, n_sig_above, thresholds) arrays for up to ``n_points`` points."""
    return (np.empty(n_points), np.empty(n_points), np.empty(n_points, np.int64),
            np.empty(n_points, np.int64), np.empty(n_points))


def _trimmed(arrays: Sequence[np.ndarray], n_points: int) -> list[np.ndarray]:
    """The first ``n_points`` of each array: views, or copies where a view would keep much unused
    memory alive."""
    return [a[:n_points] if 2 * n_points > a.shape[0] else a[:n_points].copy() for a in arrays]


def _roc_from_sorted(
    sig: _ClassSorted,
    bkg: _ClassSorted,
    mult_sig: np.ndarray | None = None,
    mult_bkg: np.ndarray | None = None,
    buffers: tuple[np.ndarray, ...] | None = None,
) -> Roc:
    """Build the ROC of the two sorted classes in one merging pass (the bootstrap's replicates).

    ``mult_*`` (optional, integer, in sorted order) is a per-event multiplicity: the event counts
    ``mult`` times, both in the weighted sums and in the unweighted counts; the bootstrap uses it
    to resample without re-sorting (a resampled event set is the original one with multinomial
    counts). ``buffers`` (from :func:`_roc_buffers`) are filled instead of new arrays, so that
    replicates reuse their memory.
    """
    n_max = sig.keys.shape[0] + bkg.keys.shape[0] + 1
    fpr, tpr, n_bkg, n_sig, thr = buffers if buffers is not None else _roc_buffers(n_max)
    g, total_s, total_b, sum_w2_b = _kernels().merge_roc(
        sig.keys, sig.weights, mult_sig, bkg.keys, bkg.weights, mult_bkg, fpr, tpr, n_bkg, n_sig, thr
    )
    arrays = _trimmed((fpr, tpr, n_bkg, n_sig, thr), g + 1)
    return Roc(
        fpr=arrays[0],
        tpr=arrays[1],
        thresholds=arrays[4],
        n_bkg_above=arrays[2],
        n_sig_above=arrays[3],
        total_signal=float(total_s),
        total_background=float(total_b),
        n_signal=int(n_sig[g]),
        n_background=int(n_bkg[g]),
        sum_w2_background=float(sum_w2_b),
    )


# --------------------------------------------------------------------------------------------
# The one-pass walk (evaluate_scores, roc_curve): see benchmark._roc_stream
# --------------------------------------------------------------------------------------------

#: The grouping route is tried first and gives up beyond this many distinct scores (at most
#: 1/64 of the events, at least 256): a hash table that small stays in cache, and giving up after
#: so many events costs little next to the sort that follows.
_MAX_GROUPS = 1 << 14
_MIN_GROUPS = 256


def _group_cap(n: int) -> int:
    return min(max(n // 64, _MIN_GROUPS), _MAX_GROUPS)


class _Sink:
    """The arrays the kernels' sink fills (layout in :mod:`benchmark._roc_stream`).

    ``n_points`` > 0: write mode, the ROC's arrays for up to that many points (point 0, the
    empty selection, already set); 0: stream mode, the metrics at the (checked, float) targets.
    """

    def __init__(self, n_points: int, eps_s: Sequence[float] = (), eps_b: Sequence[float] = (),
                 min_background_events: int = 0) -> None:
        self.totals = np.zeros(3)
        self.state = np.zeros(4)
        self.istate = np.array([0, 0, 0, int(n_points > 0), int(min_background_events)], np.int64)
        self.best = np.full((2, 4), math.nan)
        self.best[:, 0] = -1.0
        self.best_keys = np.zeros(2, np.uint64)
        self.eps_s = np.array(sorted(set(eps_s)), dtype=np.float64)
        self.eps_b = np.array(sorted(set(eps_b)), dtype=np.float64)
        self.at_eps_s = np.full((self.eps_s.shape[0], 4), math.nan)
        self.at_eps_b = np.full((self.eps_b.shape[0], 5), math.nan)
        self.arrays = _roc_buffers(max(n_points, 1))
        if n_points:
            fpr, tpr, n_bkg, n_sig, thr = self.arrays
            fpr[0] = tpr[0] = 0.0
            n_bkg[0] = n_sig[0] = 0
            thr[0] = math.inf

    def as_tuple(self) -> tuple[np.ndarray, ...]:
        return (self.totals, self.state, self.istate, self.best, self.best_keys, self.eps_s, self.at_eps_s,
                self.eps_b, self.at_eps_b, *self.arrays)

    @property
    def n_points(self) -> int:
        """Points emitted, the starting point (0, 0) included."""
        return int(self.istate[0]) + 1


def _walk(inputs: _Inputs, sink: _Sink, route: str | None = None) -> None:
    """Feed every ROC point of ``inputs`` to ``sink``, by the grouping route when the scores take
    few distinct values, else by the codes route (``route`` forces one: "groups" or "codes")."""
    kernels = _stream_kernels()
    y, s, w = inputs.labels, inputs.scores, inputs.weights
    n = s.shape[0]
    if route != "codes":
        cap = n if route == "groups" else _group_cap(n)
        used, keys, sums, counts = kernels.group_scores(y, s, w, cap, route is None)
        if used >= 0:
            slots = np.flatnonzero(keys)
            slots = slots[np.argsort(keys[slots])]
            kernels.emit_groups(keys[slots], sums[slots], counts[slots], sink.as_tuple())
            return
    shift = _code_shift(n)
    codes = np.empty(n, np.uint64)
    exact = kernels.label_codes(y, s, shift, codes)
    codes.sort()
    labels = np.empty(n, np.uint8)
    sorted_weights = None if w is None else np.empty(n)
    key_scores = s if sink.istate[3] else None  # the written ROC's thresholds are the exact scores
    kernels.resolve_codes_stream(codes, s, w, shift, exact, key_scores, labels, sorted_weights, sink.totals)
    kernels.emit_events(codes, labels, sorted_weights, sink.as_tuple())


def _roc_of(inputs: _Inputs, route: str | None = None) -> Roc:
    """The ROC of checked inputs (the sink in write mode)."""
    sink = _Sink(inputs.scores.shape[0] + 1)  # room for every event (untouched pages cost nothing)
    _walk(inputs, sink, route)
    g = sink.n_points
    fpr, tpr, n_bkg, n_sig, thr = _trimmed(sink.arrays, g)
    ws, wb, w2b = (float(v) for v in sink.totals)
    return Roc(fpr=fpr, tpr=tpr, thresholds=thr, n_bkg_above=n_bkg, n_sig_above=n_sig, total_signal=ws,
               total_background=wb, n_signal=int(n_sig[-1]), n_background=int(n_bkg[-1]), sum_w2_background=w2b)


def roc_curve(y: Any, scores: Any, weights: Any = None) -> Roc:
    """Tie-collapsed ROC of ``scores`` for labels ``y`` (1 = signal), optionally weighted.

    One point per distinct score value (cut ``score >= threshold``), plus the starting point
    (0, 0) with threshold ``+inf``; identical to sklearn's ``roc_curve(drop_intermediate=False)``
    so that AUCs and curves can be cross-checked. See the module docstring for all conventions.
    """
    return _roc_of(_checked(y, scores, weights))


def _roc_auc(roc: Roc) -> float:
    return float(_kernels().trapezoid_auc(roc.fpr, roc.tpr))


def auc(y: Any, scores: Any = None, weights: Any = None) -> float:
    """Area under the tie-collapsed ROC by the trapezoidal rule.

    Call as ``auc(roc)`` or ``auc(y, scores, weights=None)``. Trapezoids over diagonal tie
    segments count a tied signal/background pair as 1/2, so the value equals
    ``sklearn.metrics.roc_auc_score`` (with ``sample_weight``) and the weighted Mann-Whitney
    probability P(score_S > score_B) + P(score_S == score_B)/2.
    """
    if isinstance(y, Roc):
        if scores is not None or weights is not None:
            raise TypeError("auc(roc) takes no scores or weights")
        return _roc_auc(y)
    if scores is None:
        raise TypeError("auc needs a Roc or (y, scores)")
    return _roc_auc(roc_curve(y, scores, weights))


# --------------------------------------------------------------------------------------------
# SIC
# --------------------------------------------------------------------------------------------


def sic_curve(roc: Roc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Significance improvement ``eps_S / sqrt(eps_B)`` at every ROC point with ``eps_B > 0``.

    Returns ``(eps_b, eps_s, sic)``. Points with ``eps_B == 0`` are dropped: SIC is unbounded
    there and no finite background sample can back it.
    """
    mask = roc.fpr > 0
    eb = roc.fpr[mask]
    es = roc.tpr[mask]
    return eb, es, es / np.sqrt(eb)


@dataclass(frozen=True)
class MaxSic:
    """Maximum SIC under the low-statistics rule, and without it.

    ``value`` is the max of eps_S/sqrt(eps_B) over ROC points where at least
    ``min_background_events`` (unweighted) background events pass; NaN when no point qualifies
    (fewer background events in total than the rule asks for). ``eps_s``/``eps_b``/``threshold``/
    ``n_bkg`` describe the working point where it occurs. The ``unconstrained*`` fields are the
    same maximum over all points with eps_B > 0. On ties in SIC the tightest cut (first point)
    wins.
    """

    value: float
    eps_s: float
    eps_b: float
    threshold: float
    n_bkg: int
    unconstrained: float
    unconstrained_eps_s: float
    unconstrained_eps_b: float
    unconstrained_threshold: float
    unconstrained_n_bkg: int
    min_background_events: int


def _max_sic_indices(roc: Roc, min_background_events: int) -> tuple[int, int]:
    """ROC indices of the max SIC with and without the low-statistics rule (-1 where no point
    qualifies), in one pass without temporaries."""
    i_con, i_all = _kernels().max_sic_points(roc.fpr, roc.tpr, roc.n_bkg_above, int(min_background_events))
    return int(i_con), int(i_all)


def max_sic(roc: Roc, min_background_events: int = DEFAULT_MIN_BACKGROUND_EVENTS) -> MaxSic:
    """Max of eps_S/sqrt(eps_B) over ROC working points, with the low-statistics rule.

    The rule (declared, default 10, as in the "full phase space resonant anomaly detection"
    study) keeps only cuts passed by at least ``min_background_events`` unweighted background
    events: the SIC of a cut passed by 1-2 background events is dominated by their Poisson
    fluctuation and would reward luck. Only ROC vertices need checking: along a straight ROC
    segment eps_S/sqrt(eps_B) is quasi-convex, so its maximum sits at an end.
    """
    _check_min_background(min_background_events)
    i_con, i_all = _max_sic_indices(roc, min_background_events)

    def point(i: int) -> _SicPoint | None:
        if i < 0:
            return None
        return float(roc.tpr[i]), float(roc.fpr[i]), float(roc.thresholds[i]), int(roc.n_bkg_above[i])

    return _max_sic_of(point(i_con), point(i_all), min_background_events)


#: A max-SIC working point: (eps_S, eps_B, threshold, background events passing).
_SicPoint = tuple[float, float, float, int]


def _check_min_background(min_background_events: int) -> None:
    if min_background_events < 0:
        raise ValueError(f"min_background_events must be >= 0, got {min_background_events}")


def _max_sic_of(con: _SicPoint | None, unconstrained: _SicPoint | None, min_background_events: int) -> MaxSic:
    """MaxSic from its two working points (None: no point qualifies)."""

    def fields(p: _SicPoint | None) -> tuple[float, float, float, float, int]:
        if p is None:
            return math.nan, math.nan, math.nan, math.nan, 0
        es, eb, thr, nb = p
        return es / math.sqrt(eb), es, eb, thr, nb

    return MaxSic(*fields(con), *fields(unconstrained), int(min_background_events))


# --------------------------------------------------------------------------------------------
# Fixed-efficiency working points (linear interpolation on the ROC polyline)
# --------------------------------------------------------------------------------------------


def _check_eff(name: str, value: float) -> float:
    v = float(value)
    if not (0.0 < v <= 1.0):
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return v


def eps_b_at_eps_s(roc: Roc, eps_s: float) -> float:
    """Background efficiency at signal efficiency ``eps_s``, interpolated linearly on the ROC.

    Convention: the ROC is the polyline through its tie-collapsed points (as for the AUC). If
    some point has exactly ``tpr == eps_s`` the smallest ``fpr`` among such points is returned
    (the best working point reaching that efficiency); otherwise eps_B is interpolated linearly
    between the last point below and the first point above ``eps_s``. Linear interpolation is
    what a randomised cut between the two neighbouring thresholds achieves, so the value is
    attainable, and it does not depend on how finely ties happen to be broken.
    """
    target = _check_eff("eps_s", eps_s)
    tpr, fpr = roc.tpr, roc.fpr
    i = int(np.searchsorted(tpr, target, side="left"))  # first point with tpr >= target; i >= 1
    return _eps_b_between(target, float(tpr[i - 1]), float(fpr[i - 1]), float(tpr[i]), float(fpr[i]))


def _eps_b_between(target: float, t0: float, f0: float, t1: float, f1: float) -> float:
    """eps_B at ``eps_s = target`` from the point before the first one reaching it, (t0, f0), and
    that point, (t1, f1) (shared by the ROC read-off and the streamed metrics)."""
    if t1 == target:
        return f1
    return f0 + (target - t0) / (t1 - t0) * (f1 - f0)


def _rejection(eps_b: float) -> float:
    return math.inf if eps_b <= 0.0 else 1.0 / eps_b


def rejection_at_eps_s(roc: Roc, eps_s: float) -> float:
    """Background rejection ``1/eps_B`` at signal efficiency ``eps_s``.

    eps_B comes from :func:`eps_b_at_eps_s` (linear interpolation on the ROC); the rejection is
    ``inf`` when eps_B is 0 there (no background passes the cut that keeps ``eps_s`` of signal).
    """
    return _rejection(eps_b_at_eps_s(roc, eps_s))


def background_resolves(roc: Roc, eps_b: float) -> bool:
    """Whether the background sample can resolve ``eps_b``: at least ``1/eps_b`` events.

    With fewer background events the first background event already moves eps_B past the
    requested value, so any eps_S "at" it is an extrapolation of the ROC's first segment.
    Counted in unweighted events.
    """
    return _resolves(roc.n_background, _check_eff("eps_b", eps_b))


def _resolves(n_background: int, eps_b: float) -> bool:
    return n_background * eps_b >= 1.0 - _RESOLVE_SLACK


def eps_s_at_eps_b(roc: Roc, eps_b: float, *, allow_unresolved: bool = False) -> float:
    """Signal efficiency at background efficiency ``eps_b``, interpolated linearly on the ROC.

    Convention mirrors :func:`eps_b_at_eps_s`: at an exact ``fpr == eps_b`` the largest ``tpr``
    among such points is returned, otherwise linear interpolation between the neighbouring ROC
    points. Returns NaN when the background sample is too small (see
    :func:`background_resolves`) unless ``allow_unresolved`` is set.
    """
    target = _check_eff("eps_b", eps_b)
    if not allow_unresolved and not background_resolves(roc, target):
        return math.nan
    fpr, tpr = roc.fpr, roc.tpr
    j = int(np.searchsorted(fpr, target, side="right")) - 1  # last point with fpr <= target
    if j == fpr.shape[0] - 1:
        return float(tpr[j])
    return _eps_s_between(target, float(fpr[j]), float(tpr[j]), float(fpr[j + 1]), float(tpr[j + 1]))


def _eps_s_between(target: float, f0: float, t0: float, f1: float, t1: float) -> float:
    """eps_S at ``eps_b = target`` from the last point at or below it, (f0, t0), and the next
    point, (f1, t1) (shared by the ROC read-off and the streamed metrics)."""
    if f0 == target:
        return t0
    return t0 + (target - f0) / (f1 - f0) * (t1 - t0)


def si_at_eps_b(roc: Roc, eps_b: float, *, allow_unresolved: bool = False) -> float:
    """Signal improvement ``SI = eps_S / sqrt(eps_B)`` at fixed ``eps_b`` (NaN if unresolved)."""
    es = eps_s_at_eps_b(roc, eps_b, allow_unresolved=allow_unresolved)
    return es / math.sqrt(float(eps_b))


def si_all(
    roc: Roc,
    eps_b_points: Sequence[float] = DARK_MACHINES_EPS_B,
    *,
    allow_unresolved: bool = False,
) -> float:
    """Dark Machines ``SI_All``: the max of SI = eps_S/sqrt(eps_B) over the cuts eps_B in
    {1e-2, 1e-3, 1e-4}.

    Cuts the background sample cannot resolve are left out of the max (flagged as
    ``si_all_complete = False`` by :func:`evaluate_roc`); NaN if none resolves.
    """
    vals = [si_at_eps_b(roc, e, allow_unresolved=allow_unresolved) for e in eps_b_points]
    finite = [v for v in vals if not math.isnan(v)]
    return max(finite) if finite else math.nan


# --------------------------------------------------------------------------------------------
# Dark Machines total improvement, density-ratio gap
# --------------------------------------------------------------------------------------------


def total_improvement(
    si_all: Mapping[tuple[Hashable, Hashable], float],
    expected: Iterable[tuple[Hashable, Hashable]] | None = None,
) -> dict[str, Any]:
    """Dark Machines Total Improvement of one model from its per-(channel, signal) ``SI_All``.

    ``TI(signal)`` is the max of ``SI_All`` over the channels containing that signal (a signal
    injected in several channels counts as found where the model sees it best); the summary is
    the min / median / max of TI over signals (``np.median``: mean of the middle two for an
    even count). Returns ``{"min", "median", "max", "per_signal": {signal: TI},
    "best_channel": {signal: channel}, "n_signals", "complete", "missing", "ignored"}``.

    Completeness: the challenge dropped models that lacked a channel for a signal. ``expected``
    lists the required (channel, signal) pairs; pairs that are absent or NaN are reported in
    ``missing`` and make ``complete`` False (values are still computed over what is there, so
    the caller decides). With ``expected`` given, pairs outside it are ``ignored`` (the expected
    list defines which channels contain which signal). Without it, only NaN entries count as
    missing.
    """
    provided: dict[tuple[Hashable, Hashable], float] = {}
    for key, value in si_all.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"si_all keys must be (channel, signal) pairs, got {key!r}")
        provided[key] = float(value)
    ignored: list[tuple[Hashable, Hashable]] = []
    if expected is not None:
        expected_list = list(dict.fromkeys(tuple(p) for p in expected))
        for p in expected_list:
            if len(p) != 2:
                raise ValueError(f"expected entries must be (channel, signal) pairs, got {p!r}")
        exp_set = set(expected_list)
        ignored = [k for k in provided if k not in exp_set]
        considered = expected_list
    else:
        considered = list(provided)
    missing = [k for k in considered if k not in provided or math.isnan(provided[k])]
    per_signal: dict[Hashable, float] = {}
    best_channel: dict[Hashable, Hashable] = {}
    for key in considered:
        if key in missing:
            continue
        channel, signal = key
        v = provided[key]
        if signal not in per_signal or v > per_signal[signal]:
            per_signal[signal] = v
            best_channel[signal] = channel
    ti = np.array(list(per_signal.values()), dtype=np.float64)
    if ti.size:
        lo, med, hi = float(ti.min()), float(np.median(ti)), float(ti.max())
    else:
        lo = med = hi = math.nan
    return {
        "min": lo,
        "median": med,
        "max": hi,
        "per_signal": per_signal,
        "best_channel": best_channel,
        "n_signals": int(ti.size),
        "complete": not missing,
        "missing": missing,
        "ignored": ignored,
    }


def density_ratio_gap(auc_supervised: float, auc_ratio: float) -> dict[str, float]:
    """How far a density-ratio (weakly supervised / idealised) classifier falls short of the
    fully supervised one.

    ``gap = auc_supervised - auc_ratio``; ``normalised = gap / (auc_supervised - 0.5)``, the
    share of the supervised classifier's margin over random guessing that is lost: 0 = the ratio
    matches supervised, 1 = the ratio is no better than random (negative: ratio beats
    supervised; > 1: worse than random). ``normalised`` is NaN when ``auc_supervised`` is 0.5,
    where there is no margin to lose.
    """
    sup, rat = float(auc_supervised), float(auc_ratio)
    for name, v in (("auc_supervised", sup), ("auc_ratio", rat)):
        if not (0.0 <= v <= 1.0):
            raise ValueError(f"{name} must be an AUC in [0, 1], got {v!r}")
    gap = sup - rat
    margin = sup - 0.5
    normalised = math.nan if abs(margin) < 1e-12 else gap / margin
    return {"gap": gap, "normalised": normalised}


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def parse_metric_key(key: str) -> tuple[str, str, float] | None:
    """``"rejection@eps_s=0.3"`` -> ``("rejection", "eps_s", 0.3)``; ``None`` for a key without a
    working point (``auc``) or one that does not parse. The inverse of :func:`metric_key`, shared
    by the registry's validation, the judge's working points and the leaderboard's footnotes."""
    head, eq, value = key.partition("=")
    metric, at, var = head.partition("@")
    if not (eq and at and metric and var in ("eps_s", "eps_b")):
        return None
    try:
        return metric, var, float(value)
    except ValueError:
        return None


def metric_key(name: str, var: str, value: float) -> str:
    """Stable result-dict key, e.g. ``metric_key("rejection", "eps_s", 0.3) == "rejection@eps_s=0.3"``.

    The number is written with ``repr(float(value))`` (shortest round-trip form): 0.3 -> "0.3",
    1e-3 -> "0.001", 1e-4 -> "0.0001", 1e-5 -> "1e-05".
    """
    return f"{name}@{var}={float(value)!r}"


def _json_float(v: float) -> float | None:
    """NaN -> None (JSON null); +-inf stays a float (``json.dumps`` writes ``Infinity``)."""
    v = float(v)
    return None if math.isnan(v) else v


@dataclass(frozen=True)
class _Readout:
    """Everything :func:`evaluate_roc` reports, read off a ROC or streamed past without one.

    ``eps_b_at_eps_s`` maps each eps_S target to the interpolated eps_B; ``eps_s_at_eps_b`` each
    eps_B target to the interpolated eps_S, before the resolution rule is applied.
    """

    n_signal: int
    n_background: int
    total_signal: float
    total_background: float
    n_background_effective: float
    auc: float
    max_sic: MaxSic
    eps_b_at_eps_s: dict[float, float]
    eps_s_at_eps_b: dict[float, float]


def _targets(eps_s_points: Sequence[float], eps_b_points: Sequence[float]) -> tuple[list[float], list[float]]:
    """The checked eps_S targets, and the eps_B targets with the Dark Machines cuts (for SI_All)."""
    eps_s = [_check_eff("eps_s", e) for e in eps_s_points]
    eps_b = [_check_eff("eps_b", e) for e in (*eps_b_points, *DARK_MACHINES_EPS_B)]
    return eps_s, eps_b


def _readout_of_roc(roc: Roc, min_background_events: int, eps_s: Sequence[float],
                    eps_b: Sequence[float]) -> _Readout:
    return _Readout(
        n_signal=roc.n_signal,
        n_background=roc.n_background,
        total_signal=roc.total_signal,
        total_background=roc.total_background,
        n_background_effective=roc.n_background_effective,
        auc=_roc_auc(roc),
        max_sic=max_sic(roc, min_background_events),
        eps_b_at_eps_s={e: eps_b_at_eps_s(roc, e) for e in eps_s},
        eps_s_at_eps_b={e: eps_s_at_eps_b(roc, e, allow_unresolved=True) for e in eps_b},
    )


def _key_floats(keys: np.ndarray) -> np.ndarray:
    """The scores whose order-preserving keys are ``keys`` (inverse of the kernels' key)."""
    sign = np.uint64(1) << np.uint64(63)
    return np.where(keys & sign, keys & ~sign, ~keys).astype(np.uint64).view(np.float64)


def _streamed_readout(inputs: _Inputs, min_background_events: int, eps_s: Sequence[float],
                      eps_b: Sequence[float], route: str | None = None) -> _Readout:
    """The readout of checked inputs without building their ROC: the sink in stream mode reads
    the same numbers off the same points as :func:`_readout_of_roc` (bit for bit)."""
    _check_min_background(min_background_events)
    sink = _Sink(0, eps_s, eps_b, min_background_events)
    _walk(inputs, sink, route)
    ws, wb, w2b = (float(v) for v in sink.totals)
    n_signal = inputs.n_signal
    n_background = inputs.scores.shape[0] - n_signal
    last_fpr, last_tpr, auc_closed, auc_open = (float(v) for v in sink.state)
    thresholds = _key_floats(sink.best_keys)

    def sic_point(row: int) -> _SicPoint | None:
        if not sink.best[row, 0] >= 0.0:
            return None
        es, eb, nb = (float(v) for v in sink.best[row, 1:])
        return es, eb, float(thresholds[row]), int(nb)

    at_s = {float(e): tuple(float(v) for v in r) for e, r in zip(sink.eps_s, sink.at_eps_s)}
    at_b = {float(e): tuple(float(v) for v in r) for e, r in zip(sink.eps_b, sink.at_eps_b)}

    def eps_s_at(e: float) -> float:
        f0, t0, f1, t1, has_next = at_b[e]
        if has_next != 1.0:  # no point passes e: the last point (1, 1) is the one at or below it
            return last_tpr
        return _eps_s_between(e, f0, t0, f1, t1)

    return _Readout(
        n_signal=n_signal,
        n_background=n_background,
        total_signal=ws,
        total_background=wb,
        n_background_effective=wb**2 / w2b if w2b > 0 else math.nan,
        auc=0.5 * (auc_closed + auc_open),
        max_sic=_max_sic_of(sic_point(0), sic_point(1), min_background_events),
        eps_b_at_eps_s={e: _eps_b_between(e, *at_s[e]) for e in eps_s},
        eps_s_at_eps_b={e: eps_s_at(e) for e in eps_b},
    )


def _report(r: _Readout, min_background_events: int, eps_s_points: Sequence[float],
            eps_b_points: Sequence[float]) -> dict[str, Any]:
    """The flat result dict of :func:`evaluate_scores` from a readout."""
    out: dict[str, Any] = {
        "n_signal": r.n_signal,
        "n_background": r.n_background,
        "sum_w_signal": r.total_signal,
        "sum_w_background": r.total_background,
        "n_background_effective": _json_float(r.n_background_effective),
        "auc": r.auc,
    }
    ms = r.max_sic
    out.update(
        {
            "max_sic": _json_float(ms.value),
            "max_sic_eps_s": _json_float(ms.eps_s),
            "max_sic_eps_b": _json_float(ms.eps_b),
            "max_sic_n_background": ms.n_bkg,
            "max_sic_unconstrained": _json_float(ms.unconstrained),
            "max_sic_unconstrained_eps_s": _json_float(ms.unconstrained_eps_s),
            "max_sic_unconstrained_eps_b": _json_float(ms.unconstrained_eps_b),
            "max_sic_unconstrained_n_background": ms.unconstrained_n_bkg,
            "min_background_events": int(min_background_events),
        }
    )

    def eps_s_at(e: float) -> float:  # NaN where the background cannot resolve e
        return r.eps_s_at_eps_b[e] if _resolves(r.n_background, e) else math.nan

    for e in eps_s_points:
        out[metric_key("rejection", "eps_s", e)] = _json_float(_rejection(r.eps_b_at_eps_s[float(e)]))
    for e in eps_b_points:
        es = eps_s_at(float(e))
        out[metric_key("eps_s", "eps_b", e)] = _json_float(es)
        out[metric_key("si", "eps_b", e)] = _json_float(es / math.sqrt(float(e)))
        out[metric_key("resolved", "eps_b", e)] = _resolves(r.n_background, float(e))
    si = [eps_s_at(e) / math.sqrt(e) for e in DARK_MACHINES_EPS_B]
    finite = [v for v in si if not math.isnan(v)]
    out["si_all"] = _json_float(max(finite) if finite else math.nan)
    out["si_all_complete"] = all(_resolves(r.n_background, e) for e in DARK_MACHINES_EPS_B)
    return out


def evaluate_roc(
    roc: Roc,
    *,
    min_background_events: int = DEFAULT_MIN_BACKGROUND_EVENTS,
    eps_s_points: Sequence[float] = DEFAULT_EPS_S_POINTS,
    eps_b_points: Sequence[float] = DEFAULT_EPS_B_POINTS,
) -> dict[str, Any]:
    """All scalar metrics of :func:`evaluate_scores`, read off an existing ROC."""
    eps_s, eps_b = _targets(eps_s_points, eps_b_points)
    readout = _readout_of_roc(roc, min_background_events, eps_s, eps_b)
    return _report(readout, min_background_events, eps_s_points, eps_b_points)


def evaluate_scores(
    y: Any,
    scores: Any,
    weights: Any = None,
    *,
    min_background_events: int = DEFAULT_MIN_BACKGROUND_EVENTS,
    eps_s_points: Sequence[float] = DEFAULT_EPS_S_POINTS,
    eps_b_points: Sequence[float] = DEFAULT_EPS_B_POINTS,
) -> dict[str, Any]:
    """Every scalar metric of one score vector, as a flat JSON-friendly dict.

    Equal, bit for bit, to ``evaluate_roc(roc_curve(y, scores, weights), ...)``, but the ROC is
    never stored: the metrics are read off its points as one pass produces them (see
    :mod:`benchmark._roc_stream`). Callers that need the curve too build it with
    :func:`roc_curve` and call :func:`evaluate_roc`.

    Keys (numbers in keys formatted by :func:`metric_key`):

    * ``n_signal``, ``n_background`` (unweighted counts), ``sum_w_signal``, ``sum_w_background``,
      ``n_background_effective`` (Kish effective count, :attr:`Roc.n_background_effective`)
    * ``auc``
    * ``max_sic`` (low-statistics rule), ``max_sic_eps_s``, ``max_sic_eps_b``,
      ``max_sic_n_background``, ``max_sic_unconstrained``, ``max_sic_unconstrained_eps_s``,
      ``max_sic_unconstrained_eps_b``, ``max_sic_unconstrained_n_background``,
      ``min_background_events``
    * ``rejection@eps_s=X`` for X in ``eps_s_points`` (``inf`` when eps_B = 0 there)
    * ``eps_s@eps_b=X``, ``si@eps_b=X``, ``resolved@eps_b=X`` for X in ``eps_b_points``
      (values ``None`` when not resolved)
    * ``si_all`` (Dark Machines cuts 1e-2, 1e-3, 1e-4 regardless of ``eps_b_points``) and
      ``si_all_complete`` (all three cuts resolved)

    Undefined values are ``None``; infinite rejections stay ``float('inf')``.
    """
    eps_s, eps_b = _targets(eps_s_points, eps_b_points)
    readout = _streamed_readout(_checked(y, scores, weights), min_background_events, eps_s, eps_b)
    return _report(readout, min_background_events, eps_s_points, eps_b_points)


def thinned_curves(roc: Roc, n_points: int = 200) -> dict[str, list]:
    """ROC and SIC curves thinned to at most ``n_points`` points, for storage in JSON.

    Kept: both endpoints, the highest-eps_S point at eps_B = 0, the two max-SIC points (with
    and without the low-statistics rule), and for eps_B values log-spaced from the smallest
    non-zero eps_B to 1 the highest-eps_S ROC point at or below each (as many values as fit the
    budget once duplicates are merged), so the low-eps_B region that anomaly searches live in
    survives thinning; a curve with at most ``n_points`` points is returned whole. Returns lists
    ``eps_b``, ``eps_s``, ``sic`` (``None`` where eps_B = 0) and ``n_bkg_above``.
    """
    if n_points < 8:
        raise ValueError(f"n_points must be >= 8, got {n_points}")
    fpr, tpr = roc.fpr, roc.tpr
    n = fpr.shape[0]
    if n <= n_points:
        idx = np.arange(n)
    else:
        first_pos = int(np.searchsorted(fpr, 0.0, side="right"))  # first point with fpr > 0
        extra = [0, first_pos - 1, n - 1, *_max_sic_indices(roc, DEFAULT_MIN_BACKGROUND_EVENTS)]
        extra_idx = np.array([i for i in extra if i >= 0], dtype=np.int64)
        log_lo = np.log10(fpr[first_pos])

        def pick(n_targets: int) -> np.ndarray:
            targets = np.logspace(log_lo, 0.0, n_targets)
            picks = np.searchsorted(fpr, targets, side="right") - 1  # top of each eps_B run
            return np.unique(np.concatenate([picks, extra_idx]))

        # At the smallest eps_B several log-spaced targets land on the same ROC point; spend the
        # freed budget on more targets (bisection on their number), never exceeding n_points.
        lo, hi = n_points - 5, 100 * n_points
        idx = pick(lo)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            cand = pick(mid)
            if cand.shape[0] <= n_points:
                lo = mid
                if cand.shape[0] >= idx.shape[0]:
                    idx = cand
            else:
                hi = mid
    eb = fpr[idx]
    es = tpr[idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        sic = es / np.sqrt(eb)
    return {
        "eps_b": eb.tolist(),
        "eps_s": es.tolist(),
        "sic": [None if b <= 0 else float(v) for b, v in zip(eb, sic)],
        "n_bkg_above": roc.n_bkg_above[idx].tolist(),
    }
