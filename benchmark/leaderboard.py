"""Leaderboard tables and plots, built from result files only (nothing is re-run).

Aggregation rules (also in the README):

* entries are (task, data source, scorer, injection); over seeds every metric is summarised by the
  median and the 16-84 % band (:func:`benchmark.stats.seed_band`); with a single seed the error is
  that seed's bootstrap interval (68 %) where the result has one;
* an entry is **incomplete** when it has fewer seeds than the most complete entry of its task, or
  when a job of it is in ``failures.jsonl`` without a later success;
* the papers' reported figures (``reported:`` in ``datasets.yaml``) are shown beside ours;
* the cross-task summary gives each scorer's median AUC per task and, where a scorer has results on
  Dark Machines channels, the total improvement (min / median / max over signals, max over channels
  and cuts); missing channels mark it incomplete, as the challenge dropped such models.
"""
from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark import metrics as M
from benchmark.numbers import NOT_AVAILABLE, format_band, format_value
from benchmark.plots import plot_task, slug
from benchmark.registry import load_registry
from benchmark.results import FAILURES_FILE, iter_results, scorer_label
from benchmark.stats import seed_band
from benchmark.taskinfo import describe_task
from benchmark.taskpage import task_markdown
from benchmark.store import atomic_write, write_json

#: Metric columns shown when a task does not list its own; keys of the result "metrics" dict.
DEFAULT_COLUMNS = ("auc", "max_sic", "rejection@eps_s=0.3")


@dataclass
class Entry:
    task: str
    source: str
    scorer: str
    injection: int | None
    records: list[dict[str, Any]] = field(default_factory=list)
    incomplete_reasons: list[str] = field(default_factory=list)

    @property
    def seeds(self) -> list[int]:
        return sorted(r["job"]["seed"] for r in self.records)

    def values(self, key: str) -> list[float]:
        out = []
        for r in self.records:
            v = r["metrics"].get(key)
            out.append(float("nan") if v is None else float(v))
        return out

    def summary(self, key: str) -> dict[str, Any]:
        """Median and band over seeds; one seed: its bootstrap interval if recorded."""
        band = seed_band(self.values(key))
        if len(self.records) == 1:
            err = self.records[0].get("errors", {}).get(key)
            if err:
                band = {"median": band["median"], "lo": err["lo"], "hi": err["hi"], "n": 1, "kind": "bootstrap"}
        band.setdefault("kind", "seeds")
        return band


def entry_identity(record: dict[str, Any]) -> str:
    """Hash of what a record's numbers depend on, the seed left out: records aggregate over seeds
    only when this agrees. Records written before identities existed fall back to the job, the
    requested sizes and the scorer's version and configuration."""
    from benchmark.results import identity_hash

    identity = record.get("identity")
    if not isinstance(identity, dict):
        job = record["job"]
        identity = {"legacy": True, **{k: v for k, v in job.items() if k not in ("device",)},
                    "sizes": record.get("data", {}).get("provenance", {}).get("sizes_requested"),
                    "config": record.get("scorer_config", {}).get("params")}
    return identity_hash(identity, without=("seed",))


def entry_sizes(records: list[dict[str, Any]]) -> str:
    """``train/test`` event counts actually used (a range where seeds differ, as in resonant tasks)."""
    def span(values: list[int]) -> str:
        return "?" if not values else (f"{min(values)}" if min(values) == max(values) else f"{min(values)}-{max(values)}")

    used = [r.get("sizes_used") or {} for r in records]
    return f"{span([u['train'] for u in used if 'train' in u])}/{span([u['test'] for u in used if 'test' in u])}"


