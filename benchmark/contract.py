"""The scorer contract: what a submitted model implements, how it is found, how its output is checked.

A scorer is any object with

* ``info``: a :class:`ScorerInfo` (name, version, protocols, representation, GPU need, defaults,
  presets, paper);
* ``fit(train: EventSet, *, context: FitContext) -> object``: learn from the training events; the
  context carries the seed, device, a scratch folder, the protocol and its extra inputs (sideband
  data and the signal region for resonant tasks, training labels only for the supervised reference);
* ``score(events: EventSet) -> np.ndarray``: one finite float per event, **higher = more
  anomalous**;
* optionally ``log_prob(events) -> np.ndarray`` for density estimators (the density-ratio protocol
  needs it).

It is a structural protocol: no base class is required (:class:`BaseScorer` is a convenience).
Scorers are loaded by registry name (an installed entry point in the group ``lhcad.scorers``;
the built-in baselines register there through lhcad's own ``pyproject.toml``), ``module:Class``
or a ``path/to/file.py[:Class]``.

Hyper-parameters resolve in three layers: ``info.defaults``, then the chosen preset
(``info.presets[name]``, e.g. ``smoke`` for seconds on two CPU cores, ``paper`` for the paper's
sizes), then the user's ``--param`` values (:func:`resolve_params`).
"""
from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from benchmark.events import EventSet
from benchmark.registry import PROTOCOLS

ENTRY_POINT_GROUP = "lhcad.scorers"

#: The distribution whose entry points are lhcad's own reference scorers (``baselines/``).
BUILTIN_DISTRIBUTION = "lhcad"
#: Optional context inputs a scorer may ask for in ``ScorerInfo.extras`` (withheld from the others):
#: the resonant task's independent SR background (idealized AD) and its labelled SR signal training
#: events (the supervised reference), never test events.
CONTEXT_EXTRAS = ("background_template", "signal_train")
#: Presets every torch baseline offers: seconds on 2 CPU cores (tests, quick suite) and the paper's size.
STANDARD_PRESETS = ("smoke", "paper")


@dataclass(frozen=True)
class ScorerInfo:
    """What a scorer declares about itself; the runner uses it to pick tasks and record provenance."""

    name: str
    version: str = "0.1"
    protocols: tuple[str, ...] = ("unsupervised",)
    representation: str = "constituents"
    needs_gpu: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    paper: str = ""
    description: str = ""
    #: optional context inputs this scorer needs (:data:`CONTEXT_EXTRAS`); only these reach its FitContext
    extras: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        bad = [p for p in self.protocols if p not in PROTOCOLS]
        if bad:
            raise ValueError(f"scorer {self.name!r} declares unknown protocols {bad}; known: {PROTOCOLS}")
        bad = [e for e in self.extras if e not in CONTEXT_EXTRAS]
        if bad:
            raise ValueError(f"scorer {self.name!r} asks for unknown context extras {bad}; known: {CONTEXT_EXTRAS}")
        for preset, values in self.presets.items():
            unknown = sorted(set(values) - set(self.defaults))
            if unknown:
                raise ValueError(f"scorer {self.name!r} preset {preset!r} sets {unknown}, which are not in its "
                                 f"defaults {sorted(self.defaults)}")


