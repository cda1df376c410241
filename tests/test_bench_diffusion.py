"""Batched probability-flow likelihood (baselines.nn.diffusion.log_likelihood, torchdiffeq ``bosh3``,
all jets in one solve) beside the reference's way: ``scipy.integrate.solve_ivp`` RK23 per jet, the
network and divergence evaluated through torch at every right-hand side (pytest-benchmark).

Both use the same particle network (the smoke-size transformer with a random, non-zero head; its
time frequencies scaled down so an untrained net is not needlessly oscillating in time), the same
Hutchinson probes (Rademacher, one per jet) and the same tolerances; ours keeps every jet's local
error within them (``norm="per_sample"``). Each case asserts that the two agree per jet (within
0.05 nats + 2 rtol |log p|); nothing is asserted about speed. ``extra_info``: ``jets``,
``particles``, ``ours_jets_per_s``, ``scipy_jets_per_s``, ``ratio`` (ours / scipy, > 1: ours faster) and
``ratio_batch_norm`` (ours with torchdiffeq's batch-RMS error norm, the looser control of a flattened solve).
Run with ``python -m pytest tests/test_bench_diffusion.py --benchmark-enable [-m slow|gpu]``.
"""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from baselines.nn.diffusion import CosineLogSNR, log_likelihood, probability_flow_drift
from baselines.nn.ode import divergence, probes
from baselines.nn.pointcloud import ParticleVelocityNet

pytestmark = pytest.mark.usefixtures("torch_one_thread")

SCHEDULE = CosineLogSNR()
RTOL, ATOL, MARGIN = 1e-3, 1e-4, 1e-4


def network(device: str) -> ParticleVelocityNet:
    torch.manual_seed(0)
    net = ParticleVelocityNet(3, 4, dim=32, blocks=2, ff_dim=64, embed=16, head_dim=32)
    torch.nn.init.normal_(net.head.net[-1].weight, std=0.2)
    net.condition.time.embedding.freqs /= 1000.0
    return net.to(device).eval()


def clouds(n_jets: int, max_particles: int, device: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    n = torch.randint(max_particles // 3, max_particles + 1, (n_jets,), generator=gen)
    mask = torch.arange(max_particles)[None] < n[:, None]
    x = torch.randn(n_jets, max_particles, 3, generator=gen) * mask[..., None]
    jets = torch.randn(n_jets, 4, generator=gen)
    return x.to(device), mask.to(device), jets.to(device)


def scipy_per_jet(net: ParticleVelocityNet, x: torch.Tensor, mask: torch.Tensor, jets: torch.Tensor,
                  eps: torch.Tensor) -> np.ndarray:
    """The reference loop: one solve_ivp (RK23) per jet on its real particles, state [x, integral]."""
    from scipy.integrate import solve_ivp

    out = []
    s0, s1 = 0.5 * SCHEDULE.logsnr_max - MARGIN, 0.5 * SCHEDULE.logsnr_min + MARGIN
    for i in range(len(x)):
        real = x[i][mask[i]][None].cpu()
        e = eps[:, i][:, mask[i]][:, None].cpu()
        m = torch.ones_like(real)
        drift = probability_flow_drift(net.cpu(), SCHEDULE, jets[i:i + 1].cpu(), None)
        shape = real.shape

        def rhs(s, y, drift=drift, shape=shape, e=e, m=m):
            with torch.enable_grad():
                xt = torch.as_tensor(y[:-1], dtype=torch.float32).reshape(shape).requires_grad_(True)
                v = drift(torch.tensor(s, dtype=torch.float32), xt)
                div = divergence(v, xt, m, e)
            return np.concatenate([v.detach().numpy().ravel(), div.detach().numpy()]).astype(np.float64)

        sol = solve_ivp(rhs, (s0, s1), np.concatenate([real.numpy().ravel(), [0.0]]), method="RK23", rtol=RTOL,
                        atol=ATOL)
        z = sol.y[:-1, -1]
        out.append(-0.5 * (z**2).sum() - 0.5 * z.size * np.log(2 * np.pi) + sol.y[-1, -1])
    return np.asarray(out)


def _compare(benchmark, n_jets: int, n_ref: int, max_particles: int, device: str) -> None:
    disabled = getattr(benchmark, "disabled", False)
    if disabled and device == "cpu":       # CI (--benchmark-disable): agreement on a few jets only
        n_jets, n_ref = min(n_jets, 8), min(n_ref, 4)
    net = network(device)
    x, mask, jets = clouds(n_jets, max_particles, device)
    eps = probes(x, 1, "rademacher", torch.Generator().manual_seed(5))
    times: list[float] = []

    def ours() -> torch.Tensor:
        t = time.perf_counter()
        ll = log_likelihood(net, x, schedule=SCHEDULE, cond=jets, mask=mask, divergence="hutchinson",
                            generator=torch.Generator().manual_seed(5), solver="bosh3", rtol=RTOL, atol=ATOL,
                            margin=MARGIN, norm="per_sample")
        if device != "cpu":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
        return ll

    got = benchmark.pedantic(ours, rounds=1 if disabled else 2, iterations=1).detach().cpu().numpy()
    t0 = time.perf_counter()        # torchdiffeq's own error norm: RMS over the whole batch (looser)
    log_likelihood(net, x, schedule=SCHEDULE, cond=jets, mask=mask, divergence="hutchinson",
                   generator=torch.Generator().manual_seed(5), rtol=RTOL, atol=ATOL, margin=MARGIN, norm="batch")
    if device != "cpu":
        torch.cuda.synchronize()
    t_batch_norm = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = scipy_per_jet(network("cpu"), x[:n_ref].cpu(), mask[:n_ref].cpu(), jets[:n_ref].cpu(), eps[:, :n_ref].cpu())
    t_ref = (time.perf_counter() - t0) / n_ref
    assert np.all(np.abs(got[:n_ref] - ref) < 0.05 + 2 * RTOL * np.abs(ref)), (got[:n_ref], ref)
    ours_rate, ref_rate = n_jets / min(times), 1.0 / t_ref
    info = {"jets": n_jets, "scipy_jets": n_ref, "particles": max_particles, "device": device, "rtol": RTOL,
            "atol": ATOL, "ours_jets_per_s": round(ours_rate, 2), "scipy_jets_per_s": round(ref_rate, 3),
            "ratio": round(ours_rate / ref_rate, 1),
            "ratio_batch_norm": round(n_jets / t_batch_norm / ref_rate, 1)}
    benchmark.extra_info.update(info)
    print(json.dumps(info))


def test_bench_likelihood_cpu_256_jets(benchmark):
    _compare(benchmark, 256, 8, 30, "cpu")


@pytest.mark.slow
def test_bench_likelihood_cpu_2048_jets(benchmark):
    _compare(benchmark, 2048, 16, 30, "cpu")


@pytest.mark.gpu
def test_bench_likelihood_cuda_4096_jets_100_particles(benchmark):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    _compare(benchmark, 4096, 16, 100, "cuda")
