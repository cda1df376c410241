"""k-means density scores and the spherical GMM of "What's Anomalous in LHC Jets?" (arXiv:2202.00686, sec. 3).

Why k-means: Lloyd's algorithm scales linearly in events and dimensions, so its clusters can serve
as adaptive histogram bins in the 1600-d space of 40x40 jet images, where no ordinary density
estimate works. The scores built on one fitted clustering (:class:`ClusterDensity`):

* **MinD**: distance to the nearest centroid;
* **KNC5**: mean distance to the 5 nearest centroids (smoother in the density than MinD);
* **MLLED**: -log of a sum of per-cluster likelihoods, flat inside the radius rho_i, Gaussian-tailed
  outside (Eq. 12), each normalised in the clusters' effective dimension d = median d_i(rho_i);
* **MLL1D**: the same with d = 1; **MLLN**: d = 1 and weight N_i with no volume normalisation;
* **GMM**: -log p of a Gaussian mixture with spherical components, its variance regulariser
  beta lowered until it is below 1e-3 of the smallest fitted variance (sec. 3.2).

:func:`kmeans` is the clustering itself: torch Lloyd iterations with greedy k-means++ seeding and
``n_init`` restarts (scikit-learn's algorithm, which the paper used), batched distance matrices in
chunks, on the GPU when one is asked for.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from baselines.common import image_request, leading_jet_images
from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet

PAPER = "arXiv:2202.00686"
#: rows of data per distance block: bounds the (chunk, k) temporaries whatever the training size
CHUNK = 8192
DTYPES = ("float32", "float64")


# -- the clustering ---------------------------------------------------------------------------------
@dataclass
class KMeansResult:
    """The best of ``n_init`` Lloyd runs: centroids, training labels, inertia (sum of squared
    distances to the own centroid) and the iterations the winning run took."""

    centers: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int


def torch_device(device: str | None) -> Any:
    """``auto``/``None`` -> cuda when available, else cpu; an explicit cuda without one is an error."""
    import torch

    name = "auto" if device is None else str(device)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"k-means: device {device!r} asked for but torch sees no CUDA device; use auto or cpu")
    return torch.device(name)


def _as_tensor(x: np.ndarray, dtype: str, device: Any) -> Any:
    import torch

    if dtype not in DTYPES:
        raise ValueError(f"k-means: dtype must be one of {DTYPES}, got {dtype!r}")
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"k-means: expected a non-empty (n_samples, n_features) array, got shape {x.shape}")
    t = torch.as_tensor(np.ascontiguousarray(x, dtype=dtype), device=device)
    if not torch.isfinite(t).all():
        raise ValueError("k-means: the data contain NaN or inf")
    return t


def _blocks(n: int, chunk: int) -> Iterator[slice]:
    for start in range(0, n, chunk):
        yield slice(start, min(start + chunk, n))


def squared_distances(x: Any, centers: Any, chunk: int = CHUNK, x_sq: Any = None) -> Iterator[tuple[slice, Any]]:
    """(rows, |x_rows - c|^2) blocks via |x|^2 - 2 x.c + |c|^2 (one GEMM per block, clamped at 0);
    ``x_sq`` = |x|^2 per row, when the caller reuses it across calls."""
    import torch

    c_sq = (centers * centers).sum(1)
    if x_sq is None:
        x_sq = (x * x).sum(1)
    for sl in _blocks(len(x), chunk):
        d2 = torch.addmm(c_sq + x_sq[sl, None], x[sl], centers.T, alpha=-2.0)  # one GEMM per block
        yield sl, d2.clamp_(min=0.0)


def _assign(x: Any, centers: Any, chunk: int, x_sq: Any) -> tuple[Any, Any]:
    """Nearest-centre labels and squared distances of every row."""
    import torch

    labels = torch.empty(len(x), dtype=torch.long, device=x.device)
    best = torch.empty(len(x), dtype=x.dtype, device=x.device)
    for sl, d2 in squared_distances(x, centers, chunk, x_sq):
        best[sl], labels[sl] = d2.min(1)
    return labels, best


def _kmeans_pp(x: Any, k: int, rng: np.random.Generator, chunk: int, x_sq: Any) -> Any:
    """Greedy k-means++ (Arthur & Vassilvitskii; 2 + ln k candidates per step, keep the one that
    lowers the potential most), as scikit-learn seeds its KMeans."""
    import torch

    n = len(x)
    trials = 2 + int(math.log(k))
    centers = torch.empty((k, x.shape[1]), dtype=x.dtype, device=x.device)
    centers[0] = x[int(rng.integers(n))]
    closest = torch.cat([d2[:, 0] for _, d2 in squared_distances(x, centers[:1], chunk, x_sq)]).double()
    for i in range(1, k):
        cum = torch.cumsum(closest, 0)
        draws = torch.as_tensor(rng.random(trials) * float(cum[-1]), dtype=cum.dtype, device=x.device)
        cand = torch.searchsorted(cum, draws).clamp_(max=n - 1)
        cand_d2 = torch.cat([d2 for _, d2 in squared_distances(x, x[cand], chunk, x_sq)]).double()
        trial = torch.minimum(closest[:, None], cand_d2)                    # (n, trials)
        pick = int(trial.sum(0).argmin())
        closest = trial[:, pick].contiguous()
        centers[i] = x[cand[pick]]
    return centers


def _lloyd(x: Any, centers: Any, max_iter: int, tol: float, chunk: int, x_sq: Any) -> tuple[Any, Any, float, int]:
    """Lloyd iterations until the centres move less than ``tol`` (sum of squared shifts) or the
    labels stop changing; an emptied cluster is re-seeded at the point farthest from its centre."""
    import torch

    k = len(centers)
    labels = None
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        new_labels, d2 = _assign(x, centers, chunk, x_sq)
        if labels is not None and torch.equal(new_labels, labels):
            break
        labels = new_labels
        counts = torch.bincount(labels, minlength=k)
        sums = torch.zeros_like(centers).index_add_(0, labels, x)
        empty = torch.nonzero(counts == 0).flatten()
        if len(empty):
            far = torch.topk(d2, len(empty)).indices
            sums[empty] = x[far]
            counts[empty] = 1
        new = sums / counts[:, None].to(x.dtype)
        shift = float(((new - centers) ** 2).sum())
        centers = new
        if shift <= tol:
            break
    labels, d2 = _assign(x, centers, chunk, x_sq)
    return centers, labels, float(d2.double().sum()), n_iter


def kmeans(x: np.ndarray, k: int, *, n_init: int = 10, max_iter: int = 300, tol: float = 1e-4,
           seed: int = 0, device: str | None = "auto", dtype: str = "float32",
           chunk: int = CHUNK) -> KMeansResult:
    """k-means of ``x`` (n, d): greedy k-means++ seeding, Lloyd iterations, best of ``n_init``.

    ``tol`` is relative, as in scikit-learn: the run stops when the summed squared centre shift
    is below ``tol`` times the mean per-feature variance of ``x``.
    """

    if not 1 <= k <= len(x):
        raise ValueError(f"k-means: need 1 <= k <= n_samples, got k={k} for {len(x)} samples")
    if n_init < 1 or max_iter < 1:
        raise ValueError(f"k-means: n_init and max_iter must be >= 1, got {n_init}, {max_iter}")
    dev = torch_device(device)
    xt = _as_tensor(x, dtype, dev)
    tol_abs = float(tol) * float(xt.var(0, unbiased=False).double().mean())  # no float64 copy of x
    x_sq = (xt * xt).sum(1)
    rng = np.random.default_rng(seed)
    best: tuple[Any, Any, float, int] | None = None
    for _ in range(n_init):
        run = _lloyd(xt, _kmeans_pp(xt, k, rng, chunk, x_sq), max_iter, tol_abs, chunk, x_sq)
        if best is None or run[2] < best[2]:
            best = run
    assert best is not None
    centers, labels, inertia, n_iter = best
    return KMeansResult(centers.cpu().numpy(), labels.cpu().numpy(), inertia, n_iter)


# -- density scores on the clusters -----------------------------------------------------------------
def _log_ball_volume(d: float, r: np.ndarray) -> np.ndarray:
    return 0.5 * d * math.log(math.pi) + d * np.log(r) - math.lgamma(0.5 * d + 1.0)


def _log_sphere_area(d: float, r: np.ndarray) -> np.ndarray:
    """log of the (d-1)-sphere's area of radius r in d dimensions."""
    return math.log(2.0) + 0.5 * d * math.log(math.pi) + (d - 1.0) * np.log(r) - math.lgamma(0.5 * d)


