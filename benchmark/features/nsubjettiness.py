"""N-subjettiness tau_1..tau_N with exclusive-kT axes, batched over padded per-jet arrays.

Definition (Thaler & Van Tilburg, normalised measure with fixed jet radius)::

    tau_N = (1 / d0) * sum_i pt_i * min_k dR(i, a_k)^beta,      d0 = sum_i pt_i * R^beta

with dR^2 = (y_i - y_a)^2 + dphi^2 in rapidity-azimuth (as FastJet's ``squared_distance``; y = eta
for massless particles) and axes a_1..a_N = the N exclusive jets of a kT clustering of the jet's
constituents (E-scheme recombination, R = FastJet's ``max_allowable_R`` = 1000, i.e. no beam
distance, no axis minimisation) -- the "KT_Axes" choice of FastJet contrib's Nsubjettiness (that
the official LHC Olympics feature files used exactly this choice and normalisation is not
verified). ``R`` enters only through d0; with R = 1, d0 = sum pt.

Edge cases (all finite, never NaN):

* a jet with at most N real particles has tau_N = 0 (each particle is its own axis);
* an empty jet has tau = 0 for every N;
* :func:`tau_ratios` returns tau_N / tau_(N-1) and 0 where tau_(N-1) = 0.

Backends: ``"fastjet"`` (FastJet's C++ clustering through its awkward-array interface, one call
per batch; the CPU default), ``"numpy"`` and ``"torch"`` (a batched nearest-neighbour kT clustering
written with array operations: all jets of a batch merge one pair per step in lock-step; the torch
one runs on a GPU with ``device="cuda"``). All give the same axes up to exact ties.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from benchmark.features.constituents import (
    _rapidity,
    clean,
    four_momenta,
    jet_four_vector,
    rapidity,
    wrap_phi,
)

__all__ = ["nsubjettiness", "tau_ratios", "jet_four_vector", "exclusive_kt_axes", "taus_from_axes"]

#: FastJet's JetDefinition::max_allowable_R: the kT radius used to find exclusive axes.
KT_AXES_R = 1000.0
#: jets per clustering batch on CPU (the (batch, P) work arrays stay small)
BATCH = 4096
#: jets per batch for the torch backend (one batch = ~P lock-step merge steps on the device)
TORCH_BATCH = 131072


def nsubjettiness(
    constituents: np.ndarray,
    mask: np.ndarray | None = None,
    n_max: int = 3,
    beta: float = 1.0,
    R: float = 1.0,
    *,
    backend: str = "auto",
    device: Any = None,
    on_invalid: str = "raise",
) -> np.ndarray:
    """(M, n_max) float64 tau_1..tau_n_max of jets ``constituents`` (M, P, 4) (pt, eta, phi, E).

    ``mask`` (M, P) marks real particles (default: all). ``backend`` is ``"fastjet"``, ``"numpy"``,
    ``"torch"`` or ``"auto"`` (torch when ``device`` names a CUDA device, else fastjet).
    ``on_invalid`` is what to do with non-finite real particles: ``"raise"`` or ``"drop"``.
    """
    if n_max < 1:
        raise ValueError(f"n_max must be >= 1, got {n_max}")
    if not (beta > 0 and R > 0):
        raise ValueError(f"beta and R must be positive, got beta={beta}, R={R}")
    x, m = clean(constituents, mask, on_invalid)
    backend = _pick_backend(backend, device)
    out = np.zeros((len(x), n_max), dtype=np.float64)
    mult = m.sum(axis=1)
    # jets with k <= n_max real particles need axes only for n < k (tau_n = 0 for n >= k)
    group = np.minimum(mult, n_max + 1)
    for g in range(2, n_max + 2):
        members = np.nonzero(group == g)[0]
        ns = list(range(1, g))
        step = TORCH_BATCH if backend == "torch" else BATCH
        for start in range(0, len(members), step):
            rows = members[start:start + step]
            xb, mb = _compact(x[rows], m[rows])
            for n, axes in zip(ns, exclusive_kt_axes(xb, mb, ns, backend=backend, device=device)):
                out[rows, n - 1] = taus_from_axes(xb, mb, axes, beta, R)
    return out


def _compact(x: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move real particles to the front (order kept) and drop all-padding columns."""
    p_max = max(int(m.sum(axis=1).max(initial=0)), 1)
    if m[:, :p_max].all() or (m[:, :p_max].sum() == m.sum() and not m[:, p_max:].any()
                               and (np.diff(m[:, :p_max].astype(np.int8), axis=1) <= 0).all()):
        return x[:, :p_max], m[:, :p_max]
    order = np.argsort(~m, axis=1, kind="stable")[:, :p_max]
    return np.take_along_axis(x, order[..., None], axis=1), np.take_along_axis(m, order, axis=1)


