"""Protocols: how a task's classes become training data, context and a labelled test set.

Four protocols (``TaskSpec.protocol``):

``unsupervised``
    fit on background-only training events; test on held-out background plus signal.
``resonant``
    weakly supervised bump hunt (LHC Olympics): the "data" are background plus ``injection``
    signal events; the scorer is fitted on the data in the signal region (SR) and given the
    sideband (SB) data and the SR bounds in its context; the test set is held-out SR background
    and SR signal events never used for injection.
``density_ratio``
    two density fits (on background and on signal training events), scored by their
    log-likelihood ratio, compared with the supervised reference on the same events.
``supervised``
    the reference classifier, trained on labelled background and signal.

Splits and injections are a pure function of (task name, task version, class, seed): the same
task version and seed always select the same events, for any scorer, on any machine. Sizes below
1 are fractions of a class, sizes of 1 or more are event counts; a count a class cannot supply is
an error (:class:`SizeError`, raised by :func:`check_sizes` before any job starts), never a silently
smaller or empty split. Resonant tasks take what their mjj windows hold (counts recorded). A test
set with fewer than :data:`MIN_TEST_EVENTS` background or signal events publishes no metric. Where the source has an official split (top tagging's
``ttv``), training events come from its train part and test events from its test part.
"""
from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmark.data import class_path, load_class
from benchmark.events import CANONICAL_FIELDS, SPLITS, EventSet, Labels
from benchmark.registry import ClassRef, TaskSpec, load_registry

#: Arrays never handed to a scorer (bookkeeping, not physics).
HIDDEN_ARRAYS = ("split",)
#: The only arrays a scorer may see: canonical physics arrays. Anything else a converter stores
#: (process codes, truth records) can identify an event's class and is withheld.
SCORER_ARRAYS = tuple(name for name in CANONICAL_FIELDS if name not in HIDDEN_ARRAYS)


@dataclass
class TaskData:
    """One job's inputs. ``test_labels`` goes to the metrics only, never to the scorer."""

    task: TaskSpec
    source: str
    seed: int
    injection: int | None
    train: EventSet
    test: EventSet
    test_labels: Labels
    sideband: EventSet | None = None
    train_labels: np.ndarray | None = None
    #: supervised / density ratio: the signal training events; resonant: SR signal events that are
    #: not test events, a context extra for the supervised reference only
    signal_train: EventSet | None = None
    #: resonant: independent SR background (``resonant.background_template``), for idealized AD only
    background_template: EventSet | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    def scorer_view(self, events: EventSet, role: str) -> EventSet:
        """The events as a scorer may see them: no bookkeeping arrays, job-local ids, neutral meta.

        Ids become 0..N-1 so that nothing about an event's class or origin can be read from them.
        """
        arrays = {k: v for k, v in events.arrays.items() if k in SCORER_ARRAYS}
        meta = {"task": self.task.name, "dataset": self.task.dataset, "role": role, "source": self.source}
        return EventSet(arrays, np.arange(len(events), dtype=np.int64), meta)


#: Fewest test events per class (background, signal) for which metrics are published: below this an
#: AUC is noise (two events give AUC 0 or 1). ``$LHCAD_MIN_TEST_EVENTS`` lowers it for tests.
MIN_TEST_EVENTS = 50


class SizeError(ValueError):
    """Requested split sizes a class cannot supply, or a test/training set too small to judge."""


def min_test_events() -> int:
    """:data:`MIN_TEST_EVENTS`, or ``$LHCAD_MIN_TEST_EVENTS`` where set (a non-negative integer)."""
    import os

    raw = os.environ.get("LHCAD_MIN_TEST_EVENTS")
    if raw is None:
        return MIN_TEST_EVENTS
    try:
        value = int(raw)
    except ValueError:
        raise SizeError(f"$LHCAD_MIN_TEST_EVENTS must be a whole number, got {raw!r}") from None
    if value < 0:
        raise SizeError(f"$LHCAD_MIN_TEST_EVENTS must be >= 0, got {value}")
    return value


def task_sizes(task: TaskSpec, source: str, sizes: Mapping[str, float] | None = None) -> dict[str, float]:
    """The sizes a job uses: the task's defaults for ``source`` overridden by ``sizes``."""
    return {k: float(v) for k, v in {**task.sizes_for(source), **(sizes or {})}.items()}


