"""What a task page says about its task, so that a reader needs no other file to know what was measured.

From the registry: the protocol (in words), background and signal classes, the data source (the
real files' version and citation, or the generator recipe with its version, seed and notes) and
the resonant windows and injections; from the result records: the event counts actually used per
class and source; from ``reported:`` in ``datasets.yaml``: the papers' figures with their sources.
Renderers for Markdown and HTML live with the pages; this module only assembles facts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmark.registry import load_registry

#: One sentence per protocol: what the scorer sees and what it is judged on.
PROTOCOL_TEXT = {
    "unsupervised": "the scorer trains on background events only and scores an unlabelled test set of "
                    "background and signal events; higher score = more anomalous.",
    "supervised": "a classifier trains on labelled background and signal events: the ceiling the anomaly "
                  "detectors are measured against, not an anomaly detector itself.",
    "density_ratio": "two density fits (background and signal) score by their likelihood ratio, compared "
                     "with a supervised classifier trained on the same events (density_ratio_gap = how much "
                     "AUC the ratio leaves on the table, normalised by the supervised margin over 0.5).",
    "resonant": "weakly supervised bump hunt: the scorer sees sideband data and signal-region data holding "
                "the injected signal events (no labels), and is tested on independent signal-region "
                "background and signal events that were never injected.",
}


@dataclass
class Figure:
    """A paper's reported figure for one method on this task."""

    method: str
    values: dict[str, Any]
    source: str

    def text(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.values.items())


@dataclass
class TaskInfo:
    task: str
    description: str
    protocol: str
    protocol_text: str
    background: list[str]
    signal: list[str]
    sources: dict[str, str] = field(default_factory=dict)
    counts: dict[str, str] = field(default_factory=dict)
    resonant: str | None = None
    reported: list[Figure] = field(default_factory=list)
    papers: list[str] = field(default_factory=list)

    def facts(self) -> list[tuple[str, str]]:
        """(label, text) lines in page order."""
        out = [("Task", self.description or self.task), ("Protocol", f"{self.protocol}: {self.protocol_text}"),
               ("Background", "; ".join(self.background)), ("Signal", "; ".join(self.signal))]
        if self.resonant:
            out.append(("Resonant setup", self.resonant))
        out += [(f"Source ({k})", v) for k, v in self.sources.items()]
        out += [(f"Events used ({k})", v) for k, v in self.counts.items()]
        if self.papers:
            out.append(("Papers", ", ".join(self.papers)))
        return out


def reported_figures(task: str) -> list[Figure]:
    """The papers' figures for ``task`` (``reported:`` in ``datasets.yaml``), one per method."""
    reg = load_registry()
    if task not in reg.tasks:
        return []
    out = []
    for method, values in reg.task(task).reported.items():
        vals = {k: v for k, v in values.items() if k != "source"}
        out.append(Figure(method, vals, str(values.get("source", ""))))
    return out


def paper_cell(task: str, names: set[str]) -> tuple[str, dict[str, Any]]:
    """The ``paper`` cell of an entry: the same method's reported figure where the registry has
    one, else the task's reported figures, each named by its method (so the column is never blank
    where a paper reports a number for the task). Returns (text, machine-readable figures)."""
    figures = reported_figures(task)
    same = [f for f in figures if f.method in names]
    shown = same or figures
    text = "; ".join(f"{f.text()}" if same else f"{f.method}: {f.text()}" for f in shown)
    data = {f.method: {**f.values, "source": f.source, "same_method": bool(same)} for f in shown}
    return text, data


def _class_line(dataset: Any, ref: Any) -> str:
    desc = ""
    try:
        desc = dataset.class_spec(ref.name).description if dataset.name == ref.dataset else ""
    except Exception:
        desc = ""
    return f"{ref}" + (f" ({desc})" if desc else "")