@dataclass
class FitContext:
    """Everything a scorer may use besides the training events. Never contains test data or labels.

    ``sideband`` (resonant): the sideband events, for a background template or interpolation;
    ``signal_region`` (resonant): (low, high) mjj bounds; ``train_labels`` (supervised protocol
    only): 1 for signal, 0 for background, aligned with the training events; ``params``: the
    scorer's hyper-parameters (defaults, then the preset, then the user's values); ``preset``: the
    preset they came from (``None``: defaults); ``time_budget_s``: seconds the fit may take before
    the job's time limit (a training loop stops cleanly before it and says so; ``None``: no limit);
    ``background_template`` (resonant, only to scorers with ``"background_template"`` in
    ``info.extras``): signal-region background events from an independent sample (never the
    background inside the data, never test events), the idealized anomaly detector's reference;
    ``signal_train`` (resonant, only to scorers with ``"signal_train"`` in ``info.extras``): the
    signal class's signal-region events that are not test events, labelled signal by construction
    (the supervised reference's training signal; the test events' labels stay with the judge).
    """

    task: str
    protocol: str
    seed: int
    device: str = "cpu"
    workdir: Path | None = None
    params: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None
    time_budget_s: float | None = None
    sideband: EventSet | None = None
    signal_region: tuple[float, float] | None = None
    train_labels: np.ndarray | None = None
    background_template: EventSet | None = None
    signal_train: EventSet | None = None
    log: Callable[[str], None] = print

    @property
    def rng(self) -> np.random.Generator:
        """A numpy Generator seeded from the job seed (use it instead of global state)."""
        return np.random.default_rng(self.seed)


@runtime_checkable
class Scorer(Protocol):
    info: ScorerInfo

    def fit(self, train: EventSet, *, context: FitContext) -> Any: ...

    def score(self, events: EventSet) -> np.ndarray: ...


class BaseScorer:
    """Optional convenience base: stores ``params`` (defaults overridden by keyword arguments).

    A scorer that trains a model may set ``self.training_record`` (a JSON-safe dict, e.g. the
    :class:`baselines.nn.training.TrainingRecord` of its fit); the result record keeps it.
    """

    info: ScorerInfo = ScorerInfo(name="base")

    def __init__(self, **params: Any) -> None:
        check_param_names(self.info, params)
        self.params: dict[str, Any] = {**self.info.defaults, **params}

    def fit(self, train: EventSet, *, context: FitContext) -> Any:  # pragma: no cover - interface
        raise NotImplementedError(f"{type(self).__name__} must implement fit()")

    def score(self, events: EventSet) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError(f"{type(self).__name__} must implement score()")