def _plan_class(task: TaskSpec, role: str, n_refs: int, n_train_pool: int, n_test_pool: int, shared: bool,
                sizes: Mapping[str, float]) -> tuple[int, int, str | None]:
    """(test count, training count, problem) of one class; the one rule for the check and the split.

    ``shared``: training and test events come from one pool (no official split), test events first.
    """
    train_size, test_size = sizes["train"], sizes["test"]
    wants_train = role == "background" or task.protocol in ("supervised", "density_ratio")
    problem = None
    if test_size < 1:  # fractional: background (and supervised signal) a fraction, other signal all of it
        n_test = _count(test_size, n_test_pool) if wants_train else n_test_pool
    else:
        n_test = int(test_size / 2 / n_refs)
        if n_test > n_test_pool:
            problem = f"{n_test} test events asked, {n_test_pool} available"
            n_test = n_test_pool
    if not wants_train:
        return n_test, 0, problem
    pool = n_train_pool - n_test if shared else n_train_pool
    if train_size < 1:
        return n_test, _count(train_size, pool), problem
    n_train = int(train_size / n_refs)
    if n_train > pool:
        what = f"{n_train} training events asked, {pool} left" + (f" after {n_test} test events" if shared else "")
        problem = f"{problem}; {what}" if problem else what
        n_train = pool
    return n_test, n_train, problem


def _pool_sizes(ref: ClassRef, source: str, splits_rule: str | None) -> tuple[int, int, bool]:
    """(training pool, test pool, shared) of one class, read from its file without loading events."""
    import h5py

    path = class_path(ref.dataset, ref.name, source)
    try:
        with h5py.File(path, "r") as f:
            n = int(f["event_id"].shape[0])
            if splits_rule == "official" and "split" in f.get("arrays", {}):
                split = f["arrays"]["split"][:]
                return int((split == SPLITS["train"]).sum()), int((split == SPLITS["test"]).sum()), False
    except (OSError, KeyError) as exc:
        raise OSError(unreadable_class_message(path, ref, source, exc)) from None
    return n, n, True


def unreadable_class_message(path: object, ref: ClassRef, source: str, exc: BaseException) -> str:
    """Why a class file cannot be read and how to rebuild it (fetch for real data, generate else)."""
    how = (f"`lhcad fetch {ref.dataset}`" if source == "real"
           else f"`lhcad generate {ref.dataset}` (or delete it to fall back to the shipped samples)")
    return f"class file {path} of {ref} is truncated or corrupt ({type(exc).__name__}: {exc}); rebuild it with {how}"


def check_sizes(task: TaskSpec, source: str, sizes: Mapping[str, float] | None = None,
                injections: Sequence[int] = ()) -> None:
    """Fail before any job starts when a class cannot supply the requested counts (resonant tasks:
    the ``injections``, their windows' counts are taken as they come).

    The message names the task, class, source, the counts asked and available, and the fixes.
    """
    reg = load_registry()
    wanted = task_sizes(task, source, sizes)
    if task.protocol == "resonant":
        _check_injections(task, source, wanted, injections)
        return
    for key in ("train", "test"):
        if not wanted.get(key, 0) > 0:
            raise SizeError(f"task {task.name}: the {key} size must be positive, got {wanted.get(key)!r}")
    for role, refs in (("background", task.background), ("signal", task.signal)):
        for ref in refs:
            src = reg.dataset(ref.dataset).sources.get(source)
            n_train_pool, n_test_pool, shared = _pool_sizes(ref, source, src.splits if src else None)
            n_test, _, problem = _plan_class(task, role, len(refs), n_train_pool, n_test_pool, shared, wanted)
            minimum = max(min_test_events(), 1)
            if not problem and len(refs) == 1 and n_test < minimum:  # multi-class roles: checked per job
                problem = (f"{n_test} test events, fewer than the {minimum} per class needed before a metric "
                           f"is published")
            if problem:
                more = (f"make more events (`lhcad generate {ref.dataset} --events N`) or "
                        if source == "generated" else "")
                raise SizeError(
                    f"task {task.name}, class {ref} ({role}), {source} data: {problem} "
                    f"(sizes train={_fmt_size(wanted['train'])}, test={_fmt_size(wanted['test'])}; the class holds "
                    f"{n_train_pool if shared else n_train_pool + n_test_pool} events); {more}"
                    f"ask for fewer with `--train-size N` / `--test-size N`")


def _fmt_size(value: float) -> str:
    return f"{int(value)}" if value >= 1 else f"{value:g}"