def _source_text(dataset: Any, kind: str, channel: str | None = None) -> str:
    src = dataset.sources[kind]
    if kind == "real":
        bits = [f"published files, version {src.version}"]
        if src.zenodo:
            bits.append(f"Zenodo record {src.zenodo}")
        if dataset.citation:
            bits.append(dataset.citation)
        bits.append(f"fetched with `lhcad fetch {dataset.name}`")
        return "; ".join(bits)
    bits = [f"generated look-alike, recipe `{src.recipe}` version {src.version}, seed {src.seed}",
            f"regenerate with `lhcad generate {dataset.name}"
            + (f" --channel {channel} --events N --signal-events M`" if channel else " --events N`")]
    notes = (src.extra or {}).get("notes")
    if notes:
        bits.append(str(notes).strip())
    return "; ".join(bits)


def _span(values: list[float]) -> str:
    vals = [int(v) for v in values if v is not None and np.isfinite(v)]
    if not vals:
        return "?"
    return f"{min(vals)}" if min(vals) == max(vals) else f"{min(vals)}-{max(vals)}"


def _counts_text(records: list[dict[str, Any]]) -> str:
    """Per class, train/test events over the records (a range where seeds or entries differ);
    resonant records add their signal-region and sideband counts."""
    per_class: dict[str, dict[str, list[float]]] = {}
    extra: dict[str, list[float]] = {}
    for r in records:
        for cls, c in (r.get("counts") or {}).items():
            if isinstance(c, dict):
                for k in ("train", "test"):
                    if k in c:
                        per_class.setdefault(cls, {}).setdefault(k, []).append(float(c[k]))
            elif isinstance(c, (int, float)):
                extra.setdefault(cls, []).append(float(c))
    parts = [f"{cls} train {_span(v.get('train', []))} / test {_span(v.get('test', []))}"
             for cls, v in sorted(per_class.items())]
    for key in ("sb_data", "sr_data", "injected", "injected_in_sr", "test_background", "test_signal",
                "background_template"):
        if key in extra:
            parts.append(f"{key.replace('_', ' ')} {_span(extra[key])}")
    return "; ".join(parts)


def describe_task(task: str, records: list[dict[str, Any]]) -> TaskInfo:
    """The facts of ``task`` for its page; ``records`` are all its result records (any entry)."""
    reg = load_registry()
    if task not in reg.tasks:
        return TaskInfo(task, "task not in this registry", "?", "", [], [])
    used_sources = sorted({str((r.get("job") or {}).get("source")) for r in records})
    spec = reg.task(task)
    if len(used_sources) == 1 and used_sources[0] in reg.dataset(spec.dataset).sources:
        spec = reg.task(task, source=used_sources[0])  # the classes that source holds (a look-alike may hold a subset)
    dataset = reg.datasets.get(spec.dataset)
    info = TaskInfo(task=task, description=spec.description, protocol=spec.protocol,
                    protocol_text=PROTOCOL_TEXT.get(spec.protocol, ""),
                    background=[_class_line(dataset, r) for r in spec.background],
                    signal=[_class_line(dataset, r) for r in spec.signal],
                    reported=reported_figures(task), papers=list(spec.papers))
    for kind in used_sources:
        if dataset is not None and kind in dataset.sources:
            info.sources[kind] = _source_text(dataset, kind, spec.channel)
        info.counts[kind] = _counts_text([r for r in records if (r.get("job") or {}).get("source") == kind])
    if spec.resonant is not None:
        res = spec.resonant
        sb = ", ".join(f"{lo:g}-{hi:g}" for lo, hi in res.sidebands)
        info.resonant = (f"signal region mjj {res.signal_region[0]:g}-{res.signal_region[1]:g} GeV, sidebands {sb} GeV; "
                         f"injections {', '.join(map(str, res.injections))} (default {res.default_injection}); "
                         f"test: {res.test_signal} signal and {res.test_background} background events "
                         "(real sizes; look-alikes take what their windows hold, counts above)")
    return info
