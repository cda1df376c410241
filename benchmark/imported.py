"""Published Dark Machines challenge results as reference rows: read, validate, store, recompute TI.

The challenge published every submitted model's numbers per (signal, channel) in one CSV format
(``bostdiek/DarkMachines-UnsupervisedChallenge``, ``data/*.csv``, MIT licence)::

    Signal,Model,Chan,AUC,1e-2,1e-3,1e-4
    stop2b1000_neutralino300,Flow-Efficient_Likelihood,1,0.97,0.72,0.3,0.3

(the last three columns are eps_S at eps_B = 1e-2, 1e-3, 1e-4). From these the engine recomputes
each model's total improvement exactly as the challenge's notebook did
(``notebooks/04-SignificanceImprovement.ipynb``; methods.md d.4): SI = eps_S / sqrt(eps_B) per cut,
SI_All = max over the three cuts, TI(signal) = max over the model's rows of that signal (channels),
then min / median / max over signals (:func:`benchmark.metrics.total_improvement`); the published
summary is reproduced bit for bit for 988 of its 1040 models and within 2 ulp for the rest (their
17-digit entries, such as ``0.19229000000000002``, were read by the challenge's pandas 1.1 with a
float parser that is not correctly rounded). A model lacking
one of the four channels is *incomplete*: the challenge dropped it from its table, we keep it
flagged.

These rows are numbers, not scores: nothing can be re-judged from them. They are labelled
``imported`` wherever they appear and are never merged with results whose per-event scores we
hold. Tables ship with the package (:data:`SHIPPED_DIR`, with ``SOURCE.md``: origin, commit,
licence); ``lhcad import-results FILES`` adds others (a newer release, a user's own model in the
challenge format) under ``<results>/imported/darkmachines/``.
"""
from __future__ import annotations

import csv
import gzip
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark import metrics as M
from benchmark.store import atomic_write

COLUMNS = ("Signal", "Model", "Chan", "AUC", "1e-2", "1e-3", "1e-4")
CUTS = ("1e-2", "1e-3", "1e-4")
CHANNELS = ("1", "2a", "2b", "3")
SHIPPED_DIR = Path(__file__).resolve().parent / "reference_results" / "darkmachines"
#: where ``lhcad import-results`` stores tables, below a results folder
IMPORTED_SUBDIR = Path("imported") / "darkmachines"
#: the label every imported row carries (source column of the tables)
IMPORTED_LABEL = "imported (Dark Machines challenge)"


class ImportFormatError(ValueError):
    """A challenge table that cannot be read; the message names the file, line and field."""


@dataclass(frozen=True)
class ChallengeRow:
    signal: str
    model: str
    channel: str
    auc: float
    eps_s: tuple[float, float, float]  # at eps_B = 1e-2, 1e-3, 1e-4
    source: str

    @property
    def si_all(self) -> float:
        """max over the three cuts of eps_S / sqrt(eps_B) (NaN cuts left out, as pandas' max)."""
        values = [e / np.sqrt(float(cut)) for e, cut in zip(self.eps_s, CUTS) if not math.isnan(e)]
        return float(max(values)) if values else math.nan


def _number(text: str, where: str, field: str) -> float:
    try:
        value = float(text) if text.strip() != "" else math.nan
    except ValueError:
        raise ImportFormatError(f"{where}: field {field!r} = {text!r} is not a number") from None
    return value


def parse_table(text: str, source: str) -> list[ChallengeRow]:
    """Rows of one challenge CSV (``source`` names it in errors and in each row)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise ImportFormatError(f"{source}: empty file; expected the header {','.join(COLUMNS)}")
    header = [h.strip() for h in header]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ImportFormatError(f"{source}, line 1: header {header} lacks {missing}; the challenge format is "
                                f"{','.join(COLUMNS)}")
    col = {c: header.index(c) for c in COLUMNS}
    rows = []
    for lineno, fields in enumerate(reader, start=2):
        if not fields or all(not f.strip() for f in fields):
            continue
        where = f"{source}, line {lineno}"
        if len(fields) < len(header):
            raise ImportFormatError(f"{where}: {len(fields)} fields, the header has {len(header)}")
        channel = fields[col["Chan"]].strip()
        if channel not in CHANNELS:
            raise ImportFormatError(f"{where}: field 'Chan' = {channel!r}; expected one of {CHANNELS}")
        eps = tuple(_number(fields[col[c]], where, c) for c in CUTS)
        bad = [c for c, e in zip(CUTS, eps) if not (math.isnan(e) or 0.0 <= e <= 1.0)]
        if bad:
            raise ImportFormatError(f"{where}: signal efficiencies {bad} outside [0, 1]")
        signal, model = fields[col["Signal"]].strip(), fields[col["Model"]].strip()
        if not signal or not model:
            raise ImportFormatError(f"{where}: empty 'Signal' or 'Model'")
        rows.append(ChallengeRow(signal, model, channel, _number(fields[col["AUC"]], where, "AUC"),
                                 eps, source))  # type: ignore[arg-type]
    return rows


def read_table(path: Path) -> list[ChallengeRow]:
    """A challenge CSV, plain or gzip-compressed."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{path}: not UTF-8 text ({exc})") from None
    return parse_table(text, path.name)