def check_split_counts(data: TaskData) -> None:
    """Refuse a job whose training set is empty or whose test set is too small to publish metrics."""
    minimum = min_test_events()
    n_sig = int((data.test_labels.is_signal == 1).sum())
    n_bkg = int((data.test_labels.is_signal == 0).sum())
    name = data.task.name
    if n_bkg < max(minimum, 1) or n_sig < max(minimum, 1):
        raise SizeError(f"task {name} ({data.source}, seed {data.seed}): the test set has {n_bkg} background and "
                        f"{n_sig} signal events; at least {max(minimum, 1)} of each are needed before a metric is "
                        f"published (raise --test-size)")
    if len(data.train) == 0:
        raise SizeError(f"task {name} ({data.source}, seed {data.seed}): the training set is empty "
                        f"(raise --train-size, or make more events with `lhcad generate`)")


def _rng(task: TaskSpec, *parts: object) -> np.random.Generator:
    words = [task.version, zlib.crc32(task.name.encode())]
    words += [zlib.crc32(str(p).encode()) for p in parts]
    return np.random.default_rng(words)


def _count(size: float, available: int) -> int:
    n = int(round(size * available)) if size < 1 else int(size)
    return max(0, min(n, available))


def _official_split(events: EventSet, source_splits: str | None) -> dict[str, np.ndarray] | None:
    if source_splits != "official" or "split" not in events:
        return None
    split = events["split"]
    return {name: np.flatnonzero(split == code) for name, code in SPLITS.items()}


def build_task_data(
    task: TaskSpec,
    source: str,
    seed: int,
    *,
    injection: int | None = None,
    sizes: Mapping[str, float] | None = None,
) -> TaskData:
    """Assemble training data, context extras and the labelled, shuffled test set of one job."""
    reg = load_registry()
    sizes = task_sizes(task, source, sizes)
    check_sizes(task, source, sizes)  # resonant injections are checked against the data below
    classes = {ref: load_class_checked(ref, source) for ref in (*task.background, *task.signal)}
    splits_rule = {ref: reg.dataset(ref.dataset).sources[source].splits if source in reg.dataset(ref.dataset).sources else None
                   for ref in classes}
    from benchmark.protocols import get_protocol

    data = get_protocol(task.protocol).build(task, source, seed, classes, splits_rule, sizes, injection)
    data.provenance.update({
        "task": task.name, "task_version": task.version, "protocol": task.protocol, "seed": seed,
        "source": source, "injection": injection, "sizes_requested": dict(sizes),
        "classes": [str(ref) for ref in classes],
    })
    check_split_counts(data)
    return data


def load_class_checked(ref: ClassRef, source: str, names: Sequence[str] | None = None) -> EventSet:
    """One class's events (or only its arrays ``names``); an unreadable file names itself and the
    command that rebuilds it."""
    try:
        if names is not None:
            return EventSet.load(class_path(ref.dataset, ref.name, source), names=names)
        return load_class(ref.dataset, ref.name, source)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise OSError(unreadable_class_message(class_path(ref.dataset, ref.name, source), ref, source, exc)) from None


@dataclass
class ClassSplit:
    """Disjoint training and test events of a task's classes, before a protocol assembles them."""

    background_train: EventSet
    signal_train: EventSet | None
    test: EventSet
    test_labels: Labels
    counts: dict[str, dict[str, int]]


