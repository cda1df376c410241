"""Scorers used by the harness tests (simple, transparent, each probing one contract rule)."""
from __future__ import annotations

import numpy as np

from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet


class MassScorer(BaseScorer):
    """Leading-jet mass as score; Gaussian log density for the density-ratio protocol."""

    info = ScorerInfo(name="mass", version="1", protocols=("unsupervised", "density_ratio", "resonant"),
                      representation="jets")

    def fit(self, train: EventSet, *, context: FitContext) -> "MassScorer":
        m = train["jets"][:, 0, 3]
        self.mu, self.sd = m.mean(), m.std() + 1e-9
        return self

    def log_prob(self, events: EventSet) -> np.ndarray:
        m = events["jets"][:, 0, 3]
        return -0.5 * ((m - self.mu) / self.sd) ** 2 - np.log(self.sd)

    def score(self, events: EventSet) -> np.ndarray:
        return np.abs(events["jets"][:, 0, 3] - self.mu)


class LabelSnoop(BaseScorer):
    """Tries every channel a label could leak through: ids, order, meta, arrays, context."""

    info = ScorerInfo(name="snoop", version="1", protocols=("unsupervised",), representation="jets")
    seen: dict = {}

    def fit(self, train: EventSet, *, context: FitContext) -> "LabelSnoop":
        LabelSnoop.seen["context"] = {k: v for k, v in vars(context).items() if k != "log"}
        LabelSnoop.seen["train_meta"] = dict(train.meta)
        return self

    def score(self, events: EventSet) -> np.ndarray:
        LabelSnoop.seen["test_meta"] = dict(events.meta)
        LabelSnoop.seen["test_names"] = events.names
        LabelSnoop.seen["test_ids"] = events.event_id.copy()
        return events.event_id.astype(float)  # order/ids as score: must be uninformative


class Crashes(BaseScorer):
    info = ScorerInfo(name="crashes", version="1", protocols=("unsupervised",), representation="jets")

    def fit(self, train: EventSet, *, context: FitContext) -> "Crashes":
        raise RuntimeError("deliberate failure in fit")

    def score(self, events: EventSet) -> np.ndarray:  # pragma: no cover
        return np.zeros(len(events))


class ReturnsNaN(MassScorer):
    info = ScorerInfo(name="nan", version="1", protocols=("unsupervised",), representation="jets")

    def score(self, events: EventSet) -> np.ndarray:
        s = super().score(events)
        s[3] = np.nan
        return s


class Idle(BaseScorer):
    """Does nothing (scores are the event positions, uninformative): what a job costs beyond the
    scorer's own work."""

    info = ScorerInfo(name="idle", version="1", protocols=("unsupervised",), representation="jets")

    def fit(self, train: EventSet, *, context: FitContext) -> "Idle":
        return self

    def score(self, events: EventSet) -> np.ndarray:
        return np.arange(len(events), dtype=float)


class Busy(MassScorer):
    """The mass scorer after a fixed amount of single-threaded CPU work (``LHCAD_TEST_BUSY_S``
    seconds of a Python loop, default 0.3): a CPU-bound job for scaling measurements."""

    info = ScorerInfo(name="busy", version="1", protocols=("unsupervised",), representation="jets")

    def fit(self, train: EventSet, *, context: FitContext) -> "Busy":
        import os
        import time

        end = time.thread_time() + float(os.environ.get("LHCAD_TEST_BUSY_S", "0.3"))
        x = 0
        while time.thread_time() < end:  # CPU time, so a loaded machine stretches it, not shortens it
            x += 1
        return super().fit(train, context=context)


class PresetProbe(BaseScorer):
    """A scorer with presets and an ``epochs`` parameter: records what it was built with."""

    info = ScorerInfo(name="preset-probe", version="1", protocols=("unsupervised",), representation="jets",
                      defaults={"epochs": 100, "width": 64, "shift": 0.0},
                      presets={"smoke": {"epochs": 2, "width": 8}, "paper": {"epochs": 300}})

    def fit(self, train: EventSet, *, context: FitContext) -> "PresetProbe":
        self.preset, self.budget = context.preset, context.time_budget_s
        self.training_record = {"epochs_run": int(self.params["epochs"]), "preset": context.preset}
        return self

    def score(self, events: EventSet) -> np.ndarray:
        return events["jets"][:, 0, 3] + float(self.params["shift"])


class LazyTorchScaled(MassScorer):
    """The mass scorer times a torch random factor drawn when the scorer first imports torch
    (inside ``score``): per-event deterministic, so the same seed gives the same scores whatever
    order the events arrive in, and reproducible only if the harness seeds torch on a late import."""

    info = ScorerInfo(name="lazy-torch", version="1", protocols=("unsupervised",), representation="jets")

    def score(self, events: EventSet) -> np.ndarray:
        import torch

        return super().score(events) * (1.0 + torch.rand(1, dtype=torch.float64).item())


class Position(Idle):
    """Scores are the events' positions as they arrive: reveals the order a scorer is shown."""

    info = ScorerInfo(name="position", version="1", protocols=("unsupervised",), representation="jets")


