"""The vectorised modified Chamfer loss (baselines.nn.chamfer) beside the per-event loop the
deep-set VAE paper used (pytest-benchmark): forward and backward on one training batch of 500
events x 20 slots (the paper's batch size).

Nothing is asserted about speed; each case asserts the two losses and their gradients agree.
``extra_info``: ``batch``, ``loop_s`` / ``ours_s`` (seconds per forward + backward) and ``ratio``
(loop time / ours, > 1: ours faster). Run with
``python -m pytest tests/test_bench_chamfer.py --benchmark-enable [-m gpu]``.
"""
from __future__ import annotations

import time

import pytest
import torch

from baselines.nn.chamfer import modified_chamfer, modified_chamfer_loop


def _batch(b: int, device: str, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    n = torch.randint(1, 21, (b,), generator=g)
    mask = torch.arange(20)[None] < n[:, None]
    tensors = (torch.randn(b, 20, 4, generator=g), torch.randn(b, 20, 9, generator=g),
               torch.randn(b, 20, 4, generator=g), torch.randint(1, 9, (b, 20), generator=g), mask)
    return [t.to(device) for t in tensors]


def _step(fn, args):
    pred, logits = (args[0].clone().requires_grad_(True), args[1].clone().requires_grad_(True))
    loss = fn(pred, logits, *args[2:], w=10.0).sum()
    loss.backward()
    return loss.detach(), pred.grad, logits.grad


def _compare(benchmark, device: str) -> None:
    disabled = getattr(benchmark, "disabled", False)
    b = 100 if disabled else 500  # CI (--benchmark-disable): agreement only, on a smaller batch
    args = _batch(b, device)
    t0 = time.perf_counter()
    ref = _step(modified_chamfer_loop, args)
    if device == "cuda":
        torch.cuda.synchronize()
    t_loop = time.perf_counter() - t0
    times: list[float] = []

    def ours():
        t = time.perf_counter()
        out = _step(modified_chamfer, args)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
        return out

    got = benchmark.pedantic(ours, rounds=1 if disabled else 5, iterations=1)
    for a, r in zip(got, ref):
        torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-4)
    benchmark.extra_info.update({"batch": b, "device": device, "loop_s": t_loop, "ours_s": min(times),
                                 "ratio": t_loop / min(times)})


def test_bench_chamfer_cpu(benchmark):
    _compare(benchmark, "cpu")


@pytest.mark.gpu
def test_bench_chamfer_cuda(benchmark):
    _compare(benchmark, "cuda")
