"""Torch k-means (baselines.kmeans) beside scikit-learn's KMeans on image-like data (pytest-benchmark).

Nothing is asserted about speed; each case asserts that the two reach a similar inertia (within 5 %:
a single greedy k-means++ draw each, stopped at the same fixed ``max_iter``; tests/test_kmeans.py holds
the 1 % agreement with restarts).
``extra_info``: ``n``, ``d``, ``k``, ``max_iter``, ``ours_s`` / ``sklearn_s`` (wall seconds per fit,
best of the same number of rounds), ``ratio`` (sklearn / ours, > 1: ours faster), the same in
process CPU seconds (``ours_cpu_s``, ``sklearn_cpu_s``, ``cpu_ratio``: steadier than wall time on a
shared machine), both inertias, both iteration counts and the math threads each side had. Both get
the same k, ``n_init``, ``max_iter`` and ``tol`` (0: stop on unchanged labels or at the cap), so
the ratio compares equal work.

The paper's scale (100k flattened 40x40 images, k = 100) runs only with ``--benchmark-enable``
(``slow`` on CPU; ``gpu`` for the device check): the shipped generated samples hold ~17k jets, not
100k, so the data are synthetic image-like rows (:func:`image_like`). A full paper fit (10
initialisations, up to 300 iterations) takes tens of minutes per side on one CPU core; the
benchmark times one k-means++ draw and ``MAX_ITER`` Lloyd iterations on both sides instead.
Without ``--benchmark-enable`` only the 5k case runs, at a quarter size, as an agreement check.
Run with ``OMP_NUM_THREADS=1 python -m pytest tests/test_bench_kmeans.py --benchmark-enable -s [-m slow|gpu]``.
"""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from baselines.kmeans import kmeans

K, N_INIT, MAX_ITER, TOL = 100, 1, 10, 0.0  # identical on both sides


def image_like(n: int, seed: int = 0, npix: int = 40) -> np.ndarray:
    """(n, npix^2) float32 unit-sum, non-negative 'jet images': one of 300 smooth random
    prototypes (a few Gaussian blobs) per row, jittered and clipped at zero."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.arange(npix), np.arange(npix), indexing="ij"), -1).reshape(-1, 2)
    protos = np.zeros((300, npix * npix), dtype=np.float32)
    for p in protos:
        for centre, width, weight in zip(rng.uniform(10, 30, (3, 2)), rng.uniform(1, 4, 3), rng.dirichlet([1] * 3)):
            p += weight * np.exp(-((grid - centre) ** 2).sum(1) / (2 * width**2)).astype(np.float32)
    x = protos[rng.integers(0, len(protos), n)]
    x += rng.normal(0.0, 2e-2, x.shape).astype(np.float32) * x.max(1, keepdims=True)
    np.clip(x, 0.0, None, out=x)
    x /= x.sum(1, keepdims=True)
    return x


def _threads() -> dict[str, int]:
    """Math threads each side may use (torch intra-op; scikit-learn's OpenMP/BLAS pools)."""
    import torch
    from threadpoolctl import threadpool_info

    pools = {p["user_api"]: p["num_threads"] for p in threadpool_info()}
    return {"torch_threads": torch.get_num_threads(), "sklearn_openmp_threads": pools.get("openmp", 0),
            "sklearn_blas_threads": pools.get("blas", 0)}


def _skip_unless_timing(benchmark) -> None:  # type: ignore[no-untyped-def]
    if getattr(benchmark, "disabled", False):
        pytest.skip("the 100k x 1600 cases run only with --benchmark-enable (they time; the 5k case checks)")


def _compare(benchmark, n: int, device: str) -> None:
    from sklearn.cluster import KMeans

    disabled = getattr(benchmark, "disabled", False)
    n = max(n // 4, 1000) if disabled else n  # CI (--benchmark-disable): agreement only
    x = image_like(n)
    rounds = 1 if disabled else 2
    ref_times: list[float] = []
    ref_cpu: list[float] = []
    for _ in range(rounds):  # as many rounds as ours, best of each: neither side gets warm caches alone
        t0, c0 = time.perf_counter(), time.process_time()
        ref = KMeans(K, n_init=N_INIT, max_iter=MAX_ITER, tol=TOL, random_state=0).fit(x)
        ref_times.append(time.perf_counter() - t0)
        ref_cpu.append(time.process_time() - c0)
    t_ref = min(ref_times)
    times: list[float] = []
    cpu: list[float] = []

    def ours():
        t, c = time.perf_counter(), time.process_time()
        out = kmeans(x, K, n_init=N_INIT, max_iter=MAX_ITER, tol=TOL, seed=0, device=device)
        if device != "cpu":
            import torch

            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        return out

    got = benchmark.pedantic(ours, rounds=rounds, iterations=1)
    assert got.inertia == pytest.approx(ref.inertia_, rel=0.05)  # one draw each: the 1 % check is test_kmeans
    info = {"n": n, "d": x.shape[1], "k": K, "max_iter": MAX_ITER, "device": device,
            "ours_s": round(min(times), 3), "sklearn_s": round(t_ref, 3),
            "ratio": round(t_ref / min(times), 2),
            # CPU seconds of the process: on a shared machine the wall ratio drifts with the load
            "ours_cpu_s": round(min(cpu), 3), "sklearn_cpu_s": round(min(ref_cpu), 3),
            "cpu_ratio": round(min(ref_cpu) / min(cpu), 2),
            "inertia": got.inertia, "sklearn_inertia": float(ref.inertia_),
            "n_iter": got.n_iter, "sklearn_n_iter": int(ref.n_iter_), "n_init": N_INIT, "tol": TOL, **_threads()}
    benchmark.extra_info.update(info)
    print(json.dumps(info))


def test_bench_kmeans_cpu_5k(benchmark):
    _compare(benchmark, 5_000, "cpu")


@pytest.mark.slow
def test_bench_kmeans_cpu_100k(benchmark):
    _skip_unless_timing(benchmark)
    _compare(benchmark, 100_000, "cpu")


@pytest.mark.gpu
def test_bench_kmeans_cuda_100k(benchmark):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    _skip_unless_timing(benchmark)
    _compare(benchmark, 100_000, "cuda")