def table_files(results_dir: Path | None = None) -> list[Path]:
    """The shipped tables, then those imported into ``results_dir`` (a name imported there replaces
    the shipped table of the same name)."""
    found = {p.name: p for p in sorted(SHIPPED_DIR.glob("*.csv.gz"))}
    if results_dir is not None:
        found.update({p.name: p for p in sorted((Path(results_dir) / IMPORTED_SUBDIR).glob("*.csv.gz"))})
    return [found[k] for k in sorted(found)]


def load_rows(files: Iterable[Path] | None = None, results_dir: Path | None = None) -> list[ChallengeRow]:
    rows: list[ChallengeRow] = []
    for path in (table_files(results_dir) if files is None else files):
        rows.extend(read_table(path))
    return rows


def total_improvements(rows: Iterable[ChallengeRow]) -> dict[str, dict[str, Any]]:
    """Per model: TI min / median / max over signals, per-signal TI, channels, completeness.

    As the challenge: TI(signal) is the max of SI_All over the model's rows for that signal (all
    channels; a repeated row counts once through the max); the summary skips signals the model
    has no number for. ``complete`` is False when the model lacks one of the four channels.
    """
    by_model: dict[str, dict[tuple[str, str], float]] = defaultdict(dict)
    channels: dict[str, set[str]] = defaultdict(set)
    sources: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        key = (r.channel, r.signal)
        value = r.si_all
        old = by_model[r.model].get(key)
        if old is None or math.isnan(old) or (not math.isnan(value) and value > old):
            by_model[r.model][key] = value
        channels[r.model].add(r.channel)
        sources[r.model].add(r.source)
    out = {}
    for model, si in by_model.items():
        ti = M.total_improvement(si)
        missing = [c for c in CHANNELS if c not in channels[model]]
        out[model] = {"min": ti["min"], "median": ti["median"], "max": ti["max"],
                      "per_signal": ti["per_signal"], "n_signals": ti["n_signals"],
                      "channels": sorted(channels[model]), "missing_channels": missing, "complete": not missing,
                      "tables": sorted(sources[model]), "source": IMPORTED_LABEL}
    return out


def import_tables(paths: Iterable[Path], results_dir: Path) -> dict[str, Any]:
    """Validate challenge CSVs and store them gzip-compressed under ``<results_dir>/imported/darkmachines``.

    Every file is read completely before anything is written (a bad line imports nothing).
    Returns {"written": [...], "models": {model: TI summary}}.
    """
    parsed: dict[Path, tuple[list[ChallengeRow], bytes]] = {}
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"lhcad import-results: {path} is not a file")
        rows = read_table(path)
        if not rows:
            raise ImportFormatError(f"{path}: no rows below the header")
        raw = path.read_bytes()
        parsed[path] = (rows, gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    target = Path(results_dir) / IMPORTED_SUBDIR
    written = []
    for path, (_, raw) in parsed.items():
        stem = path.name[:-3] if path.name.endswith(".gz") else path.name
        out = target / (stem if stem.endswith(".csv") else stem + ".csv")
        out = out.with_name(out.name + ".gz")
        with atomic_write(out, "wb") as handle:
            handle.write(gzip.compress(raw, compresslevel=9, mtime=0))
        written.append(out)
    models = total_improvements(r for rows, _ in parsed.values() for r in rows)
    return {"written": written, "models": models}


def ranking(ours: Mapping[str, Mapping[str, Any]], imported: Mapping[str, Mapping[str, Any]],
            *, complete_only: bool = True) -> list[dict[str, Any]]:
    """One list sorted by median TI (then max), ours and the imported models, each row labelled by
    its origin (``ours`` rows keep their own keys); ``complete_only`` leaves out imported models the
    challenge dropped for a missing channel."""
    rows = [{"model": name, "origin": "ours", **dict(ti)} for name, ti in ours.items()]
    rows += [{"model": name, "origin": "imported", **dict(ti)} for name, ti in imported.items()
             if ti.get("complete", True) or not complete_only]

    def key(row: Mapping[str, Any]) -> tuple[float, float]:
        med, hi = row.get("median"), row.get("max")
        return (-(med if med is not None and not math.isnan(med) else -math.inf),
                -(hi if hi is not None and not math.isnan(hi) else -math.inf))

    rows.sort(key=key)
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows
