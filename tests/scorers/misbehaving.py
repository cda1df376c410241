"""Scorers that misbehave on purpose, for the isolation tests (each probes one sandbox rule)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from benchmark.contract import FitContext, ScorerInfo
from benchmark.events import EventSet
from tests.scorers.probes import MassScorer

UNSUP = ("unsupervised", "resonant")


def _info(name: str) -> ScorerInfo:
    return ScorerInfo(name=name, version="1", protocols=UNSUP, representation="jets")


class Sleeper(MassScorer):
    info = _info("sleeper")

    def fit(self, train: EventSet, *, context: FitContext) -> "Sleeper":
        print("asleep", flush=True)  # tells a test the scorer is in fit (the sandbox logs stdout)
        time.sleep(3600)
        return self


class SlowMass(MassScorer):
    """The mass scorer, taking a while (for killing workers mid-run)."""

    info = _info("slowmass")

    def fit(self, train: EventSet, *, context: FitContext) -> "SlowMass":
        time.sleep(float(os.environ.get("LHCAD_TEST_SLEEP", "1.5")))
        return super().fit(train, context=context)


class MemoryHog(MassScorer):
    info = _info("memhog")

    def fit(self, train: EventSet, *, context: FitContext) -> "MemoryHog":
        self.blocks = [np.ones(2**27) for _ in range(64)]  # 64 GiB, far past any test limit
        return self


class Aborts(MassScorer):
    info = _info("aborts")

    def fit(self, train: EventSet, *, context: FitContext) -> "Aborts":
        print("about to abort", flush=True)
        os.abort()


class NaNs(MassScorer):
    info = _info("nans")

    def score(self, events: EventSet) -> np.ndarray:
        return np.full(len(events), np.nan)


class Networker(MassScorer):
    info = _info("networker")

    def fit(self, train: EventSet, *, context: FitContext) -> "Networker":
        import socket

        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(1)
        s.connect(("1.1.1.1", 80))
        return super().fit(train, context=context)


class CacheSnoop(MassScorer):
    """Looks everywhere for the data cache (class files) and reports what it found in its scores' log."""

    info = _info("cachesnoop")
    found_marker = "SNOOP-FOUND:"

    def fit(self, train: EventSet, *, context: FitContext) -> "CacheSnoop":
        found: list[str] = []
        roots = {os.environ.get("HOME", ""), "/tmp", os.environ.get("TMPDIR", ""), os.getcwd()}
        for value in os.environ.values():  # any env var that looks like a path
            if value.startswith("/") and os.path.isdir(value):
                roots.add(value)
        # the parent's environment, command line and cwd, if /proc shows them
        for pid in (os.getppid(), *[int(p) for p in os.listdir("/proc") if p.isdigit()][:200]):
            try:
                env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            for item in env:
                if item.startswith(b"LHCAD_DATA=") or item.startswith(b"LHCAD_REGISTRY="):
                    roots.add(os.path.dirname(item.split(b"=", 1)[1].decode()))
                    roots.add(item.split(b"=", 1)[1].decode())
        for root in filter(None, roots):
            for dirpath, _, files in os.walk(root):
                if dirpath.startswith(os.getcwd()) or "site-packages" in dirpath:
                    continue  # its own inputs (the scorer views) and installed packages' test files
                for f in files:
                    if f.endswith(".h5"):  # class files, scores files
                        found.append(os.path.join(dirpath, f))
        print(self.found_marker + json.dumps(sorted(set(found))), flush=True)
        if found:
            raise RuntimeError(f"{self.found_marker}{json.dumps(sorted(set(found))[:5])}")
        return super().fit(train, context=context)
