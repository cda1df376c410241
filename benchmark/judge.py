"""The one judge: scores + hidden labels -> every number a result record publishes.

The runner, ``lhcad evaluate`` and bundle verification all call :func:`judge`, so a number can
only mean one thing and a bundle is checked by rebuilding exactly what the runner wrote:

* ``metrics``: the ROC metrics of :func:`benchmark.metrics.evaluate_roc` plus the protocol's extra
  numbers (:meth:`benchmark.protocols.base.Protocol.extra_metrics`, e.g. the density-ratio gap);
* ``errors``: bootstrap intervals (seeded by the job seed) of AUC, max SIC and every numeric metric
  the task lists (so a single seed's rejection carries an interval, not ``± 0``);
* ``per_signal``: the metrics per signal class against all background, where a task has several;
* ``total_improvement``: Dark Machines tasks: TI over this channel's signals (min/median/max);
* ``curves``: thinned ROC and SIC curves.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from benchmark import metrics as M
from benchmark.stats import bootstrap_metrics

#: Always bootstrapped; a task's own numeric metrics are added (:func:`bootstrap_keys`).
BOOTSTRAP_KEYS = ("auc", "max_sic")
#: The fields of a result record that the judge owns (bundle verification compares each of them).
JUDGED_FIELDS = ("metrics", "errors", "per_signal", "total_improvement", "curves")


def bootstrap_keys(task: Any) -> list[str]:
    """AUC, max SIC and the task's listed metrics that are plain numbers of one score vector."""
    keys = list(BOOTSTRAP_KEYS)
    for name in getattr(task, "metrics", ()) or ():
        if name.startswith(("rejection@", "eps_s@", "si@")) and name not in keys:
            keys.append(canonical_metric_key(name))
    return keys


def working_points(task: Any) -> dict[str, tuple[float, ...]]:
    """The default signal/background efficiencies plus any the task's metrics name
    (``rejection@eps_s=0.8`` adds eps_S = 0.8), so every listed metric is computed."""
    eps_s, eps_b = list(M.DEFAULT_EPS_S_POINTS), list(M.DEFAULT_EPS_B_POINTS)
    for name in getattr(task, "metrics", ()) or ():
        parsed = M.parse_metric_key(name)
        if parsed is not None:
            target = eps_s if parsed[1] == "eps_s" else eps_b
            if parsed[2] not in target:
                target.append(parsed[2])
    return {"eps_s_points": tuple(eps_s), "eps_b_points": tuple(eps_b)}


def canonical_metric_key(name: str) -> str:
    """``rejection@eps_s=0.30`` -> ``rejection@eps_s=0.3`` (the key spelling of evaluate_roc)."""
    parsed = M.parse_metric_key(name)
    return name if parsed is None else M.metric_key(*parsed)


def judge(task: Any, y: np.ndarray, scores: np.ndarray, weights: np.ndarray | None, process: np.ndarray,
          *, extra_scores: Mapping[str, np.ndarray] | None = None, n_boot: int, seed: int) -> dict[str, Any]:
    """Every judged field of one job's result record (see the module docstring)."""
    from benchmark.protocols import get_protocol

    extra_scores = dict(extra_scores or {})
    points = working_points(task)
    roc = M.roc_curve(y, scores, weights)
    metrics = M.evaluate_roc(roc, **points)
    protocol = get_protocol(task.protocol)
    metrics.update(protocol.extra_metrics(y, weights, scores, extra_scores))
    out: dict[str, Any] = {"metrics": metrics, "curves": {**M.thinned_curves(roc),
                                                          **protocol.extra_curves(y, weights, extra_scores)}}
    out["errors"] = (bootstrap_metrics(y, scores, weights, keys=bootstrap_keys(task), n_boot=n_boot, seed=seed,
                                       **points) if n_boot > 0 else {})
    out["per_signal"] = per_signal_metrics(y, scores, weights, process)
    out["total_improvement"] = channel_total_improvement(task, out["per_signal"])
    return out


def per_signal_metrics(y: np.ndarray, scores: np.ndarray, weights: np.ndarray | None,
                       process: np.ndarray) -> dict[str, dict[str, Any]]:
    """Metrics of each signal class against all background events (only where there are several)."""
    signal_classes = sorted({str(p) for p, s in zip(process, y) if s == 1})
    if len(signal_classes) < 2:
        return {}
    bkg = y == 0
    out = {}
    for cls in signal_classes:
        sel = bkg | (process.astype(str) == cls)
        out[cls] = M.evaluate_scores(y[sel], scores[sel], None if weights is None else weights[sel])
    return out


def channel_total_improvement(task: Any, per_signal: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """Dark Machines TI of this channel's signals from their SI_All (None for other tasks).

    The leaderboard combines channels (a signal's TI is its best channel); this per-record value is
    the channel's own, so a bundle can be checked record by record.
    """
    if "total_improvement" not in (getattr(task, "metrics", ()) or ()):
        return None
    channel = getattr(task, "channel", None) or task.name
    si = {(channel, _signal_name(cls)): (np.nan if m.get("si_all") is None else float(m["si_all"]))
          for cls, m in per_signal.items()}
    expected = [(channel, _signal_name(ref.name)) for ref in task.signal if "*" not in ref.name]
    ti = M.total_improvement(si, expected=expected) if expected else M.total_improvement(si)
    return {"min": ti["min"], "median": ti["median"], "max": ti["max"], "n_signals": ti["n_signals"],
            "per_signal": {str(k): v for k, v in ti["per_signal"].items()}, "complete": ti["complete"]}


def _signal_name(cls: str) -> str:
    return cls.split("/", 1)[1] if "/" in cls else cls
