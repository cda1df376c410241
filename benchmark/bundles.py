"""Verified result bundles: pack results with their scores and provenance; merge only what re-checks.

``lhcad bundle`` writes one ``.tar.gz`` holding every ``seed*.json`` result and its ``.scores.h5``
(under ``results/``), ``provenance.json`` (package versions, git revision, hardware, dataset
checksums) and ``MANIFEST.json`` (sha256 of every other member).

``lhcad leaderboard --merge BUNDLE...`` accepts a bundle only when

* the archive reads to the end and every member matches its manifest hash (no missing or extra
  member, no path leaving the archive root);
* for every result: the task version matches the maintainer's registry, the dataset checksums
  (``data.class_sha256``) equal the maintainer's class files, the maintainer's own rebuild of the
  test set (:func:`benchmark.tasks.build_task_data` with the recorded task/seed/source/injection/
  sizes) has the bundled scores' event ids in the same order and the recorded test fingerprint;
* every metric recomputed from the bundled scores *against the maintainer's labels* equals the
  claimed one.

A rejected bundle contributes nothing; the reason names the member and the check that failed.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.store import loads_json

MANIFEST = "MANIFEST.json"
PROVENANCE = "provenance.json"
BUNDLE_FORMAT = 1


class BundleError(ValueError):
    """A bundle failed verification; the message says which member and which check."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_members(members: dict[str, bytes], out: Path) -> Path:
    """Write ``members`` plus a fresh manifest as a tar.gz (atomically)."""
    from benchmark.store import atomic_write

    manifest = {"format": BUNDLE_FORMAT, "sha256": {name: _sha(data) for name, data in sorted(members.items())}}
    all_members = {MANIFEST: json.dumps(manifest, indent=1, sort_keys=True).encode(), **members}
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out, "path") as tmp:
        with tarfile.open(tmp, "w:gz") as tar:
            for name, data in all_members.items():
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
    return out


def read_members(path: Path) -> dict[str, bytes]:
    """Every regular member's bytes; a truncated or corrupt archive raises :class:`BundleError`."""
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for info in tar:
                name = info.name
                if not info.isfile() or name.startswith("/") or ".." in Path(name).parts:
                    raise BundleError(f"{path.name}: member {name!r} is not a plain relative file")
                handle = tar.extractfile(info)
                assert handle is not None
                members[name] = handle.read()
    except (tarfile.TarError, EOFError, OSError, Exception) as exc:
        if isinstance(exc, BundleError):
            raise
        raise BundleError(f"{path.name}: truncated or corrupt archive ({type(exc).__name__}: {exc})") from None
    return members