@dataclass
class ClusterDensity:
    """Per-cluster statistics of a clustering, measured on its training data (sec. 3.3):
    members N_i, radius rho_i (mean member distance), tail width sigma_i (std of member
    distances), effective dimension d_i(rho_i) and their median ``d_eff``."""

    centers: np.ndarray
    counts: np.ndarray
    rho: np.ndarray
    sigma: np.ndarray
    d_i: np.ndarray
    d_eff: float
    dtype: str = "float32"
    device: str | None = "auto"
    chunk: int = CHUNK

    @classmethod
    def fit(cls, x: np.ndarray, km: KMeansResult, *, c: float = 1.1, dtype: str = "float32",
            device: str | None = "auto", chunk: int = CHUNK) -> "ClusterDensity":
        """Cluster statistics; d_i = ln(N_i(c rho_i) / N_i(rho_i)) / ln c counts every training
        point within the radius around centroid i, as the reference code does."""
        if not c > 1:
            raise ValueError(f"k-means: the effective-dimension scale factor c must be > 1, got {c}")
        self = cls(km.centers, np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), 1.0, dtype, device, chunk)
        r = self.distances(x)
        k = len(km.centers)
        own = r[np.arange(len(x)), km.labels]
        counts = np.bincount(km.labels, minlength=k).astype(np.float64)
        safe = np.maximum(counts, 1.0)
        rho = np.bincount(km.labels, own, minlength=k) / safe
        sigma = np.sqrt(np.bincount(km.labels, (own - rho[km.labels]) ** 2, minlength=k) / safe)
        inner = (r <= rho).sum(0)
        outer = (r <= c * rho).sum(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            d_i = np.log(outer / inner) / math.log(c)
        finite = d_i[np.isfinite(d_i)]  # a cluster with no member inside rho_i has no estimate
        d_eff = max(float(np.median(finite)) if finite.size else 1.0, 1.0)
        # a singleton cluster has rho = sigma = 0: floor both so its likelihood stays finite
        floor = 1e-6 * float(np.median(rho[rho > 0])) if np.any(rho > 0) else 1e-12
        self.counts, self.rho, self.sigma = counts, np.maximum(rho, floor), np.maximum(sigma, floor)
        self.d_i, self.d_eff = d_i, d_eff
        return self

    def distances(self, x: np.ndarray) -> np.ndarray:
        """(n, k) Euclidean distances of ``x`` to the centroids (float64)."""
        dev = torch_device(self.device)
        xt = _as_tensor(x, self.dtype, dev)
        ct = _as_tensor(self.centers, self.dtype, dev)
        out = np.empty((len(x), len(self.centers)))
        for sl, d2 in squared_distances(xt, ct, self.chunk):
            out[sl] = d2.sqrt().double().cpu().numpy()
        return out

    def log_likelihood(self, r: np.ndarray, d: float, volume: bool = True) -> np.ndarray:
        """log sum_i L_i(r_i) of Eq. (12) for distances ``r`` (n, k): flat inside rho_i, a
        Gaussian tail times (rho_i/r)^(d-1) outside; weight N_i/N normalised so that L_i
        integrates to 1 in d dimensions (``volume``), or weight N_i alone (MLLN)."""
        from scipy.special import logsumexp

        rho, sigma = self.rho, self.sigma
        outside = r > rho
        with np.errstate(divide="ignore"):
            tail = (d - 1.0) * (np.log(rho) - np.log(np.where(outside, r, rho))) \
                - (np.where(outside, r - rho, 0.0) ** 2) / (2.0 * sigma**2)
            log_w = np.log(self.counts)
        if volume:
            log_w = log_w - math.log(self.counts.sum())
            log_norm = np.logaddexp(_log_ball_volume(d, rho),
                                    _log_sphere_area(d, rho) + np.log(sigma) + 0.5 * math.log(math.pi / 2))
            log_w = log_w - log_norm
        return logsumexp(tail + log_w, axis=1)

    def score(self, kind: str, x: np.ndarray, n_nearest: int = 5) -> np.ndarray:
        """Anomaly score ``kind`` (``mind``, ``knc``, ``mlled``, ``mll1d``, ``mlln``) of ``x``; higher = rarer."""
        r = self.distances(x)
        if kind == "mind":
            return r.min(1)
        if kind == "knc":
            if not 1 <= n_nearest <= r.shape[1]:
                raise ValueError(f"k-means: n_nearest must be in 1..k={r.shape[1]}, got {n_nearest}")
            return np.sort(r, axis=1)[:, :n_nearest].mean(1)
        if kind == "mlled":
            return -self.log_likelihood(r, self.d_eff)
        if kind == "mll1d":
            return -self.log_likelihood(r, 1.0)
        if kind == "mlln":
            return -self.log_likelihood(r, 1.0, volume=False)
        raise ValueError(f"k-means: unknown score {kind!r}; known: mind, knc, mlled, mll1d, mlln")

    def summary(self) -> dict[str, float]:
        """The columns of the paper's Table 1 (JSON-safe) for the result record, over the clusters
        of two or more members (a singleton's rho and sigma are the floor, not a measurement)."""
        ok = self.counts > 1 if np.any(self.counts > 1) else self.counts > 0
        return {"k": int(len(self.centers)), "min_rho": float(self.rho[ok].min()),
                "median_rho": float(np.median(self.rho[ok])), "max_rho": float(self.rho[ok].max()),
                "max_sigma_over_rho": float((self.sigma[ok] / self.rho[ok]).max()),
                "median_d_i": float(self.d_eff), "smallest_cluster": int(self.counts[self.counts > 0].min()),
                "singletons": int((self.counts == 1).sum())}


# -- the scorers ------------------------------------------------------------------------------------
IMAGE_DEFAULTS: dict[str, Any] = {"power": 1.0, "sigma": 3.0, "log_scale": 0.0}
KMEANS_DEFAULTS: dict[str, Any] = {**IMAGE_DEFAULTS, "k": 100, "n_init": 10, "max_iter": 300, "tol": 1e-4,
                                   "c": 1.1, "n_nearest": 5, "dtype": "float32", "chunk": CHUNK}
KMEANS_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {"k": 10, "n_init": 2, "max_iter": 20},
    "paper": {"k": 100, "n_init": 10, "max_iter": 300},
}


