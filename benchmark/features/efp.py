"""Energy flow polynomials (Komiske, Metodiev, Thaler), batched over padded per-jet arrays.

For a multigraph G with vertices 1..N and edges E (Eq. 6-7 of "What's anomalous in LHC jets?")::

    EFP_G = sum_{i_1..i_N} z_{i_1} ... z_{i_N} prod_{(k,l) in E} theta_{i_k i_l}
    z_i = pt_i^kappa / (sum_j pt_j)^kappa        (normed=True; pt_i^kappa if normed=False)
    theta_ij = (dy_ij^2 + dphi_ij^2)^(beta/2)     (rapidity y, dphi wrapped to [-pi, pi])

which is energyflow's ``measure='hadr'`` with ``kappa_normed_behavior='new'`` (note z is normalised
by the scalar pt sum of the constituents, as energyflow does, not by the jet pt).

:data:`PRIME_D3` are the 8 prime (connected) EFPs with 1 <= d <= 3 edges, in the order of
``energyflow.EFPSet('d<=3', 'p<=1', 'd>=1')`` (= EFP1..EFP8 of the paper; its printed EFP5 repeats
EFP4, the graph meant is the double edge plus a single edge, energyflow's fifth). :data:`ALL_D3`
are all 13 EFPs with d <= 3 in ``EFPSet('d<=3')`` order (constant, connected and products). Any
graph with at most 3 edges per connected component is evaluated by a closed formula in
O(P^2) (O(P^3) for the triangle: two half-height batched matrix products); larger connected
graphs fall back to a generic einsum (correct, slow).

Backends: on the CPU, compiled kernels (:mod:`benchmark.features.efp_kernels`, numba) plus BLAS,
float64, threads over jet chunks; torch when ``device`` is given
(``"cuda"`` on a GPU; ``"cpu"`` runs the same torch code, used to test it). Jets are processed in
chunks of similar multiplicity so padding costs little. Empty jets give 0 for every EFP.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmark.features.constituents import (
    as_per_jet,
    check_finite,
    clean,
    four_momenta,
    rapidity,
    wrap_phi,
)
from benchmark.features.efp_kernels import moments_kernel as _moments_kernel
from benchmark.features.efp_kernels import theta_kernel as _theta_kernel
from benchmark.features.efp_kernels import trace_sums as _trace_sums
from benchmark.parallel import run_in_threads

Graph = Sequence[tuple[int, int]]

#: the 8 prime EFPs with d <= 3 (EFP1..EFP8), energyflow order
PRIME_D3: list[list[tuple[int, int]]] = [
    [(0, 1)],
    [(0, 1), (0, 1)],
    [(0, 1), (0, 1), (0, 1)],
    [(0, 1), (0, 2)],
    [(0, 1), (0, 2), (0, 2)],
    [(0, 1), (0, 2), (1, 2)],
    [(0, 1), (0, 2), (0, 3)],
    [(0, 1), (0, 2), (1, 3)],
]
#: all 13 EFPs with d <= 3, energyflow ``EFPSet('d<=3')`` order
ALL_D3: list[list[tuple[int, int]]] = [
    [],
    *PRIME_D3,
    [(0, 1), (2, 3)],
    [(0, 1), (2, 3), (2, 3)],
    [(0, 1), (2, 3), (2, 4)],
    [(0, 1), (2, 3), (4, 5)],
]
#: names of the closed-form connected graphs
PRIME_NAMES = ["e1", "e2", "e3", "p2", "de", "tri", "star", "p3"]

#: jets x P^2 elements per CPU chunk (keeps the P x P temporaries in cache)
CHUNK_ELEMENTS = 80_000
#: jets per outer block (input cleaning and per-particle inputs)
OUTER_BLOCK = 256
#: jets per torch block (bounds device memory; each block is moved, prepared and reduced alone)
TORCH_BLOCK = 1 << 20
#: elements per GPU chunk
GPU_CHUNK_ELEMENTS = 1 << 26


def efp(
    constituents: np.ndarray,
    mask: np.ndarray | None = None,
    graphs: Sequence[Graph] | None = None,
    kappa: float = 1.0,
    beta: float = 1.0,
    normed: bool = True,
    *,
    device: Any = None,
    n_threads: int | None = None,
    on_invalid: str = "raise",
) -> np.ndarray:
    """(M, len(graphs)) float64 EFPs of jets ``constituents`` (M, P, 4) (pt, eta, phi, E).

    ``graphs`` are edge lists (default :data:`PRIME_D3`). ``device`` selects the torch path
    (``"cuda"``, ``"cuda:1"``, ``"cpu"``); None is numpy with ``n_threads`` threads (default: the
    CPUs this process may use).
    """
    if not beta > 0:
        raise ValueError(f"beta must be positive, got {beta}")
    graphs = [list(map(tuple, g)) for g in (PRIME_D3 if graphs is None else graphs)]
    plans = [_plan(g) for g in graphs]
    need = {c for plan in plans for c in plan if isinstance(c, str) and c != "vertex"}
    generic = [comp for plan in plans for comp in plan if not isinstance(comp, str)]
    keys = sorted(need) + [_gkey(g) for g in generic]
    if device is not None:
        x0, m0 = as_per_jet(constituents, mask)
        check_finite(x0, m0, on_invalid)
        parts = [_run_torch(x0[s:s + TORCH_BLOCK], m0[s:s + TORCH_BLOCK], kappa, normed, need,
                            generic, beta, keys, device)
                 for s in range(0, max(len(x0), 1), TORCH_BLOCK)]
        values = {k: np.concatenate([p[0][k] for p in parts]) for k in keys}
        zsum = np.concatenate([p[1] for p in parts])
    else:
        x0, m0 = as_per_jet(constituents, mask)
        check_finite(x0, m0, on_invalid)
        values = {k: np.zeros(len(x0)) for k in keys}
        zsum = np.zeros(len(x0))
        _run_cpu(x0, m0, kappa, normed, need, generic, beta, values, zsum, n_threads)
    M = len(zsum)
    out = np.empty((M, len(graphs)))
    for col, plan in enumerate(plans):
        val = np.ones(M)
        for comp in plan:
            if comp == "vertex":
                val = val * zsum
            elif isinstance(comp, str):
                val = val * values[comp]
            else:
                val = val * values[_gkey(comp)]
        out[:, col] = val
    return out


def efp_names(graphs: Sequence[Graph] | None = None) -> list[str]:
    """Column names: ``EFP1``..``EFP8`` for the default set, else the edge lists as text."""
    if graphs is None:
        return [f"EFP{i + 1}" for i in range(len(PRIME_D3))]
    return ["EFP" + "".join(f"({a},{b})" for a, b in g) for g in graphs]


# -- graph analysis ---------------------------------------------------------------------------
def _plan(graph: Graph) -> list[Any]:
    """Factor a graph into connected components: closed-form names, "vertex", or edge lists."""
    edges = []
    for e in graph:
        if len(e) != 2:
            raise ValueError(f"graph edges must be pairs of vertices, got {e!r} in {graph!r}")
        a, b = int(e[0]), int(e[1])
        if a < 0 or b < 0 or a == b:
            raise ValueError(f"invalid edge {e!r} in graph {graph!r} (vertices >= 0, no self-loops)")
        edges.append((min(a, b), max(a, b)))
    if not edges:
        return ["vertex"]
    vertices = sorted({v for e in edges for v in e})
    parent = {v: v for v in vertices}

    def find(v: int) -> int:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for a, b in edges:
        parent[find(a)] = find(b)
    comps: dict[int, list[tuple[int, int]]] = {}
    for e in edges:
        comps.setdefault(find(e[0]), []).append(e)
    return [_classify(c) for c in comps.values()]


def _classify(edges: list[tuple[int, int]]) -> Any:
    """Name of a connected graph with <= 3 edges, or its relabelled edge list (generic path)."""
    verts = sorted({v for e in edges for v in e})
    n, d = len(verts), len(edges)
    pairs: dict[tuple[int, int], int] = {}
    for e in edges:
        pairs[e] = pairs.get(e, 0) + 1
    degree = {v: sum((v in e) for e in edges) for v in verts}
    if n == 2 and d <= 3:
        return f"e{d}"
    if n == 3 and d == 2:
        return "p2"
    if n == 3 and d == 3:
        return "tri" if len(pairs) == 3 else "de"
    if n == 4 and d == 3:
        return "star" if max(degree.values()) == 3 else "p3"
    relabel = {v: i for i, v in enumerate(verts)}
    return tuple(sorted((relabel[a], relabel[b]) for a, b in edges))


def _gkey(graph: tuple) -> str:
    return "g" + repr(graph)


# -- per-particle inputs ----------------------------------------------------------------------
def _particles(x: np.ndarray, m: np.ndarray, kappa: float, normed: bool):
    """z (M, P) (0 for padding), rapidity, phi relative to the leading particle, multiplicity;
    real particles moved to the front of each row."""
    mult = m.sum(axis=1)
    if not _front_packed(m):
        order = np.argsort(~m, axis=1, kind="stable")
        x = np.take_along_axis(x, order[..., None], axis=1)
        m = np.take_along_axis(m, order, axis=1)
    p_max = max(int(mult.max(initial=0)), 1)
    x, m = x[:, :p_max], m[:, :p_max]
    pt = x[..., 0]
    _, _, pz, e = four_momenta(x)
    y = np.where(m, rapidity(pt, pz, e), 0.0)
    lead = np.argmax(pt, axis=1)
    phi0 = np.take_along_axis(x[..., 2], lead[:, None], axis=1)
    phi = np.where(m, wrap_phi(x[..., 2] - phi0), 0.0)
    ptk = pt if kappa == 1 else np.where(m, pt, 0.0) ** kappa
    if normed:
        s = pt.sum(axis=1, keepdims=True)
        den = s if kappa == 1 else s**kappa
        z = np.where(s > 0, ptk / np.where(s > 0, den, 1.0), 0.0)
    else:
        z = ptk
    z = np.where(m, z, 0.0)
    return z, y, phi, mult


def _front_packed(m: np.ndarray) -> bool:
    """True when every row's real entries come first."""
    return bool((np.diff(m.astype(np.int8), axis=1) <= 0).all()) if m.shape[1] > 1 else True