def collect(results_dir: Path, problems: list[str] | None = None) -> dict[tuple[str, str, str, int | None], Entry]:
    """Entries of the leaderboard: records of one (task, source, scorer, injection) *and* one identity.

    A broken result file is skipped and reported (into ``problems``, else on stderr). Records of
    different identities (sizes, versions, configuration, external scores vs runs) never share an
    entry: where one scorer label holds several, each entry's label gets ``#<identity hash>``.
    """
    import sys

    report = problems if problems is not None else []
    groups: dict[tuple[str, str, str, int | None], dict[str, list[dict[str, Any]]]] = {}
    for _, record in iter_results(results_dir, report):
        job = record["job"]
        key = (job["task"], job["source"], job["scorer"], job.get("injection"))
        groups.setdefault(key, {}).setdefault(entry_identity(record), []).append(record)
    if problems is None:
        for msg in report:
            print(f"lhcad leaderboard: skipped {msg}", file=sys.stderr)
    entries: dict[tuple[str, str, str, int | None], Entry] = {}
    by_identity: dict[tuple[tuple[str, str, str, int | None], str], Entry] = {}
    for key, by_hash in groups.items():
        for ident, records in sorted(by_hash.items()):
            label = key[2] if len(by_hash) == 1 else f"{key[2]} #{ident[:6]}"
            entry = Entry(key[0], key[1], label, key[3], records)
            entries[(key[0], key[1], label, key[3])] = entry
            by_identity[(key, ident)] = entry
    failures_path = results_dir / FAILURES_FILE
    if failures_path.exists():
        for line in failures_path.read_text().splitlines():
            try:
                fail = json.loads(line)["job"]
                key = (fail["task"], fail["source"], _scorer_label(fail), fail.get("injection"))
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
            ident = entry_identity({"identity": fail["identity"]}) if fail.get("identity") else None
            candidates = [e for (k, h), e in by_identity.items() if k == key and (ident is None or h == ident)]
            if not candidates and key not in groups:
                candidates = [entries.setdefault(key, Entry(*key))]
            for entry in candidates:
                if fail["seed"] not in entry.seeds:
                    entry.incomplete_reasons.append(f"seed {fail['seed']} failed")
    by_task: dict[str, int] = defaultdict(int)
    for e in entries.values():
        by_task[e.task] = max(by_task[e.task], len(e.records))
    for e in entries.values():
        if len(e.records) < by_task[e.task]:
            e.incomplete_reasons.append(f"{len(e.records)}/{by_task[e.task]} seeds")
    return entries


def _scorer_label(job: dict[str, Any]) -> str:
    """The label of a failed job (``failures.jsonl`` keeps the job's fields, not its label)."""
    return scorer_label(job["scorer"], job.get("params") or {}, job.get("preset"))


def fmt(band: dict[str, Any], bound_count: float | None = None) -> str:
    """``median ± half-band`` rounded by the PDG rule (:func:`benchmark.numbers.format_band`).

    ``bound_count`` turns an infinite median (a rejection no background event limits) into the
    lower bound ``> N``; see :func:`background_count`.
    """
    return format_band(band, bound_count=bound_count)


def background_count(entry: Entry) -> float | None:
    """Median over seeds of the effective number of test background events (Kish, unweighted:
    the count): what an infinite rejection of the entry is known to exceed. Records written before
    ``n_background_effective`` existed fall back to ``n_background``."""
    for key in ("n_background_effective", "n_background"):
        band = seed_band(entry.values(key))
        if band["n"]:
            return float(band["median"])
    return None


def column_note(column: str, texts: list[str]) -> str | None:
    """Footnote for a table column whose cells (``texts``) hold ``n/a`` or a ``> N`` lower bound,
    saying why; None when the column needs none."""
    notes = []
    if any(t.startswith(NOT_AVAILABLE) for t in texts):
        point = M.parse_metric_key(column)
        if point is not None and point[1] == "eps_b":
            eps_b = point[2]
            notes.append(f"n/a in `{column}`: the test background is too small to resolve eps_B = {column.split('=')[-1]} "
                         f"(it takes at least 1/eps_B = {format_value(1.0 / eps_b)} events); the working point is "
                         "left out rather than extrapolated.")
        elif column == "si_all":
            cuts = ", ".join(repr(e) for e in M.DARK_MACHINES_EPS_B)
            notes.append(f"n/a in `si_all`: the test background resolves none of the Dark Machines cuts eps_B = "
                         f"{cuts}.")
        elif column == "max_sic":
            notes.append(f"n/a in `max_sic`: no cut keeps the minimum number of background events the "
                         f"low-statistics rule asks for ({M.DEFAULT_MIN_BACKGROUND_EVENTS} by default).")
        elif column == "density_ratio_gap_normalised":
            notes.append("n/a in `density_ratio_gap_normalised`: the supervised AUC is 0.5, so there is no margin "
                         "over random guessing to normalise by.")
        else:
            notes.append(f"n/a in `{column}`: no seed of the entry produced a value.")
    if any(t.startswith(">") for t in texts):
        notes.append(f"`> N` in `{column}`: no test background event passes the cut, so the rejection is only "
                     "known to exceed the number N of (effective, for weighted events) test background events.")
    return " ".join(notes) or None


