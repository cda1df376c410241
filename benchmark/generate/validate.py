"""Validation plots and summary numbers for generated (or converted) datasets.

:func:`validate_dataset` reads every ``<class>.h5`` of a dataset folder and draws, per observable,
one PNG comparing the classes (normalised histograms): jet mass, jet pT, constituent multiplicity,
constituent pT, N-subjettiness ratios tau21 and tau32, the smallest pair mass of three exclusive-kT
subjets (where a top jet shows its W), and for dijet datasets mjj. It also writes
``<dataset>_summary.json`` with the numbers of :func:`summarize` (mass peak, medians, means), which
is what the physics tests and the generation report quote.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

#: the quantities plotted: name -> (x label, log x axis)
OBSERVABLES: dict[str, tuple[str, bool]] = {
    "jet_mass": ("jet mass [GeV]", False),
    "jet_pt": ("jet $p_T$ [GeV]", False),
    "multiplicity": ("constituents per jet", False),
    "constituent_pt": ("constituent $p_T$ [GeV]", True),
    "tau21": (r"$\tau_{21}$", False),
    "tau32": (r"$\tau_{32}$", False),
    "min_subjet_pair_mass": ("min pair mass of 3 exclusive-$k_T$ subjets [GeV]", False),
    "mjj": ("$m_{jj}$ [GeV]", False),
}


def _class_files(dataset: str, in_dir: Path) -> dict[str, Path]:
    """Class -> file for the classes of ``dataset`` present in ``in_dir`` (registry order)."""
    names: list[str] = []
    try:
        from benchmark.registry import load_registry

        names = list(load_registry().dataset(dataset).classes)
    except (KeyError, FileNotFoundError):
        pass
    files = {n: in_dir / f"{n}.h5" for n in names if (in_dir / f"{n}.h5").exists()}
    for extra in sorted(in_dir.glob("*.h5")):
        files.setdefault(extra.stem, extra)
    return files


def observables(path: Path, max_events: int | None = None) -> dict[str, np.ndarray]:
    """Per-jet / per-event observables of one event file (all jets of every event pooled)."""
    from benchmark.events import EventSet
    from benchmark.features.nsubjettiness import nsubjettiness, tau_ratios

    es = EventSet.load(path, stop=max_events)
    const, mask, jets = es["constituents"], es["constituents_mask"], es["jets"]
    n, j, p, _ = const.shape
    real = jets[..., 0] > 0  # (N, J) jets that exist
    flat_const = const.reshape(n * j, p, 4)
    flat_mask = mask.reshape(n * j, p)
    if "jet_nsubjettiness" in es:
        taus = es["jet_nsubjettiness"].reshape(n * j, 3)
    else:
        taus = nsubjettiness(flat_const, flat_mask, n_max=3, beta=1.0, R=1.0)
    t21, t32 = tau_ratios(taus)
    keep = real.reshape(-1)
    pair_mass = min_subjet_pair_mass(flat_const, flat_mask)
    out = {
        "jet_mass": jets[..., 3].reshape(-1)[keep],
        "jet_pt": jets[..., 0].reshape(-1)[keep],
        "multiplicity": flat_mask.sum(axis=1)[keep].astype(np.float64),
        "constituent_pt": flat_const[..., 0][flat_mask].astype(np.float64),
        "tau21": t21[keep],
        "tau32": t32[keep],
        "min_subjet_pair_mass": pair_mass[keep],
        "jet_index": np.broadcast_to(np.arange(j), (n, j)).reshape(-1)[keep],
    }
    if "mjj" in es:
        out["mjj"] = es["mjj"]
    return out


def min_subjet_pair_mass(constituents: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Smallest pairwise invariant mass of a jet's three exclusive-kT subjets (0 for <= 3 particles).

    In a fully contained top jet this is usually the W -> q q' pair, so its distribution shows the
    W peak near 80 GeV even when the jet mass itself peaks at the top mass.
    """
    from benchmark.features.constituents import clean
    from benchmark.features.nsubjettiness import exclusive_kt_axes

    x, m = clean(constituents, mask)
    out = np.zeros(len(x))
    ok = m.sum(axis=1) > 3
    if not ok.any():
        return out
    axes = exclusive_kt_axes(x[ok], m[ok], [3])[0]  # (M, 3, 4) px, py, pz, E
    pairs = []
    for a, b in ((0, 1), (0, 2), (1, 2)):
        s = axes[:, a] + axes[:, b]
        pairs.append(np.sqrt(np.clip(s[:, 3] ** 2 - (s[:, :3] ** 2).sum(axis=1), 0.0, None)))
    out[ok] = np.min(pairs, axis=0)
    return out


