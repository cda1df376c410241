"""Sampling throughput (events/s) of the CATHODE flow at its paper size (MAF, 15 x 2 x 128) and of the
full-phase-space generators at their paper network sizes, side by side: EPiC flow matching (midpoint
ODE, 250 steps in the paper) and diffusion on the same networks (DDIM with the midpoint correction,
512 steps in the paper).

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


# -- full-phase-space CATHODE: the flow-matching and the diffusion generator ------------------------
FULLPHASE_EVENTS = {"cpu": 8, "cuda": 4096}
FULLPHASE_STEPS = {"cpu": 10, "cuda": 250}
#: the paper's sampler steps per family (methods.md c.2, c.3); both take two network evaluations per step
PAPER_STEPS = {"flow-matching": 250, "diffusion": 512}
GENERATORS = ("flow-matching", "diffusion")


def _fullphase_generator(device: str, generator: str):
    """The generator at its paper network sizes (EPiC 8 x 150/256, jet MLP 64-256-256-64, 279
    particles), fitted for one epoch on 64 shipped LHCO sideband events: sampling cost depends on
    the sizes, the steps and the multiplicities, not on the weights."""
    from baselines.dijet import DijetCloud
    from baselines.fullphase import PRESETS as FP_PRESETS, CathodeFullPhase
    from baselines.fullphase_generator import PointCloudDijetGenerator
    from benchmark.data import load_class

    events = load_class("lhco", "background", "generated")
    sb = events.take(np.flatnonzero((events["mjj"] > 2300) & (events["mjj"] < 3300))[:64])
    params = {**CathodeFullPhase.info.defaults, **FP_PRESETS["paper"], "jet_epochs": 1, "part_epochs": 1,
              "generator": generator, "ode_steps": FULLPHASE_STEPS[device], "diffusion_steps": FULLPHASE_STEPS[device]}
    gen = PointCloudDijetGenerator(params)
    ctx = context()
    ctx.device = device
    gen.fit(DijetCloud.from_events(sb, 279), ctx)
    gen.set_condition_density(np.random.default_rng(0).uniform(*SR, 1000), SR, 0)
    return gen


def _run_fullphase(benchmark, device: str, generator: str) -> None:
    gen = _fullphase_generator(device, generator)
    n, steps = FULLPHASE_EVENTS[device], FULLPHASE_STEPS[device]
    cloud = benchmark(gen.sample, n)
    assert len(cloud) == n and np.isfinite(cloud.particles).all() and cloud.mask.any(-1).all()
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        rate = n / stats.stats.mean
        # the particle model dominates and costs steps x 2 evaluations: scale to the paper's steps
        benchmark.extra_info.update({"events_per_s": rate,
                                     "events_per_s_at_paper_steps": rate * steps / PAPER_STEPS[generator]})
    benchmark.extra_info.update({"device": device, "n_events": n, "steps": steps, "paper_steps": PAPER_STEPS[generator],
                                 "sampler": "midpoint ODE" if generator == "flow-matching" else "DDIM + midpoint",
                                 "generator": f"{generator}, EPiC paper sizes, 279 particles"})


@pytest.mark.slow
@pytest.mark.parametrize("generator", GENERATORS)
def test_fullphase_generator_sampling_cpu(benchmark, generator):
    _run_fullphase(benchmark, "cpu", generator)


@pytest.mark.gpu
@pytest.mark.parametrize("generator", GENERATORS)
def test_fullphase_generator_sampling_cuda(benchmark, generator):
    _run_fullphase(benchmark, "cuda", generator)