class ReservesAddressSpace(MassScorer):
    """Reserves 64 GB of address space it never touches (``mmap`` ``PROT_NONE``, as CUDA does at start)."""

    info = ScorerInfo(name="reserves", version="1", protocols=("unsupervised",), representation="jets")

    def fit(self, train: EventSet, *, context: FitContext) -> "ReservesAddressSpace":
        import ctypes
        import mmap

        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
        prot_none, map_noreserve = 0, 0x4000
        address = libc.mmap(None, 64 * 2**30, prot_none, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | map_noreserve, -1, 0)
        if address in (None, ctypes.c_void_p(-1).value):
            raise MemoryError(f"mmap of 64 GB PROT_NONE refused: {ctypes.get_errno()}")
        self._reserved = address
        return super().fit(train, context=context)


class GpuProbe(MassScorer):
    """Declares ``needs_gpu``; appends (CUDA_VISIBLE_DEVICES it saw, start, stop) to the JSON-lines
    file ``$LHCAD_TEST_GPU_LOG`` (jobs run in-process for this) after holding its slot a while."""

    info = ScorerInfo(name="gpu-probe", version="1", protocols=("unsupervised",), representation="jets",
                      needs_gpu=True)

    def fit(self, train: EventSet, *, context: FitContext) -> "GpuProbe":
        import json
        import os
        import time

        start = time.time()
        time.sleep(float(os.environ.get("LHCAD_TEST_GPU_HOLD_S", "1.5")))
        if "LHCAD_TEST_GPU_LOG" not in os.environ:  # sandboxed: the child's environment is scrubbed
            return super().fit(train, context=context)
        with open(os.environ["LHCAD_TEST_GPU_LOG"], "a") as handle:
            handle.write(json.dumps({"seen": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start,
                                     "stop": time.time(), "device": context.device}) + "\n")
        return super().fit(train, context=context)


class DeclaresFeatures(MassScorer):
    """Declares ``jet_observables``; fails unless its event sets arrive with them precomputed and
    equal to what it would compute itself on the same events."""

    info = ScorerInfo(name="declares", version="1", protocols=("unsupervised", "resonant"), representation="jets")
    declared = ("jet_observables", {})

    def features_needed(self) -> list[tuple[str, dict]]:
        return [self.declared]

    def _check(self, events: EventSet, role: str) -> None:
        from benchmark.features import compute

        name, params = self.declared
        key = EventSet.feature_key(name, params)
        if key not in events._feature_cache:
            raise AssertionError(f"{role}: {name} was not precomputed (memo has {sorted(events._feature_cache)})")
        mine = compute(name, events, cache=False, **params)
        if not np.array_equal(events.features(name, **params), mine):
            raise AssertionError(f"{role}: precomputed {name} differs from computing it on the view")

    def fit(self, train: EventSet, *, context: FitContext) -> "DeclaresFeatures":
        self._check(train, "train")
        return super().fit(train, context=context)

    def score(self, events: EventSet) -> np.ndarray:
        self._check(events, "test")
        return super().score(events)


class ScoresFileCheat(BaseScorer):
    """Searches every folder it can list for labelled ``*.scores.h5`` files of earlier runs and
    returns the ``is_signal`` of one with as many events as it is shown (random scores if none)."""

    info = ScorerInfo(name="scores-cheat", version="1", protocols=("unsupervised",), representation="jets")
    skip = {"proc", "sys", "dev", "usr", "lib", "lib64", "bin", "sbin", "etc", ".pyenv", ".venv", ".cache",
            "site-packages", ".git", "node_modules"}

    def fit(self, train: EventSet, *, context: FitContext) -> "ScoresFileCheat":
        return self

    def _candidates(self) -> list[str]:
        import os
        import pwd

        roots = ["/var/tmp", os.path.expanduser("~"), "/tmp", pwd.getpwuid(os.getuid()).pw_dir, "/work", "/root",
                 "/home", os.path.dirname(os.getcwd())]
        found = []
        for root in dict.fromkeys(roots):
            for dirpath, dirnames, files in os.walk(root):
                dirnames[:] = [d for d in dirnames if d not in self.skip]
                found += [os.path.join(dirpath, f) for f in files if f.endswith(".scores.h5")]
        return found

    def score(self, events: EventSet) -> np.ndarray:
        import h5py

        for path in self._candidates():
            try:
                with h5py.File(path, "r") as f:
                    labels = next((f[k][:] for k in ("is_signal", "label", "labels") if k in f), None)
            except OSError:
                continue
            if labels is not None and len(labels) == len(events):
                return np.asarray(labels, dtype=float) + 1e-6 * np.arange(len(events)) / len(events)
        return np.random.default_rng().random(len(events))


class CudaProbe(MassScorer):
    """Needs a GPU: computes its statistics with torch on ``context.device`` (fails without CUDA)."""

    info = ScorerInfo(name="cuda-probe", version="1", protocols=("unsupervised",), representation="jets",
                      needs_gpu=True)

    def fit(self, train: EventSet, *, context: FitContext) -> "CudaProbe":
        import torch

        if not context.device.startswith("cuda") or not torch.cuda.is_available():
            raise RuntimeError(f"no CUDA in the sandbox (device {context.device!r})")
        m = torch.as_tensor(train["jets"][:, 0, 3], device=context.device)
        self.mu, self.sd = float(m.mean()), float(m.std()) + 1e-9
        return self
