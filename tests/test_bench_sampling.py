"""Sampling throughput (events/s) of the CATHODE flow at its paper size (MAF, 15 x 2 x 128) and of the
full-phase-space EPiC flow-matching generator at its paper network sizes.

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


# -- full-phase-space CATHODE: the EPiC flow-matching generator -------------------------------------
FULLPHASE_EVENTS = {"cpu": 8, "cuda": 4096}
FULLPHASE_STEPS = {"cpu": 10, "cuda": 250}


def _fullphase_generator(device: str):
    """The generator at its paper network sizes (EPiC 8 x 150/256, jet MLP 64-256-256-64, 279
    particles), fitted for one epoch on 64 shipped LHCO sideband events: sampling cost depends on
    the sizes and the multiplicities, not on the weights."""
    from baselines.dijet import DijetCloud
    from baselines.fullphase import PRESETS as FP_PRESETS, CathodeFullPhase
    from baselines.fullphase_generator import FlowMatchingDijetGenerator
    from benchmark.data import load_class

    events = load_class("lhco", "background", "generated")
    sb = events.take(np.flatnonzero((events["mjj"] > 2300) & (events["mjj"] < 3300))[:64])
    params = {**CathodeFullPhase.info.defaults, **FP_PRESETS["paper"], "jet_epochs": 1, "part_epochs": 1,
              "ode_steps": FULLPHASE_STEPS[device]}
    gen = FlowMatchingDijetGenerator(params)
    ctx = context()
    ctx.device = device
    gen.fit(DijetCloud.from_events(sb, 279), ctx)
    gen.set_condition_density(np.random.default_rng(0).uniform(*SR, 1000), SR, 0)
    return gen


def _run_fullphase(benchmark, device: str) -> None:
    gen = _fullphase_generator(device)
    n, steps = FULLPHASE_EVENTS[device], FULLPHASE_STEPS[device]
    cloud = benchmark(gen.sample, n)
    assert len(cloud) == n and np.isfinite(cloud.particles).all() and cloud.mask.any(-1).all()
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        rate = n / stats.stats.mean
        # the particle model dominates and costs steps x 2 evaluations: scale to the paper's 250 steps
        benchmark.extra_info.update({"events_per_s": rate, "events_per_s_at_250_steps": rate * steps / 250})
    benchmark.extra_info.update({"device": device, "n_events": n, "ode_steps": steps, "solver": "midpoint",
                                 "generator": "EPiC-FM paper sizes, 279 particles"})


@pytest.mark.slow
def test_fullphase_generator_sampling_cpu(benchmark):
    _run_fullphase(benchmark, "cpu")


@pytest.mark.gpu
def test_fullphase_generator_sampling_cuda(benchmark):
    _run_fullphase(benchmark, "cuda")
