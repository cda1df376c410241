"""The Dark Machines leaderboard page: our scorers' total improvement ranked among the challenge's
published models (:mod:`benchmark.imported`), each row labelled by origin.

Our TI comes from our result files (per-event scores we hold and re-judge); the challenge's from
its published tables (numbers only). They share one ranking by median TI but never one row. Where
our entries cover fewer channels or signals than the challenge's 19 signals in four channels, the
``restricted`` columns give each imported model's TI over the same (channel, signal) pairs as ours,
the like-for-like comparison.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmark import imported as I
from benchmark.store import atomic_write, write_json

#: imported models shown besides ours (the rest count in the ranks)
TOP_IMPORTED = 25
PAGE = "darkmachines-challenge"


def _num(x: Any) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3g}"


def _channel(name: str) -> str:
    return name[4:] if name.startswith("chan") else name


def restricted_ti(rows: list[I.ChallengeRow], pairs: set[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Imported models' TI over the (challenge channel, signal) ``pairs`` only."""
    return I.total_improvements(r for r in rows if (r.channel, r.signal) in pairs)


def challenge_ranking(ours: Mapping[tuple[str, str], Mapping[str, Any]], results_dir: Path | None = None
                      ) -> dict[str, Any]:
    """Ranking data: ``rows`` (ours and the top imported models, with rank among all complete
    imported models), ``pairs`` our entries cover, counts and the tables read."""
    rows = I.load_rows(results_dir=results_dir)
    imported = I.total_improvements(rows)
    pairs = {(_channel(str(ch)), str(sig)) for ti in ours.values()
             for sig, ch in (ti.get("best_channel") or {}).items()}
    restricted = restricted_ti(rows, pairs) if pairs else {}
    labelled = {f"{scorer} ({source})": dict(ti) for (scorer, source), ti in ours.items()}
    ranked = I.ranking(labelled, imported)
    shown, n_imported = [], 0
    for row in ranked:
        if row["origin"] == "imported":
            n_imported += 1
            if n_imported > TOP_IMPORTED:
                continue
            r = restricted.get(row["model"])
            row["restricted"] = {k: r[k] for k in ("min", "median", "max", "n_signals")} if r else None
        shown.append(row)
    return {"rows": shown, "pairs": sorted(pairs), "n_imported": n_imported,
            "tables": [p.name for p in I.table_files(results_dir)]}


def write_challenge_ranking(ours: Mapping[tuple[str, str], Mapping[str, Any]], results_dir: Path, out_dir: Path,
                            index_lines: list[str]) -> list[Path]:
    """Write ``<out_dir>/darkmachines-challenge.md|json`` when any Dark Machines TI of ours exists,
    and add the table to the leaderboard index; returns the written paths."""
    if not ours:
        return []
    data = challenge_ranking(ours, results_dir)
    header = ["rank", "model", "origin", "TI min", "TI median", "TI max", "signals", "complete",
              "restricted TI min / median / max"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in data["rows"]:
        r = row.get("restricted")
        restricted = " / ".join(_num(r[k]) for k in ("min", "median", "max")) if r else ""
        origin = "ours" if row["origin"] == "ours" else I.IMPORTED_LABEL
        lines.append("| " + " | ".join([str(row["rank"]), row["model"], origin, _num(row.get("min")),
                                        _num(row.get("median")), _num(row.get("max")), str(row.get("n_signals", "")),
                                        "yes" if row.get("complete") else "no", restricted]) + " |")
    pairs = ", ".join(f"chan{c}/{s}" for c, s in data["pairs"])
    table = "\n".join(lines)
    notes = (f"Ranked by median total improvement (then max) among our entries and the "
             f"{data['n_imported']} complete models of the challenge's published tables "
             f"(the top {TOP_IMPORTED} shown; tables: {', '.join(data['tables'])}; source and licence in "
             f"`benchmark/reference_results/darkmachines/SOURCE.md`). Imported rows are the challenge's numbers, "
             f"not scores we hold. `complete` = all four channels; our TI covers only the channels and signals we "
             f"ran: {pairs or 'none'}; `restricted` is each imported model's TI over those same pairs.")
    text = f"# Dark Machines: our scorers among the challenge's models\n\n{table}\n\n{notes}\n"
    md, js = out_dir / f"{PAGE}.md", out_dir / f"{PAGE}.json"
    with atomic_write(md, "w") as handle:
        handle.write(text)
    write_json(js, data)
    index_lines += ["## Dark Machines: ranked among the challenge's models", "", table, "", notes, ""]
    return [md, js]
