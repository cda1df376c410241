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
   n = 1/2 and 1/4 common; n = 0 gives every hit pixel the same weight, an unweighted hit map)
   and renormalises; ``log_scale`` a > 0 instead replaces each pixel by log(1 + a * pixel) (the
   log variant of the reference code, a = 1000 there) and renormalises; ``sigma`` > 0 applies a Gaussian filter of width
   sigma pixels (scipy.ndimage.gaussian_filter semantics: ``mode="reflect"``, ``truncate=4``) and
   renormalises.

An empty jet (or one with no particle inside the image) gives an all-zero image, never NaN.
On the CPU one compiled pass per jet (:mod:`benchmark.features.image_kernels`, numba), then numpy
for the reweighting and smoothing; ``device="cuda"`` (or ``"cpu"``) runs the same steps with torch.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from benchmark.features.constituents import as_per_jet, clean
from benchmark.features.image_kernels import CENTROID, NONE, PIXEL, pixelise_kernel
from benchmark.parallel import run_in_threads

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
    log_scale: float = 0.0,
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
    if not power >= 0:
        raise ValueError(f"images: power must be >= 0 (0 = unweighted hit map), got {power}")
    if not log_scale >= 0:
        raise ValueError(f"images: log_scale must be >= 0 (0 = off), got {log_scale}")
    if log_scale > 0 and power != 1:
        raise ValueError(f"images: log_scale={log_scale} and power={power} are two alternative pixel "
                         "reweightings; set one of them (power=1 with log_scale, or log_scale=0)")
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if centre == "pixel" and (rotate or flip):
        raise ValueError("centre='pixel' (energyflow-compatible) needs rotate=False and flip=False")
    if device is not None:
        x, m = clean(constituents, mask, on_invalid)
        return _images_torch(x, m, npix, extent, centre, rotate, flip, power, sigma, log_scale,
                             normalise, dtype, device)
    x0, m0 = as_per_jet(constituents, mask)
    out = np.empty((len(x0), npix, npix), dtype=dtype)
    smooth = gaussian_matrix(npix, sigma) if sigma > 0 else None
    chunks = [slice(s, s + CHUNK) for s in range(0, len(x0), CHUNK)]

    mode = {"centroid": CENTROID, "pixel": PIXEL, "none": NONE}[centre]

    def work(part: list[slice]) -> None:
        buffer = np.empty((CHUNK, npix, npix))  # per thread, reused: no page faults per chunk
        for sl in part:
            x, m = clean(x0[sl], m0[sl], on_invalid, first_jet=sl.start)
            img = buffer[: len(x)]
            pixelise_kernel(x, m, npix, float(extent), mode, rotate, flip, normalise, PIXEL_EPS,
                            FLIP_TOL, img)
            out[sl] = _postprocess(np, img, power, log_scale, smooth, normalise)

    run_in_threads(work, chunks, n_threads)
    return out