def table_notes(header: list[str], rows: list[list[Any]]) -> list[str]:
    """The footnotes of a table: one per column with unresolved (``n/a``) or bounded cells."""
    notes = []
    for i, column in enumerate(header):
        note = column_note(str(column), [str(row[i]) for row in rows if i < len(row)])
        if note:
            notes.append(note)
    return notes


def _task_columns(task_name: str) -> list[str]:
    reg = load_registry()
    if task_name not in reg.tasks:
        return list(DEFAULT_COLUMNS)
    cols = []
    for m in reg.task(task_name).metrics:
        if m == "total_improvement":
            continue
        cols.append("density_ratio_gap_normalised" if m == "density_ratio_gap" else m)
    return cols


def configuration_note(records: list[dict[str, Any]]) -> str:
    """The hyper-parameters an entry changed from its scorer's defaults and preset (``power=0.25,
    sigma=1``), so a table of configurations (a preprocessing scan) says which row is which;
    empty when nothing was changed or the scorer cannot be loaded here."""
    from benchmark.commands import changed_params

    changed = changed_params(records)
    if not changed:
        if changed is not None and "+" in str((records[0].get("job") or {}).get("scorer", "")):
            return "default configuration"  # parameters given explicitly, equal to the defaults
        return ""
    return ", ".join(f"{k}={v}" for k, v in sorted(changed.items()))


def model_card(records: list[dict[str, Any]]) -> dict[str, Any]:
    """What ran, per entry (medians over seeds): preset, device, fit time, and for trained models
    the parameter count and epochs from the training record (``record["training"]``)."""
    def median(values: list[float]) -> float | None:
        finite = [v for v in values if v is not None and np.isfinite(v)]
        return float(np.median(finite)) if finite else None

    training = [r.get("training") or {} for r in records]
    fit_times = [sum(float(v) for k, v in (r.get("timings") or {}).items() if k.startswith("fit")) for r in records]
    devices = sorted({str((r.get("job") or {}).get("device", "?")) for r in records})
    presets = sorted({str((r.get("job") or {}).get("preset")) for r in records if (r.get("job") or {}).get("preset")})
    return {"preset": presets[0] if len(presets) == 1 else (presets or None), "device": ", ".join(devices),
            "fit_time_s": median(fit_times),
            "n_parameters": median([t.get("n_parameters") for t in training if isinstance(t, dict)]),
            "epochs": median([t.get("epochs_run") for t in training if isinstance(t, dict)])}


def model_card_text(card: dict[str, Any]) -> str:
    """``cpu, fit 12 s, 416k params, 10 ep``: the model column of a task table."""
    parts = [card["device"]]
    if card.get("fit_time_s") is not None:
        parts.append(f"fit {format_value(card['fit_time_s'])} s")
    if card.get("n_parameters") is not None:
        n = card["n_parameters"]
        parts.append(f"{n / 1e6:.3g}M params" if n >= 1e6 else f"{n / 1e3:.3g}k params" if n >= 1e3 else f"{n:.0f} params")
    if card.get("epochs") is not None:
        parts.append(f"{card['epochs']:.0f} ep")
    return ", ".join(parts)


def paper_size_command(task: str, records: list[dict[str, Any]]) -> str | None:
    """The command that reruns an entry's scorer at its ``paper`` preset on the real dataset
    (registry sizes), for entries that ran at another preset; None for scorers with one size."""
    job = (records[0].get("job") or {}) if records else {}
    if not job.get("preset") or job.get("preset") == "paper":
        return None
    return f"lhcad run --scorer {job.get('scorer_spec')} --task {task} --preset paper --source real --seeds 5"