def tau_ratios(taus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tau21, tau32) = (tau2 / tau1, tau3 / tau2) over the last axis; 0 where the denominator is 0."""
    t = np.asarray(taus, dtype=np.float64)
    if t.shape[-1] < 3:
        raise ValueError(f"need tau1..tau3 on the last axis, got shape {t.shape}")
    return _safe_div(t[..., 1], t[..., 0]), _safe_div(t[..., 2], t[..., 1])


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ok = b > 0
    return np.where(ok, a / np.where(ok, b, 1.0), 0.0)


def taus_from_axes(x: np.ndarray, m: np.ndarray, axes: np.ndarray, beta: float = 1.0,
                   R: float = 1.0) -> np.ndarray:
    """tau (M,) of cleaned particles ``x`` (M, P, 4), mask ``m``, axes (M, N, 4) (px, py, pz, E)."""
    pt = x[..., 0]
    px, py, pz, e = four_momenta(x)
    y = rapidity(pt, pz, e)
    phi = x[..., 2]
    apt = np.hypot(axes[..., 0], axes[..., 1])
    ay = rapidity(apt, axes[..., 2], axes[..., 3])
    aphi = np.arctan2(axes[..., 1], axes[..., 0])
    dr2 = (y[:, :, None] - ay[:, None, :]) ** 2 + wrap_phi(phi[:, :, None] - aphi[:, None, :]) ** 2
    dmin = dr2.min(axis=2)
    dist = np.sqrt(dmin) if beta == 1.0 else dmin ** (beta / 2)
    num = np.where(m, pt * dist, 0.0).sum(axis=1)
    d0 = pt.sum(axis=1) * R**beta
    return _safe_div(num, d0)


def exclusive_kt_axes(x: np.ndarray, m: np.ndarray, ns: int | list[int], *, backend: str = "fastjet",
                      device: Any = None) -> list[np.ndarray]:
    """Exclusive-kT axes of cleaned jets ``x`` (M, P, 4), mask ``m``, for each n in ``ns``.

    Returns one (M, n, 4) array (px, py, pz, E) per n. Every jet must have more than max(ns)
    real particles (real particles first in each row).
    """
    ns = [ns] if isinstance(ns, int) else sorted(ns)
    if len(x) and int(m.sum(axis=1).min()) <= ns[-1]:
        raise ValueError(f"exclusive_kt_axes needs more than {ns[-1]} particles in every jet")
    if backend == "fastjet":
        return _axes_fastjet(x, m, ns)
    if backend == "numpy":
        return _axes_numpy(x, m, ns)
    if backend == "torch":
        return _axes_torch(x, m, ns, device)
    raise ValueError(f"unknown backend {backend!r}; use 'fastjet', 'numpy', 'torch' or 'auto'")


def _pick_backend(backend: str, device: Any) -> str:
    if backend not in ("auto", "fastjet", "numpy", "torch"):
        raise ValueError(f"unknown backend {backend!r}; use 'fastjet', 'numpy', 'torch' or 'auto'")
    if backend != "auto":
        return backend
    if device is not None and str(device).startswith("cuda"):
        return "torch"
    return "fastjet"


# -- FastJet ----------------------------------------------------------------------------------
def _axes_fastjet(x: np.ndarray, m: np.ndarray, ns: list[int]) -> list[np.ndarray]:
    import awkward as ak
    import fastjet

    if not len(x):
        return [np.zeros((0, n, 4)) for n in ns]
    px, py, pz, e = four_momenta(x)
    counts = m.sum(axis=1)
    rec = ak.zip(
        {k: ak.unflatten(v[m], counts) for k, v in (("px", px), ("py", py), ("pz", pz), ("E", e))},
        with_name="Momentum4D",
    )
    jet_def = fastjet.JetDefinition(fastjet.kt_algorithm, KT_AXES_R, fastjet.E_scheme)
    out = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="dcut and exclusive jets")
        seq = fastjet.ClusterSequence(rec, jet_def)
        for n in ns:
            jets = seq.exclusive_jets(n_jets=n)
            out.append(np.stack([ak.to_numpy(ak.flatten(jets[k])).reshape(len(x), n)
                                 for k in ("px", "py", "pz", "E")], axis=-1))
    return out


# -- batched nearest-neighbour kT clustering (numpy / torch) ----------------------------------
class _NumpyOps:
    """The few array operations :func:`_cluster` needs, for numpy."""

    inf = np.inf
    xp = np

    @staticmethod
    def nonzero(a):
        return np.nonzero(a)[0]

    @staticmethod
    def min_argmin(a):
        j = a.argmin(axis=-1)
        return np.take_along_axis(a, j[..., None], axis=-1)[..., 0], j

    where = staticmethod(np.where)
    sqrt = staticmethod(np.sqrt)
    arcsinh = staticmethod(np.arcsinh)
    arctan2 = staticmethod(np.arctan2)
    maximum = staticmethod(np.maximum)

    @staticmethod
    def first_alive(alive, n):
        idx = np.argsort(~alive, axis=1, kind="stable")[:, :n]
        return idx

    @staticmethod
    def gather(mom, idx):
        return np.take_along_axis(mom, idx[..., None], axis=1)

    @staticmethod
    def to_numpy(a):
        return a

    @staticmethod
    def arange(n, like):
        return np.arange(n)


class _TorchOps:
    """The same operations for torch tensors (CPU or CUDA)."""

    inf = float("inf")

    def __init__(self):
        import torch

        self.torch = torch
        self.xp = torch
        self.where = torch.where
        self.sqrt = torch.sqrt
        self.arcsinh = torch.asinh
        self.arctan2 = torch.atan2
        self.maximum = torch.maximum

    def nonzero(self, a):
        return self.torch.nonzero(a).flatten()

    @staticmethod
    def min_argmin(a):
        v, j = a.min(dim=-1)
        return v, j

    def first_alive(self, alive, n):
        return self.torch.argsort((~alive).to(self.torch.int8), dim=1, stable=True)[:, :n]

    def gather(self, mom, idx):
        return self.torch.gather(mom, 1, idx[..., None].expand(-1, -1, mom.shape[-1]))

    @staticmethod
    def to_numpy(a):
        return a.cpu().numpy()

    def arange(self, n, like):
        return self.torch.arange(n, device=like.device)


def _axes_numpy(x: np.ndarray, m: np.ndarray, ns: list[int]) -> list[np.ndarray]:
    px, py, pz, e = four_momenta(x)
    with np.errstate(invalid="ignore"):  # 0 * inf of dead slots, masked out
        return _cluster(_NumpyOps, np.stack([px, py, pz, e], axis=-1), m.copy(), ns)


def _axes_torch(x: np.ndarray, m: np.ndarray, ns: list[int], device: Any) -> list[np.ndarray]:
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    px, py, pz, e = four_momenta(x)
    mom = torch.as_tensor(np.stack([px, py, pz, e], axis=-1), dtype=torch.float64, device=device)
    alive = torch.as_tensor(m, dtype=torch.bool, device=device).clone()
    return _cluster(_TorchOps(), mom, alive, ns)


def _y_phi(ops: Any, mom: Any) -> tuple[Any, Any, Any]:
    """(pt^2, rapidity, phi) of (..., 4) momenta (rapidity as FastJet computes it)."""
    px, py, pz, e = mom[..., 0], mom[..., 1], mom[..., 2], mom[..., 3]
    pt2 = px * px + py * py
    return pt2, _rapidity(ops.xp, pt2, pz, e), ops.arctan2(py, px)


def _dr2(y1: Any, phi1: Any, y2: Any, phi2: Any) -> Any:
    dphi = (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi
    return (y1 - y2) ** 2 + dphi * dphi


def _cluster(ops: Any, mom: Any, alive: Any, ns: list[int]) -> list[np.ndarray]:
    """Batched exclusive kT clustering of (M, P, 4) momenta ``mom``; snapshots at n in ``ns``.

    d_ij = min(pt_i^2, pt_j^2) * dR_ij^2 (no beam distance: R = 1000). As in FastJet's NNH
    strategy only each object's geometric nearest neighbour NN(i) is kept: the smallest d_ij is
    min_i pt_i^2 * dR(i, NN(i))^2. Every step merges one pair (E-scheme) in each jet that still has
    more than min(ns) objects, then refreshes the nearest neighbours that the merge changed: the
    merged object's own, those now closer to it, and those whose neighbour was one of the pair.
    ``mom`` and ``alive`` are modified in place.
    """
    inf = ops.inf
    M, P = alive.shape
    kt2, y, phi = _y_phi(ops, mom)
    # initial nearest neighbours, in slices to bound the (slice, P, P) temporary
    nn_d = kt2 * 0.0 + inf
    nn_j = (kt2 * 0).long() if hasattr(kt2, "long") else np.zeros((M, P), dtype=np.int64)
    on_gpu = isinstance(ops, _TorchOps) and alive.device.type != "cpu"
    step = max(1, (1 << (26 if on_gpu else 22)) // max(P * P, 1))
    for s in range(0, M, step):
        sl = slice(s, s + step)
        d = _dr2(y[sl, :, None], phi[sl, :, None], y[sl, None, :], phi[sl, None, :])
        a = alive[sl]
        ok = a[:, :, None] & a[:, None, :]
        d = ops.where(ok, d, inf)
        d[:, ops.arange(P, alive), ops.arange(P, alive)] = inf
        nn_d[sl], nn_j[sl] = ops.min_argmin(d)
    count = alive.sum(1)
    lowest = ns[0]
    snaps: dict[int, list] = {}
    rows = ops.nonzero(count > lowest)
    while len(rows):
        d = ops.where(alive[rows], kt2[rows] * nn_d[rows], inf)
        _, i = ops.min_argmin(d)
        j = nn_j[rows, i]
        # merge j into i
        mom[rows, i] = mom[rows, i] + mom[rows, j]
        alive[rows, j] = False
        nn_d[rows, j] = inf
        k2, yi, phii = _y_phi(ops, mom[rows, i])
        kt2[rows, i] = k2
        y[rows, i] = yi
        phi[rows, i] = phii
        # distances of everything to the merged object
        ya, pa, al = y[rows], phi[rows], alive[rows]
        row = _dr2(ya, pa, yi[:, None], phii[:, None])
        al_i = al.clone() if hasattr(al, "clone") else al.copy()
        ar = ops.arange(len(rows), alive)
        al_i[ar, i] = False
        row = ops.where(al_i, row, inf)
        nd, nj = nn_d[rows], nn_j[rows]
        stale = ((nj == i[:, None]) | (nj == j[:, None])) & al_i
        closer = row < nd
        nd = ops.where(closer, row, nd)
        nj = ops.where(closer, i[:, None], nj)
        stale = stale & ~closer
        nd[ar, i], nj[ar, i] = ops.min_argmin(row)
        r_s, k_s = _nonzero2(ops, stale)
        if len(r_s):
            d_s = _dr2(ya[r_s], pa[r_s], ya[r_s, k_s][:, None], pa[r_s, k_s][:, None])
            ok = al[r_s]
            ok[ops.arange(len(r_s), alive), k_s] = False
            nd[r_s, k_s], nj[r_s, k_s] = ops.min_argmin(ops.where(ok, d_s, inf))
        nn_d[rows], nn_j[rows] = nd, nj
        c = count[rows] - 1
        count[rows] = c
        for n in ns:
            hit = rows[c == n]
            if len(hit):
                snaps.setdefault(n, []).append((hit, ops.gather(mom[hit], ops.first_alive(alive[hit], n))))
        rows = rows[c > lowest]
    out = []
    for n in ns:
        res = np.zeros((M, n, 4))
        for hit, axes in snaps.get(n, []):
            res[ops.to_numpy(hit)] = ops.to_numpy(axes)
        out.append(res)
    return out


def _nonzero2(ops: Any, a: Any) -> tuple[Any, Any]:
    if isinstance(a, np.ndarray):
        return np.nonzero(a)
    nz = ops.torch.nonzero(a)
    return nz[:, 0], nz[:, 1]
