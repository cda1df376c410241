"""Blocks shared by the reference scorers (one place, never copied between baselines)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from benchmark.events import EventSet


def tabular_features(events: EventSet) -> np.ndarray:
    """A fixed-length feature vector per event, for density and classifier baselines.

    * resonant dijet events (``mjj`` present): the CATHODE high-level features without mjj
      (mj_min, Delta mj, tau21 of both jets) -- mjj is the bump-hunt variable and must stay out;
    * jets: per jet mass, multiplicity, girth, C_0.2, tau21, tau32 and log pT;
    * Dark Machines objects: MET, H_T, object counts per type and the four leading objects'
      (E, pt, eta, phi) -- a flat summary of the event.
    """
    kind = _tabular_kind(events.names)
    if kind == "dijet":
        hlf = events.features("highlevel")
        return np.asarray(hlf[:, 1:], dtype=np.float64)
    if kind == "jets":
        obs = events.features("jet_observables")            # (N, J, 4) mass, multiplicity, girth, C0.2
        nsub = events.features("nsubjettiness")             # (N, J, 5) tau1..3, tau21, tau32
        pt = np.log(np.clip(events["jets"][..., :1], 1e-3, None))
        per_jet = np.concatenate([obs, nsub[..., 3:5], pt], axis=-1)
        return per_jet.reshape(len(events), -1).astype(np.float64)
    if "objects" in events:
        return object_summary(events)
    raise KeyError(f"no representation for tabular features in {events!r}")


def _tabular_kind(arrays: Iterable[str]) -> str:
    names = set(arrays)
    return "dijet" if "mjj" in names else "jets" if "constituents" in names else "objects"


#: the representations :func:`tabular_features` asks for, per kind of event set
TABULAR_REPRESENTATIONS: dict[str, list[tuple[str, dict]]] = {
    "dijet": [("highlevel", {})], "jets": [("jet_observables", {}), ("nsubjettiness", {})], "objects": []}


def tabular_features_needed(arrays: Iterable[str]) -> list[tuple[str, dict]]:
    """What :func:`tabular_features` will compute for event sets holding ``arrays``: a scorer's
    ``features_needed`` answer, so the worker computes them once for all jobs (benchmark.precomputed)."""
    return list(TABULAR_REPRESENTATIONS[_tabular_kind(arrays)])


def object_summary(events: EventSet, n_leading: int = 4) -> np.ndarray:
    """Flat event summary of Dark Machines objects (GeV): MET, H_T, counts per type, leading objects."""
    objects, mask = events["objects"], events["objects_mask"]
    types = objects[..., 0]
    counts = [((types == code) & mask).sum(1) for code in range(1, 8)]
    jets = mask & ((types == 1) | (types == 2))
    ht = np.where(jets, objects[..., 2], 0.0).sum(1)
    lead = np.zeros((len(events), n_leading, 4))
    k = min(n_leading, objects.shape[1])
    lead[:, :k] = np.where(mask[:, :k, None], objects[:, :k, 1:5], 0.0)
    lead[..., :2] = np.log1p(np.clip(lead[..., :2], 0, None))
    met = events["met"][:, :1]
    return np.concatenate([np.log1p(met), np.log1p(ht)[:, None], np.stack(counts, 1), lead.reshape(len(events), -1)],
                          axis=1).astype(np.float64)


class Standardiser:
    """Mean/std scaling fitted on training features only (constant columns are left centred)."""

    def fit(self, x: np.ndarray) -> "Standardiser":
        self.mean_ = x.mean(0)
        std = x.std(0)
        self.std_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean_) / self.std_


def boosted_trees(params: dict, seed: int, **extra: object):  # type: ignore[no-untyped-def]
    """Histogram gradient-boosted trees configured from a baseline's params (shared by the
    supervised reference and CWoLa, which differ only in what they label 1 and 0)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=int(params["max_iter"]), learning_rate=float(params["learning_rate"]),
        max_leaf_nodes=int(params["max_leaf_nodes"]), early_stopping=False, random_state=seed, **extra,
    )


