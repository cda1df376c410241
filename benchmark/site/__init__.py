"""Static HTML leaderboard (``lhcad leaderboard --html``): opens from ``file://``, needs no server or internet.

``index.html`` holds the cross-task summary; each task has a page with a sortable table (median ±
error, number of seeds, the papers' figures beside ours, incomplete entries flagged, each entry's
provenance in a fold-out), its ROC and SIC plots and, for resonant tasks, max SIC versus
injection. Every asset (``assets/style.css``, ``assets/sort.js``, ``plots/*.png``) is copied
beside the pages and linked relatively.
"""
from __future__ import annotations

import html
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).resolve().parent / "assets"
_CODE = re.compile(r"`([^`]*)`")  # Markdown code spans in footnotes


def _esc(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_esc(title)}</title><link rel=\"stylesheet\" href=\"assets/style.css\">"
            "<script src=\"assets/sort.js\" defer></script></head>\n"
            f"<body><nav><a href=\"index.html\">lhcad leaderboard</a></nav><h1>{_esc(title)}</h1>\n{body}\n"
            "<p><small>Every number: median over seeds ± half the 16-84 % band (one seed: its 68 % bootstrap "
            "interval), rounded to the precision of its error (PDG rule); <span class=\"flag\">*</span> marks incomplete entries. Click a column to sort.</small></p>"
            "</body></html>\n")


def _num(band: dict[str, Any] | None) -> str:
    med = (band or {}).get("median")
    if med is None or (isinstance(med, float) and math.isnan(med)):
        return ""
    return repr(float(med))


def _notes(header: list[str], rows: list[list[Any]]) -> str:
    """The table's footnotes (why a cell is n/a or a lower bound), as in the Markdown tables."""
    from benchmark.leaderboard import table_notes

    notes = [_code_spans(note) for note in table_notes(header, rows)]
    return "".join(f"<p class=\"note\"><small>{note}</small></p>" for note in notes)


def _table(header: list[str], rows: list[str], table_id: str) -> str:
    head = "".join(f"<th scope=\"col\">{_esc(h)}</th>" for h in header)
    return (f"<table class=\"sortable\" id=\"{table_id}\"><thead><tr>{head}</tr></thead>"
            f"<tbody>\n{''.join(rows)}</tbody></table>")


def _code_spans(text: str) -> str:
    """Escaped text with Markdown code spans as <code> (footnotes, task facts)."""
    return _CODE.sub(r"<code>\1</code>", _esc(text))


def _intro(info: Any) -> str:
    """What the task is: protocol, classes, source and recipe, counts used (:mod:`benchmark.taskinfo`)."""
    items = "".join(f"<dt>{_esc(label)}</dt><dd>{_code_spans(text)}</dd>" for label, text in info.facts())
    return f"<dl class=\"task-info\">{items}</dl>"


