"""Sampling throughput (events/s) of the CATHODE flow at its paper size (MAF, 15 x 2 x 128).

Time with ``python -m pytest tests/test_bench_sampling.py --benchmark-enable``; the events/s are in
each benchmark's ``extra_info``. No timing asserts: the numbers depend on the machine. The flow is
trained for one epoch only: sampling cost does not depend on the weights.
"""
from __future__ import annotations

import numpy as np
import pytest
from resonant_toys import SIDEBANDS, SR, background, context, in_windows

from baselines.cathode import PRESETS, ConditionalFlowGenerator, CathodeLowDim

N_SAMPLES = 20000


def _generator(device: str) -> ConditionalFlowGenerator:
    rng = np.random.default_rng(0)
    events = background(rng, 6000)
    sb, sr = in_windows(events, SIDEBANDS), in_windows(events, (SR,))
    params = {**CathodeLowDim.info.defaults, **PRESETS["paper"], "flow_epochs": 1, "flow_n_best_epochs": 1}
    gen = ConditionalFlowGenerator(params)
    from baselines.common import tabular_features

    ctx = context()
    ctx.device = device
    gen.fit(tabular_features(sb), sb["mjj"], ctx)
    gen.set_condition_density(sr["mjj"], SR, 0)
    return gen


def _run(benchmark, device: str) -> None:
    gen = _generator(device)
    x, m = benchmark(gen.sample, N_SAMPLES)
    assert x.shape == (N_SAMPLES, 4) and np.isfinite(x).all()
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        benchmark.extra_info["events_per_s"] = N_SAMPLES / stats.stats.mean
    benchmark.extra_info.update({"device": device, "n_samples": N_SAMPLES, "flow": "maf 15 x 2 x 128"})


def test_cathode_flow_sampling_cpu(benchmark):
    _run(benchmark, "cpu")


@pytest.mark.gpu
def test_cathode_flow_sampling_cuda(benchmark):
    _run(benchmark, "cuda")
