"""Leaderboard plots (PNG), built from result records only: the figures the papers print.

* ROC (1/eps_B vs eps_S) and SIC (eps_S/sqrt(eps_B) vs eps_S): each entry's median over seeds on a
  common eps_S grid with the 16-84 % band over seeds (the thinned curves of every seed's record);
* resonant tasks: max SIC and AUC versus the number of injected signal events, median with the
  16-84 % band over seeds (the layout of Fig. 7 of arXiv:2310.06897);
* Dark Machines channel tasks: SI_All per signal (the per-signal input of the total improvement),
  median with the 16-84 % band over seeds.

Busy tasks show their best ``MAX_CURVES`` entries by median AUC in the curve plots (the tables list
all); every plot is written atomically.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmark.store import atomic_write

#: Curve plots show at most this many entries (the best by median AUC), so that bands stay readable.
MAX_CURVES = 8
_GRID = np.linspace(0.0, 1.0, 201)[1:]


def slug(task: str) -> str:
    return task.replace("/", "__")


def _label(e: Any) -> str:
    return f"{e.scorer} [{e.source}]" + (f" inj={e.injection}" if e.injection is not None else "")


def seed_curves(records: list[dict[str, Any]], grid: np.ndarray = _GRID) -> np.ndarray:
    """eps_B of each seed's ROC at the eps_S points of ``grid`` (rows: seeds): the smallest eps_B
    the record's thinned curve reaches with at least that eps_S (a step, never an interpolation
    below the background's resolution); NaN where fewer than the record's minimum number of
    background events pass (``min_background_events``, the low-statistics rule of ``max_sic`` and
    of the papers' SIC plots), and where a record has no curve."""
    rows = []
    for r in records:
        c = r.get("curves") or {}
        es, eb = np.asarray(c.get("eps_s", []), float), np.asarray(c.get("eps_b", []), float)
        if es.size < 2:
            rows.append(np.full(grid.shape, np.nan))
            continue
        order = np.lexsort((eb, es))
        es, eb = es[order], eb[order]
        nb = np.asarray(c.get("n_bkg_above", eb * float((r.get("metrics") or {}).get("n_background") or 0)), float)[order]
        floor = float((r.get("metrics") or {}).get("min_background_events") or 1)
        idx = np.minimum(np.searchsorted(es, grid - 1e-12, side="left"), es.size - 1)
        row = eb[idx].copy()
        row[(nb[idx] < floor) | (row <= 0) | (es[idx] < grid - 1e-9)] = np.nan
        rows.append(row)
    return np.array(rows)


def curve_band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and 16/84 % quantiles over seeds (axis 0), ignoring NaN."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        return (np.nanmedian(values, axis=0), np.nanpercentile(values, 16, axis=0),
                np.nanpercentile(values, 84, axis=0))


def _best(entries: list[Any]) -> list[Any]:
    def auc(e: Any) -> float:
        m = e.summary("auc")["median"]
        return -np.inf if m is None or not np.isfinite(m) else float(m)

    chosen = sorted((e for e in entries if e.records), key=auc, reverse=True)[:MAX_CURVES]
    return sorted(chosen, key=lambda e: (e.scorer, e.source, e.injection or 0))