def make_bundle(results_dir: Path, out: Path) -> Path:
    """Pack every result under ``results_dir`` with its scores file and provenance into ``out``."""
    from benchmark.results import git_revision, hardware, package_versions

    results_dir = Path(results_dir)
    members: dict[str, bytes] = {}
    checksums: dict[str, str] = {}
    for path in sorted(results_dir.rglob("seed*.json")):
        rel = path.relative_to(results_dir)
        record = loads_json(path.read_text())
        scores = path.with_name(record.get("scores_file") or path.name.replace(".json", ".scores.h5"))
        if not scores.exists():
            raise FileNotFoundError(f"{path} has no scores file {scores.name}; a bundle needs the scores")
        members[f"results/{rel.as_posix()}"] = path.read_bytes()
        members[f"results/{scores.relative_to(results_dir).as_posix()}"] = scores.read_bytes()
        checksums.update(record.get("data", {}).get("class_sha256", {}))
    if not members:
        raise FileNotFoundError(f"no result files under {results_dir}; run `lhcad run` first")
    provenance = {"format": BUNDLE_FORMAT, "versions": package_versions(), "git_revision": git_revision(),
                  "hardware": hardware(), "class_sha256": checksums,
                  "results": sum(1 for m in members if m.endswith(".json"))}
    members[PROVENANCE] = json.dumps(provenance, indent=1, sort_keys=True, default=str).encode()
    return write_members(members, out)


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        na = a is None or (isinstance(a, float) and math.isnan(a))
        nb = b is None or (isinstance(b, float) and math.isnan(b))
        return na and nb
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isinf(a) or math.isinf(b):
            return a == b
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def first_difference(claimed: Any, rebuilt: Any, path: str = "") -> str | None:
    """The first field where two JSON-like values differ (``errors.auc.lo``), or ``None``."""
    if isinstance(claimed, dict) and isinstance(rebuilt, dict):
        for key in sorted(set(claimed) | set(rebuilt), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in claimed:
                return f"{where}: missing in the bundle (the rebuild has {_short(rebuilt[key])})"
            if key not in rebuilt:
                return f"{where}: in the bundle ({_short(claimed[key])}) but not in the rebuild"
            diff = first_difference(claimed[key], rebuilt[key], where)
            if diff:
                return diff
        return None
    if isinstance(claimed, list) and isinstance(rebuilt, list):
        if len(claimed) != len(rebuilt):
            return f"{path}: {len(claimed)} entries in the bundle, {len(rebuilt)} in the rebuild"
        for i, (a, b) in enumerate(zip(claimed, rebuilt)):
            diff = first_difference(a, b, f"{path}[{i}]")
            if diff:
                return diff
        return None
    if isinstance(claimed, bool) or isinstance(rebuilt, bool):
        return None if claimed == rebuilt else f"{path}: claimed {claimed}, rebuilt {rebuilt}"
    if isinstance(claimed, float) and isinstance(rebuilt, float) and math.isnan(claimed) and math.isnan(rebuilt):
        return None  # an undefined number (an unresolved working point's band) on both sides
    return None if _same(claimed, rebuilt) else f"{path}: claimed {_short(claimed)}, rebuilt {_short(rebuilt)}"


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _record_n_boot(record: dict[str, Any]) -> int:
    for band in (record.get("errors") or {}).values():
        if isinstance(band, dict) and "n_boot" in band:
            return int(band["n_boot"])
    return 0


def verify_result(name: str, record: dict[str, Any], scores_bytes: bytes) -> None:
    """Rebuild one bundled result from its scores and the maintainer's data; raises :class:`BundleError`.

    The maintainer's rebuild of the test set must hold the scored events in the recorded order;
    then every judged field (:data:`benchmark.judge.JUDGED_FIELDS`: metrics, bootstrap errors,
    per-signal numbers, TI, curves) is recomputed by the same judge the runner uses and compared
    field by field, as are the data counts; a built-in scorer's version must be the maintainer's.
    """
    import h5py

    from benchmark.data import class_checksums
    from benchmark.judge import JUDGED_FIELDS, judge
    from benchmark.registry import load_registry
    from benchmark.store import _strict
    from benchmark.tasks import build_task_data

    job = record.get("job") or {}
    reg = load_registry()
    try:
        task = reg.task(job["task"], job.get("source"))
    except KeyError as exc:
        raise BundleError(f"{name}: unknown task {job.get('task')!r}") from exc
    if job.get("task_version") != task.version:
        raise BundleError(f"{name}: scored on task version {job.get('task_version')}, "
                          f"the maintainer's {task.name} is version {task.version}")
    _check_builtin_version(name, job)
    refs = sorted({(r.dataset, r.name) for r in (*task.background, *task.signal)})
    ours = class_checksums(refs, job["source"])
    theirs = record.get("data", {}).get("class_sha256", {})
    for cls, sha in ours.items():
        if theirs.get(cls) != sha:
            raise BundleError(f"{name}: scored on different data: class {cls} has sha256 {str(theirs.get(cls))[:12]}… "
                              f"in the bundle, {sha[:12]}… here")
    prov = record.get("data", {}).get("provenance", {})
    data = build_task_data(task, job["source"], job["seed"], injection=job.get("injection"),
                           sizes=prov.get("sizes_requested"))
    if data.test.fingerprint() != record.get("data", {}).get("test_fingerprint"):
        raise BundleError(f"{name}: test set fingerprint differs from the maintainer's rebuild (different events)")
    try:
        with h5py.File(io.BytesIO(scores_bytes), "r") as f:
            event_id = f["event_id"][:]
            score = f["score"][:]
            extra = {k: f[k][:] for k in f if k.startswith("score_")}
    except (OSError, KeyError) as exc:
        raise BundleError(f"{name}: its scores file cannot be read ({exc})") from exc
    labels = data.test_labels
    if len(event_id) != len(labels.event_id) or not np.array_equal(event_id, labels.event_id):
        raise BundleError(f"{name}: the scores file's event ids are not the maintainer's test events "
                          f"({len(event_id)} vs {len(labels.event_id)} events) - scored on a different dataset version?")
    rebuilt = judge(task, labels.is_signal, score, data.test.weights, labels.process, extra_scores=extra,
                    n_boot=_record_n_boot(record), seed=job["seed"])
    rebuilt = loads_json(json.dumps(_strict(rebuilt)))
    if "auc" not in (record.get("metrics") or {}):
        raise BundleError(f"{name}: no claimed auc")
    for field in JUDGED_FIELDS:
        claimed = record.get(field)
        if field == "total_improvement" and claimed is None and rebuilt.get(field) is None:
            continue
        diff = first_difference({field: claimed}, {field: rebuilt.get(field)})
        if diff:
            raise BundleError(f"{name}: {diff}")
    diff = first_difference({"counts": record.get("counts", {})},
                            loads_json(json.dumps(_strict({"counts": data.provenance.get("counts", {})}))))
    if diff:
        raise BundleError(f"{name}: {diff}")


def _check_builtin_version(name: str, job: dict[str, Any]) -> None:
    """A result of one of lhcad's own baselines must carry the version the maintainer has installed."""
    from benchmark.contract import builtin_scorers, resolve_scorer

    spec = job.get("scorer_spec")
    if spec not in builtin_scorers():
        return
    mine = resolve_scorer(spec).info.version
    if str(job.get("scorer_version")) != str(mine):
        raise BundleError(f"{name}: job.scorer_version: {spec} version {job.get('scorer_version')} in the bundle, "
                          f"the maintainer's is {mine}")


def verify_bundle(path: Path) -> list[tuple[str, bytes, bytes]]:
    """All checks of one bundle; returns (relative result path, result bytes, scores bytes) per result."""
    path = Path(path)
    members = read_members(path)
    if MANIFEST not in members:
        raise BundleError(f"{path.name}: no {MANIFEST}")
    manifest = json.loads(members.pop(MANIFEST))
    hashes = manifest.get("sha256", {})
    if set(hashes) != set(members):
        extra, missing = sorted(set(members) - set(hashes)), sorted(set(hashes) - set(members))
        raise BundleError(f"{path.name}: members do not match the manifest (extra {extra[:3]}, missing {missing[:3]})")
    for name, data in members.items():
        if _sha(data) != hashes[name]:
            raise BundleError(f"{path.name}: member {name} does not match its manifest sha256 (edited after bundling)")
    out = []
    for name in sorted(m for m in members if m.startswith("results/") and m.endswith(".json")):
        record = loads_json(members[name])
        scores_name = str(Path(name).with_name(record.get("scores_file") or Path(name).stem + ".scores.h5").as_posix())
        if scores_name not in members:
            raise BundleError(f"{path.name}: {name} has no scores file in the bundle")
        verify_result(f"{path.name}:{name}", record, members[scores_name])
        out.append((name[len("results/"):], members[name], members[scores_name]))
    if not out:
        raise BundleError(f"{path.name}: holds no results")
    return out


def _bundle_label(bundle: Path) -> str:
    """A bundle's name as a label suffix: ``alice-2026-11.tar.gz`` -> ``alice-2026-11``."""
    name = Path(bundle).name
    for ext in (".tar.gz", ".tgz", ".tar"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return Path(name).stem


def _renamed(rel: str, record: dict[str, Any], suffix: str) -> tuple[str, dict[str, Any]]:
    """Path and record of a result whose scorer label gets ``~suffix`` (a colliding merged entry)."""
    from benchmark.results import JobKey

    job = dict(record["job"])
    job["scorer"] = f"{job['scorer']}~{suffix}"
    job["merged_from"] = suffix
    key = JobKey(job["task"], job["scorer"], job["source"], job["seed"], job.get("injection"))
    return key.relpath.with_suffix(".json").as_posix(), {**record, "job": job}


def _maintainer_problem(bundle: Path) -> str | None:
    """Why the maintainer's own data cannot judge ``bundle`` (an unreadable class file), or None.

    Asked after a rejection, so that a truncated file on the maintainer's side (whose checksum no
    longer matches) is reported as the maintainer's, with the command that rebuilds it.
    """
    from benchmark.registry import load_registry
    from benchmark.tasks import load_class_checked

    try:
        members = read_members(bundle)
    except BundleError:
        return None
    reg = load_registry()
    checked: set[tuple[str, str, str]] = set()
    for name, data in members.items():
        if not (name.startswith("results/") and name.endswith(".json")):
            continue
        try:
            job = loads_json(data)["job"]
            task = reg.task(job["task"], job.get("source"))
        except (ValueError, KeyError, TypeError):
            continue
        for ref in (*task.background, *task.signal):
            if (ref.dataset, ref.name, job["source"]) in checked:
                continue
            checked.add((ref.dataset, ref.name, job["source"]))
            try:
                load_class_checked(ref, job["source"])
            except OSError as exc:
                return f"error on the maintainer's side, not in the bundle: {exc}"
    return None


def merge_bundles(bundles: list[Path], out_dir: Path, *, plots: bool = True, html: bool = False
                  ) -> dict[str, str]:
    """Verify each bundle; extract accepted ones into ``out_dir/results`` and rebuild the leaderboard there.

    Results of one (task, scorer, source, injection, seed) that arrive from several bundles, or that
    differ from one already merged there, are all kept: each colliding result's scorer label gets
    ``~<bundle name>`` so nothing is replaced. A failure on the maintainer's side (an unreadable
    class file or registry) is reported as such, never blamed on the bundle.
    Returns ``{bundle: "accepted (N results)" | "rejected: reason" | "not verified: reason"}``.
    """
    from benchmark.store import atomic_write, write_json

    report: dict[str, str] = {}
    results_dir = Path(out_dir) / "results"
    accepted: dict[str, list[tuple[str, bytes, bytes]]] = {}
    for bundle in bundles:
        try:
            accepted[str(bundle)] = verify_bundle(Path(bundle))
        except BundleError as exc:
            ours = _maintainer_problem(Path(bundle))
            report[str(bundle)] = f"not verified: {ours}" if ours else f"rejected: {exc}"
        except (OSError, KeyError, ValueError) as exc:  # raised by the maintainer's own files, not the bundle
            report[str(bundle)] = (f"not verified: error on the maintainer's side, not in the bundle "
                                   f"({type(exc).__name__}: {exc})")
    seen: dict[str, int] = {}
    for items in accepted.values():
        for rel, _, _ in items:
            seen[rel] = seen.get(rel, 0) + 1
    for bundle, items in accepted.items():
        for rel, result, scores in items:
            record = loads_json(result)
            existing = results_dir / rel
            renamed_rel, _ = _renamed(rel, record, "*")
            merged_before = list(results_dir.glob(renamed_rel))  # this entry, merged earlier from some bundle
            collides = (seen[rel] > 1 or bool(merged_before)
                        or (existing.exists() and existing.read_bytes() != result))
            if collides:
                rel, record = _renamed(rel, record, _bundle_label(Path(bundle)))
            target = results_dir / rel
            scores_target = target.with_name(record.get("scores_file") or target.stem + ".scores.h5")
            scores_target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(scores_target, "wb") as handle:  # scores first, as the runner does
                handle.write(scores)
            if collides:
                write_json(target, record)
            else:
                with atomic_write(target, "wb") as handle:
                    handle.write(result)
        report[bundle] = f"accepted ({len(items)} results)"
    if any(v.startswith("accepted") for v in report.values()):
        from benchmark.leaderboard import build_leaderboard

        build_leaderboard(results_dir, Path(out_dir), plots=plots)
        if html:
            from benchmark.site import build_site

            build_site(results_dir, Path(out_dir) / "site", plots_dir=Path(out_dir) / "plots" if plots else None)
    return {str(b): report[str(b)] for b in bundles}
