"""Conversion throughput (events/s) and peak memory of every converter (pytest-benchmark).

Nothing is asserted about speed. ``--benchmark-disable`` (the CI default) runs each converter once;
``pytest tests/test_bench_sources.py --benchmark-enable`` times several rounds. Results are in
``extra_info``: ``events``, ``events_per_s`` (best round), ``peak_traced_mb`` (tracemalloc: Python
and numpy buffers) and ``peak_rss_mb`` (``resource.getrusage`` of the process so far). The slow test
at the end checks the LHCO converter's peak RSS at its default chunk size in a fresh process.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from benchmark.sources import darkjets, darkmachines, lhco, toptagging

ROOT = Path(__file__).resolve().parents[1]


def _measure(bench, convert, out: Path, n_events: int, rounds: int = 3) -> dict:
    best = [float("inf")]

    def setup():
        shutil.rmtree(out, ignore_errors=True)

    def run():
        t0 = time.perf_counter()
        convert(out)
        best[0] = min(best[0], time.perf_counter() - t0)

    bench.pedantic(run, setup=setup, rounds=rounds, iterations=1)
    setup()
    tracemalloc.start()
    try:
        convert(out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    info = {
        "events": n_events,
        "seconds": round(best[0], 4),
        "events_per_s": round(n_events / best[0], 1),
        "peak_traced_mb": round(peak / 2**20, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    bench.extra_info.update(info)
    print(json.dumps(info))
    return info


def test_bench_toptagging(benchmark, tmp_path):
    n = 3000
    up = toptagging.write_fixture(tmp_path / "train.h5", n, max_constituents=120)
    info = _measure(benchmark, lambda out: toptagging.convert({"train.h5": up}, out, chunk_size=1000), tmp_path / "out", n)
    assert info["events"] == n


def test_bench_lhco_raw_clustering(benchmark, tmp_path, real_samples):
    tiny = real_samples / "lhco" / "events_anomalydetection_tiny.h5"
    files = {"events_anomalydetection.h5": tiny}
    _measure(benchmark, lambda out: lhco.convert(files, out, chunk_size=500), tmp_path / "out", 1000, rounds=2)


def test_bench_lhco_features(benchmark, tmp_path):
    n = 50_000
    p = lhco.write_features_fixture(tmp_path / "events_anomalydetection_v2.features.h5", n)
    _measure(benchmark, lambda out: lhco.convert({p.name: p}, out, feature_chunk_size=20_000), tmp_path / "out", n)


def test_bench_darkmachines(benchmark, tmp_path):
    spec = {"background_chan1_7.79.csv": 8000, "monojet_Zp2000.0_DM_50.0_chan1.csv": 2000}
    tar = darkmachines.write_fixture(tmp_path / "training_files.tar", spec)
    _measure(benchmark, lambda out: darkmachines.convert({tar.name: tar}, out, chunk_size=5000), tmp_path / "out",
             sum(spec.values()))


def test_bench_darkjets_zprime_text(benchmark, tmp_path):
    n = 2000
    p = darkjets.write_zprime_fixture(tmp_path / "events100k.txt", n)
    _measure(benchmark, lambda out: darkjets.convert_zprime({p.name: p}, out, chunk_size=1000), tmp_path / "out", n)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc for VmHWM")
def test_lhco_peak_rss_at_default_chunk_size_stays_bounded(tmp_path):
    """A fresh process converts 2 default chunks of raw LHCO events; its peak RSS must stay < 2 GB."""
    n = 2 * lhco.CHUNK
    path, _ = lhco.write_raw_fixture(tmp_path / "events_anomalydetection_v2.h5", n, seed=11)
    # VmHWM (not ru_maxrss, which a child inherits from the forking parent) is this process's peak
    code = (
        "import json, re, time; from pathlib import Path; from benchmark.sources import lhco\n"
        "hwm = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) / 1024\n"
        "base = hwm(); t = time.perf_counter()\n"
        f"r = lhco.convert({{'events_anomalydetection_v2.h5': Path({str(path)!r})}}, Path({str(tmp_path / 'out')!r}))\n"
        "print(json.dumps({'seconds': time.perf_counter() - t, 'events': sum(r.counts.values()),"
        " 'rss_mb': hwm(), 'rss_after_imports_mb': base}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(info))
    assert info["events"] == n
    assert info["rss_mb"] < 2048
