"""``datasets.yaml`` read into typed, validated records.

The registry is the single source of truth for datasets (classes, sources, files, checksums,
recipes) and tasks (protocol, composition, sizes, metrics, the papers' reported numbers). Reading
it validates every field, so a typo in the YAML fails at start-up with the field's path, and an
unknown name asked for on the command line fails with close-match suggestions.
"""
from __future__ import annotations

import difflib
import fnmatch
import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PROTOCOLS = ("unsupervised", "resonant", "density_ratio", "supervised")
TASK_LIMITS = ("time_s", "memory_mb")  # per-task sandbox limits (benchmark.isolation.Limits)
SOURCES = ("real", "generated")
ENV_REGISTRY = "LHCAD_REGISTRY"
#: Metric names a task may list besides the per-ROC keys of :func:`benchmark.metrics.evaluate_roc`.
TASK_ONLY_METRICS = ("density_ratio_gap", "total_improvement")


def known_metric_names() -> tuple[str, ...]:
    """Every metric name a task's ``metrics:`` may list: the keys the runner actually computes.

    Derived from :mod:`benchmark.metrics` (its working points and :func:`~benchmark.metrics.metric_key`)
    so a typo such as ``maxsic`` fails at registry load instead of showing ``n/a`` in every table.
    """
    from benchmark import metrics as M

    names = ["auc", "max_sic", "max_sic_unconstrained", "si_all", "auc_supervised",
             "density_ratio_gap_normalised", *TASK_ONLY_METRICS]
    names += [M.metric_key("rejection", "eps_s", e) for e in M.DEFAULT_EPS_S_POINTS]
    for e in M.DEFAULT_EPS_B_POINTS:
        names += [M.metric_key("eps_s", "eps_b", e), M.metric_key("si", "eps_b", e)]
    return tuple(dict.fromkeys(names))


#: Metrics read at a working point a task may choose (the judge computes any listed point).
WORKING_POINT_METRICS = ("rejection@eps_s=", "eps_s@eps_b=", "si@eps_b=")


def is_working_point_metric(name: str) -> bool:
    """``rejection@eps_s=0.8``-style names with an efficiency strictly between 0 and 1."""
    from benchmark.metrics import parse_metric_key

    parsed = parse_metric_key(name)
    return (parsed is not None and any(name.startswith(p) for p in WORKING_POINT_METRICS)
            and 0.0 < parsed[2] < 1.0)


class RegistryError(ValueError):
    """A malformed ``datasets.yaml`` entry; the message names the file and field."""


def unknown_name(kind: str, name: str, known: list[str] | tuple[str, ...]) -> KeyError:
    """KeyError for an unknown ``name`` that suggests close matches ("did you mean")."""
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listing = ", ".join(sorted(known)) if len(known) <= 20 else f"{len(known)} known, see `lhcad list`"
    return KeyError(f"unknown {kind} {name!r}{hint} (known: {listing})")


@dataclass(frozen=True)
class FileSpec:
    name: str
    url: str | None = None
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class SourceSpec:
    """How one source of a dataset is obtained: ``real`` (fetch + convert) or ``generated``."""

    kind: str
    version: str
    format: str | None = None
    files: tuple[FileSpec, ...] = ()
    zenodo: int | None = None
    mirrors: tuple[str, ...] = ()
    splits: str | None = None
    recipe: str | None = None
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: the classes this source holds, where it holds only some of the dataset's (a generated
    #: look-alike of a few signals); ``None``: all of them
    classes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ClassSpec:
    name: str
    role: str  # "background" or "signal"
    description: str = ""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    kind: str
    classes: dict[str, ClassSpec]
    sources: dict[str, SourceSpec]
    arrays: tuple[str, ...] = ()
    citation: str = ""

    def source(self, kind: str) -> SourceSpec:
        if kind not in self.sources:
            raise KeyError(
                f"dataset {self.name!r} has no {kind!r} source (it has: {', '.join(self.sources)})"
            )
        return self.sources[kind]

    def class_spec(self, name: str) -> ClassSpec:
        if name not in self.classes:
            raise unknown_name(f"class of dataset {self.name!r}", name, list(self.classes))
        return self.classes[name]