def _curve_plots(task: str, entries: list[Any], out_dir: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    fig_roc, ax_roc = plt.subplots(figsize=(6, 4.6))
    fig_sic, ax_sic = plt.subplots(figsize=(6, 4.6))
    with np.errstate(divide="ignore", invalid="ignore"):
        for e in _best(entries):
            eb = seed_curves(e.records)
            rej = np.where(eb > 0, 1.0 / eb, np.nan)
            sic = np.where(eb > 0, _GRID / np.sqrt(eb), np.nan)
            for ax, values in ((ax_roc, rej), (ax_sic, sic)):
                med, lo, hi = curve_band(values)
                (line,) = ax.plot(_GRID, med, label=f"{_label(e)} ({len(e.records)} seeds)")
                if len(e.records) > 1:
                    ax.fill_between(_GRID, lo, hi, color=line.get_color(), alpha=0.25, linewidth=0)
    ax_roc.plot(_GRID, 1 / _GRID, "k:", label="random")
    ax_sic.plot(_GRID, np.sqrt(_GRID), "k:", label="random")
    shown = f" (best {MAX_CURVES} by AUC)" if len([e for e in entries if e.records]) > MAX_CURVES else ""
    ax_roc.set(yscale="log", xlabel=r"signal efficiency $\epsilon_S$", ylabel=r"background rejection $1/\epsilon_B$",
               title=f"{task}: ROC, median and 16-84 % over seeds{shown}")
    ax_sic.set(xlabel=r"signal efficiency $\epsilon_S$", ylabel=r"SIC $=\epsilon_S/\sqrt{\epsilon_B}$",
               title=f"{task}: SIC, median and 16-84 % over seeds{shown}")
    name = slug(task)
    return [save_figure(fig_roc, [ax_roc], out_dir / f"{name}-roc.png"),
            save_figure(fig_sic, [ax_sic], out_dir / f"{name}-sic.png")]


#: scorers drawn dashed in the injection plot: the upper references a weakly supervised method is
#: measured against (as the supervised and idealized curves of arXiv:2310.06897 Fig. 7)
REFERENCE_SCORERS = ("supervised", "idealized-ad")


def _injection_plot(task: str, entries: list[Any], out_dir: Path) -> Path:
    """Max SIC (left) and AUC (right) versus injected signal, 16-84 % band over seeds; the upper
    references (:data:`REFERENCE_SCORERS`) dashed."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    injected = [e for e in entries if e.injection is not None and e.records]
    for scorer, source in sorted({(e.scorer, e.source) for e in injected}):
        points = sorted((e for e in injected if e.scorer == scorer and e.source == source), key=lambda e: e.injection)
        x = np.array([e.injection for e in points], float)
        color = None
        for ax, key in zip(axes, ("max_sic", "auc")):
            bands = [e.summary(key) for e in points]
            med = np.array([np.nan if b["median"] is None else b["median"] for b in bands], float)
            lo = np.array([b.get("lo", m) if b.get("lo") is not None else m for b, m in zip(bands, med)], float)
            hi = np.array([b.get("hi", m) if b.get("hi") is not None else m for b, m in zip(bands, med)], float)
            # a single seed's bootstrap band need not contain its value: no negative bar
            yerr = [np.maximum(0, med - lo), np.maximum(0, hi - med)]
            style = "--" if scorer.startswith(REFERENCE_SCORERS) else "-"
            bars = ax.errorbar(x, med, yerr=yerr, marker="o", capsize=3, color=color, ls=style,
                               label=f"{scorer} [{source}]")
            color = bars.lines[0].get_color()
            if len(x) > 1:
                ax.fill_between(x, np.minimum(lo, med), np.maximum(hi, med), color=color, alpha=0.2, linewidth=0)
    axes[0].axhline(1.0, color="k", ls=":", label="random")
    axes[1].axhline(0.5, color="k", ls=":", label="random")
    axes[0].set(xlabel="injected signal events", ylabel="max SIC", title=f"{task}: max SIC vs injection")
    axes[1].set(xlabel="injected signal events", ylabel="AUC", title=f"{task}: AUC vs injection")
    return save_figure(fig, list(axes), out_dir / f"{slug(task)}-injection.png")


def _signal_plot(task: str, entries: list[Any], out_dir: Path) -> Path | None:
    """SI_All per signal of a Dark Machines channel: grouped bars, median and 16-84 % over seeds."""
    import matplotlib.pyplot as plt

    per_entry: dict[str, dict[str, list[float]]] = {}
    for e in _best(entries):
        for r in e.records:
            for cls, m in (r.get("per_signal") or {}).items():
                v = (m or {}).get("si_all")
                if v is not None:
                    per_entry.setdefault(_label(e), {}).setdefault(cls.split("/")[-1], []).append(float(v))
    if not per_entry:
        return None
    signals = sorted({s for d in per_entry.values() for s in d})
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(signals) * max(1, len(per_entry)) / 2 + 3), 4.6))
    width = 0.8 / len(per_entry)
    x = np.arange(len(signals))
    for i, (label, d) in enumerate(sorted(per_entry.items())):
        vals = [np.array(d.get(s, [np.nan])) for s in signals]
        med = np.array([np.nanmedian(v) for v in vals])
        lo = np.array([np.nanpercentile(v, 16) for v in vals])
        hi = np.array([np.nanpercentile(v, 84) for v in vals])
        ax.bar(x + (i - (len(per_entry) - 1) / 2) * width, med, width, label=label,
               yerr=[np.maximum(0, med - lo), np.maximum(0, hi - med)], capsize=2)
    ax.axhline(1.0, color="k", ls=":", label="SI = 1 (no cut)")
    ax.set_xticks(x, signals, rotation=45, ha="right", fontsize=7)
    ax.set(ylabel=r"SI$_{All}$ = max over $\epsilon_B \in \{10^{-2},10^{-3},10^{-4}\}$ of $\epsilon_S/\sqrt{\epsilon_B}$",
           title=f"{task}: significance improvement per signal (the TI inputs)")
    return save_figure(fig, [ax], out_dir / f"{slug(task)}-ti-per-signal.png")


def plot_task(task: str, entries: list[Any], out_dir: Path, *, channel: bool | None = None) -> list[Path]:
    """Every plot of one task into ``out_dir``; returns the written paths. ``channel``: draw the
    per-signal SI plot (default: when the registry marks the task as a Dark Machines channel)."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir.mkdir(parents=True, exist_ok=True)
    if channel is None:
        from benchmark.registry import load_registry

        reg = load_registry()
        channel = task in reg.tasks and reg.task(task).channel is not None
    written = _curve_plots(task, entries, out_dir)
    if any(e.injection is not None for e in entries):
        written.append(_injection_plot(task, entries, out_dir))
    if channel:
        path = _signal_plot(task, entries, out_dir)
        if path is not None:
            written.append(path)
    return written


#: Order of a task's plots on its pages: curves first, then the task kind's own plot.
PLOT_ORDER = ("-roc", "-sic", "-injection", "-ti-per-signal")


def plot_sort_key(path: Path) -> tuple[int, str]:
    """Sort key putting a task's plot files in :data:`PLOT_ORDER`."""
    rank = next((i for i, suffix in enumerate(PLOT_ORDER) if path.stem.endswith(suffix)), len(PLOT_ORDER))
    return rank, path.name


def save_figure(fig: Any, axes: list[Any], path: Path) -> Path:
    """Legend, layout, atomic PNG write, close: the one way every leaderboard plot is saved."""
    import matplotlib.pyplot as plt

    for ax in axes:
        ax.legend(fontsize=7)
        ax.title.set_fontsize(9)
    fig.tight_layout()
    with atomic_write(path, "path") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
