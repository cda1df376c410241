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
* Everything is computed from ONE sort of the scores: the ROC is built once and all scalar
  metrics are read off it (:func:`evaluate_scores`). The sort need not be stable -- only which
  events tie matters, never their order inside a tie group -- so it is an unstable ``np.sort``
  per class of order-preserving integer keys of the scores (with the event index packed into
  the low bits where weights must follow), plus linear numba passes (:mod:`benchmark._roc_kernels`).
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


def _validate(y: Any, scores: Any, weights: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Check inputs and return (is_signal bool array, scores float64, weights float64 or None)."""
    y_arr = np.asarray(y)
    s = np.asarray(scores)
    if y_arr.ndim != 1:
        raise ValueError(f"labels y must be a 1-D array, got shape {y_arr.shape}")
    if s.ndim != 1:
        raise ValueError(f"scores must be a 1-D array, got shape {s.shape}")
    if y_arr.shape[0] != s.shape[0]:
        raise ValueError(f"lengths differ: y has {y_arr.shape[0]} entries but scores has {s.shape[0]}")
    try:
        s = s.astype(np.float64, copy=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"scores must be numeric: {exc}") from None
    if y_arr.dtype == np.bool_:
        is_sig = np.ascontiguousarray(y_arr)
    else:
        try:
            bad = (y_arr != 0) & (y_arr != 1)
        except TypeError:
            bad = np.ones(y_arr.shape, dtype=bool)
        bad = np.asarray(bad, dtype=bool)
        if bad.shape != y_arr.shape:  # numpy returned a scalar for incomparable dtypes
            bad = np.ones(y_arr.shape, dtype=bool)
        if bad.any():
            found = np.unique(y_arr[bad].astype(str))[:5].tolist()
            raise ValueError(f"labels must be 0 (background) or 1 (signal); found {found}")
        is_sig = y_arr == 1
    n_nan = int(np.count_nonzero(np.isnan(s)))
    if n_nan:
        raise ValueError(f"scores contain {n_nan} NaN value(s); score every event with a number")
    w: np.ndarray | None = None
    if weights is not None:
        w = np.asarray(weights)
        if w.ndim != 1:
            raise ValueError(f"weights must be a 1-D array, got shape {w.shape}")
        if w.shape[0] != s.shape[0]:
            raise ValueError(f"lengths differ: weights has {w.shape[0]} entries but scores has {s.shape[0]}")
        try:
            w = np.ascontiguousarray(w, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"weights must be numeric: {exc}") from None
        # one pass for all weight checks (they cost more than the sort otherwise)
        n_bad, n_neg, sum_sig, sum_bkg = _kernels().weight_summary(w, is_sig)
        if n_bad:
            raise ValueError("weights must be finite (found NaN or inf)")
        if n_neg:
            raise ValueError(f"weights must be non-negative; found {n_neg} negative weight(s)")
    n_sig = int(np.count_nonzero(is_sig))
    if n_sig == 0:
        raise ValueError("no signal events (y == 1): ROC metrics need both classes")
    if n_sig == is_sig.shape[0]:
        raise ValueError("no background events (y == 0): ROC metrics need both classes")
    if w is not None:
        if not sum_sig > 0:
            raise ValueError("no signal weight: the signal weights sum to zero")
        if not sum_bkg > 0:
            raise ValueError("no background weight: the background weights sum to zero")
    return is_sig, s, w


def _kernels():  # type: ignore[no-untyped-def]
    """The numba kernels, imported on first use (importing this module stays numba-free)."""
    from benchmark import _roc_kernels

    return _roc_kernels


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
    scratch: list[np.ndarray] | None = None,
) -> tuple[_ClassSorted, _ClassSorted]:
    """The one sort: each class's scores through ``np.sort`` (unstable, SIMD), no ``argsort``.

    Unweighted, the keys themselves are sorted. With weights (or when the bootstrap needs the
    permutation) packed (key, index) codes are sorted and one pass turns them into exact keys,
    weights and order (see :mod:`benchmark._roc_kernels`). Splitting by class keeps the label out
    of the sort key; only which events tie matters downstream, never their order in a tie group.

    ``scratch`` (a list, filled on the coded path): the two blocks that held the codes and the
    (score, weight) records, dead once the keys are resolved; :func:`_reused_buffers` turns them
    into three of the five ROC arrays, so that the ROC does not fault in fresh memory for them
    (first writes to fresh pages, not arithmetic, dominate at 1e7 events).
    """
    kernels = _kernels()
    s = np.ascontiguousarray(s, dtype=np.float64)
    n_sig = int(np.count_nonzero(is_sig))
    n_bkg = s.shape[0] - n_sig
    if w is None and not with_order:
        keys_s, keys_b = np.empty(n_sig, np.uint64), np.empty(n_bkg, np.uint64)
        kernels.class_keys(s, is_sig, keys_s, keys_b)
        keys_s.sort()
        keys_b.sort()
        return _ClassSorted(keys_s), _ClassSorted(keys_b)
    shift_s, shift_b = _code_shift(n_sig), _code_shift(n_bkg)
    n = n_sig + n_bkg
    # one block each (one point more than events: the ROC's arrays reuse them, see ``scratch``)
    code_block, rec_block = np.empty(n + 1, np.uint64), np.empty(2 * (n + 1))
    codes_s, codes_b = code_block[:n_sig], code_block[n_sig:n]
    rec_s, rec_b = rec_block[: 2 * n_sig].reshape(n_sig, 2), rec_block[2 * n_sig: 2 * n].reshape(n_bkg, 2)
    if scratch is not None:
        scratch[:] = [code_block, rec_block]
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


def _reused_buffers(scratch: list[np.ndarray], n_points: int) -> tuple[np.ndarray, ...] | None:
    """ROC buffers (as :func:`_roc_buffers`) whose fpr, tpr and thresholds live in the sort's dead
    scratch blocks (``_sort_by_class(scratch=...)``); None when the sort left none."""
    if not scratch:
        return None
    code_block, rec_block = scratch
    if code_block.shape[0] < n_points or rec_block.shape[0] < 2 * n_points:
        return None
    return (rec_block[:n_points], rec_block[n_points: 2 * n_points], np.empty(n_points, np.int64),
            np.empty(n_points, np.int64), code_block[:n_points].view(np.float64))


def _roc_from_sorted(
    sig: _ClassSorted,
    bkg: _ClassSorted,
    mult_sig: np.ndarray | None = None,
    mult_bkg: np.ndarray | None = None,
    buffers: tuple[np.ndarray, ...] | None = None,
) -> Roc:
    """Build the ROC of the two sorted classes in one merging pass.

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
    # views of the first g + 1 points; copies where a view would keep much unused memory alive
    arrays = [a[: g + 1] if 2 * (g + 1) > a.shape[0] else a[: g + 1].copy() for a in (fpr, tpr, n_bkg, n_sig, thr)]
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


def roc_curve(y: Any, scores: Any, weights: Any = None) -> Roc:
    """Tie-collapsed ROC of ``scores`` for labels ``y`` (1 = signal), optionally weighted.

    One point per distinct score value (cut ``score >= threshold``), plus the starting point
    (0, 0) with threshold ``+inf``; identical to sklearn's ``roc_curve(drop_intermediate=False)``
    so that AUCs and curves can be cross-checked. See the module docstring for all conventions.
    """
    is_sig, s, w = _validate(y, scores, weights)
    scratch: list[np.ndarray] = []
    sig, bkg = _sort_by_class(s, is_sig, w, scratch=scratch)
    return _roc_from_sorted(sig, bkg, buffers=_reused_buffers(scratch, s.shape[0] + 1))


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
    if min_background_events < 0:
        raise ValueError(f"min_background_events must be >= 0, got {min_background_events}")
    i_con, i_all = _max_sic_indices(roc, min_background_events)

    def point(i: int) -> tuple[float, float, float, float, int]:
        if i < 0:
            return math.nan, math.nan, math.nan, math.nan, 0
        es, eb = float(roc.tpr[i]), float(roc.fpr[i])
        return es / math.sqrt(eb), es, eb, float(roc.thresholds[i]), int(roc.n_bkg_above[i])

    v, es, eb, thr, nb = point(i_con)
    uv, ues, ueb, uthr, unb = point(i_all)
    return MaxSic(v, es, eb, thr, nb, uv, ues, ueb, uthr, unb, int(min_background_events))


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
    if tpr[i] == target:
        return float(fpr[i])
    t0, t1, f0, f1 = tpr[i - 1], tpr[i], fpr[i - 1], fpr[i]
    return float(f0 + (target - t0) / (t1 - t0) * (f1 - f0))


def rejection_at_eps_s(roc: Roc, eps_s: float) -> float:
    """Background rejection ``1/eps_B`` at signal efficiency ``eps_s``.

    eps_B comes from :func:`eps_b_at_eps_s` (linear interpolation on the ROC); the rejection is
    ``inf`` when eps_B is 0 there (no background passes the cut that keeps ``eps_s`` of signal).
    """
    eb = eps_b_at_eps_s(roc, eps_s)
    return math.inf if eb <= 0.0 else 1.0 / eb


def background_resolves(roc: Roc, eps_b: float) -> bool:
    """Whether the background sample can resolve ``eps_b``: at least ``1/eps_b`` events.

    With fewer background events the first background event already moves eps_B past the
    requested value, so any eps_S "at" it is an extrapolation of the ROC's first segment.
    Counted in unweighted events.
    """
    target = _check_eff("eps_b", eps_b)
    return roc.n_background * target >= 1.0 - _RESOLVE_SLACK


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
    if fpr[j] == target or j == fpr.shape[0] - 1:
        return float(tpr[j])
    f0, f1, t0, t1 = fpr[j], fpr[j + 1], tpr[j], tpr[j + 1]
    return float(t0 + (target - f0) / (f1 - f0) * (t1 - t0))


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


def evaluate_roc(
    roc: Roc,
    *,
    min_background_events: int = DEFAULT_MIN_BACKGROUND_EVENTS,
    eps_s_points: Sequence[float] = DEFAULT_EPS_S_POINTS,
    eps_b_points: Sequence[float] = DEFAULT_EPS_B_POINTS,
) -> dict[str, Any]:
    """All scalar metrics of :func:`evaluate_scores`, read off an existing ROC."""
    out: dict[str, Any] = {
        "n_signal": roc.n_signal,
        "n_background": roc.n_background,
        "sum_w_signal": roc.total_signal,
        "sum_w_background": roc.total_background,
        "n_background_effective": _json_float(roc.n_background_effective),
        "auc": _roc_auc(roc),
    }
    ms = max_sic(roc, min_background_events)
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
    for e in eps_s_points:
        out[metric_key("rejection", "eps_s", e)] = _json_float(rejection_at_eps_s(roc, e))
    for e in eps_b_points:
        resolved = background_resolves(roc, e)
        es = eps_s_at_eps_b(roc, e)
        out[metric_key("eps_s", "eps_b", e)] = _json_float(es)
        out[metric_key("si", "eps_b", e)] = _json_float(es / math.sqrt(float(e)))
        out[metric_key("resolved", "eps_b", e)] = bool(resolved)
    out["si_all"] = _json_float(si_all(roc))
    out["si_all_complete"] = all(background_resolves(roc, e) for e in DARK_MACHINES_EPS_B)
    return out


def evaluate_scores(
    y: Any,
    scores: Any,
    weights: Any = None,
    *,
    min_background_events: int = DEFAULT_MIN_BACKGROUND_EVENTS,
    eps_s_points: Sequence[float] = DEFAULT_EPS_S_POINTS,
    eps_b_points: Sequence[float] = DEFAULT_EPS_B_POINTS,
) -> dict[str, Any]:
    """Every scalar metric of one score vector, from one sort, as a flat JSON-friendly dict.

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
    roc = roc_curve(y, scores, weights)
    return evaluate_roc(
        roc,
        min_background_events=min_background_events,
        eps_s_points=eps_s_points,
        eps_b_points=eps_b_points,
    )


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