def _pixel_coordinates_torch(x: Any, m: Any, npix: int, extent: float, centre: str,
                             rotate: bool, flip: bool, normalise: bool):
    """Weights (pt, 0 where dropped) and integer (row, col) per particle, the steps of
    :func:`benchmark.features.image_kernels.pixelise_kernel` as whole-tensor torch operations."""
    import torch

    pt, u = x[..., 0], x[..., 1]
    lead = pt.argmax(1, keepdim=True)
    phi_lead = torch.gather(x[..., 2], 1, lead)
    dphi = torch.remainder(x[..., 2] - phi_lead + np.pi, 2 * np.pi) - np.pi
    zero = torch.zeros((), dtype=pt.dtype, device=pt.device)
    w = torch.where(m, pt, zero)
    tot = w.sum(1)
    safe = torch.where(tot > 0, tot, 1.0 + zero)[:, None]
    pw = 2.0 * extent / npix
    if centre == "pixel":
        # energyflow.utils.pixelate: absolute coordinates, centroid snapped to the pixel grid
        raw = x[..., 2]
        v = torch.where((raw - phi_lead).abs() <= np.pi, raw, phi_lead + dphi)
        cu = (w * u).sum(1)[:, None] / safe
        cv = (w * v).sum(1)[:, None] / safe
        half = npix // 2
        col = torch.ceil(u / pw - 0.5) - (torch.ceil(cu / pw - 0.5) - half)
        row = (npix - 1) - (torch.ceil(v / pw - 0.5) - (torch.ceil(cv / pw - 0.5) - half))
    else:
        v = dphi
        if centre == "centroid":
            u = u - (w * u).sum(1)[:, None] / safe
            v = v - (w * v).sum(1)[:, None] / safe
        else:
            u = u - torch.gather(u, 1, lead)
        if rotate:
            cuu = (w * u * u).sum(1)
            cvv = (w * v * v).sum(1)
            cuv = (w * u * v).sum(1)
            alpha = 0.5 * torch.arctan2(2.0 * cuv, cuu - cvv)  # major axis angle from the u axis
            delta = (np.pi / 2 - alpha)[:, None]
            c, s = torch.cos(delta), torch.sin(delta)
            u, v = u * c - v * s, u * s + v * c
        if flip:
            up = _side_balance(w, v) >= 0
            right = _side_balance(w, u) >= 0
            v = torch.where(up[:, None], v, -v)
            u = torch.where(right[:, None], u, -u)
        col = torch.floor((u + extent) / pw + PIXEL_EPS)
        row = torch.floor((extent - v) / pw + PIXEL_EPS)
    inside = m & (col >= 0) & (col < npix) & (row >= 0) & (row < npix)
    w = torch.where(inside, w, zero)
    if normalise:  # unit sum over the pixels, done on the particle weights
        tot = w.sum(1)[:, None]
        w = w / torch.where(tot > 0, tot, 1.0 + zero)
    row = torch.where(inside, row, zero)
    col = torch.where(inside, col, zero)
    return w, row.long(), col.long()


#: pixel edges are shifted by this fraction of a pixel, so points that sit on an edge up to
#: rounding (e.g. a two-particle jet on its own principal axis, at u = +-1e-17) land in one pixel
PIXEL_EPS = 1e-7
#: coordinates within this of an axis count as on it when choosing flips (rounding-robust ties)
FLIP_TOL = 1e-9


def _side_balance(w: Any, c: Any) -> Any:
    """sum of w over c > 0 minus over c < 0 (|c| <= FLIP_TOL counts as 0), per jet (torch)."""
    side = (c > FLIP_TOL).to(w.dtype) - (c < -FLIP_TOL).to(w.dtype)
    return (w * side).sum(1)


def _postprocess(xp: Any, img: Any, power: float, log_scale: float, smooth: Any,
                 normalise: bool) -> Any:
    if power != 1 or log_scale > 0:
        if xp is np:  # images are sparse: skip zeros (0**0 would light every empty pixel)
            if log_scale > 0:
                np.log1p(img * log_scale, out=img)
            else:
                np.power(img, power, out=img, where=img > 0)
        elif log_scale > 0:
            img = xp.log1p(img * log_scale)
        else:
            img = xp.where(img > 0, img.clamp(min=1e-300) ** power, 0.0 * img)
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


def _images_torch(x, m, npix, extent, centre, rotate, flip, power, sigma, log_scale, normalise,
                  dtype, device):
    import torch

    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available")
    out = np.empty((len(x), npix, npix), dtype=dtype)
    smooth = torch.as_tensor(gaussian_matrix(npix, sigma), device=dev) if sigma > 0 else None
    for s in range(0, len(x), TORCH_CHUNK):
        xt = torch.as_tensor(x[s:s + TORCH_CHUNK], device=dev)
        mt = torch.as_tensor(m[s:s + TORCH_CHUNK], device=dev)
        w, row, col = _pixel_coordinates_torch(xt, mt, npix, extent, centre, rotate, flip,
                                               normalise)
        M = len(xt)
        flat = (torch.arange(M, device=dev)[:, None] * npix + row) * npix + col
        img = torch.zeros(M * npix * npix, dtype=torch.float64, device=dev)
        img.index_add_(0, flat.reshape(-1), w.reshape(-1))
        img = _postprocess(torch, img.reshape(M, npix, npix), power, log_scale, smooth, normalise)
        out[s:s + TORCH_CHUNK] = img.cpu().numpy()
    return out
