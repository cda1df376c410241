"""The Markdown task page of the leaderboard (``leaderboard/<task>.md``): what the task is, the table,
the papers' figures with their sources, the command behind each entry, and the plots.

The HTML site renders the same facts (:mod:`benchmark.site`); both read them from
:mod:`benchmark.taskinfo` and the table rows of :func:`benchmark.leaderboard.task_table`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.taskinfo import TaskInfo


def intro_markdown(info: TaskInfo) -> str:
    return "\n".join(f"- **{label}**: {text}" for label, text in info.facts())


def reported_markdown(info: TaskInfo) -> str:
    """The papers' figures for the task, one line per method with its source."""
    if not info.reported:
        return "No paper reports a figure for this task in `datasets.yaml` (`reported:`)."
    lines = ["| method (paper) | reported | source |", "|---|---|---|"]
    lines += [f"| {f.method} | {f.text()} | {f.source} |" for f in info.reported]
    return "\n".join(lines)


def commands_markdown(data: list[dict[str, Any]]) -> str:
    """The command that produced each entry (the one ``lhcad reproduce`` reruns), and where an entry
    ran at a smaller preset, the command for the papers' sizes."""
    lines = []
    for d in data:
        if d.get("command"):
            label = d["scorer"] + (f" inj={d['injection']}" if d.get("injection") is not None else "")
            lines.append(f"- `{label}` [{d['source']}]: `{d['command']}`")
    paper = sorted({d["paper_size_command"] for d in data if d.get("paper_size_command")})
    out = "\n".join(lines)
    if paper:
        out += ("\n\nRerun at the papers' sizes (real data, registry sizes, `paper` preset):\n\n"
                + "\n".join(f"    {c}" for c in paper))
    return out


def task_markdown(info: TaskInfo, table: str, data: list[dict[str, Any]], plots: list[Path]) -> str:
    parts = [f"# {info.task}", intro_markdown(info), "## Results", table,
             "## Reported in the papers", reported_markdown(info),
             "## Commands", commands_markdown(data)]
    if plots:
        parts += ["## Plots", "\n".join(f"![{p.stem}](plots/{p.name})" for p in plots)]
    return "\n\n".join(parts) + "\n"
