"""Jet images (whats-anomalous section 2 and 2.3), batched over padded per-jet arrays.

Pipeline per jet, in the (pseudorapidity, azimuth) plane u = eta, v = phi (calorimeter images):

1. ``centre="centroid"``: shift so the pt-weighted centroid is at the origin (phi taken relative to
   the hardest particle first, so jets across phi = +-pi are handled). ``"pixel"`` reproduces
   energyflow's ``pixelate`` exactly (centroid snapped to the pixel grid, absolute coordinates,
   no rotation or flip); ``"none"`` keeps coordinates relative to the hardest particle.
2. ``rotate``: rotate the principal axis of the pt-weighted second-moment tensor to 12 o'clock
   (the v axis). A jet without a preferred axis (one particle, isotropic) is rotated by 90 deg.
3. ``flip``: mirror v so the upper half (v > 0) carries at least as much pt as the lower half,
   and u so the right half (u > 0) carries at least as much as the left.
4. pixelise on ``npix`` x ``npix`` pixels over [-extent, extent]^2 (pixel width 2 extent / npix),
   summing pt; particles outside are dropped. ``image[..., row, col]``: row 0 is the top
   (v = +extent), col 0 the left (u = -extent), so ``imshow(image)`` shows the principal axis
   vertical.
5. normalise to unit sum; ``power`` n replaces each pixel by pixel^n (the pT^n reweighting,
   n = 1/2 and 1/4 common) and renormalises; ``sigma`` > 0 applies a Gaussian filter of width
   sigma pixels (scipy.ndimage.gaussian_filter semantics: ``mode="reflect"``, ``truncate=4``) and
   renormalises.

An empty jet (or one with no particle inside the image) gives an all-zero image, never NaN.
numpy on CPU; ``device="cuda"`` (or ``"cpu"``) runs the same steps with torch.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from benchmark.features.constituents import as_per_jet, clean, wrap_phi

CENTRES = ("centroid", "pixel", "none")
#: jets per numpy chunk (small: the (chunk, P) temporaries and images stay in cache)
CHUNK = 128
#: jets per torch chunk
TORCH_CHUNK = 65536


def jet_images(
    constituents: np.ndarray,
    mask: np.ndarray | None = None,
    npix: int = 40,
    extent: float = 0.8,
    *,
    centre: str = "centroid",
    rotate: bool = True,
    flip: bool = True,
    power: float = 1.0,
    sigma: float = 0.0,
    normalise: bool = True,
    dtype: Any = np.float32,
    device: Any = None,
    n_threads: int | None = None,
    on_invalid: str = "raise",
) -> np.ndarray:
    """(M, npix, npix) jet images of ``constituents`` (M, P, 4) (pt, eta, phi, E)."""
    if npix < 1 or not extent > 0:
        raise ValueError(f"need npix >= 1 and extent > 0, got npix={npix}, extent={extent}")
    if centre not in CENTRES:
        raise ValueError(f"centre must be one of {CENTRES}, got {centre!r}")
    if not power > 0:
        raise ValueError(f"power must be positive, got {power}")
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if centre == "pixel" and (rotate or flip):
        raise ValueError("centre='pixel' (energyflow-compatible) needs rotate=False and flip=False")
    if device is not None:
        x, m = clean(constituents, mask, on_invalid)
        return _images_torch(x, m, npix, extent, centre, rotate, flip, power, sigma, normalise,
                             dtype, device)
    x0, m0 = as_per_jet(constituents, mask)
    out = np.empty((len(x0), npix, npix), dtype=dtype)
    smooth = gaussian_matrix(npix, sigma) if sigma > 0 else None
    chunks = [slice(s, s + CHUNK) for s in range(0, len(x0), CHUNK)]

    def work(part: list[slice]) -> None:
        for sl in part:
            x, m = clean(x0[sl], m0[sl], on_invalid, first_jet=sl.start)
            img = _images_numpy(x, m, npix, extent, centre, rotate, flip, normalise)
            out[sl] = _postprocess(np, img, power, smooth, normalise)

    n_threads = _threads(n_threads, len(chunks))
    if n_threads == 1:
        work(chunks)
    else:
        with ThreadPoolExecutor(n_threads) as pool:
            for f in [pool.submit(work, chunks[t::n_threads]) for t in range(n_threads)]:
                f.result()
    return out


def _threads(n_threads: int | None, n_chunks: int) -> int:
    if n_threads is None:
        try:
            n_threads = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - non-Linux
            n_threads = os.cpu_count() or 1
    return max(1, min(int(n_threads), n_chunks))


def _images_numpy(x: np.ndarray, m: np.ndarray, npix: int, extent: float, centre: str,
                  rotate: bool, flip: bool, normalise: bool) -> np.ndarray:
    """Fast numpy path on a cleaned chunk (padding has pt = 0): fewest passes over (M, P)."""
    M, P = x.shape[:2]
    pt = x[..., 0]
    rows = np.arange(M)
    lead = pt.argmax(axis=1)
    phi_lead = x[rows, lead, 2][:, None]
    v = x[..., 2] - phi_lead
    if np.abs(v).max(initial=0.0) > np.pi:
        v = wrap_phi(v)
    tot = pt.sum(axis=1)
    inv = np.divide(1.0, tot, out=np.zeros_like(tot), where=tot > 0)
    pw = 2.0 * extent / npix
    if centre == "pixel":
        # energyflow.utils.pixelate: absolute coordinates, centroid snapped to the pixel grid
        u = x[..., 1]
        raw = x[..., 2]
        v = np.where(np.abs(raw - phi_lead) <= np.pi, raw, phi_lead + v)
        half = npix // 2
        cu = np.ceil(np.einsum("ij,ij->i", pt, u) * inv / pw - 0.5) - half
        cv = np.ceil(np.einsum("ij,ij->i", pt, v) * inv / pw - 0.5) - half
        col = (np.ceil(u / pw - 0.5) - cu[:, None]).astype(np.int64)
        row = (npix - 1) - (np.ceil(v / pw - 0.5) - cv[:, None]).astype(np.int64)
    else:
        if centre == "centroid":
            u = x[..., 1] - (np.einsum("ij,ij->i", pt, x[..., 1]) * inv)[:, None]
            v -= (np.einsum("ij,ij->i", pt, v) * inv)[:, None]
        else:
            u = x[..., 1] - x[rows, lead, 1][:, None]
        if rotate:
            wu = pt * u
            cuu = np.einsum("ij,ij->i", wu, u)
            cuv = np.einsum("ij,ij->i", wu, v)
            cvv = np.einsum("ij,ij->i", pt * v, v)
            alpha = 0.5 * np.arctan2(2.0 * cuv, cuu - cvv)
            delta = np.pi / 2 - alpha
            c, s = np.cos(delta)[:, None], np.sin(delta)[:, None]
            u, v = u * c - v * s, u * s + v * c
        su = np.full(M, 1.0 / pw)
        sv = np.full(M, -1.0 / pw)
        if flip:
            su = np.where(_side_balance(np, pt, u) >= 0, su, -su)
            sv = np.where(_side_balance(np, pt, v) >= 0, sv, -sv)
        off = extent / pw + PIXEL_EPS
        col = np.floor(u * su[:, None] + off).astype(np.int64)
        row = np.floor(v * sv[:, None] + off).astype(np.int64)
    # negative indices become huge as unsigned: one comparison per axis
    inside = (col.view(np.uint64) < npix) & (row.view(np.uint64) < npix) & m
    n2 = npix * npix
    flat = row * npix + col
    flat += (rows * n2)[:, None]
    flat = np.where(inside, flat, M * n2)  # dump bin
    w = pt
    if normalise:  # unit sum over the pixels: scale the weights, not the (larger) image
        s_in = np.einsum("ij,ij->i", pt, inside)
        w = pt * np.divide(1.0, s_in, out=np.zeros_like(s_in), where=s_in > 0)[:, None]
    img = np.bincount(flat.ravel(), weights=w.ravel(), minlength=M * n2 + 1)[: M * n2]
    return img.reshape(M, npix, npix)


def _pixel_coordinates(xp: Any, x: Any, m: Any, npix: int, extent: float, centre: str,
                       rotate: bool, flip: bool, normalise: bool):
    """Weights (pt, 0 where dropped) and integer (row, col) per particle; xp is numpy or torch."""
    pt, u = x[..., 0], x[..., 1]
    if xp is np:
        lead = np.argmax(pt, axis=1)[:, None]
        phi_lead = np.take_along_axis(x[..., 2], lead, axis=1)
    else:
        lead = pt.argmax(1, keepdim=True)
        phi_lead = xp.gather(x[..., 2], 1, lead)
    dphi = _wrap(xp, x[..., 2] - phi_lead)
    w = xp.where(m, pt, 0.0 * pt)
    tot = w.sum(1)
    safe = xp.where(tot > 0, tot, 1.0 + 0.0 * tot)[:, None]
    pw = 2.0 * extent / npix
    if centre == "pixel":
        # energyflow.utils.pixelate: absolute coordinates, centroid snapped to the pixel grid
        raw = x[..., 2]
        v = xp.where(xp.abs(raw - phi_lead) <= np.pi, raw, phi_lead + dphi)
        cu = (w * u).sum(1)[:, None] / safe
        cv = (w * v).sum(1)[:, None] / safe
        half = npix // 2
        col = xp.ceil(u / pw - 0.5) - (xp.ceil(cu / pw - 0.5) - half)
        prow = xp.ceil(v / pw - 0.5) - (xp.ceil(cv / pw - 0.5) - half)
        row = (npix - 1) - prow
    else:
        v = dphi
        if centre == "centroid":
            u = u - (w * u).sum(1)[:, None] / safe
            v = v - (w * v).sum(1)[:, None] / safe
        else:
            u = u - (np.take_along_axis(u, lead, axis=1) if xp is np else xp.gather(u, 1, lead))
        if rotate:
            cuu = (w * u * u).sum(1)
            cvv = (w * v * v).sum(1)
            cuv = (w * u * v).sum(1)
            alpha = 0.5 * xp.arctan2(2.0 * cuv, cuu - cvv)  # major axis angle from the u axis
            delta = (np.pi / 2 - alpha)[:, None]
            c, s = xp.cos(delta), xp.sin(delta)
            u, v = u * c - v * s, u * s + v * c
        if flip:
            up = _side_balance(xp, w, v) >= 0
            right = _side_balance(xp, w, u) >= 0
            v = xp.where(up[:, None], v, -v)
            u = xp.where(right[:, None], u, -u)
        col = xp.floor((u + extent) / pw + PIXEL_EPS)
        row = xp.floor((extent - v) / pw + PIXEL_EPS)
    inside = m & (col >= 0) & (col < npix) & (row >= 0) & (row < npix)
    w = xp.where(inside, w, 0.0 * w)
    if normalise:  # unit sum over the pixels, done on the particle weights
        tot = w.sum(1)[:, None]
        w = w / xp.where(tot > 0, tot, 1.0 + 0.0 * tot)
    zero = 0.0 * col
    row = xp.where(inside, row, zero)
    col = xp.where(inside, col, zero)
    if xp is np:
        return w, row.astype(np.int64), col.astype(np.int64)
    return w, row.long(), col.long()


#: pixel edges are shifted by this fraction of a pixel, so points that sit on an edge up to
#: rounding (e.g. a two-particle jet on its own principal axis, at u = +-1e-17) land in one pixel
PIXEL_EPS = 1e-7
#: coordinates within this of an axis count as on it when choosing flips (rounding-robust ties)
FLIP_TOL = 1e-9


def _side_balance(xp: Any, w: Any, c: Any) -> Any:
    """sum of w over c > 0 minus over c < 0 (|c| <= FLIP_TOL counts as 0), per jet."""
    if xp is np:
        return np.einsum("ij,ij->i", w, c > FLIP_TOL) - np.einsum("ij,ij->i", w, c < -FLIP_TOL)
    side = (c > FLIP_TOL).to(w.dtype) - (c < -FLIP_TOL).to(w.dtype)
    return (w * side).sum(1)


def _wrap(xp: Any, d: Any) -> Any:
    if xp is np:
        return wrap_phi(d)
    return xp.remainder(d + np.pi, 2 * np.pi) - np.pi


def _histogram(w: np.ndarray, row: np.ndarray, col: np.ndarray, npix: int) -> np.ndarray:
    M = len(w)
    flat = (np.arange(M)[:, None] * npix + row) * npix + col
    img = np.bincount(flat.ravel(), weights=w.ravel(), minlength=M * npix * npix)
    return img.reshape(M, npix, npix)


def _postprocess(xp: Any, img: Any, power: float, smooth: Any, normalise: bool) -> Any:
    if power != 1:
        if xp is np:
            np.power(img, power, out=img, where=img > 0)  # images are sparse: skip zeros
        else:
            img = img**power
        if normalise:
            img = _unit_sum(xp, img)
    if smooth is not None:
        if xp is np:
            img = np.matmul(np.matmul(smooth, img), np.ascontiguousarray(smooth.T))
        else:
            img = smooth @ img @ smooth.T
        if normalise:
            img = _unit_sum(xp, img)
    return img


def _unit_sum(xp: Any, img: Any) -> Any:
    if xp is np:
        s = img.sum(axis=(1, 2))
        img *= np.divide(1.0, s, out=np.zeros_like(s), where=s > 0)[:, None, None]
        return img
    s = img.sum((1, 2))[:, None, None]
    return xp.where(s > 0, img / xp.where(s > 0, s, 1.0 + 0.0 * s), 0.0 * img)


def gaussian_matrix(n: int, sigma: float, truncate: float = 4.0) -> np.ndarray:
    """(n, n) matrix G with G @ a = scipy.ndimage.gaussian_filter1d(a, sigma, axis=0).

    Same kernel (radius int(truncate * sigma + 0.5), normalised) and the same "reflect" boundary
    (half-sample symmetric: d c b a | a b c d | d c b a), folded into the matrix.
    """
    radius = int(truncate * float(sigma) + 0.5)
    k = np.arange(-radius, radius + 1)
    wts = np.exp(-0.5 * (k / sigma) ** 2)
    wts /= wts.sum()
    G = np.zeros((n, n))
    for i in range(n):
        j = i + k
        j = np.mod(j, 2 * n)
        j = np.where(j >= n, 2 * n - 1 - j, j)
        np.add.at(G[i], j, wts)
    return G


def _images_torch(x, m, npix, extent, centre, rotate, flip, power, sigma, normalise, dtype, device):
    import torch

    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available")
    out = np.empty((len(x), npix, npix), dtype=dtype)
    smooth = torch.as_tensor(gaussian_matrix(npix, sigma), device=dev) if sigma > 0 else None
    for s in range(0, len(x), TORCH_CHUNK):
        xt = torch.as_tensor(x[s:s + TORCH_CHUNK], device=dev)
        mt = torch.as_tensor(m[s:s + TORCH_CHUNK], device=dev)
        w, row, col = _pixel_coordinates(torch, xt, mt, npix, extent, centre, rotate, flip,
                                         normalise)
        M = len(xt)
        flat = (torch.arange(M, device=dev)[:, None] * npix + row) * npix + col
        img = torch.zeros(M * npix * npix, dtype=torch.float64, device=dev)
        img.index_add_(0, flat.reshape(-1), w.reshape(-1))
        img = _postprocess(torch, img.reshape(M, npix, npix), power, smooth, normalise)
        out[s:s + TORCH_CHUNK] = img.cpu().numpy()
    return out
