"""The ``lhcad run`` command line that produced a leaderboard entry, rebuilt from its result records.

Task pages print it beside each entry so that a reader can rerun exactly that entry; ``lhcad
reproduce`` does the same from the records alone. Everything comes from the records' ``identity``
(what the numbers depend on), never from the current defaults, except that hyper-parameters equal
to the scorer's defaults and preset are left out to keep the line short (``changed_params``).
"""
from __future__ import annotations

import json
import shlex
from typing import Any

from benchmark.registry import load_registry


def _identity(records: list[dict[str, Any]]) -> dict[str, Any]:
    identity = (records[0].get("identity") or {}) if records else {}
    return identity if isinstance(identity, dict) else {}


def changed_params(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Hyper-parameters of an entry that differ from its scorer's defaults and preset; None when
    the scorer cannot be loaded here (then the full recorded configuration is what is known)."""
    from benchmark.contract import resolve_params, resolve_scorer

    identity = _identity(records)
    config = identity.get("config")
    if not isinstance(config, dict):
        return {}
    try:
        info = resolve_scorer(identity["scorer_spec"]).info
        base = resolve_params(info, identity.get("preset"))
    except Exception:  # a scorer not installed here
        return None
    return {k: v for k, v in sorted(config.items()) if k not in base or base[k] != v}


def _registered_sizes(task: str, source: str) -> dict[str, float]:
    reg = load_registry()
    if task not in reg.tasks:
        return {}
    spec = reg.task(task)
    return dict(spec.source_sizes.get(source) or spec.sizes)


def _seeds_args(seeds: list[int]) -> list[str]:
    if seeds == list(range(len(seeds))):
        return ["--seeds", str(len(seeds))]
    return ["--seed-list", *map(str, seeds)]


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def run_command(records: list[dict[str, Any]]) -> str:
    """``lhcad run ...`` reproducing the entry of ``records`` (one identity, any number of seeds)."""
    if not records:
        raise ValueError("an entry without records has no command")
    identity = _identity(records)
    job = records[0].get("job") or {}
    task = identity.get("task") or job["task"]
    source = identity.get("source") or job["source"]
    args = ["lhcad", "run", "--scorer", str(identity.get("scorer_spec") or job.get("scorer_spec") or job["scorer"]),
            "--task", task, "--source", source]
    args += _seeds_args(sorted(int(r["job"]["seed"]) for r in records))
    injection = identity.get("injection", job.get("injection"))
    if injection is not None:
        args += ["--injections", str(injection)]
    preset = identity.get("preset", job.get("preset"))
    if preset:
        args += ["--preset", str(preset)]
    changed = changed_params(records)
    params = (identity.get("config") or {}) if changed is None else changed
    for key, value in sorted(params.items()):
        args += ["--param", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
    sizes = identity.get("sizes") or {}
    registered = _registered_sizes(task, source)
    for kind in ("train", "test"):
        if kind in sizes and sizes[kind] is not None and float(sizes[kind]) != float(registered.get(kind, -1)):
            args += [f"--{kind}-size", _number(sizes[kind])]
    n_boot = identity.get("n_boot")
    if n_boot is not None and int(n_boot) != 200:
        args += ["--bootstrap", str(n_boot)]
    return " ".join(shlex.quote(a) for a in args)
