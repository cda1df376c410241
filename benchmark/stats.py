"""Uncertainties on metrics: spread over training seeds and bootstrap intervals over test events.

Conventions:

* Bands are central 68% ranges (16th to 84th percentile), the one-sigma analogue that does not
  assume a Gaussian spread; percentiles use linear interpolation between order statistics
  (numpy's default), extended so that +-inf values (e.g. an infinite background rejection) are
  ordered like numbers instead of poisoning the result.
* Bootstrap intervals are *percentile* intervals of the metric over resampled test sets. The
  resampling is stratified by class: signal and background are each drawn with replacement to
  their original sizes, so every replicate has both classes and the signal fraction is fixed
  (it is a property of the benchmark, not a random quantity). Event weights travel with their
  events.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from benchmark.metrics import (
    DEFAULT_EPS_B_POINTS,
    DEFAULT_EPS_S_POINTS,
    DEFAULT_MIN_BACKGROUND_EVENTS,
    _kernels,
    _roc_buffers,
    _roc_from_sorted,
    _sort_by_class,
    _validate,
    evaluate_roc,
)

__all__ = ["seed_band", "bootstrap_interval", "bootstrap_metrics", "percentile"]

DEFAULT_BOOTSTRAP_KEYS: tuple[str, ...] = ("auc", "max_sic", "si_all")


def _as_float_array(values: Iterable[Any]) -> np.ndarray:
    """Floats from an iterable, with None mapped to NaN."""
    return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)


def percentile(values: np.ndarray, q: float) -> float:
    """Linear-interpolation percentile ``q`` (0-100) of the non-NaN ``values``; NaN if none.

    Equals ``np.percentile`` on finite data; with infinities, an interpolation that puts zero
    weight on an infinite neighbour returns the finite one (numpy would give NaN from 0 * inf).
    """
    v = np.sort(values[~np.isnan(values)])
    n = v.shape[0]
    if n == 0:
        return math.nan
    pos = (n - 1) * float(q) / 100.0
    lo = int(math.floor(pos))
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    a, b = float(v[lo]), float(v[hi])
    if frac == 0.0 or a == b:
        return a
    return a + frac * (b - a)


def seed_band(values: Iterable[Any]) -> dict[str, float | int]:
    """Median and central 68% band (16th/84th percentile) of a metric over training seeds.

    NaN and None entries (runs where the metric was undefined) are ignored; ``n`` is the number
    of values used. +-inf values are kept and ordered (see :func:`percentile`). With no usable
    value all three numbers are NaN and ``n`` is 0.
    """
    arr = _as_float_array(values)
    arr = arr[~np.isnan(arr)]
    return {
        "median": percentile(arr, 50.0),
        "lo": percentile(arr, 16.0),
        "hi": percentile(arr, 84.0),
        "n": int(arr.shape[0]),
    }


def _check_boot(n_boot: int, level: float) -> None:
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not (0.0 < float(level) < 1.0):
        raise ValueError(f"level must be in (0, 1), got {level}")


def _interval(value: float, reps: np.ndarray, level: float) -> dict[str, float | int]:
    ok = reps[~np.isnan(reps)]
    tail = 100.0 * (1.0 - float(level)) / 2.0
    return {
        "value": float(value),
        "lo": percentile(ok, tail),
        "hi": percentile(ok, 100.0 - tail),
        "n_boot": int(ok.shape[0]),
    }


def bootstrap_interval(
    y: Any,
    scores: Any,
    weights: Any,
    metric_fn: Callable[[np.ndarray, np.ndarray, np.ndarray | None], float],
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.68,
) -> dict[str, float | int]:
    """Percentile bootstrap interval of ``metric_fn(y, scores, weights) -> float``.

    ``value`` is the metric on the full sample; ``lo``/``hi`` are the ``(1 - level)/2`` and
    ``(1 + level)/2`` quantiles of the metric over ``n_boot`` class-stratified resamples (see
    the module docstring). Replicates where the metric is NaN/None are dropped; ``n_boot``
    reports how many were used. ``metric_fn`` receives ``y`` as an int8 0/1 array, ``scores``
    as float64 and ``weights`` as float64 or None. Deterministic for a given ``seed``; with the
    same seed it draws exactly the replicates :func:`bootstrap_metrics` draws.
    """
    _check_boot(n_boot, level)
    is_sig, s, w = _validate(y, scores, weights)
    y01 = is_sig.astype(np.int8)
    value = metric_fn(y01, s, w)
    sig_idx = np.flatnonzero(is_sig)
    bkg_idx = np.flatnonzero(~is_sig)
    rng = np.random.default_rng(seed)
    reps = np.empty(int(n_boot), dtype=np.float64)
    for b in range(int(n_boot)):
        pick_s, pick_b = _draw(rng, sig_idx.shape[0], bkg_idx.shape[0])
        idx = np.concatenate([sig_idx[pick_s], bkg_idx[pick_b]])
        try:
            v = metric_fn(y01[idx], s[idx], None if w is None else w[idx])
        except ValueError:  # e.g. every resampled signal event has zero weight
            v = None
        reps[b] = math.nan if v is None else float(v)
    return _interval(math.nan if value is None else float(value), reps, level)


def _draw(rng: np.random.Generator, n_sig: int, n_bkg: int) -> tuple[np.ndarray, np.ndarray]:
    """One stratified resample: indices into the signal and the background events."""
    return rng.integers(0, n_sig, n_sig), rng.integers(0, n_bkg, n_bkg)


def bootstrap_metrics(
    y: Any,
    scores: Any,
    weights: Any = None,
    keys: Sequence[str] = DEFAULT_BOOTSTRAP_KEYS,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.68,
    *,
    min_background_events: int = DEFAULT_MIN_BACKGROUND_EVENTS,
    eps_s_points: Sequence[float] = DEFAULT_EPS_S_POINTS,
    eps_b_points: Sequence[float] = DEFAULT_EPS_B_POINTS,
) -> dict[str, dict[str, float | int]]:
    """Bootstrap intervals for several scalar metrics of :func:`benchmark.metrics.evaluate_scores`.

    Returns ``{key: {"value", "lo", "hi", "n_boot"}}`` for each key (a numeric key of
    ``evaluate_scores``). Same resampling and interval as :func:`bootstrap_interval`, but the
    scores are sorted once: a resample is the original sorted event list with multinomial
    multiplicities (how often each event was drawn), which scale the weights and the unweighted
    counts, so each replicate costs one linear pass in score order instead of a sort, into ROC
    arrays reused from replicate to replicate, and all metrics of a replicate are read off the
    same ROC.
    """
    _check_boot(n_boot, level)
    is_sig, s, w = _validate(y, scores, weights)
    opts = dict(
        min_background_events=min_background_events,
        eps_s_points=eps_s_points,
        eps_b_points=eps_b_points,
    )
    sig, bkg = _sort_by_class(s, is_sig, w, with_order=True)
    full_roc = _roc_from_sorted(sig, bkg)
    full = evaluate_roc(full_roc, **opts)
    keys = list(keys)
    for k in keys:
        if k not in full:
            raise KeyError(f"unknown metric key {k!r}; known: {sorted(full)}")
        v = full[k]
        if isinstance(v, bool) or not (v is None or isinstance(v, (int, float))):
            raise ValueError(f"metric {k!r} is not a scalar number and cannot be bootstrapped")
    # Where in sorted order the k-th signal / background event (input order) sits, so that a seed
    # draws the same events here as in bootstrap_interval.
    positions = []
    for cls in (sig, bkg):
        pos = np.empty_like(cls.order)
        pos[cls.order] = np.arange(cls.order.shape[0])
        positions.append(pos)
    n_sig, n_bkg = sig.keys.shape[0], bkg.keys.shape[0]
    kernels = _kernels()
    rng = np.random.default_rng(seed)
    reps = np.full((len(keys), int(n_boot)), np.nan)
    mult_s = np.empty(n_sig, dtype=np.int32)
    mult_b = np.empty(n_bkg, dtype=np.int32)
    buffers = _roc_buffers(len(full_roc))
    for b in range(int(n_boot)):
        pick_s, pick_b = _draw(rng, n_sig, n_bkg)
        mult_s.fill(0)
        mult_b.fill(0)
        kernels.add_draws(mult_s, positions[0], pick_s)
        kernels.add_draws(mult_b, positions[1], pick_b)
        roc = _roc_from_sorted(sig, bkg, mult_s, mult_b, buffers=buffers)
        if not (roc.total_signal > 0 and roc.total_background > 0):
            continue  # all drawn events of a class have zero weight: metric undefined
        res = evaluate_roc(roc, **opts)
        for i, k in enumerate(keys):
            v = res[k]
            reps[i, b] = math.nan if v is None else float(v)
    out: dict[str, dict[str, float | int]] = {}
    for i, k in enumerate(keys):
        v = full[k]
        out[k] = _interval(math.nan if v is None else float(v), reps[i], level)
    return out
