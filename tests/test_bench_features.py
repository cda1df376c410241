"""Throughput of the feature code beside its anchors, in the same process (pytest-benchmark).

Nothing is asserted about speed; every benchmark asserts that ours and the anchor agree.
``--benchmark-disable`` (the CI default) times one round of each; run
``pytest tests/test_bench_features.py --benchmark-enable`` for best-of-several timings.
``extra_info`` holds ``jets``, ``jets_per_s`` (ours), ``anchor_jets_per_s`` and ``ratio``
(ours / anchor, jets per second) and, where ours is multi-threaded, the single-thread numbers.

Anchors: EFPs -- ``energyflow.EFPSet('d<=3', 'p<=1', 'd>=1', measure='hadr')`` (the 8 prime EFPs)
with ``n_jobs=1``; images -- ``energyflow.utils.pixelate`` per jet; N-subjettiness -- a
straightforward per-jet implementation (FastJet classic interface, Python loop over particles).
"""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from benchmark.features.efp import efp
from benchmark.features.images import jet_images
from benchmark.features.nsubjettiness import nsubjettiness
from benchmark.parallel import available_cpus
from test_features_nsubjettiness import reference_taus
from test_features_toys import toy_jets


def _rounds(benchmark, enabled: int) -> int:
    return 1 if getattr(benchmark, "disabled", False) else enabled


