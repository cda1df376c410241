"""Compiled (numba) CPU kernel behind :func:`benchmark.features.images.jet_images`.

One pass per jet does the whole pipeline (centre, rotate, flip, pixelise, normalise) on a few
P-long scratch vectors and a per-jet float64 image that stays in cache; the numpy formulation
needed ~30 whole-chunk passes and a fresh histogram allocation per chunk. The steps and their
conventions are documented in :mod:`benchmark.features.images`; the torch path there follows the
same steps. No ``fastmath``: pixel assignment must not change with the compiler's choices.
"""
from __future__ import annotations

import math

import numpy as np

from benchmark.features.jit import compiled

#: ``mode`` values of :func:`pixelise_kernel`
CENTROID, PIXEL, NONE = 0, 1, 2


@compiled()
def pixelise_kernel(x: np.ndarray, m: np.ndarray, npix: int, extent: float, mode: int,
                    rotate: bool, flip: bool, normalise: bool, pixel_eps: float,
                    flip_tol: float, img: np.ndarray) -> None:
    """Images of cleaned jets ``x`` (M, P, 4) (padding has pt = 0) into ``img`` (M, npix, npix)."""
    M, P = m.shape
    pw = 2.0 * extent / npix
    half = npix // 2
    off = extent / pw + pixel_eps
    u = np.empty(P)
    v = np.empty(P)
    rows = np.empty(P, np.int64)
    cols = np.empty(P, np.int64)
    for b in range(M):
        image = img[b]
        image[:, :] = 0.0
        pt = x[b, :, 0]
        lead = 0
        for j in range(1, P):
            if pt[j] > pt[lead]:
                lead = j
        phi_lead = x[b, lead, 2]
        tot = 0.0
        su = 0.0  # pt-weighted coordinate sums: the centroid (modes CENTROID and PIXEL)
        sv = 0.0
        for j in range(P):
            d = x[b, j, 2] - phi_lead
            if abs(d) > math.pi:
                d = (d + math.pi) % (2.0 * math.pi) - math.pi
            if mode == PIXEL and abs(x[b, j, 2] - phi_lead) <= math.pi:
                d = x[b, j, 2]  # energyflow keeps absolute phi unless the jet crosses the seam
            elif mode == PIXEL:
                d = phi_lead + d
            u[j] = x[b, j, 1]
            v[j] = d
            tot += pt[j]
            su += pt[j] * u[j]
            sv += pt[j] * d
        inv = 1.0 / tot if tot > 0 else 0.0
        if mode == PIXEL:
            cu = math.ceil(su * inv / pw - 0.5) - half
            cv = math.ceil(sv * inv / pw - 0.5) - half
            for j in range(P):
                cols[j] = np.int64(math.ceil(u[j] / pw - 0.5) - cu)
                rows[j] = (npix - 1) - np.int64(math.ceil(v[j] / pw - 0.5) - cv)
        else:
            if mode == CENTROID:
                mu = su * inv
                mv = sv * inv
                for j in range(P):
                    u[j] -= mu
                    v[j] -= mv
            else:
                eta_lead = x[b, lead, 1]
                for j in range(P):
                    u[j] -= eta_lead
            if rotate:
                cuu = 0.0
                cuv = 0.0
                cvv = 0.0
                for j in range(P):
                    wu = pt[j] * u[j]
                    cuu += wu * u[j]
                    cuv += wu * v[j]
                    cvv += pt[j] * v[j] * v[j]
                alpha = 0.5 * math.atan2(2.0 * cuv, cuu - cvv)  # major axis from the u axis
                delta = math.pi / 2 - alpha
                c = math.cos(delta)
                s = math.sin(delta)
                for j in range(P):
                    uj = u[j]
                    u[j] = uj * c - v[j] * s
                    v[j] = uj * s + v[j] * c
            scale_u = 1.0 / pw
            scale_v = -1.0 / pw
            if flip:
                bu = 0.0
                bv = 0.0
                for j in range(P):
                    if u[j] > flip_tol:
                        bu += pt[j]
                    elif u[j] < -flip_tol:
                        bu -= pt[j]
                    if v[j] > flip_tol:
                        bv += pt[j]
                    elif v[j] < -flip_tol:
                        bv -= pt[j]
                if bu < 0:
                    scale_u = -scale_u
                if bv < 0:
                    scale_v = -scale_v
            for j in range(P):
                cols[j] = np.int64(math.floor(u[j] * scale_u + off))
                rows[j] = np.int64(math.floor(v[j] * scale_v + off))
        s_in = 0.0
        for j in range(P):
            if m[b, j] and 0 <= rows[j] < npix and 0 <= cols[j] < npix:
                s_in += pt[j]
            else:
                rows[j] = -1
        weight = (1.0 / s_in if s_in > 0 else 0.0) if normalise else 1.0
        for j in range(P):
            if rows[j] >= 0:
                image[rows[j], cols[j]] += pt[j] * weight