def _info(name: str, what: str, defaults: dict[str, Any], presets: dict[str, dict[str, Any]]) -> ScorerInfo:
    return ScorerInfo(name=name, version="1.0", protocols=("unsupervised",), representation="images",
                      defaults=defaults, presets=presets, paper=PAPER,
                      description=f"{what} (arXiv:2202.00686 sec. 3) on the leading jet's 40x40 image; "
                                  "the paper used sigma=3 and power=0.25 on dark jets, power=1 on top jets.")


class _KMeansImageScorer(BaseScorer):
    """k-means (torch) on the leading-jet images of the background, then one density score."""

    kind = "mind"
    info = _info("kmeans", "k-means score", KMEANS_DEFAULTS, KMEANS_PRESETS)

    def features_needed(self) -> list[tuple[str, dict[str, Any]]]:
        return [image_request(self.params)]  # computed once by the worker (benchmark.precomputed)

    def fit(self, train: EventSet, *, context: FitContext) -> "_KMeansImageScorer":
        p = self.params
        x = leading_jet_images(train, p)
        km = kmeans(x, int(p["k"]), n_init=int(p["n_init"]), max_iter=int(p["max_iter"]), tol=float(p["tol"]),
                    seed=context.seed, device=context.device, dtype=str(p["dtype"]), chunk=int(p["chunk"]))
        self.model_ = ClusterDensity.fit(x, km, c=float(p["c"]), dtype=str(p["dtype"]), device=context.device,
                                         chunk=int(p["chunk"]))
        self.training_record = {"inertia": km.inertia, "n_iter": km.n_iter, **self.model_.summary()}
        context.log(f"{self.info.name}: k-means inertia {km.inertia:.4g} after {km.n_iter} iterations; "
                    f"median effective dimension {self.model_.d_eff:.2f}")
        return self

    def score(self, events: EventSet) -> np.ndarray:
        return self.model_.score(self.kind, leading_jet_images(events, self.params), int(self.params["n_nearest"]))