def mass_peak(masses: np.ndarray, lo: float, hi: float, width: float = 5.0) -> float:
    """Position of the highest bin (``width`` GeV, 3-bin smoothed) of ``masses`` within [lo, hi]."""
    edges = np.arange(lo, hi + width, width)
    hist, _ = np.histogram(masses, edges)
    smooth = np.convolve(hist, np.ones(3) / 3.0, mode="same")
    i = int(np.argmax(smooth))
    return float(0.5 * (edges[i] + edges[i + 1]))


def summarize(obs: dict[str, np.ndarray]) -> dict[str, Any]:
    """Headline numbers of one class's observables."""
    m = obs["jet_mass"]
    out: dict[str, Any] = {
        "n_jets": int(len(m)),
        "jet_mass_median": float(np.median(m)) if len(m) else None,
        "jet_mass_peak": mass_peak(m, 0.0, 600.0) if len(m) else None,
        "jet_pt_median": float(np.median(obs["jet_pt"])) if len(m) else None,
        "multiplicity_mean": float(np.mean(obs["multiplicity"])) if len(m) else None,
        "tau21_median": float(np.median(obs["tau21"])) if len(m) else None,
        "tau32_median": float(np.median(obs["tau32"])) if len(m) else None,
        "min_subjet_pair_mass_peak": mass_peak(obs["min_subjet_pair_mass"], 0.0, 300.0) if len(m) else None,
    }
    if obs["jet_index"].max(initial=0) > 0:
        for j in (0, 1):
            sel = obs["jet_index"] == j
            out[f"jet{j + 1}_mass_median"] = float(np.median(m[sel])) if sel.any() else None
    if "mjj" in obs and len(obs["mjj"]):
        mjj = obs["mjj"]
        out["n_events"] = int(len(mjj))
        out["mjj_median"] = float(np.median(mjj))
        out["mjj_quantiles_5_95"] = [float(np.quantile(mjj, 0.05)), float(np.quantile(mjj, 0.95))]
        out["mjj_peak"] = mass_peak(mjj, 1500.0, 6000.0, width=50.0)
    return out


def _binning(values: Iterable[np.ndarray], log: bool, name: str) -> np.ndarray:
    data = np.concatenate([v[np.isfinite(v)] for v in values])
    if name in ("tau21", "tau32"):
        return np.linspace(0.0, 1.0, 41)
    if name == "min_subjet_pair_mass":
        return np.linspace(0.0, min(float(np.quantile(data, 0.999)), 400.0) + 1.0, 61)
    if not len(data):
        return np.linspace(0.0, 1.0, 11)
    if log:
        lo = max(float(np.quantile(data, 0.001)), 1e-2)
        hi = float(np.max(data))
        return np.geomspace(lo, hi * 1.01, 50)
    if name == "multiplicity":
        hi = float(np.quantile(data, 0.999))
        return np.arange(-0.5, hi + 1.5, max(1.0, np.ceil(hi / 60)))
    lo, hi = float(np.quantile(data, 0.001)), float(np.quantile(data, 0.999))
    if name == "jet_mass":
        lo = 0.0
    return np.linspace(lo, hi if hi > lo else lo + 1.0, 61)


def validate_dataset(dataset: str, in_dir: Path, out_dir: Path) -> list[Path]:
    """Draw comparison plots of every class in ``in_dir``; returns the PNG files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    in_dir, out_dir = Path(in_dir), Path(out_dir)
    files = _class_files(dataset, in_dir)
    if not files:
        raise FileNotFoundError(f"no <class>.h5 event files for dataset {dataset!r} in {in_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    obs = {cls: observables(path) for cls, path in files.items()}
    written: list[Path] = []
    for name, (label, log) in OBSERVABLES.items():
        have = {cls: o[name] for cls, o in obs.items() if name in o and len(o[name])}
        if not have:
            continue
        bins = _binning(have.values(), log, name)
        fig, ax = plt.subplots(figsize=(6.0, 4.2))
        for cls, values in have.items():
            ax.hist(values, bins=bins, density=True, histtype="step", linewidth=1.5,
                    label=f"{cls} ({len(values)})")
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("normalised")
        ax.set_title(f"{dataset}: {name.replace('_', ' ')}")
        ax.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        path = out_dir / f"{dataset}_{name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    summary = {cls: summarize(o) for cls, o in obs.items()}
    (out_dir / f"{dataset}_summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return written