def split_classes(task: TaskSpec, seed: int, classes: dict[ClassRef, EventSet],
                  splits_rule: dict[ClassRef, str | None], sizes: Mapping[str, float], *,
                  want_signal_train: bool) -> ClassSplit:
    """Carve each class into training and test events (frozen by task version and seed); signal
    classes give training events only when ``want_signal_train`` (supervised, density ratio)."""
    train_parts: dict[str, list[EventSet]] = {"background": [], "signal": []}
    test_parts: list[EventSet] = []
    test_labels: list[Labels] = []
    counts: dict[str, dict[str, int]] = {}
    for role, refs in (("background", task.background), ("signal", task.signal)):
        for ref in refs:
            events = classes[ref]
            official = _official_split(events, splits_rule[ref])
            rng = _rng(task, ref, seed)
            if official is not None:
                train_pool = rng.permutation(official["train"])
                test_pool = rng.permutation(official["test"])
            else:
                order = rng.permutation(len(events))
                train_pool = test_pool = order  # carved disjointly below
            # Test events first (counts split evenly over background and over signal classes), then
            # training events from what is left; check_sizes has refused counts a class cannot supply.
            n_test, n_train, _ = _plan_class(task, role, len(refs), len(train_pool), len(test_pool),
                                             official is None, sizes)
            test_idx = test_pool[:n_test]
            if official is None:
                train_pool = order[n_test:]
            if role == "background" or want_signal_train:
                train_parts[role].append(events.take(np.sort(train_pool[:n_train])))
            test_parts.append(events.take(test_idx))
            test_labels.append(Labels(events.event_id[test_idx],
                                      np.full(n_test, 1 if role == "signal" else 0, dtype=np.int8),
                                      np.full(n_test, ref.name, dtype=object)))
            counts[str(ref)] = {"available": len(events), "train": n_train, "test": n_test}
    test, labels = _shuffled(task, seed, test_parts, test_labels)
    signal_train = EventSet.concatenate(train_parts["signal"]) if want_signal_train else None
    return ClassSplit(EventSet.concatenate(train_parts["background"]), signal_train, test, labels, counts)


def task_rng(task: TaskSpec, *parts: object) -> np.random.Generator:
    """A generator frozen by (task name, task version, parts): splits never depend on who asks."""
    return _rng(task, *parts)


def _shuffled(task: TaskSpec, seed: int, parts: list[EventSet], labels: list[Labels]) -> tuple[EventSet, Labels]:
    test = EventSet.concatenate(parts)
    lab = Labels(np.concatenate([lb.event_id for lb in labels]), np.concatenate([lb.is_signal for lb in labels]),
                 np.concatenate([lb.process for lb in labels]))
    perm = _rng(task, "test-shuffle", seed).permutation(len(test))
    return test.take(perm), lab.take(perm)


def _in_windows(mjj: np.ndarray, windows: tuple[tuple[float, float], ...]) -> np.ndarray:
    mask = np.zeros(len(mjj), dtype=bool)
    for lo, hi in windows:
        mask |= (mjj > lo) & (mjj < hi)
    return mask


