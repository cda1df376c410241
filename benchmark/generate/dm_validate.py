"""Validation of a generated Dark Machines channel against the real challenge files.

:func:`validate_channel` reads the generated class files (``<dir>/<channel>/<class>.h5``) and the
real CSV files of the same channel (a folder such as ``../shared/real-samples/darkmachines/chan1``,
parsed with the real converter's :func:`benchmark.sources.darkmachines.parse_lines`), computes per
event the object multiplicities and leading-object spectra (:func:`observables`), draws one
histogram page per compared class and returns the two-sample Kolmogorov-Smirnov distance of every
observable (the largest gap between the two empirical CDFs; 0 = identical, 1 = disjoint).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.events import OBJECT_TYPES
from benchmark.generate.darkmachines import LEPTON_CODES, event_summary

#: observables compared (name -> axis label)
OBSERVABLES = {
    "n_jets": "jets (incl. b)", "n_bjets": "b-tagged jets", "n_leptons": "electrons + muons",
    "n_photons": "photons", "jet1_pt": "leading jet pT [GeV]", "jet4_pt": "4th jet pT [GeV]",
    "met": "MET [GeV]", "ht": "H_T [GeV]", "met_over_ht": "MET / H_T",
}


def observables(objects: np.ndarray, mask: np.ndarray, met: np.ndarray) -> dict[str, np.ndarray]:
    """Per-event multiplicities and leading-object spectra of canonical Dark Machines arrays."""
    code = objects[..., 0]
    pt = np.where(mask, objects[..., 2], 0.0).astype(np.float64)
    is_jet = mask & ((code == OBJECT_TYPES["j"]) | (code == OBJECT_TYPES["b"]))
    jet_pt = -np.sort(-np.where(is_jet, pt, 0.0), axis=1)
    s = event_summary(objects, mask)
    m = np.asarray(met, dtype=np.float64)[:, 0]
    return {
        "n_jets": is_jet.sum(axis=1).astype(float),
        "n_bjets": (mask & (code == OBJECT_TYPES["b"])).sum(axis=1).astype(float),
        "n_leptons": (mask & np.isin(code, LEPTON_CODES)).sum(axis=1).astype(float),
        "n_photons": (mask & (code == OBJECT_TYPES["g"])).sum(axis=1).astype(float),
        "jet1_pt": jet_pt[:, 0], "jet4_pt": jet_pt[:, 3], "met": m, "ht": s["ht"],
        "met_over_ht": np.divide(m, s["ht"], out=np.zeros_like(m), where=s["ht"] > 0),
    }


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic sup |F_a - F_b| (ties handled exactly)."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    if not len(a) or not len(b):
        return float("nan")
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / len(a)
    fb = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def read_real_channel(folder: Path, channel: str) -> dict[str, dict[str, np.ndarray]]:
    """Real CSV files of ``channel`` in ``folder`` -> {class name: canonical arrays}."""
    from benchmark.sources.darkmachines import classify, parse_lines

    out = {}
    for csv in sorted(Path(folder).glob("*.csv")):
        found = classify(csv.name)
        if found is None or found[1]["channel"] != channel:
            continue
        arrays, _, _ = parse_lines(csv.read_text().splitlines(), str(csv))
        out[found[0].split("/", 1)[1]] = arrays
    return out


def process_mix(codes: np.ndarray, names: Mapping[int, str]) -> dict[str, float]:
    """Fraction of events per process name (codes without a name are counted as ``other``)."""
    codes = np.asarray(codes)
    out: dict[str, float] = {}
    for code, n in zip(*np.unique(codes, return_counts=True)):
        name = names.get(int(code), "other")
        out[name] = out.get(name, 0.0) + float(n) / len(codes)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _real_process_names(folder: Path, channel: str) -> dict[int, str]:
    """process_code -> name of every process ID in the real background CSV of ``channel``."""
    from benchmark.sources.darkmachines import classify, process_code

    names: dict[int, str] = {}
    for csv in Path(folder).glob("*.csv"):
        found = classify(csv.name)
        if found is None or found[0] != f"{channel}/background":
            continue
        for line in csv.read_text().splitlines():
            fields = line.split(";", 2)
            if len(fields) > 1:
                names.setdefault(process_code(fields[1]), fields[1])
    return names


def validate_channel(generated_dir: Path, real_dir: Path, out_dir: Path, channel: str = "chan1") -> dict[str, Any]:
    """Plots and KS distances of every generated class that the real folder also holds.

    Returns ``{class: {"n_generated", "n_real", "ks": {observable: distance}, "plot"}}`` and writes it
    to ``out_dir/<channel>_ks.json``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmark.events import EventSet

    real = read_real_channel(real_dir, channel)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {}
    for path in sorted((Path(generated_dir) / channel).glob("*.h5")):
        cls = path.stem
        if cls not in real:
            continue
        es = EventSet.load(path)
        gen = observables(es["objects"], es["objects_mask"], es["met"])
        ref = observables(real[cls]["objects"], real[cls]["objects_mask"], real[cls]["met"])
        fig, axes = plt.subplots(3, 3, figsize=(12, 10))
        ks = {}
        for ax, (name, label) in zip(axes.flat, OBSERVABLES.items()):
            ks[name] = ks_distance(gen[name], ref[name])
            both = np.concatenate([gen[name], ref[name]])
            if name.startswith("n_"):
                bins = np.arange(-0.5, both.max() + 1.5)
            else:
                bins = np.linspace(np.quantile(both, 0.001), np.quantile(both, 0.995), 30)
            ax.hist(ref[name], bins=bins, density=True, histtype="step", lw=1.5, label=f"real ({len(ref[name])})")
            ax.hist(gen[name], bins=bins, density=True, histtype="step", lw=1.5,
                    label=f"generated ({len(gen[name])})")
            ax.set_xlabel(label)
            ax.set_title(f"KS = {ks[name]:.2f}", fontsize=9)
        axes.flat[0].legend(fontsize=8)
        fig.suptitle(f"Dark Machines {channel}/{cls}: generated look-alike vs real challenge events")
        fig.tight_layout()
        plot = out_dir / f"{channel}_{cls}.png"
        fig.savefig(plot, dpi=80)
        plt.close(fig)
        report[cls] = {"n_generated": len(es), "n_real": int(len(real[cls]["met"])), "ks": ks, "plot": str(plot)}
        if cls == "background" and "process_code" in real[cls] and "process_names" in es.meta:
            report[cls]["process_mix"] = {
                "generated": process_mix(es["process_code"], {int(k): v for k, v in es.meta["process_names"].items()}),
                "real": process_mix(real[cls]["process_code"], _real_process_names(real_dir, channel))}
    (out_dir / f"{channel}_ks.json").write_text(json.dumps(report, indent=1, sort_keys=True))
    return report


def format_report(report: Mapping[str, Any]) -> str:
    """One line per class: KS distance of each observable."""
    lines = []
    for cls, entry in report.items():
        ks = ", ".join(f"{k} {v:.2f}" for k, v in entry["ks"].items())
        lines.append(f"{cls} ({entry['n_generated']} generated vs {entry['n_real']} real): {ks}")
        for side, mix in entry.get("process_mix", {}).items():
            lines.append(f"  process mix, {side}: " + ", ".join(f"{p} {f:.1%}" for p, f in mix.items()))
    return "\n".join(lines)


__all__ = ["process_mix", "observables", "ks_distance", "read_real_channel", "validate_channel", "format_report", "OBSERVABLES"]