def _chunks(order: np.ndarray, mult: np.ndarray, elements: int) -> list[tuple[np.ndarray, int]]:
    """Consecutive runs of jets (in multiplicity order) with chunk size ~ elements / P^2."""
    out = []
    i, M = 0, len(order)
    while i < M:
        # chunk size from the multiplicity at the chunk's far end (multiplicity grows along order)
        p = max(int(mult[order[i]]), 1)
        b = max(1, elements // (p * p))
        j = min(M, i + b)
        p = max(int(mult[order[j - 1]]), 1)
        b = max(1, elements // (p * p))
        j = min(M, i + b)
        out.append((order[i:j], max(int(mult[order[j - 1]]), 1)))
        i = j
    return out


# -- CPU kernel -------------------------------------------------------------------------------
def _run_cpu(x0, m0, kappa, normed, need, generic, beta, values, zsum, n_threads) -> None:
    """Jets in multiplicity order, in outer blocks (clean + per-particle inputs, sized to stay in
    cache) split into kernel chunks of ~CHUNK_ELEMENTS; blocks are shared among threads."""
    est = (m0 & (x0[..., 0] > 0)).sum(axis=1)  # multiplicity before dropping non-finite entries
    order = np.argsort(est, kind="stable")
    order = order[est[order] > 0]  # empty jets stay 0
    blocks = [order[i:i + OUTER_BLOCK] for i in range(0, len(order), OUTER_BLOCK)]

    def work(block_list):
        bufs: dict[tuple, np.ndarray] = {}
        for rows in block_list:
            x, m = clean(x0[rows], m0[rows], "drop")  # non-finite input was handled already
            z, y, phi, mult = _particles(x, m, kappa, normed)
            zsum[rows] = z.sum(axis=1)
            local = np.argsort(mult, kind="stable")
            local = local[mult[local] > 0]
            for sub, p in _chunks(local, mult, CHUNK_ELEMENTS):
                res = _kernel_cpu(z[sub, :p], y[sub, :p], phi[sub, :p], need, generic, beta, bufs)
                for k, v in res.items():
                    values[k][rows[sub]] = v

    run_in_threads(work, blocks, n_threads)


def _buf(bufs: dict, name: str, shape: tuple, dtype=np.float64) -> np.ndarray:
    key = (name, shape)
    b = bufs.get(key)
    if b is None:
        if len(bufs) > 64:
            bufs.clear()
        b = bufs[key] = np.empty(shape, dtype)
    return b


#: columns of :func:`_moments_kernel`'s output, in order
MOMENT_NAMES = ("e1", "e2", "e3", "p2", "de", "star", "p3")


def _kernel_cpu(z, y, phi, need, generic, beta, bufs) -> dict:
    """EFP building blocks for one chunk (B, P) on the CPU.

    The angles and every O(P^2) quantity come from two compiled, vectorised passes (numba), which
    fuse what would be a dozen whole-array numpy passes; the O(P^3) triangle goes to BLAS.
    """
    B, P = z.shape
    th = _buf(bufs, "th", (B, P, P))
    wrap = bool(np.abs(phi).max(initial=0.0) > np.pi / 2)  # else pairwise |dphi| <= pi already
    _theta_kernel(y, phi, wrap, th)
    if beta != 1:
        np.power(th, beta, out=th)
    w = _buf(bufs, "w", (B, P, P)) if "tri" in need else th
    moments = _buf(bufs, "moments", (B, len(MOMENT_NAMES)))
    _moments_kernel(z, th, "tri" in need, w, moments)
    res: dict[str, np.ndarray] = {
        name: moments[:, k].copy() for k, name in enumerate(MOMENT_NAMES) if name in need}
    if "tri" in need:
        res["tri"] = _triangle(z, th, w, bufs)
    for g in generic:
        res[_gkey(g)] = _einsum_graph(np, z, th, g)
    return res


def _triangle(z: np.ndarray, th: np.ndarray, w: np.ndarray, bufs: dict) -> np.ndarray:
    """sum_ijk z_i z_j z_k th_ij th_jk th_ki = trace(W^3), W = th diag(z), with half the flops.

    Split W into 2 x 2 blocks [[X, Y], [V, Z]]; the cyclic trace gives
    tr W^3 = tr X^3 + tr Z^3 + 3 tr XYV + 3 tr YZV, so two half-height products
    X [X Y] and Z [V Z] (P^3 / 2 multiply-adds instead of P^3) and a weighted sum suffice.
    """
    B, P = z.shape
    n = P // 2
    top = _buf(bufs, "tri_top", (B, n, P))
    bottom = _buf(bufs, "tri_bottom", (B, P - n, P))
    np.matmul(w[:, :n, :n], w[:, :n, :], out=top)
    np.matmul(w[:, n:, n:], w[:, n:, :], out=bottom)
    return _trace_sums(z, th, top, bottom, n)


def _einsum_graph(xp: Any, z: Any, th: Any, graph: tuple) -> Any:
    """Generic connected-graph EFP by einsum (batch index 'a'; vertices 'b'...)."""
    letters = "bcdefghijklmnopqrstuvwxyz"
    n = 1 + max(v for e in graph for v in e)
    if n > len(letters):
        raise ValueError(f"graph {graph!r} has too many vertices")
    mult: dict[tuple[int, int], int] = {}
    for e in graph:
        mult[e] = mult.get(e, 0) + 1
    terms, ops = [], []
    for v in range(n):
        terms.append("a" + letters[v])
        ops.append(z)
    for (a, b), k in mult.items():
        terms.append("a" + letters[a] + letters[b])
        ops.append(th if k == 1 else th**k)
    expr = ",".join(terms) + "->a"
    if xp is np:
        return np.einsum(expr, *ops, optimize="greedy")
    return xp.einsum(expr, *ops)


# -- torch kernel -----------------------------------------------------------------------------
def _run_torch(x0, m0, kappa, normed, need, generic, beta, keys, device):
    """One block on ``device``: per-particle inputs and the chunked kernel (input already checked;
    non-finite real particles are dropped here)."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available")
    x = torch.as_tensor(np.ascontiguousarray(x0), device=dev).to(torch.float64)
    m = torch.as_tensor(np.ascontiguousarray(m0), device=dev)
    finite = torch.isfinite(x).all(-1)
    m = m & finite & (x[..., 0] > 0)
    x = torch.where(m[..., None], x, torch.zeros((), dtype=x.dtype, device=dev))
    mult = m.sum(1)
    order = torch.argsort((~m).to(torch.int8), dim=1, stable=True)
    p_max = max(int(mult.max()) if len(mult) else 0, 1)
    order = order[:, :p_max]
    x = torch.gather(x, 1, order[..., None].expand(-1, -1, 4))
    m = torch.gather(m, 1, order)
    pt, eta, phi_abs, e = x.unbind(-1)
    pz = pt * torch.sinh(eta)
    from benchmark.features.constituents import _rapidity

    y = torch.where(m, _rapidity(torch, pt * pt, pz, e), torch.zeros_like(pt))
    lead = pt.argmax(1, keepdim=True)
    phi = phi_abs - torch.gather(phi_abs, 1, lead)
    phi = torch.where(m, torch.remainder(phi + np.pi, 2 * np.pi) - np.pi, torch.zeros_like(pt))
    ptk = pt if kappa == 1 else torch.where(m, pt, torch.zeros_like(pt)) ** kappa
    if normed:
        s = pt.sum(1, keepdim=True)
        den = s if kappa == 1 else s**kappa
        z = torch.where(s > 0, ptk / torch.where(s > 0, den, torch.ones_like(den)), torch.zeros_like(pt))
    else:
        z = ptk
    z = torch.where(m, z, torch.zeros_like(z))
    mult_np = mult.cpu().numpy()
    order_np = np.argsort(mult_np, kind="stable")
    nonempty = order_np[mult_np[order_np] > 0]
    elements = GPU_CHUNK_ELEMENTS if dev.type == "cuda" else CHUNK_ELEMENTS * 4
    M = len(mult_np)
    values = {k: torch.zeros(M, dtype=torch.float64, device=dev) for k in keys}
    for rows, p in _chunks(nonempty, mult_np, elements):
        r = torch.as_tensor(rows, device=dev)
        res = _kernel_torch(z[r, :p], y[r, :p], phi[r, :p], need, generic, beta)
        for k, v in res.items():
            values[k][r] = v
    return {k: v.cpu().numpy() for k, v in values.items()}, z.sum(1).cpu().numpy()


def _kernel_torch(z, y, phi, need, generic, beta) -> dict:
    import torch

    dy = y[:, :, None] - y[:, None, :]
    dphi = (phi[:, :, None] - phi[:, None, :]).abs_()
    if float(phi.abs().max()) > np.pi / 2:
        dphi = np.pi - (dphi - np.pi).abs_()
    th = torch.hypot(dy, dphi)
    del dy, dphi
    if beta != 1:
        th = th.pow_(beta)
    res = {}
    zc = z[:, :, None]
    v1 = torch.bmm(th, zc)[..., 0] if need & {"e1", "p2", "de", "star", "p3"} else None
    if "e1" in need:
        res["e1"] = (z * v1).sum(1)
    if "p2" in need:
        res["p2"] = (z * v1 * v1).sum(1)
    if "star" in need:
        res["star"] = (z * v1 * v1 * v1).sum(1)
    if "p3" in need:
        u = z * v1
        res["p3"] = (u * torch.bmm(th, u[:, :, None])[..., 0]).sum(1)
    if "tri" in need:
        res["tri"] = _triangle_torch(z, th)
    if need & {"e2", "de", "e3"} or generic:
        th2 = th * th
        v2 = torch.bmm(th2, zc)[..., 0]
        if "e2" in need:
            res["e2"] = (z * v2).sum(1)
        if "de" in need:
            res["de"] = (z * v1 * v2).sum(1)
        if "e3" in need:
            res["e3"] = (z * torch.bmm(th2.mul_(th), zc)[..., 0]).sum(1)
    for g in generic:
        res[_gkey(g)] = _einsum_graph(torch, z, th, g)
    return res


def _triangle_torch(z, th):
    """trace(W^3) with the 2 x 2 block split of :func:`_triangle` (half the flops of W @ W)."""
    import torch

    P = z.shape[1]
    n = P // 2
    w = th * z[:, None, :]
    top = torch.bmm(w[:, :n, :n], w[:, :n, :]).mul_(th[:, :n, :])
    weight = torch.full((P,), 3.0, dtype=th.dtype, device=th.device)
    weight[:n] = 1.0  # top rows: diagonal block once, off-diagonal block three times
    total = (z[:, :n] * (top @ weight)).sum(1)
    del top
    bottom = torch.bmm(w[:, n:, n:], w[:, n:, :]).mul_(th[:, n:, :])
    weight = 4.0 - weight  # bottom rows: the other way round
    return total + (z[:, n:] * (bottom @ weight)).sum(1)