def _resonant_test_counts(task: TaskSpec, sizes: Mapping[str, float], n_sr_bkg: int, n_sr_sig: int) -> tuple[int, int]:
    """(background, signal) test counts of a resonant task: the registered proportion of the test
    size, at most half the signal-region background (the rest is data) and all SR signal."""
    spec = task.resonant
    assert spec is not None
    test_total = sizes.get("test", spec.test_signal + spec.test_background)
    frac_sig = spec.test_signal / (spec.test_signal + spec.test_background)
    want_sig = min(spec.test_signal, int(round(test_total * frac_sig)))
    want_bkg = min(spec.test_background, int(round(test_total * (1 - frac_sig))))
    return min(want_bkg, n_sr_bkg // 2), min(want_sig, n_sr_sig)


def _check_injections(task: TaskSpec, source: str, sizes: Mapping[str, float], injections: Sequence[int]) -> None:
    """Resonant tasks: every injection must fit in the signal left after the test set (read from mjj only)."""
    spec = task.resonant
    assert spec is not None
    signal = EventSet.concatenate([load_class_checked(r, source, names=["mjj"]) for r in task.signal])
    n_sr_sig = int(_in_windows(signal["mjj"], (spec.signal_region,)).sum())
    _, n_test_sig = _resonant_test_counts(task, sizes, n_sr_sig * 2, n_sr_sig)  # background not limiting here
    left = len(signal) - n_test_sig
    too_many = sorted(i for i in injections if i > left)
    if too_many:
        more = f"make more signal (`lhcad generate {task.signal[0].dataset} --events N`), " if source == "generated" else ""
        raise SizeError(f"task {task.name}, {source} data: injection of {too_many[0]} signal events asked, only {left} "
                        f"of the {len(signal)} signal events are left after {n_test_sig} test signal events; "
                        f"{more}inject fewer (`--injections`) or take a smaller test set (`--test-size N`)")


def resonant_split(task: TaskSpec, source: str, seed: int, classes: dict[ClassRef, EventSet],
              sizes: Mapping[str, float], injection: int | None,
              template: EventSet | None = None) -> TaskData:
    """SR data (background + injected signal), SB data, the labelled SR test set and, when
    ``template`` (the task's independent background class) is given, its SR events as the
    background template. The template comes from its own class, so it never overlaps the data or
    the test events and adding it changes no split. ``signal_train``: the SR signal events that are
    not test events (the supervised reference's labelled signal, a context extra)."""
    spec = task.resonant
    assert spec is not None
    n_inj = spec.default_injection if injection is None else int(injection)
    background = EventSet.concatenate([classes[r] for r in task.background])
    signal = EventSet.concatenate([classes[r] for r in task.signal])
    for name, events in (("background", background), ("signal", signal)):
        if "mjj" not in events:
            raise KeyError(f"task {task.name}: the {name} events have no 'mjj' array; the resonant protocol needs it")
    sr = (spec.signal_region,)
    bkg_sr = _in_windows(background["mjj"], sr)
    sig_sr = _in_windows(signal["mjj"], sr)
    rng = _rng(task, "resonant", seed)
    # Test set: held-out SR background and SR signal, in the registered proportion.
    sr_bkg_idx = rng.permutation(np.flatnonzero(bkg_sr))
    sr_sig_idx = rng.permutation(np.flatnonzero(sig_sr))
    n_test_bkg, n_test_sig = _resonant_test_counts(task, sizes, len(sr_bkg_idx), len(sr_sig_idx))
    test_bkg, test_sig = sr_bkg_idx[:n_test_bkg], sr_sig_idx[:n_test_sig]
    # Data: every other background event in the analysis window, plus injected signal.
    window = (spec.sidebands[0][0], spec.sidebands[-1][1])
    used = np.zeros(len(background), dtype=bool)
    used[test_bkg] = True
    data_bkg = np.flatnonzero(~used & _in_windows(background["mjj"], (window,)))
    n_data_bkg = _count(sizes.get("train", len(data_bkg)), len(data_bkg))
    data_bkg = np.sort(rng.permutation(data_bkg)[:n_data_bkg])
    sig_used = np.zeros(len(signal), dtype=bool)
    sig_used[test_sig] = True
    inj_pool = rng.permutation(np.flatnonzero(~sig_used))
    if n_inj > len(inj_pool):
        raise ValueError(f"task {task.name}: injection of {n_inj} signal events asked, only {len(inj_pool)} "
                         f"signal events are left after the test set; generate more signal or inject fewer")
    inj = np.sort(inj_pool[:n_inj])
    data = EventSet.concatenate([background.take(data_bkg), signal.take(inj)])
    data = data.take(rng.permutation(len(data)))
    in_sr = _in_windows(data["mjj"], sr)
    in_sb = _in_windows(data["mjj"], spec.sidebands)
    train, sideband = data.take(np.flatnonzero(in_sr)), data.take(np.flatnonzero(in_sb))
    n_inj_sr = int(_in_windows(signal["mjj"][inj], sr).sum())
    test, labels = _shuffled(task, seed, [background.take(test_bkg), signal.take(test_sig)], [
        Labels(background.event_id[test_bkg], np.zeros(len(test_bkg), np.int8), np.full(len(test_bkg), "background", object)),
        Labels(signal.event_id[test_sig], np.ones(len(test_sig), np.int8), np.full(len(test_sig), "signal", object)),
    ])
    n_sr_bkg = len(train) - n_inj_sr
    counts = {"sr_data": len(train), "sb_data": len(sideband), "injected": n_inj, "injected_in_sr": n_inj_sr,
              "sr_background": n_sr_bkg, "s_over_b_sr": n_inj_sr / max(n_sr_bkg, 1),
              "s_over_sqrt_b_sr": n_inj_sr / max(np.sqrt(max(n_sr_bkg, 1)), 1e-12),
              "test_background": len(test_bkg), "test_signal": len(test_sig)}
    # Labelled SR signal for the supervised reference (a context extra): every SR signal event that
    # is not a test event (it may overlap the injected ones, which are data, not test events). No
    # random draw, so no other split moves; the same events at every injection. Not in ``counts``:
    # those are the data's (bundles compare them), the scorer's training record gives its sizes.
    signal_train = signal.take(np.flatnonzero(sig_sr & ~sig_used))
    background_template = None
    if template is not None:
        if "mjj" not in template:
            raise KeyError(f"task {task.name}: the background template {spec.background_template} has no 'mjj' array")
        background_template = template.take(np.flatnonzero(_in_windows(template["mjj"], sr)))
        counts["background_template"] = len(background_template)
    return TaskData(task, source, seed, n_inj, train, test, labels, sideband=sideband, signal_train=signal_train,
                    background_template=background_template, provenance={"counts": counts})