def _reported(info: Any) -> str:
    if not info.reported:
        return "<h2>Reported in the papers</h2><p>No paper reports a figure for this task.</p>"
    rows = [f"<tr><td>{_esc(f.method)}</td><td>{_esc(f.text())}</td><td>{_esc(f.source)}</td></tr>\n"
            for f in info.reported]
    return ("<h2>Reported in the papers</h2><table class=\"reported\"><thead><tr><th>method (paper)</th>"
            f"<th>reported</th><th>source</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _commands(data: list[dict[str, Any]]) -> str:
    """The command behind each entry (what ``lhcad reproduce`` reruns)."""
    items = []
    for d in data:
        if d.get("command"):
            label = d["scorer"] + (f" inj={d['injection']}" if d.get("injection") is not None else "")
            items.append(f"<li><b>{_esc(label)}</b> [{_esc(d['source'])}]: <code>{_esc(d['command'])}</code></li>")
    return ("<h2>Commands</h2><p>Each entry was produced by the command beside it; "
            "<code>lhcad reproduce &lt;entry folder&gt;</code> reruns it from its records and compares.</p>"
            f"<ul class=\"commands\">{''.join(items)}</ul>")


def build_site(results_dir: Path, site_dir: Path, *, plots_dir: Path | None = None,
               updated_board: Path | None = None) -> Path:
    """Write the site into ``site_dir``; returns the path of ``index.html``.

    ``updated_board``: the leaderboard folder that ``lhcad leaderboard --update`` just wrote; the
    index then shows its merged summary and every task it publishes, and only the tasks of
    ``results_dir`` get new pages (the others' pages in ``site_dir`` stay as they are).
    """
    from benchmark.leaderboard import collect, fmt, plot_task, slug, summary_table, task_table
    from benchmark.plots import plot_sort_key
    from benchmark.taskinfo import describe_task

    entries = list(collect(Path(results_dir)).values())
    if not entries:
        raise FileNotFoundError(f"no result files under {results_dir}; run `lhcad run` first")
    site_dir = Path(site_dir)
    (site_dir / "assets").mkdir(parents=True, exist_ok=True)
    for asset in ASSETS.iterdir():
        shutil.copy2(asset, site_dir / "assets" / asset.name)
    tasks = sorted({e.task for e in entries})
    # summary
    if updated_board is not None:
        from benchmark.leaderboard_update import read_summary

        header, rows, data = read_summary(Path(updated_board))
        listed = sorted(json.loads((Path(updated_board) / "leaderboard.json").read_text()))
    else:
        (header, rows, data), listed = summary_table(entries), tasks
    trs = []
    for row, rec in zip(rows, data):
        cells = []
        for h, cell in zip(header, row):
            task = h.removesuffix(" AUC")  # summary columns are "<task> AUC"
            val = ""
            if task in rec.get("auc", {}):
                val = _num(rec["auc"][task])
            flag = " <span class=\"flag\">*</span>" if str(cell).endswith(" *") else ""
            text = str(cell)[:-2] if flag else str(cell)
            link = f"<a href=\"{slug(task)}.html\">{_esc(text)}</a>" if task in listed and text else _esc(text)
            cells.append(f"<td data-value=\"{_esc(val)}\">{link}{flag}</td>" if val else f"<td>{link}{flag}</td>")
        trs.append(f"<tr>{''.join(cells)}</tr>\n")
    task_links = "".join(f"<li><a href=\"{slug(t)}.html\">{_esc(t)}</a></li>" for t in listed)
    index = site_dir / "index.html"
    index.write_text(_page("lhcad leaderboard", "<h2>Summary (AUC per task)</h2>" + _table(header, trs, "summary")
                           + _notes(header, rows) + f"<h2>Tasks</h2><ul>{task_links}</ul>"))
    # task pages
    plots_out = site_dir / "plots"
    plots_out.mkdir(exist_ok=True)
    for task in tasks:
        task_entries = [e for e in entries if e.task == task]
        header, rows, data = task_table(task, task_entries)
        seeds_at = header.index("seeds")
        metric_cols = header[3:seeds_at]  # train/test and the task's metrics
        trs = []
        for row, rec in zip(rows, data):
            incomplete = rec["status"] != "ok"
            star = ' <span class="flag">*</span>' if incomplete else ""
            cells = [f"<td>{_esc(row[0])}{star}</td>",
                     f"<td>{_esc(row[1])}</td>", f"<td data-value=\"{_esc(row[2])}\">{_esc(row[2])}</td>"]
            for col, text in zip(metric_cols, row[3:3 + len(metric_cols)]):
                band = rec["metrics"].get(col, {})
                cells.append(f"<td data-value=\"{_num(band)}\">{_esc(text or fmt(band))}</td>")
            cells.append(f"<td data-value=\"{len(rec['seeds'])}\">{len(rec['seeds'])}</td>")
            cells += [f"<td>{_esc(text)}</td>" for text in row[seeds_at + 1:]]  # model, paper, status
            prov = json.dumps(rec["provenance"], indent=1, sort_keys=True, default=str)
            card = json.dumps({**rec["model_card"], "configuration": rec.get("configuration") or "defaults"},
                              indent=1, sort_keys=True, default=str)
            cells.append(f"<td><details><summary>model card</summary><pre>{_esc(card)}</pre></details>"
                         f"<details><summary>command</summary><code>{_esc(rec.get('command'))}</code></details>"
                         f"<details><summary>provenance</summary><pre>{_esc(prov)}</pre></details></td>")
            trs.append(f"<tr class=\"{'incomplete' if incomplete else 'ok'}\">{''.join(cells)}</tr>\n")
        plots = []
        if plots_dir is not None and Path(plots_dir).is_dir():
            plots = sorted(Path(plots_dir).glob(f"{slug(task)}-*.png"), key=plot_sort_key)
        if not plots:
            plots = plot_task(task, task_entries, plots_out)
        imgs = []
        for p in plots:
            if p.parent.resolve() != plots_out.resolve():
                shutil.copy2(p, plots_out / p.name)
            wide = ' class="wide"' if p.stem.endswith(("-injection", "-ti-per-signal")) else ""
            imgs.append(f"<img src=\"plots/{_esc(p.name)}\" alt=\"{_esc(p.stem)}\"{wide}>")
        info = describe_task(task, [r for e in task_entries for r in e.records])
        body = (_intro(info) + "<h2>Results</h2>" + _table([*header[:-1], "status", "details"], trs, "task")
                + _notes(header, rows) + _reported(info) + _commands(data)
                + f"<h2>Plots</h2><div class=\"plots\">{''.join(imgs)}</div>")
        (site_dir / f"{slug(task)}.html").write_text(_page(task, body))
    return index