def _size(benchmark, n: int) -> int:
    """Full size when benchmarking, a quarter under --benchmark-disable (CI: agreement only)."""
    return max(n // 4, 1) if getattr(benchmark, "disabled", False) else n


def _best(fn, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _report(benchmark, info: dict) -> None:
    benchmark.extra_info.update(info)
    print(json.dumps(info))


def _p4(x, mask):
    out = []
    for k in range(len(x)):
        pt, eta, phi, e = x[k][mask[k]].astype(np.float64).T
        out.append(np.stack([e, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], -1))
    return out


def test_bench_efp_cpu(benchmark):
    ef = pytest.importorskip("energyflow")
    n, n_anchor, P = _size(benchmark, 3000), _size(benchmark, 300), 100
    x, mask = toy_jets(n, P, seed=1, pad=False, dtype=np.float64)
    oracle = ef.EFPSet("d<=3", "p<=1", "d>=1", measure="hadr", coords="epxpypz")
    p4 = _p4(x[:n_anchor], mask[:n_anchor])
    rounds = _rounds(benchmark, 3)
    ref = oracle.batch_compute(p4, n_jobs=1)
    t_anchor = _best(lambda: oracle.batch_compute(p4, n_jobs=1), rounds)
    efp(x[:50], mask[:50], n_threads=1)  # warm up buffers and BLAS
    t_one = _best(lambda: efp(x, mask, n_threads=1), rounds)
    t_all = _best(lambda: efp(x, mask), rounds)
    got = benchmark.pedantic(efp, args=(x, mask), rounds=rounds, iterations=1)
    np.testing.assert_allclose(got[:n_anchor], ref, rtol=1e-10, atol=0)
    anchor = n_anchor / t_anchor
    _report(benchmark, {
        "jets": n, "constituents": P, "cpus": available_cpus(),
        "jets_per_s": round(n / t_all, 1), "jets_per_s_1thread": round(n / t_one, 1),
        "anchor_jets_per_s": round(anchor, 1),
        "ratio": round(n / t_all / anchor, 2), "ratio_1thread": round(n / t_one / anchor, 2),
    })


@pytest.mark.gpu
def test_bench_efp_gpu(benchmark):
    import torch

    n, P = 200_000, 100
    x, mask = toy_jets(n, P, seed=2, pad=False)
    efp(x[:1000], mask[:1000], device="cuda")  # warm up
    torch.cuda.synchronize()
    rounds = _rounds(benchmark, 3)
    t = _best(lambda: efp(x, mask, device="cuda"), rounds)
    got = benchmark.pedantic(efp, args=(x, mask), kwargs={"device": "cuda"}, rounds=rounds,
                             iterations=1)
    np.testing.assert_allclose(got[:2000], efp(x[:2000], mask[:2000]), rtol=1e-11)
    _report(benchmark, {"jets": n, "constituents": P, "device": torch.cuda.get_device_name(),
                        "jets_per_s": round(n / t, 1)})


def test_bench_images(benchmark):
    ef = pytest.importorskip("energyflow")
    n, n_anchor, P = _size(benchmark, 20_000), _size(benchmark, 1000), 100
    x, mask = toy_jets(n, P, seed=3, phi0=1.0, pad=False)
    xa = x[:n_anchor].astype(np.float64)
    jets = [xa[k][mask[k]][:, :3] for k in range(n_anchor)]
    rounds = _rounds(benchmark, 3)

    def anchor():
        return np.stack([ef.utils.pixelate(j, npix=40, img_width=1.6)[..., 0] for j in jets])

    ref = anchor()
    t_anchor = _best(anchor, rounds)
    kw = {"centre": "pixel", "rotate": False, "flip": False}
    jet_images(x[:100], mask[:100])  # warm up
    t_same = _best(lambda: jet_images(x, mask, **kw), rounds)
    t_full = _best(lambda: jet_images(x, mask), rounds)
    t_one = _best(lambda: jet_images(x, mask, n_threads=1), rounds)
    t_smooth = _best(lambda: jet_images(x, mask, power=0.5, sigma=1.0), rounds)
    same = jet_images(xa, mask[:n_anchor], dtype=np.float64, **kw)
    np.testing.assert_allclose(same, ref[:, ::-1], atol=1e-12)
    benchmark.pedantic(jet_images, args=(x, mask), rounds=rounds, iterations=1)
    anchor_rate = n_anchor / t_anchor
    _report(benchmark, {
        "jets": n, "constituents": P, "anchor_jets_per_s": round(anchor_rate, 1),
        "jets_per_s": round(n / t_full, 1), "ratio": round(n / t_full / anchor_rate, 2),
        "jets_per_s_1thread": round(n / t_one, 1),
        "ratio_1thread": round(n / t_one / anchor_rate, 2),
        "jets_per_s_same_steps": round(n / t_same, 1),
        "ratio_same_steps": round(n / t_same / anchor_rate, 2),
        "jets_per_s_sqrt_smoothed": round(n / t_smooth, 1),
    })


@pytest.mark.gpu
def test_bench_images_gpu(benchmark):
    n, P = 200_000, 100
    x, mask = toy_jets(n, P, seed=4, pad=False)
    jet_images(x[:1000], mask[:1000], device="cuda")
    rounds = _rounds(benchmark, 3)
    t = _best(lambda: jet_images(x, mask, device="cuda"), rounds)
    got = benchmark.pedantic(jet_images, args=(x[:5000], mask[:5000]), kwargs={"device": "cuda"},
                             rounds=rounds, iterations=1)
    np.testing.assert_allclose(got, jet_images(x[:5000], mask[:5000]), atol=1e-6)
    _report(benchmark, {"jets": n, "constituents": P, "jets_per_s": round(n / t, 1)})


def test_bench_nsubjettiness(benchmark):
    pytest.importorskip("fastjet")
    n, n_anchor, P = _size(benchmark, 4000), _size(benchmark, 200), 100
    n_np = min(n, 1000)
    x, mask = toy_jets(n, P, seed=5, pad=False)
    rounds = _rounds(benchmark, 3)
    ref = reference_taus(x[:n_anchor], mask[:n_anchor])
    t_anchor = _best(lambda: reference_taus(x[:n_anchor], mask[:n_anchor]), rounds)
    nsubjettiness(x[:50], mask[:50])  # warm up (FastJet banner)
    t_fj = _best(lambda: nsubjettiness(x, mask, backend="fastjet"), rounds)
    t_np = _best(lambda: nsubjettiness(x[:n_np], mask[:n_np], backend="numpy"), rounds)
    got = benchmark.pedantic(nsubjettiness, args=(x, mask), rounds=rounds, iterations=1)
    np.testing.assert_allclose(got[:n_anchor], ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(nsubjettiness(x[:n_anchor], mask[:n_anchor], backend="numpy"), ref,
                               rtol=1e-9, atol=1e-12)
    anchor = n_anchor / t_anchor
    _report(benchmark, {
        "jets": n, "constituents": P, "anchor_jets_per_s": round(anchor, 1),
        "jets_per_s": round(n / t_fj, 1), "ratio": round(n / t_fj / anchor, 2),
        "jets_per_s_numpy_backend": round(n_np / t_np, 1),
        "ratio_numpy_backend": round(n_np / t_np / anchor, 2),
    })


@pytest.mark.gpu
def test_bench_nsubjettiness_gpu(benchmark):
    n, P = 50_000, 100
    x, mask = toy_jets(n, P, seed=6, pad=False)
    nsubjettiness(x[:500], mask[:500], device="cuda")
    rounds = _rounds(benchmark, 2)
    t = _best(lambda: nsubjettiness(x, mask, device="cuda"), rounds)
    got = benchmark.pedantic(nsubjettiness, args=(x[:2000], mask[:2000]),
                             kwargs={"device": "cuda"}, rounds=rounds, iterations=1)
    np.testing.assert_allclose(got, nsubjettiness(x[:2000], mask[:2000]), rtol=1e-9, atol=1e-12)
    _report(benchmark, {"jets": n, "constituents": P, "jets_per_s": round(n / t, 1)})