def task_table(task: str, entries: list[Entry]) -> tuple[list[str], list[list[Any]], list[dict[str, Any]]]:
    """Header, display rows and machine-readable rows of one task's table."""
    from benchmark.commands import run_command
    from benchmark.taskinfo import paper_cell

    cols = _task_columns(task)
    header = ["scorer", "source", "injection", "train/test", *cols, "seeds", "model", "paper", "status"]
    rows, data = [], []
    for e in sorted(entries, key=lambda e: (e.source, e.injection or 0, -(e.summary(cols[0])["median"] or 0))):
        summaries = {c: e.summary(c) for c in cols}
        names = {e.scorer.split("@")[0]} | {r["job"].get("scorer_name") for r in e.records}
        paper_text, paper = paper_cell(task, {n for n in names if n})
        status = "incomplete: " + "; ".join(e.incomplete_reasons) if e.incomplete_reasons else "ok"
        bound = background_count(e)
        card = model_card(e.records)
        note = configuration_note(e.records)
        rows.append([f"{e.scorer} ({note})" if note else e.scorer, e.source, "" if e.injection is None else e.injection, entry_sizes(e.records),
                     *(fmt(summaries[c], bound) for c in cols), len(e.records), model_card_text(card), paper_text,
                     status])
        first = e.records[0] if e.records else {}
        data.append({
            "task": task, "scorer": e.scorer, "source": e.source, "injection": e.injection,
            "seeds": e.seeds, "sizes": entry_sizes(e.records), "metrics": summaries, "paper": paper,
            "model_card": card, "command": run_command(e.records) if e.records else None,
            "paper_size_command": paper_size_command(task, e.records),
            "configuration": note,
            "status": status, "identity_hash": entry_identity(first) if first else None,
            "provenance": {
                "scorer_version": sorted({r["job"].get("scorer_version") for r in e.records}),
                "git_revision": sorted({str(r.get("git_revision")) for r in e.records}),
                "class_sha256": first.get("data", {}).get("class_sha256", {}),
                "versions": first.get("versions", {}), "hardware": first.get("hardware", {}),
                "counts": first.get("counts", {}),
            },
        })
    return header, rows, data


def dark_machines_ti(entries: list[Entry]) -> dict[tuple[str, str], dict[str, Any]]:
    """Total improvement per (scorer, source) from Dark Machines channel tasks' per-signal SI_all."""
    reg = load_registry()
    expected = {}
    for name, task in reg.tasks.items():
        if task.channel and task.dataset == "darkmachines":
            expected[name] = [(task.channel, ref.name.split("/", 1)[1]) for ref in task.signal]

    def expected_for(source: str) -> list[tuple[str, str]]:
        """(channel, signal) pairs the source holds (a generated look-alike may hold a few)."""
        pairs = []
        for name in expected:
            try:
                task = reg.task(name, source)
            except (ValueError, KeyError):
                continue  # the source holds no class of this channel
            pairs.extend((task.channel, ref.name.split("/", 1)[1]) for ref in task.signal)
        return pairs

    grouped: dict[tuple[str, str], dict[tuple[str, str], list[float]]] = defaultdict(lambda: defaultdict(list))
    for e in entries:
        if e.task not in expected:
            continue
        channel = reg.task(e.task).channel
        for r in e.records:
            for cls, m in r.get("per_signal", {}).items():
                signal = cls.split("/", 1)[1] if "/" in cls else cls
                if m.get("si_all") is not None:
                    grouped[(e.scorer, e.source)][(channel, signal)].append(float(m["si_all"]))
    out = {}
    for key, per_pair in grouped.items():
        si = {pair: float(np.median(v)) for pair, v in per_pair.items()}
        out[key] = M.total_improvement(si, expected=expected_for(key[1]))
    return out


def summary_table(entries: list[Entry]) -> tuple[list[str], list[list[Any]], list[dict[str, Any]]]:
    tasks = sorted({e.task for e in entries})
    scorers = sorted({(e.scorer, e.source) for e in entries})
    ti = dark_machines_ti(entries)
    header = ["scorer", "source", *[f"{t} AUC" for t in tasks]] + (["Dark Machines TI (min/median/max)"] if ti else [])
    rows, data = [], []
    for scorer, source in scorers:
        cells, record = [], {"scorer": scorer, "source": source, "auc": {}}
        for t in tasks:
            cand = [e for e in entries if e.task == t and e.scorer == scorer and e.source == source]
            if not cand:
                cells.append("")
                continue
            # resonant tasks: the default (or largest) injection represents the task
            e = max(cand, key=lambda e: (e.injection or 0))
            band = e.summary("auc")
            flag = " *" if e.incomplete_reasons else ""
            cells.append(fmt(band) + flag)
            record["auc"][t] = band
        if ti:
            t_i = ti.get((scorer, source))
            if t_i:
                txt = " / ".join(format_value(t_i[k]) for k in ("min", "median", "max")) \
                    + ("" if t_i["complete"] else " *")
                record["total_improvement"] = t_i
            else:
                txt = ""
            cells.append(txt)
        rows.append([scorer, source, *cells])
        data.append(record)
    return header, rows, data