class KMeansMinD(_KMeansImageScorer):
    kind = "mind"
    info = _info("kmeans-mind", "MinD: distance to the nearest k-means centroid", KMEANS_DEFAULTS, KMEANS_PRESETS)


class KMeansKNC(_KMeansImageScorer):
    kind = "knc"
    info = _info("kmeans-knc5", "KNC5: mean distance to the n_nearest (5) nearest centroids",
                 KMEANS_DEFAULTS, KMEANS_PRESETS)


class KMeansMLLED(_KMeansImageScorer):
    kind = "mlled"
    info = _info("kmeans-mlled", "MLLED: -log cluster likelihood (Eq. 12) in the median effective dimension",
                 KMEANS_DEFAULTS, KMEANS_PRESETS)


class KMeansMLL1D(_KMeansImageScorer):
    kind = "mll1d"
    info = _info("kmeans-mll1d", "MLL1D: -log cluster likelihood (Eq. 12) normalised with d = 1",
                 KMEANS_DEFAULTS, KMEANS_PRESETS)


class KMeansMLLN(_KMeansImageScorer):
    kind = "mlln"
    info = _info("kmeans-mlln", "MLLN: -log cluster likelihood with d = 1, weight N_i, no volume",
                 KMEANS_DEFAULTS, KMEANS_PRESETS)