def classifier_logit(clf, x: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """log(p / (1 - p)) of a binary classifier: monotonic in p, but keeps the ranking of events
    whose probabilities saturate near 0 or 1 instead of collapsing them into ties."""
    p = clf.predict_proba(x)[:, 1]
    return np.log(np.clip(p, 1e-12, None)) - np.log(np.clip(1 - p, 1e-12, None))


class MassKDE:
    """Gaussian KDE of the resonance mass (GeV), sampled inside a window only: the conditions at
    which a sideband-trained generator is interpolated into the signal region (CATHODE and its
    full-phase-space successors draw mjj from a KDE of the data's mjj).

    ``bandwidth`` multiplies Scott's rule (scipy ``gaussian_kde``).
    """

    def __init__(self, m: np.ndarray, window: tuple[float, float], *, bandwidth: float = 1.0, seed: int = 0,
                 name: str = "the mjj KDE") -> None:
        from scipy.stats import gaussian_kde

        m = np.asarray(m, float).reshape(-1)
        if len(m) < 2:
            raise ValueError(f"{name} needs at least 2 signal-region events, got {len(m)}")
        self.kde = gaussian_kde(m)
        self.kde.set_bandwidth(self.kde.factor * float(bandwidth))
        self.window = (float(window[0]), float(window[1]))
        self.rng = np.random.default_rng(seed)

    def sample(self, n: int) -> np.ndarray:
        """``n`` masses (GeV), redrawn until all lie inside the window."""
        out = np.empty(0)
        while len(out) < n:
            draw = self.kde.resample(max(2 * (n - len(out)), 16), seed=self.rng)[0]
            out = np.concatenate([out, draw[(draw > self.window[0]) & (draw < self.window[1])]])
        return out[:n]


def image_request(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The ``images`` request of the leading jet as a scorer's hyper-parameters ask for it (npix,
    extent, pT^n ``power``, Gaussian ``sigma`` in pixels, optional ``log_scale``): one spelling
    for the scorer's own call and its ``features_needed``, so the worker's precomputed images are
    the ones the scorer reads."""
    request: dict[str, Any] = {"jet": 0, "npix": int(params.get("npix", 40)), "extent": float(params.get("extent", 0.8)),
                               "power": float(params.get("power", 1.0)), "sigma": float(params.get("sigma", 0.0))}
    if float(params.get("log_scale", 0.0)):
        request["log_scale"] = float(params["log_scale"])
    return "images", request


def leading_jet_images(events: EventSet, params: Mapping[str, Any]) -> np.ndarray:
    """(N, npix^2) float32 flattened images of the leading jet (:func:`image_request`)."""
    name, request = image_request(params)
    img = np.asarray(events.features(name, **request))
    return np.ascontiguousarray(img.reshape(len(events), -1), dtype=np.float32)


def efp_request(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The ``efp`` request of the leading jet (the paper's 8 EFPs with kappa, beta of Eq. 7)."""
    return "efp", {"jet": 0, "kappa": float(params["kappa"]), "beta": float(params["beta"])}


def leading_jet_efps(events: EventSet, kappa: float, beta: float) -> np.ndarray:
    """(N, 8) float64: the paper's 8 prime EFPs with d <= 3 (Eq. 6) of the leading jet, with the
    z_i -> z_i^kappa, R_ij -> R_ij^beta weights of Eq. 7."""
    name, request = efp_request({"kappa": kappa, "beta": beta})
    return np.asarray(events.features(name, **request), dtype=np.float64)


class PCAWhitening:
    """Centre, rotate to the covariance eigenbasis and scale each component to unit variance.

    Linear and invertible, so a density fitted on the whitened data is a density of the raw data
    after adding :attr:`log_abs_det` (log|det| of the map, the same for every point). Eigenvalues
    below ``floor`` times the largest are raised to it: strongly correlated EFPs must not blow up.
    """

    def __init__(self, floor: float = 1e-12) -> None:
        self.floor = float(floor)

    def fit(self, x: np.ndarray) -> "PCAWhitening":
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or len(x) < 2:
            raise ValueError(f"PCA whitening needs (N >= 2, D) data, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("PCA whitening got non-finite inputs")
        self.mean_ = x.mean(0)
        eigval, eigvec = np.linalg.eigh(np.cov(x - self.mean_, rowvar=False).reshape(x.shape[1], x.shape[1]))
        eigval = np.maximum(eigval, self.floor * max(float(eigval.max()), 1e-300))
        self.matrix_ = eigvec / np.sqrt(eigval)           # columns: eigenvectors / sqrt(eigenvalue)
        self.log_abs_det = float(-0.5 * np.log(eigval).sum())
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean_) @ self.matrix_


#: The per-particle channels of the point-cloud models (methods.md a.1), in
#: :data:`benchmark.features.constituents.RELATIVE_FEATURES`: deta, dphi, log(1 - pT_rel).
POINTCLOUD_CHANNELS = (0, 1, 4)


def pointcloud_features(events: EventSet, n_particles: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The leading jet as a padded point cloud for the diffusion density and its classifier.

    Returns particles (N, n_particles, 3) float32 (deta, dphi, log(1 - pT/pT_jet), pT-ordered,
    the hardest ``n_particles`` kept, padding zero), their mask (N, n_particles) and the jet features
    (N, 4) float64 (pT, eta, mass of the kept particles' sum, multiplicity), as in the reference.
    """
    from benchmark.features.constituents import relative_coordinates

    if "constituents" not in events:
        raise KeyError(f"the point-cloud models need per-particle 'constituents'; this event set has "
                       f"{sorted(events.names)}")
    cons = np.asarray(events["constituents"])[:, 0]
    mask = np.asarray(events["constituents_mask"])[:, 0] if "constituents_mask" in events else None
    feats, m, jet = relative_coordinates(cons, mask, int(n_particles))
    parts = np.ascontiguousarray(feats[..., POINTCLOUD_CHANNELS] * m[..., None], dtype=np.float32)
    jets = np.stack([jet[:, 0], jet[:, 1], jet[:, 3], m.sum(1).astype(np.float64)], axis=-1)
    return parts, m, jets