@dataclass(frozen=True)
class ClassRef:
    """``dataset:class`` as used in task compositions."""

    dataset: str
    name: str

    def __str__(self) -> str:
        return f"{self.dataset}:{self.name}"


@dataclass(frozen=True)
class ResonantSpec:
    signal_region: tuple[float, float]
    sidebands: tuple[tuple[float, float], ...]
    injections: tuple[int, ...]
    default_injection: int
    test_signal: int
    test_background: int
    #: an independent background sample for the idealized detector (``resonant.background_template``)
    background_template: ClassRef | None = None


@dataclass(frozen=True)
class TaskSpec:
    name: str
    version: int
    description: str
    dataset: str
    protocol: str
    background: tuple[ClassRef, ...]
    signal: tuple[ClassRef, ...]
    sizes: dict[str, float]
    representation: str
    metrics: tuple[str, ...]
    papers: tuple[str, ...] = ()
    # per-source default sizes ({"generated": {"train": .., "test": ..}}) where a source differs
    # from ``sizes``; read through :meth:`sizes_for`
    source_sizes: dict[str, dict[str, float]] = field(default_factory=dict)
    channel: str | None = None
    resonant: ResonantSpec | None = None
    reported: dict[str, dict[str, Any]] = field(default_factory=dict)
    # sandbox limits of one job of this task ({"time_s": float, "memory_mb": int}, either optional);
    # read by benchmark.isolation.Limits.for_task, absent keys keep the run's defaults
    limits: dict[str, float | int] = field(default_factory=dict)
    # density-ratio tasks: the scorer trained with labels whose AUC the density ratio is judged
    # against (an entry-point name; ``None``: the protocol's default, gradient-boosted trees)
    reference: str | None = None

    def sizes_for(self, source: str) -> dict[str, float]:
        """The task's default ``{train, test}`` sizes on ``source``: its own entry, else the common one."""
        return dict(self.source_sizes.get(source, self.sizes))

    @property
    def datasets(self) -> tuple[str, ...]:
        """Every dataset the task draws classes from (a task may combine datasets)."""
        names = [ref.dataset for ref in (*self.background, *self.signal)]
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    description: str
    tasks: tuple[str, ...]
    source: str | None = None
    sizes: dict[str, float] = field(default_factory=dict)
    #: per-task sizes that replace ``sizes`` for that task (a task whose shipped sample is small)
    task_sizes: dict[str, dict[str, float]] = field(default_factory=dict)
    injections: tuple[int, ...] = ()
    seeds: int = 1
    scorers: tuple[str, ...] = ()
    preset: str | None = None
    # scorer name -> the only tasks of this suite it runs on (a costly scorer kept to a few tasks)
    scorer_tasks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: built-in scorers left out when ``scorers`` is empty (too slow for the suite's budget)
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Registry:
    path: Path
    datasets: dict[str, DatasetSpec]
    tasks: dict[str, TaskSpec]
    suites: dict[str, SuiteSpec]

    def dataset(self, name: str) -> DatasetSpec:
        if name not in self.datasets:
            raise unknown_name("dataset", name, list(self.datasets))
        return self.datasets[name]

    def task(self, name: str, source: str | None = None) -> TaskSpec:
        """Task ``name``; with ``source``, its classes restricted to those that source holds."""
        if name not in self.tasks:
            raise unknown_name("task", name, list(self.tasks))
        task = self.tasks[name]
        return task if source is None else self._restrict(task, source)

    def _restrict(self, task: TaskSpec, source: str) -> TaskSpec:
        def held(ref: ClassRef) -> bool:
            src = self.datasets[ref.dataset].sources.get(source)
            return src is None or src.classes is None or ref.name in src.classes

        background = tuple(r for r in task.background if held(r))
        signal = tuple(r for r in task.signal if held(r))
        if (background, signal) == (task.background, task.signal):
            return task
        if not background or not signal:
            missing = "background" if not background else "signal"
            raise ValueError(f"task {task.name}: the {source!r} source holds no {missing} class of it "
                             f"(datasets.yaml lists the classes each source holds under 'classes')")
        return replace(task, background=background, signal=signal)

    def suite(self, name: str) -> SuiteSpec:
        if name not in self.suites:
            raise unknown_name("suite", name, list(self.suites))
        return self.suites[name]


# -- parsing ---------------------------------------------------------------------------------------
class _Reader:
    """Field access with error messages that carry the YAML path (``tasks.lhco/rnd.protocol``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, message: str) -> RegistryError:
        return RegistryError(f"{self.path}: {where}: {message}")

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__}")
        return value

    def required(self, block: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...]) -> Any:
        if key not in block:
            raise self.fail(where, f"missing required field {key!r}")
        value = block[key]
        if not isinstance(value, kind):
            raise self.fail(f"{where}.{key}", f"expected {_kind_name(kind)}, got {type(value).__name__}")
        return value

    def optional(self, block: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...], default: Any) -> Any:
        if key not in block or block[key] is None:
            return default
        value = block[key]
        if not isinstance(value, kind):
            raise self.fail(f"{where}.{key}", f"expected {_kind_name(kind)}, got {type(value).__name__}")
        return value

    def no_extra(self, block: dict[str, Any], allowed: set[str], where: str) -> None:
        extra = set(block) - allowed
        if extra:
            key = sorted(extra)[0]
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise self.fail(where, f"unknown field {key!r}{hint}")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _parse_source(r: _Reader, kind: str, block: dict[str, Any], where: str) -> SourceSpec:
    known = {"version", "format", "files", "zenodo", "mirrors", "splits", "recipe", "seed", "settings", "selection", "notes",
             "classes", "detector", "detector_source"}
    files = []
    for i, item in enumerate(r.optional(block, "files", where, list, [])):
        fw = f"{where}.files[{i}]"
        item = r.mapping(item, fw)
        r.no_extra(item, {"name", "url", "md5", "sha256", "size"}, fw)
        files.append(FileSpec(
            name=r.required(item, "name", fw, str),
            url=r.optional(item, "url", fw, str, None),
            md5=r.optional(item, "md5", fw, str, None),
            sha256=r.optional(item, "sha256", fw, str, None),
            size=r.optional(item, "size", fw, int, None),
        ))
    if kind == "generated" and "recipe" not in block:
        raise r.fail(where, "a generated source needs a 'recipe'")
    extra = {k: v for k, v in block.items() if k in {"settings", "selection", "notes", "detector", "detector_source"}}
    r.no_extra(block, known, where)
    if "detector" in block:
        from benchmark.generate.detector import DETECTORS

        name = r.required(block, "detector", where, str)
        if name not in DETECTORS:
            close = difflib.get_close_matches(name, sorted(DETECTORS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise r.fail(f"{where}.detector", f"unknown detector {name!r}{hint}; named detectors: {sorted(DETECTORS)}")
    return SourceSpec(
        kind=kind,
        version=str(r.required(block, "version", where, (str, int))),
        format=r.optional(block, "format", where, str, None),
        files=tuple(files),
        zenodo=r.optional(block, "zenodo", where, int, None),
        mirrors=tuple(r.optional(block, "mirrors", where, list, [])),
        splits=r.optional(block, "splits", where, str, None),
        recipe=r.optional(block, "recipe", where, str, None),
        seed=r.optional(block, "seed", where, int, None),
        extra=extra,
        classes=tuple(r.optional(block, "classes", where, list, [])) if "classes" in block else None,
    )


def _parse_dataset(r: _Reader, name: str, block: dict[str, Any]) -> DatasetSpec:
    where = f"datasets.{name}"
    block = r.mapping(block, where)
    r.no_extra(block, {"title", "kind", "citation", "arrays", "classes", "sources"}, where)
    classes = {}
    for cname, cblock in r.mapping(r.required(block, "classes", where, dict), f"{where}.classes").items():
        cw = f"{where}.classes.{cname}"
        cblock = r.mapping(cblock, cw)
        role = r.required(cblock, "role", cw, str)
        if role not in ("background", "signal"):
            raise r.fail(f"{cw}.role", f"must be 'background' or 'signal', got {role!r}")
        classes[cname] = ClassSpec(cname, role, r.optional(cblock, "description", cw, str, ""))
    sources = {}
    for skind, sblock in r.mapping(r.required(block, "sources", where, dict), f"{where}.sources").items():
        if skind not in SOURCES:
            raise r.fail(f"{where}.sources", f"unknown source {skind!r}; sources are {SOURCES}")
        sources[skind] = _parse_source(r, skind, r.mapping(sblock, f"{where}.sources.{skind}"), f"{where}.sources.{skind}")
        for c in sources[skind].classes or ():
            if c not in classes:
                raise r.fail(f"{where}.sources.{skind}.classes", str(unknown_name(f"class of {name}", c, list(classes)).args[0]))
    return DatasetSpec(
        name=name,
        title=r.required(block, "title", where, str),
        kind=r.required(block, "kind", where, str),
        classes=classes,
        sources=sources,
        arrays=tuple(r.optional(block, "arrays", where, list, [])),
        citation=r.optional(block, "citation", where, str, ""),
    )


def _parse_refs(r: _Reader, values: list[Any], where: str, datasets: dict[str, DatasetSpec],
                role: str) -> tuple[ClassRef, ...]:
    """Resolve ``dataset:class`` entries; a glob (``chan1/*``) takes the classes of that ``role``."""
    refs: list[ClassRef] = []
    for i, value in enumerate(values):
        if not isinstance(value, str) or ":" not in value:
            raise r.fail(f"{where}[{i}]", f"expected 'dataset:class', got {value!r}")
        dname, cname = value.split(":", 1)
        if dname not in datasets:
            raise r.fail(f"{where}[{i}]", str(unknown_name("dataset", dname, list(datasets)).args[0]))
        classes = datasets[dname].classes
        if any(ch in cname for ch in "*?["):
            matched = [c for c in classes if fnmatch.fnmatchcase(c, cname) and classes[c].role == role]
        else:
            matched = [cname]
        for c in matched:
            if c not in classes:
                raise r.fail(f"{where}[{i}]", str(unknown_name(f"class of {dname}", c, list(classes)).args[0]))
        refs.extend(ClassRef(dname, c) for c in matched)
    return tuple(refs)


def _parse_task(r: _Reader, name: str, block: dict[str, Any], datasets: dict[str, DatasetSpec]) -> TaskSpec:
    where = f"tasks.{name}"
    block = r.mapping(block, where)
    r.no_extra(block, {"version", "description", "dataset", "protocol", "background", "signal", "sizes",
                       "representation", "metrics", "papers", "channel", "resonant", "reported", "limits",
                       "reference"}, where)
    protocol = r.required(block, "protocol", where, str)
    if protocol not in PROTOCOLS:
        raise r.fail(f"{where}.protocol", str(unknown_name("protocol", protocol, PROTOCOLS).args[0]))
    dataset = r.required(block, "dataset", where, str)
    if dataset not in datasets:
        raise r.fail(f"{where}.dataset", str(unknown_name("dataset", dataset, list(datasets)).args[0]))
    background = _parse_refs(r, r.required(block, "background", where, list), f"{where}.background", datasets, "background")
    signal = _parse_refs(r, r.required(block, "signal", where, list), f"{where}.signal", datasets, "signal")
    if not background or not signal:
        raise r.fail(where, "a task needs at least one background and one signal class")
    sizes, source_sizes = _parse_sizes(r, r.required(block, "sizes", where, dict), f"{where}.sizes", datasets[dataset])
    metrics = r.optional(block, "metrics", where, list, ["auc"])
    known_metrics = known_metric_names()
    for i, metric in enumerate(metrics):
        if metric not in known_metrics and not is_working_point_metric(str(metric)):
            close = difflib.get_close_matches(str(metric), known_metrics, n=2, cutoff=0.5)
            hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
            raise r.fail(f"{where}.metrics[{i}]", f"unknown metric {metric!r}; {hint}"
                                                  f"known metrics: {', '.join(known_metrics)}")
    resonant = None
    if protocol == "resonant":
        rw = f"{where}.resonant"
        rb = r.mapping(r.required(block, "resonant", where, dict), rw)
        sr = r.required(rb, "signal_region", rw, list)
        template = r.optional(rb, "background_template", rw, str, None)
        resonant = ResonantSpec(
            signal_region=(float(sr[0]), float(sr[1])),
            sidebands=tuple((float(a), float(b)) for a, b in r.required(rb, "sidebands", rw, list)),
            injections=tuple(int(x) for x in r.required(rb, "injections", rw, list)),
            default_injection=int(r.required(rb, "default_injection", rw, int)),
            test_signal=int(r.required(rb, "test_signal", rw, int)),
            test_background=int(r.required(rb, "test_background", rw, int)),
            background_template=(None if template is None else _parse_refs(
                r, [template], f"{rw}.background_template", datasets, "background")[0]),
        )
    reference = r.optional(block, "reference", where, str, None)
    if reference is not None and protocol != "density_ratio":
        raise r.fail(f"{where}.reference", f"only density_ratio tasks have a supervised reference, this task's "
                                           f"protocol is {protocol!r}")
    reported = r.optional(block, "reported", where, dict, {})
    limits = _parse_limits(r, r.optional(block, "limits", where, dict, {}), f"{where}.limits")
    return TaskSpec(
        name=name,
        version=int(r.required(block, "version", where, int)),
        description=r.optional(block, "description", where, str, ""),
        dataset=dataset,
        protocol=protocol,
        background=background,
        signal=signal,
        sizes=sizes,
        source_sizes=source_sizes,
        representation=r.optional(block, "representation", where, str, "constituents"),
        metrics=tuple(metrics),
        papers=tuple(r.optional(block, "papers", where, list, [])),
        channel=r.optional(block, "channel", where, str, None),
        resonant=resonant,
        reported={str(k): dict(v) for k, v in reported.items()},
        limits=limits,
        reference=reference,
    )


def _split_sizes(r: _Reader, block: dict[str, Any], where: str) -> dict[str, float]:
    """One ``{train, test}`` pair: positive counts, or fractions below 1."""
    block = r.mapping(block, where)
    r.no_extra(block, {"train", "test"}, where)
    for key in ("train", "test"):
        value = block.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise r.fail(where, f"needs a positive '{key}' (an event count, or a fraction < 1), got {value!r}")
    return {k: float(v) for k, v in block.items()}


def _parse_sizes(r: _Reader, block: dict[str, Any], where: str, dataset: DatasetSpec
                 ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """``sizes: {train, test}`` (every source) or ``sizes: {real: {train, test}, generated: {...}}``.

    Per-source sizes exist because the shipped generated samples hold a few thousand events per
    class while the real sets hold millions; returns (the common or real sizes, per-source sizes).
    """
    if not set(block) & set(SOURCES):
        return _split_sizes(r, block, where), {}
    r.no_extra(block, set(SOURCES), where)
    per_source = {src: _split_sizes(r, sub, f"{where}.{src}") for src, sub in block.items()}
    missing = [src for src in dataset.sources if src not in per_source]
    if missing:
        raise r.fail(where, f"per-source sizes need an entry for every source of dataset {dataset.name!r}; "
                            f"missing: {', '.join(missing)}")
    common = per_source.get("real") or next(iter(per_source.values()))
    return common, per_source


def _parse_limits(r: _Reader, block: dict[str, Any], where: str) -> dict[str, float | int]:
    """``limits: {time_s: seconds, memory_mb: MB}``: positive numbers, memory a whole number of MB."""
    r.no_extra(block, set(TASK_LIMITS), where)
    limits: dict[str, float | int] = {}
    for key, value in block.items():
        whole = key == "memory_mb"
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
            raise r.fail(f"{where}.{key}", f"expected {'an integer' if whole else 'a number'}, "
                                           f"got {type(value).__name__}")
        if not value > 0 or value != value or value == float("inf"):
            raise r.fail(f"{where}.{key}", f"must be positive and finite, got {value!r}")
        limits[key] = int(value) if whole else float(value)
    return limits


def _parse_suite(r: _Reader, name: str, block: dict[str, Any], tasks: dict[str, TaskSpec]) -> SuiteSpec:
    where = f"suites.{name}"
    block = r.mapping(block, where)
    r.no_extra(block, {"description", "tasks", "source", "sizes", "task_sizes", "injections", "seeds", "scorers",
                       "preset", "scorer_tasks", "exclude"}, where)
    names = r.required(block, "tasks", where, list)
    for i, tname in enumerate(names):
        if tname not in tasks:
            raise r.fail(f"{where}.tasks[{i}]", str(unknown_name("task", tname, list(tasks)).args[0]))
    scorer_tasks: dict[str, tuple[str, ...]] = {}
    for scorer, only in r.optional(block, "scorer_tasks", where, dict, {}).items():
        sw = f"{where}.scorer_tasks.{scorer}"
        if not isinstance(only, list) or not only:
            raise r.fail(sw, f"expected a non-empty list of this suite's tasks, got {only!r}")
        for i, tname in enumerate(only):
            if tname not in names:
                raise r.fail(f"{sw}[{i}]", f"{tname!r} is not a task of this suite; its tasks: {', '.join(names)}")
        scorer_tasks[str(scorer)] = tuple(str(t) for t in only)
    source = r.optional(block, "source", where, str, None)
    if source is not None and source not in SOURCES:
        raise r.fail(f"{where}.source", f"must be one of {SOURCES}")
    return SuiteSpec(
        name=name,
        description=r.optional(block, "description", where, str, ""),
        tasks=tuple(names),
        source=source,
        sizes={k: float(v) for k, v in r.optional(block, "sizes", where, dict, {}).items()},
        task_sizes=_parse_task_sizes(r, block, where, names),
        injections=tuple(int(x) for x in r.optional(block, "injections", where, list, [])),
        seeds=int(r.optional(block, "seeds", where, int, 1)),
        scorers=tuple(str(x) for x in r.optional(block, "scorers", where, list, [])),
        preset=r.optional(block, "preset", where, str, None),
        scorer_tasks=scorer_tasks,
        exclude=tuple(str(x) for x in r.optional(block, "exclude", where, list, [])),
    )


def _parse_task_sizes(r: _Reader, block: dict[str, Any], where: str, names: list[str]) -> dict[str, dict[str, float]]:
    out = {}
    for tname, sizes in r.optional(block, "task_sizes", where, dict, {}).items():
        if tname not in names:
            raise r.fail(f"{where}.task_sizes", f"{tname!r} is not one of the suite's tasks")
        sizes = r.mapping(sizes, f"{where}.task_sizes.{tname}")
        r.no_extra(sizes, {"train", "test"}, f"{where}.task_sizes.{tname}")
        out[tname] = {k: float(v) for k, v in sizes.items()}
    return out


def default_registry_path() -> Path:
    """``$LHCAD_REGISTRY``, else ``datasets.yaml`` beside the package (repo checkout or install)."""
    env = os.environ.get(ENV_REGISTRY)
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "datasets.yaml", here / "datasets.yaml"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        "cannot find datasets.yaml beside the lhcad package; set LHCAD_REGISTRY to its path"
    )


def parse_registry(text: str, path: Path) -> Registry:
    r = _Reader(path)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not valid YAML: {exc}") from exc
    raw = r.mapping(raw, "top level")
    r.no_extra(raw, {"schema", "datasets", "tasks", "suites"}, "top level")
    datasets = {n: _parse_dataset(r, n, b) for n, b in r.mapping(raw.get("datasets", {}), "datasets").items()}
    tasks = {n: _parse_task(r, n, b, datasets) for n, b in r.mapping(raw.get("tasks", {}), "tasks").items()}
    suites = {n: _parse_suite(r, n, b, tasks) for n, b in r.mapping(raw.get("suites", {}) or {}, "suites").items()}
    return Registry(path, datasets, tasks, suites)


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float) -> Registry:
    p = Path(path)
    return parse_registry(p.read_text(), p)


def load_registry(path: str | Path | None = None) -> Registry:
    """Read and validate the registry (cached until the file changes)."""
    p = Path(path) if path is not None else default_registry_path()
    if not p.exists():
        raise FileNotFoundError(f"registry file {p} does not exist")
    return _load_cached(str(p.resolve()), p.stat().st_mtime)
