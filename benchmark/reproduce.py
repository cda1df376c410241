"""``lhcad reproduce ENTRY``: rerun one leaderboard entry from its result records alone and say whether
the published numbers come back.

What is taken from the records (never from today's defaults): task and its version, data source
and the sha256 of every class file, sizes, injection, seeds, scorer spec, resolved configuration,
preset and bootstrap count (``identity``); the package versions the entry ran with (``versions``).
Before the rerun every difference between the recorded run and this installation is *named*
(a task version, a class file, the scorer's version, a package version, an identity edited after
the run); the rerun then goes through the ordinary runner into a work folder, and each of the
task's metrics is compared with the published band: the rerun's median over seeds must lie in
the published 16-84 % band over seeds (one seed: its 68 % bootstrap interval). The verdict is
``reproduced`` or, per metric, by how much the rerun differs (absolute and in published half-bands).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.results import identity_hash, iter_results, package_versions, read_result

#: Relative slack for "inside the band" (float noise of a deterministic rerun on another CPU).
REL_TOL = 1e-9
_HASH = re.compile(r"^[0-9a-f]{6,12}$")


@dataclass
class MetricCheck:
    metric: str
    published: dict[str, Any]
    rerun: dict[str, Any]
    ok: bool
    delta: float
    half_bands: float | None

    def text(self) -> str:
        from benchmark.numbers import format_band

        pub, new = format_band(self.published), format_band(self.rerun)
        if self.ok and math.isnan(float(self.published.get("median") if self.published.get("median") is not None
                                        else "nan")):
            return f"{self.metric}: n/a in the published entry and in the rerun (same reason, see the task page)"
        if self.ok:
            return f"{self.metric}: published {pub}, rerun {new}: inside the published band"
        size = f" ({self.half_bands:.1f} published half-bands)" if self.half_bands is not None else ""
        return f"{self.metric}: published {pub}, rerun {new}: differs by {self.delta:+.4g}{size}"


@dataclass
class Report:
    entry: str
    command: str
    seeds: list[int]
    differences: list[str] = field(default_factory=list)
    checks: list[MetricCheck] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    rerun_dir: Path | None = None

    @property
    def reproduced(self) -> bool:
        return not self.failed and bool(self.checks) and all(c.ok for c in self.checks)

    def text(self) -> str:
        lines = [f"entry: {self.entry}", f"command: {self.command}"]
        lines += ["differences from the recorded run:"] + [f"  - {d}" for d in self.differences] \
            if self.differences else ["differences from the recorded run: none (same task, data, scorer, "
                                      "configuration and package versions)"]
        lines += [f"  {c.text()}" for c in self.checks]
        lines += [f"  rerun failed: {f}" for f in self.failed]
        if self.reproduced:
            lines.append(f"reproduced: {len(self.checks)} metrics over seeds {self.seeds} inside the published bands")
        else:
            bad = [c.metric for c in self.checks if not c.ok]
            lines.append("NOT reproduced: " + (", ".join(bad) + " outside the published band" if bad
                                               else "the rerun produced no comparable result"))
        return "\n".join(lines)


def find_entry(entry: str, results_dir: Path) -> list[dict[str, Any]]:
    """The records of one entry: ENTRY is a result file (its seeds beside it of the same identity),
    an entry folder (``results/TASK/SCORER/SOURCE[/injN]``) or the identity hash a leaderboard
    JSON lists (``identity_hash``, a prefix of six or more characters is enough)."""
    from benchmark.leaderboard import entry_identity

    path = Path(entry)
    if path.is_file():
        first = read_result(path)
        folder = path.parent
    elif path.is_dir():
        files = sorted(path.glob("seed*.json"))
        if not files:
            inner = sorted({p.parent.name for p in path.rglob("seed*.json")})
            raise FileNotFoundError(f"{path} holds no seed*.json" + (f"; pick one of its folders: {', '.join(inner)}"
                                                                       if inner else ""))
        first = read_result(files[0])
        folder = path
    elif _HASH.match(entry):
        matches = [r for _, r in iter_results(results_dir, []) if entry_identity(r).startswith(entry)]
        if not matches:
            raise FileNotFoundError(f"no entry with identity hash {entry!r} under {results_dir} "
                                    "(the leaderboard JSON lists each entry's identity_hash)")
        hashes = {entry_identity(r) for r in matches}
        if len(hashes) > 1:
            raise ValueError(f"identity hash prefix {entry!r} is ambiguous: {', '.join(sorted(hashes))}")
        return sorted(matches, key=lambda r: r["job"]["seed"])
    else:
        raise FileNotFoundError(f"{entry!r} is neither a result file, an entry folder nor an identity hash")
    ident = entry_identity(first)
    records = [read_result(p) for p in sorted(folder.glob("seed*.json"))]
    return sorted((r for r in records if entry_identity(r) == ident), key=lambda r: r["job"]["seed"])


def recorded_differences(records: list[dict[str, Any]]) -> list[str]:
    """Differences between the recorded run and this installation that are known before rerunning:
    edited identities and package versions."""
    out = []
    for r in records:
        stored = r.get("identity_hash")
        if isinstance(r.get("identity"), dict) and stored and identity_hash(r["identity"]) != stored:
            out.append(f"seed {r['job']['seed']}: the recorded identity was changed after the run (hash "
                       f"{stored} recorded, {identity_hash(r['identity'])} now); the rerun uses the record as it reads")
    recorded = records[0].get("versions") or {}
    here = package_versions(tuple(k for k in recorded if k != "python"))
    for name in sorted(recorded):
        if name not in here:
            out.append(f"package {name}: {recorded[name]} recorded, not installed here")
        elif here[name] != recorded[name]:
            out.append(f"package {name}: {recorded[name]} recorded, {here[name]} here")
    return out


def plan_rerun(records: list[dict[str, Any]], work_dir: Path, device: str = "cpu") -> list[Any]:
    """The jobs that rerun ``records`` exactly as recorded (configuration passed explicitly)."""
    from benchmark.runner import plan_jobs

    identity = records[0].get("identity")
    if not isinstance(identity, dict):
        raise ValueError("the entry's records carry no identity (written by an older lhcad): nothing says "
                         "exactly what ran, so it cannot be reproduced from the records alone")
    skipped: list[str] = []
    jobs = plan_jobs(tasks=[identity["task"]], scorers=[identity["scorer_spec"]],
                     seeds=sorted(int(r["job"]["seed"]) for r in records), source=identity["source"],
                     results_dir=work_dir, injections=None if identity.get("injection") is None else [identity["injection"]],
                     params=dict(identity.get("config") or {}), device=device, sizes=identity.get("sizes") or None,
                     n_boot=int(identity.get("n_boot", 200)), preset=identity.get("preset"), skipped=skipped)
    if not jobs:
        raise ValueError("; ".join(skipped) or "nothing to rerun")
    return jobs


def planned_differences(records: list[dict[str, Any]], jobs: list[Any]) -> list[str]:
    """What the rerun's identity changes from the recorded one (task version, class files, scorer
    version, configuration, ...), per field, the seed left out."""
    from benchmark.runner import describe_change

    by_seed = {int(r["job"]["seed"]): r.get("identity") or {} for r in records}
    seen: list[str] = []
    for job in jobs:
        change = describe_change(by_seed.get(job.seed), dict(job.identity))
        for part in filter(None, (p.strip() for p in change.split(", "))):
            if not part.startswith("seed ") and part not in seen:
                seen.append(part)
    return [f"this installation would run with {p}" for p in seen]


def _within(published: dict[str, Any], value: float) -> bool:
    lo, hi, med = published.get("lo"), published.get("hi"), published.get("median")
    vals = [v for v in (lo, hi, med) if v is not None and not math.isnan(float(v))]
    if not vals:
        return math.isnan(value)
    if math.isnan(value):
        return False
    low, high = min(vals), max(vals)
    tol = REL_TOL * max(1.0, abs(low), abs(high))
    return low - tol <= value <= high + tol or (math.isinf(value) and value in (low, high))


def compare(metric: str, published: dict[str, Any], rerun: dict[str, Any]) -> MetricCheck:
    value = float("nan") if rerun.get("median") is None else float(rerun["median"])
    old = float("nan") if published.get("median") is None else float(published["median"])
    ok = _within(published, value)
    delta = value - old if not (math.isnan(value) or math.isnan(old)) else float("nan")
    half = None
    if published.get("lo") is not None and published.get("hi") is not None:
        width = (float(published["hi"]) - float(published["lo"])) / 2
        if width > 0 and math.isfinite(delta):
            half = abs(delta) / width
    return MetricCheck(metric, published, rerun, ok, delta, half)


def reproduce(entry: str, *, results_dir: Path = Path("results"), work_dir: Path | None = None,
              device: str = "cpu", progress: bool = True, isolation: Any = None) -> Report:
    """Rerun ``entry`` (see :func:`find_entry`) into ``work_dir`` and compare with its records."""
    import tempfile

    from benchmark.commands import run_command
    from benchmark.leaderboard import Entry, _task_columns
    from benchmark.runner import run_jobs

    records = find_entry(entry, Path(results_dir))
    if not records:
        raise FileNotFoundError(f"no result records for {entry!r}")
    job0 = records[0]["job"]
    label = f"{job0['task']} {job0['scorer']} [{job0['source']}]" + (
        f" inj={job0['injection']}" if job0.get("injection") is not None else "")
    report = Report(entry=label, command=run_command(records), seeds=sorted(r["job"]["seed"] for r in records))
    report.differences += recorded_differences(records)
    work = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="lhcad-reproduce-"))
    jobs = plan_rerun(records, work, device)
    report.differences += planned_differences(records, jobs)
    summary = run_jobs(jobs, overwrite=True, progress=progress, isolation=isolation)
    report.rerun_dir = work
    report.failed += [f"{job.key}: {message}" for job, message in summary.failed]
    new = [r for _, r in iter_results(work, []) if r.get("status", "ok") == "ok"]
    if not new:
        report.failed.append(f"no result was written under {work}")
        return report
    published, rerun = Entry(job0["task"], "", "", None, records), Entry(job0["task"], "", "", None, new)
    for metric in _task_columns(job0["task"]):
        report.checks.append(compare(metric, published.summary(metric), rerun.summary(metric)))
    return report