def _markdown(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-Markdown table, followed by its footnotes (:func:`table_notes`)."""
    from tabulate import tabulate

    table = tabulate(rows, headers=header, tablefmt="github", disable_numparse=True)
    notes = table_notes(header, rows)
    return table + "".join(f"\n\n{note}" for note in notes) if notes else table


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path, "w") as handle:
        handle.write(text)




def build_leaderboard(results_dir: Path, out_dir: Path, *, plots: bool = True, update: bool = False) -> list[Path]:
    """Write per-task and summary tables (Markdown, CSV, JSON) and plots; returns written paths.

    ``update``: rebuild only the tasks ``results_dir`` holds and keep every other task that
    ``out_dir`` publishes as it is (:mod:`benchmark.leaderboard_update`).
    """
    from benchmark import leaderboard_update as U

    entries_by_key = collect(Path(results_dir))
    if not entries_by_key:
        raise FileNotFoundError(f"no result files under {results_dir}; run `lhcad run` first")
    entries = list(entries_by_key.values())
    rebuilt = {e.task for e in entries}
    published = U.read_published(out_dir) if update else U.Published()
    U.check_update(published, rebuilt)
    kept = published.kept(rebuilt)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    index_lines = ["# lhcad leaderboard", "",
                   "Every number is the median over seeds ± half the 16-84 % band (one seed: its 68 % bootstrap "
                   "interval), rounded to the precision of its error (PDG rule); `seeds` counts the seeds; `*` marks "
                   "incomplete entries. Built from result files only by `lhcad leaderboard`.", ""]
    header, rows, data = summary_table(entries)
    if update:
        header, rows, data = U.merge_summary(header, rows, data, published, rebuilt)
    index_lines += ["## Summary (AUC per task)", "", _markdown(header, rows), ""]
    _write_text(out_dir / "summary.csv", _csv(header, rows))
    write_json(out_dir / "summary.json", data)
    written += [out_dir / "summary.csv", out_dir / "summary.json"]
    all_tasks: dict[str, Any] = {t: published.tasks[t] for t in kept}
    for task in sorted(rebuilt | set(kept)):
        if task in kept:
            index_lines += [published.sections.get(task, f"## [{task}]({slug(task)}.md)"), ""]
            continue
        task_entries = [e for e in entries if e.task == task]
        header, rows, data = task_table(task, task_entries)
        name = slug(task)
        plot_paths = plot_task(task, task_entries, out_dir / "plots") if plots else []
        info = describe_task(task, [r for e in task_entries for r in e.records])
        _write_text(out_dir / f"{name}.md", task_markdown(info, _markdown(header, rows), data, plot_paths))
        _write_text(out_dir / f"{name}.csv", _csv(header, rows))
        write_json(out_dir / f"{name}.json", data)
        written += [out_dir / f"{name}.md", out_dir / f"{name}.csv", out_dir / f"{name}.json", *plot_paths]
        index_lines += [f"## [{task}]({name}.md)", "", _markdown(header, rows), ""]
        all_tasks[task] = data
    from benchmark.challenge_board import write_challenge_ranking  # ours among the DM challenge's models
    if any(U.is_dark_machines(t) for t in rebuilt) or not published.challenge_section:
        written += write_challenge_ranking(dark_machines_ti(entries), Path(results_dir), out_dir, index_lines)
    else:
        index_lines += [published.challenge_section, ""]
    _write_text(out_dir / "README.md", "\n".join(index_lines))
    write_json(out_dir / "leaderboard.json", dict(sorted(all_tasks.items())))
    written += [out_dir / "README.md", out_dir / "leaderboard.json"]
    return written