def _unknown_names(kind: str, names: Any, known: Any) -> str:
    hints = []
    for name in sorted(names):
        close = difflib.get_close_matches(name, list(known), n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"unknown {kind} {', '.join(hints)}; known: {sorted(known)}"


def check_param_names(info: ScorerInfo, params: Mapping[str, Any]) -> None:
    """Refuse hyper-parameters a scorer does not declare (a typo must not be silently ignored)."""
    unknown = set(params) - set(info.defaults)
    if unknown:
        raise TypeError(f"{info.name}: {_unknown_names('hyper-parameter(s)', unknown, info.defaults)}")


def effective_preset(info: ScorerInfo, preset: str | None) -> str | None:
    """The preset a scorer runs at: ``None`` when none was asked or the scorer has no presets at all
    (a scorer with one size, such as a GMM, runs the same in every suite); an asked preset the
    scorer lacks while having others is an error."""
    if preset is None or not info.presets:
        return None
    if preset not in info.presets:
        raise KeyError(f"scorer {info.name!r} has no preset {preset!r}; its presets: {sorted(info.presets)}")
    return preset


def resolve_params(info: ScorerInfo, preset: str | None, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The hyper-parameters a scorer runs with: defaults, then the preset's values, then ``params``."""
    params = dict(params or {})
    if info.defaults:
        check_param_names(info, params)
    chosen = effective_preset(info, preset)
    return {**info.defaults, **(info.presets[chosen] if chosen else {}), **params}


def scorer_base_label(spec: str) -> str:
    """The short name of a scorer spec in labels, paths and ``--param SCORER.key=value``."""
    if spec.endswith(".py") or ".py:" in spec:
        path, _, cls = spec.partition(".py:")
        return cls or Path(path if path.endswith(".py") else path + ".py").stem
    return spec.split(":")[-1]


def _accepts_any(spec: str, info: ScorerInfo) -> bool:
    """A scorer that declares no defaults and does not check names (no :class:`BaseScorer`), such
    as a user's plain class: it is handed every bare key and decides itself."""
    factory = resolve_scorer(spec)
    return not info.defaults and not (isinstance(factory, type) and issubclass(factory, BaseScorer))


def route_params(scorers: Sequence[str], raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-scorer hyper-parameters from ``--param`` values.

    ``SCORER.key=value`` goes to that scorer alone (SCORER as in :func:`scorer_base_label`); a bare
    ``key=value`` goes to every scorer of the run that declares ``key`` (and to a plain class that
    declares no defaults and checks nothing itself); a run of one scorer hands it every bare key.
    A key that no scorer of the run takes fails, with the closest known names.
    """
    infos = {spec: resolve_scorer(spec).info for spec in scorers}
    labels = {scorer_base_label(spec): spec for spec in scorers}
    routed: dict[str, dict[str, Any]] = {spec: {} for spec in scorers}
    for key, value in raw.items():
        target = next((lab for lab in sorted(labels, key=len, reverse=True) if key.startswith(lab + ".")), None)
        if target is not None:
            spec = labels[target]
            name = key[len(target) + 1:]
            if infos[spec].defaults:
                check_param_names(infos[spec], {name: value})
            routed[spec][name] = value
            continue
        takers = [spec for spec, info in infos.items() if key in info.defaults or _accepts_any(spec, info)]
        if not takers and len(scorers) == 1:
            takers = list(scorers)  # the run's only scorer: it names the problem itself
        if not takers:
            known = sorted({k for info in infos.values() for k in info.defaults})
            raise TypeError(f"--param: no scorer of this run has the hyper-parameter {key!r}: "
                            f"{_unknown_names('hyper-parameter', [key], known)} "
                            f"(or address one scorer as SCORER.{key}=VALUE)")
        for spec in takers:
            routed[spec][key] = value
    return routed


class ScorerOutputError(ValueError):
    """A scorer returned something the harness cannot evaluate; the message says what and why."""


def validate_scores(scores: Any, n_events: int, *, scorer: str, what: str = "score") -> np.ndarray:
    """Check a scorer's output: 1-D, one float per event, finite, not constant.

    A constant score carries no ranking information (AUC would be 0.5 by construction), which
    always means a bug (a model that collapsed, scores of the wrong array), so it is refused.
    """
    prefix = f"scorer {scorer!r} {what}()"
    if scores is None:
        raise ScorerOutputError(f"{prefix} returned None; it must return one float per event")
    if hasattr(scores, "detach"):  # torch tensor
        scores = scores.detach().cpu().numpy()
    try:
        arr = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ScorerOutputError(f"{prefix} returned {type(scores).__name__} that is not numeric: {exc}") from exc
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ScorerOutputError(f"{prefix} returned shape {arr.shape}; expected ({n_events},), one score per event")
    if len(arr) != n_events:
        raise ScorerOutputError(f"{prefix} returned {len(arr)} scores for {n_events} events")
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.flatnonzero(bad)
        kinds = "NaN" if np.isnan(arr[idx]).all() else "NaN/inf"
        raise ScorerOutputError(
            f"{prefix} returned {bad.sum()} non-finite ({kinds}) scores of {n_events}, "
            f"first at event index {idx[0]}; every score must be finite"
        )
    if n_events > 1 and np.all(arr == arr[0]):
        raise ScorerOutputError(f"{prefix} returned the same value {float(arr[0])!r} for all {n_events} events; "
                                "a constant score cannot rank events")
    return arr


# -- loading ---------------------------------------------------------------------------------------
def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    try:
        eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    except TypeError:  # pragma: no cover - python < 3.10
        eps = importlib.metadata.entry_points().get(ENTRY_POINT_GROUP, [])  # type: ignore[attr-defined]
    return {ep.name: ep for ep in eps}


def available_scorers() -> dict[str, str]:
    """Registry name -> import target of every installed entry point, lhcad's own baselines first."""
    eps = _entry_points()
    own = sorted(n for n, ep in eps.items() if _distribution(ep) == BUILTIN_DISTRIBUTION)
    others = sorted(n for n in eps if n not in own)
    return {name: eps[name].value for name in own + others}


def builtin_scorers() -> list[str]:
    """Names of the reference scorers that lhcad itself registers (the quick suite's default)."""
    return [name for name, ep in _entry_points().items() if _distribution(ep) == BUILTIN_DISTRIBUTION]


def _distribution(ep: importlib.metadata.EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else None


def _import_target(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    if not attr:
        return _single_scorer_class(module, target)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ImportError(f"module {module_name!r} has no attribute {attr!r}") from None


def _load_file(spec: str) -> Any:
    if ".py:" in spec:
        path_text, attr = spec.rsplit(".py:", 1)
        path = Path(path_text + ".py")
    else:
        path, attr = Path(spec), ""
    if not path.exists():
        raise FileNotFoundError(f"scorer file {path} does not exist")
    module_name = f"lhcad_user_scorer_{abs(hash(str(path.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    module_spec.loader.exec_module(module)
    if attr:
        if not hasattr(module, attr):
            raise ImportError(f"{path} defines no {attr!r}")
        return getattr(module, attr)
    return _single_scorer_class(module, str(path))


def _single_scorer_class(module: Any, where: str) -> Any:
    candidates = [obj for _, obj in inspect.getmembers(module, inspect.isclass)
                  if obj.__module__ == module.__name__ and isinstance(getattr(obj, "info", None), ScorerInfo)]
    if len(candidates) != 1:
        names = [c.__name__ for c in candidates]
        raise ImportError(f"{where}: expected exactly one scorer class (with an `info` ScorerInfo), found {names}; "
                          f"name it explicitly as {where}:ClassName")
    return candidates[0]


def resolve_scorer(spec: str) -> Any:
    """The scorer class (or factory) for ``spec``: registry name, ``module:Class``, ``file.py[:Class]``."""
    if spec.endswith(".py") or ".py:" in spec:
        return _load_file(spec)
    eps = _entry_points()
    if spec in eps:
        return eps[spec].load()
    builtins = available_scorers()
    if ":" in spec:
        return _import_target(spec)
    close = difflib.get_close_matches(spec, list(builtins), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise KeyError(f"unknown scorer {spec!r}{hint} (known: {', '.join(sorted(builtins))}; "
                   "or give module:Class, a path/to/file.py, or an entry point in 'lhcad.scorers')")


def load_scorer(spec: str, params: Mapping[str, Any] | None = None, preset: str | None = None) -> Any:
    """Instantiate the scorer ``spec`` at ``preset`` with ``params`` on top and check its contract."""
    factory = resolve_scorer(spec)
    info = getattr(factory, "info", None)
    if isinstance(info, ScorerInfo):
        params = resolve_params(info, preset, params)
    scorer = factory(**dict(params or {}))
    check_contract(scorer, spec)
    return scorer


def check_contract(scorer: Any, spec: str = "") -> ScorerInfo:
    """Refuse objects that cannot be run, naming the missing piece."""
    label = spec or type(scorer).__name__
    info = getattr(scorer, "info", None)
    if not isinstance(info, ScorerInfo):
        raise TypeError(f"scorer {label!r} has no `info` attribute of type benchmark.contract.ScorerInfo")
    for method in ("fit", "score"):
        if not callable(getattr(scorer, method, None)):
            raise TypeError(f"scorer {label!r} has no callable {method}()")
    return info


def scorer_params(scorer: Any) -> dict[str, Any]:
    """The hyper-parameters a scorer instance runs with (for provenance)."""
    params = getattr(scorer, "params", None)
    if isinstance(params, Mapping):
        return dict(params)
    return dict(getattr(scorer, "info").defaults)


def with_name(info: ScorerInfo, name: str) -> ScorerInfo:
    return replace(info, name=name)
