"""Rebuild some tasks of a published leaderboard and keep the others as published.

A leaderboard is built from result files only, and the result files behind a published table
need not all be at hand (another machine's runs, a contributor's merged bundle, an earlier
session's folder). ``lhcad leaderboard --update`` rebuilds the tasks that ``--results`` holds and
keeps every other task exactly as ``--out`` publishes it: its page, CSV, JSON and plots are left
untouched, its column of the cross-task summary and its section of the index are carried over.

The Dark Machines total improvement is a maximum over channels, so it cannot mix rebuilt and kept
channels: an update that touches any Dark Machines channel must rebuild every published one.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: the summary's total-improvement column (see :func:`benchmark.leaderboard.summary_table`)
TI_COLUMN = "Dark Machines TI (min/median/max)"
#: the index heading of the Dark Machines ranking (:mod:`benchmark.challenge_board`)
CHALLENGE_HEADING = "## Dark Machines: ranked among the challenge's models"


def is_dark_machines(task: str) -> bool:
    return task.startswith("darkmachines/")


@dataclass
class Published:
    """What ``out_dir`` publishes now: per-task data, summary cells and index sections."""

    tasks: dict[str, Any] = field(default_factory=dict)
    summary_cells: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    summary_data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    sections: dict[str, str] = field(default_factory=dict)
    challenge_section: str | None = None

    def kept(self, rebuilt: set[str]) -> list[str]:
        return sorted(t for t in self.tasks if t not in rebuilt)


def _split_sections(text: str) -> tuple[dict[str, str], str | None]:
    """Index sections by task (``## [task](page.md)`` headings) and the challenge section."""
    sections: dict[str, str] = {}
    challenge = None
    parts = re.split(r"(?m)^(?=## )", text)
    for part in parts:
        match = re.match(r"## \[([^\]]+)\]\(", part)
        if match:
            sections[match.group(1)] = part.rstrip("\n")
        elif part.startswith(CHALLENGE_HEADING):
            challenge = part.rstrip("\n")
    return sections, challenge


def read_summary(board_dir: Path) -> tuple[list[str], list[list[str]], list[dict[str, Any]]]:
    """Header and display rows (``summary.csv``) and data (``summary.json``) of a written leaderboard."""
    header, *rows = list(csv.reader(io.StringIO((Path(board_dir) / "summary.csv").read_text())))
    return header, rows, json.loads((Path(board_dir) / "summary.json").read_text())


def read_published(out_dir: Path) -> Published:
    """Read the leaderboard ``out_dir`` publishes; an empty one if there is none yet."""
    out_dir = Path(out_dir)
    pub = Published()
    board = out_dir / "leaderboard.json"
    if not board.exists():
        return pub
    try:
        pub.tasks = json.loads(board.read_text())
        header, rows, summary_data = read_summary(out_dir)
        index = (out_dir / "README.md").read_text()
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot update the leaderboard in {out_dir}: its published files are unreadable ({exc}); "
                         f"rebuild it whole without --update") from exc
    for row in rows:
        cells = dict(zip(header, row))
        pub.summary_cells[(cells["scorer"], cells["source"])] = cells
    for record in summary_data:
        pub.summary_data[(record["scorer"], record["source"])] = record
    pub.sections, pub.challenge_section = _split_sections(index)
    return pub


def check_update(published: Published, rebuilt: set[str]) -> None:
    """Refuse an update that would mix rebuilt and kept Dark Machines channels in one TI."""
    kept_dm = [t for t in published.kept(rebuilt) if is_dark_machines(t)]
    if kept_dm and any(is_dark_machines(t) for t in rebuilt):
        raise ValueError("the Dark Machines total improvement spans channels: an update that rebuilds "
                         f"{', '.join(sorted(t for t in rebuilt if is_dark_machines(t)))} must also rebuild the "
                         f"published {', '.join(kept_dm)} (put their result files in --results), or rebuild without "
                         "--update")


def merge_summary(header: list[str], rows: list[list[Any]], data: list[dict[str, Any]], published: Published,
                  rebuilt: set[str]) -> tuple[list[str], list[list[Any]], list[dict[str, Any]]]:
    """The cross-task summary of the rebuilt entries plus the kept tasks' published columns.

    The total-improvement column comes from the rebuild when it holds Dark Machines tasks, else
    from the published summary.
    """
    kept = published.kept(rebuilt)
    rebuilt_ti = TI_COLUMN in header
    published_ti = any(TI_COLUMN in cells for cells in published.summary_cells.values())
    with_ti = rebuilt_ti or published_ti
    tasks = sorted(rebuilt | set(kept))
    new_header = ["scorer", "source", *[f"{t} AUC" for t in tasks]] + ([TI_COLUMN] if with_ti else [])
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    records: dict[tuple[str, str], dict[str, Any]] = {}
    for row, record in zip(rows, data):
        key = (record["scorer"], record["source"])
        cells[key] = dict(zip(header, row))
        records[key] = {"scorer": key[0], "source": key[1], "auc": dict(record.get("auc", {}))}
        if rebuilt_ti and "total_improvement" in record:
            records[key]["total_improvement"] = record["total_improvement"]
    for key, published_cells in published.summary_cells.items():
        old = published.summary_data.get(key, {})
        carried = {f"{t} AUC": published_cells.get(f"{t} AUC", "") for t in kept}
        auc = {t: old["auc"][t] for t in kept if t in old.get("auc", {})}
        if not rebuilt_ti and published_cells.get(TI_COLUMN):
            carried[TI_COLUMN] = published_cells[TI_COLUMN]
        if not any(carried.values()):
            continue
        cells.setdefault(key, {"scorer": key[0], "source": key[1]}).update(carried)
        record = records.setdefault(key, {"scorer": key[0], "source": key[1], "auc": {}})
        record["auc"].update(auc)
        if not rebuilt_ti and "total_improvement" in old:
            record["total_improvement"] = old["total_improvement"]
    keys = sorted(cells)
    new_rows = [[cells[k].get(h, "") for h in new_header] for k in keys]
    return new_header, new_rows, [records[k] for k in keys]


__all__ = ["Published", "read_published", "read_summary", "check_update", "merge_summary", "is_dark_machines", "TI_COLUMN",
           "CHALLENGE_HEADING"]