GMM_DEFAULTS: dict[str, Any] = {**IMAGE_DEFAULTS, "k": 100, "max_iter": 100, "tol": 1e-3, "reg_start": 1e-6,
                                "reg_ratio": 1e3, "max_reg_steps": 8, "dtype": "float32", "chunk": CHUNK}
GMM_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {"k": 5, "max_iter": 10, "max_reg_steps": 3},
    "paper": {"k": 100, "max_iter": 100, "max_reg_steps": 8},
}


def spread_components(gmm: Any, n_train: int) -> np.ndarray:
    """Components holding at least two training points' worth of responsibility: one sitting on a
    single image has zero fitted variance whatever beta is (k-means leaves such clusters at a few
    thousand images and k = 100), so the regulariser rule can only be judged on the others."""
    return np.asarray(gmm.weights_) * n_train >= 1.5


def fit_spherical_gmm(x: np.ndarray, centers: np.ndarray, *, max_iter: int, tol: float, reg_start: float,
                      reg_ratio: float, max_reg_steps: int, seed: int) -> tuple[Any, float, int]:
    """Spherical GMM started at k-means ``centers``; the variance floor beta (``reg_covar``) is
    divided by 10 and the mixture refitted (warm) until the smallest fitted variance alpha_i of the
    components with a spread (:func:`spread_components`) is at least ``reg_ratio`` x beta, so beta
    no longer sets the widths (sec. 3.2). Returns the mixture, the final beta and the number of fits."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    if max_reg_steps < 1 or not reg_start > 0 or not reg_ratio > 0:
        raise ValueError(f"gmm-images: need max_reg_steps >= 1, reg_start > 0 and reg_ratio > 0, got "
                         f"{max_reg_steps}, {reg_start}, {reg_ratio}")
    x64 = np.asarray(x, dtype=np.float64)
    means, weights = centers.astype(np.float64), None
    for step in range(1, max_reg_steps + 1):
        beta = float(reg_start) * 10.0 ** (1 - step)
        gmm = GaussianMixture(n_components=len(centers), covariance_type="spherical", reg_covar=beta,
                              max_iter=max_iter, tol=tol, means_init=means, weights_init=weights,
                              random_state=seed)
        with warnings.catch_warnings():  # an intermediate beta need not converge; `converged_` is recorded
            warnings.simplefilter("ignore", ConvergenceWarning)
            gmm.fit(x64)
        spread = spread_components(gmm, len(x64))
        if not spread.any() or float((gmm.covariances_ - beta)[spread].min()) >= reg_ratio * beta:
            break
        means, weights = gmm.means_, gmm.weights_
    return gmm, beta, step


class GMMImages(BaseScorer):
    """GMMLL: -log p of a spherical Gaussian mixture on the leading-jet images (sec. 3.2)."""

    info = ScorerInfo(name="gmm-images", version="1.1", protocols=("unsupervised",), representation="images",
                      defaults=GMM_DEFAULTS, presets=GMM_PRESETS, paper=PAPER,
                      description="GMMLL (arXiv:2202.00686 sec. 3.2): spherical Gaussian mixture on the leading "
                                  "jet's 40x40 image, beta lowered until min variance >= 1e3 beta; score = -log p.")

    def features_needed(self) -> list[tuple[str, dict[str, Any]]]:
        return [image_request(self.params)]  # computed once by the worker (benchmark.precomputed)

    def fit(self, train: EventSet, *, context: FitContext) -> "GMMImages":
        p = self.params
        x = leading_jet_images(train, p)
        km = kmeans(x, int(p["k"]), n_init=1, max_iter=int(p["max_iter"]), seed=context.seed,
                    device=context.device, dtype=str(p["dtype"]), chunk=int(p["chunk"]))
        self.gmm_, beta, fits = fit_spherical_gmm(
            x, km.centers, max_iter=int(p["max_iter"]), tol=float(p["tol"]), reg_start=float(p["reg_start"]),
            reg_ratio=float(p["reg_ratio"]), max_reg_steps=int(p["max_reg_steps"]), seed=context.seed)
        alpha = self.gmm_.covariances_ - beta
        spread = spread_components(self.gmm_, len(x))
        ok = alpha[spread] if spread.any() else alpha
        self.training_record = {"reg_covar": beta, "fits": fits, "min_variance": float(ok.min()),
                                "median_variance": float(np.median(ok)), "single_image_components": int((~spread).sum()),
                                "rule_met": bool(ok.min() >= float(p["reg_ratio"]) * beta),
                                "converged": bool(self.gmm_.converged_)}
        context.log(f"gmm-images: beta={beta:.1e} after {fits} fit(s), smallest variance {alpha.min():.3g}")
        return self

    def log_prob(self, events: EventSet) -> np.ndarray:
        return self.gmm_.score_samples(leading_jet_images(events, self.params).astype(np.float64))

    def score(self, events: EventSet) -> np.ndarray:
        return -self.log_prob(events)
