"""Compiled (numba) CPU kernels behind :mod:`benchmark.features.efp`.

Each kernel makes one pass over a chunk of jets (B, P) with contiguous inner loops so LLVM
vectorises them; together they replace about a dozen whole-array numpy passes per chunk (the
angular matrix, its powers, matrix-vector products), which were memory-bound. ``fastmath`` only
allows reassociation and contraction (sums may be reordered: ~1e-16 relative), never
assumptions about NaN or infinity. Compiled code is cached on disk (:mod:`benchmark.features.jit`).
"""
from __future__ import annotations

import numpy as np

from benchmark.features.jit import compiled

_FAST = {"reassoc", "contract", "nsz", "arcp"}


@compiled(fastmath=_FAST)
def theta_kernel(y: np.ndarray, phi: np.ndarray, wrap: bool, th: np.ndarray) -> None:
    """th[b, i, j] = sqrt(dy^2 + dphi^2); ``wrap`` folds |dphi| into [0, pi] (needed only when
    some |phi| > pi / 2, since phi is relative to the leading particle)."""
    B, P = y.shape
    for b in range(B):
        yb = y[b]
        pb = phi[b]
        for i in range(P):
            yi = yb[i]
            pi_ = pb[i]
            row = th[b, i]
            if wrap:
                for j in range(P):
                    dy = yi - yb[j]
                    dp = np.pi - abs(abs(pi_ - pb[j]) - np.pi)
                    row[j] = np.sqrt(dy * dy + dp * dp)
            else:
                for j in range(P):
                    dy = yi - yb[j]
                    dp = pi_ - pb[j]
                    row[j] = np.sqrt(dy * dy + dp * dp)


@compiled(fastmath=_FAST)
def moments_kernel(z: np.ndarray, th: np.ndarray, fill_w: bool, w: np.ndarray,
                   out: np.ndarray) -> None:
    """The closed-form connected EFPs with at most 2 vertices of degree > 1, per jet.

    With v_k = th^k z (k = 1, 2, 3) and u = z * v_1, ``out[b]`` holds
    e1 = z.v1, e2 = z.v2, e3 = z.v3, p2 = z.v1^2, de = z.(v1 v2), star = z.v1^3, p3 = u.(th u).
    ``fill_w`` also writes w = th diag(z) for the triangle.
    """
    B, P = z.shape
    v1 = np.empty(P)
    v2 = np.empty(P)
    v3 = np.empty(P)
    u = np.empty(P)
    for b in range(B):
        zb = z[b]
        for i in range(P):
            row = th[b, i]
            a1 = 0.0
            a2 = 0.0
            a3 = 0.0
            if fill_w:
                wrow = w[b, i]
                for j in range(P):
                    t = row[j]
                    zt = zb[j] * t
                    wrow[j] = zt
                    a1 += zt
                    zt2 = zt * t
                    a2 += zt2
                    a3 += zt2 * t
            else:
                for j in range(P):
                    t = row[j]
                    zt = zb[j] * t
                    a1 += zt
                    zt2 = zt * t
                    a2 += zt2
                    a3 += zt2 * t
            v1[i] = a1
            v2[i] = a2
            v3[i] = a3
        e1 = e2 = e3 = p2 = de = star = 0.0
        for i in range(P):
            zi = zb[i]
            a = v1[i]
            e1 += zi * a
            e2 += zi * v2[i]
            e3 += zi * v3[i]
            p2 += zi * a * a
            de += zi * a * v2[i]
            star += zi * a * a * a
            u[i] = zi * a
        p3 = 0.0
        for i in range(P):
            row = th[b, i]
            acc = 0.0
            for j in range(P):
                acc += row[j] * u[j]
            p3 += u[i] * acc
        out[b, 0] = e1
        out[b, 1] = e2
        out[b, 2] = e3
        out[b, 3] = p2
        out[b, 4] = de
        out[b, 5] = star
        out[b, 6] = p3


@compiled(fastmath=_FAST)
def trace_sums(z: np.ndarray, th: np.ndarray, top: np.ndarray, bottom: np.ndarray,
               n: int) -> np.ndarray:
    """The weighted sums closing the blocked trace(W^3) (see ``efp._triangle``).

    ``top`` = X [X Y] (rows < n), ``bottom`` = Z [V Z] (rows >= n); the transposed factor of each
    term is th_ij z_i (W_ji = th_ji z_i, th symmetric), so the diagonal blocks count once and the
    off-diagonal blocks three times.
    """
    B, P = z.shape
    out = np.empty(B)
    for b in range(B):
        zb = z[b]
        total = 0.0
        for i in range(P):
            row = th[b, i]
            prod = top[b, i] if i < n else bottom[b, i - n]
            s_top = 0.0
            for j in range(n):
                s_top += prod[j] * row[j]
            s_bottom = 0.0
            for j in range(n, P):
                s_bottom += prod[j] * row[j]
            total += zb[i] * ((s_top + 3.0 * s_bottom) if i < n else (3.0 * s_top + s_bottom))
        out[b] = total
    return out
