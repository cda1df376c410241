"""The dijet system as the full-phase-space resonant models see it (arXiv:2310.06897 Sec. III):
per jet a few kinematic features, per particle its coordinates relative to its jet.

* jets: (log(pT/mjj), eta, log(m/mjj), N) per jet (the diffusion model's transforms, methods.md
  c.2; N = constituents kept) and Delta phi = phi_2 - phi_1 mod 2 pi once per event: the absolute
  phi is a symmetry of the detector, so it is drawn uniformly instead of learned;
* particles: (Delta eta, Delta phi, log(1 - pT_rel)) relative to the jet axis of the kept
  particles (EPiC-FM and the diffusion model), pT-ordered, at most ``n_particles`` per jet.

:class:`DijetCloud` holds them in physical units; :class:`DijetScaler` z-scores them (fitted on
the sideband) into the inputs of the generators (flat jet vector, per-jet particle clouds) and of
the data-vs-synthetic classifier (jets and particles as sets). ``to_events`` turns a generated
cloud back into an :class:`~benchmark.events.EventSet` of massless constituents.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.events import EventSet, make_event_ids
from benchmark.features.constituents import LOG_FLOOR, Standardiser, relative_coordinates, wrap_phi

JET_FEATURES = ("log_pt_over_mjj", "eta", "log_m_over_mjj", "multiplicity")
PARTICLE_FEATURES = ("deta", "dphi", "log_one_minus_pt_rel")
#: channels of :func:`benchmark.features.constituents.relative_coordinates` kept as particle features
_RELATIVE_CHANNELS = [0, 1, 4]
#: jet masses are floored here (GeV) before the log
MASS_FLOOR = 1.0


@dataclass
class DijetCloud:
    """Two jets per event: ``jets`` (n, 2, 4) :data:`JET_FEATURES`, ``dphi`` (n,) in [0, 2 pi),
    ``particles`` (n, 2, P, 3) :data:`PARTICLE_FEATURES` (zero where padded), ``mask`` (n, 2, P),
    ``mjj`` (n,) GeV."""

    jets: np.ndarray
    dphi: np.ndarray
    particles: np.ndarray
    mask: np.ndarray
    mjj: np.ndarray

    def __len__(self) -> int:
        return len(self.mjj)

    @property
    def n_particles(self) -> int:
        return int(self.mask.shape[-1])

    @classmethod
    def from_events(cls, events: EventSet, n_particles: int) -> "DijetCloud":
        """The two leading jets of dijet events (``jets``, ``constituents``, ``mjj`` arrays)."""
        for name in ("jets", "constituents", "mjj"):
            if name not in events:
                raise KeyError(f"the full-phase-space models need the array {name!r}; this event set has "
                               f"{sorted(events.names)}")
        cons = np.asarray(events["constituents"])
        if cons.ndim != 4 or cons.shape[1] < 2:
            raise ValueError(f"constituents must have shape (N, >= 2 jets, P, 4), got {cons.shape}")
        n = len(events)
        mask = events.get("constituents_mask")
        mask = None if mask is None else np.asarray(mask)[:, :2].reshape(n * 2, -1)
        feats, m, _ = relative_coordinates(cons[:, :2].reshape(n * 2, cons.shape[2], 4), mask, int(n_particles))
        particles = feats[..., _RELATIVE_CHANNELS].reshape(n, 2, int(n_particles), 3)
        m = m.reshape(n, 2, int(n_particles))
        jets4 = np.asarray(events["jets"], float)[:, :2]
        mjj = np.asarray(events["mjj"], float)
        jets = np.stack([np.log(jets4[..., 0] / mjj[:, None]), jets4[..., 1],
                         np.log(np.maximum(jets4[..., 3], MASS_FLOOR) / mjj[:, None]), m.sum(-1)], axis=-1)
        dphi = np.mod(jets4[:, 1, 2] - jets4[:, 0, 2], 2 * np.pi)
        return cls(jets, dphi, np.where(m[..., None], particles, 0).astype(np.float32), m, mjj)

    def take(self, index: np.ndarray) -> "DijetCloud":
        return DijetCloud(self.jets[index], self.dphi[index], self.particles[index], self.mask[index], self.mjj[index])

    @staticmethod
    def concatenate(clouds: list["DijetCloud"]) -> "DijetCloud":
        width = max(c.n_particles for c in clouds)

        def pad(a: np.ndarray, axis: int) -> np.ndarray:
            extra = width - a.shape[axis]
            if not extra:
                return a
            shape = list(a.shape)
            shape[axis] = extra
            return np.concatenate([a, np.zeros(shape, a.dtype)], axis=axis)

        return DijetCloud(np.concatenate([c.jets for c in clouds]), np.concatenate([c.dphi for c in clouds]),
                          np.concatenate([pad(c.particles, 2) for c in clouds]),
                          np.concatenate([pad(c.mask, 2) for c in clouds]), np.concatenate([c.mjj for c in clouds]))

    def jet_vector(self) -> np.ndarray:
        """(n, 9): both jets' features and Delta phi, the jet-feature generator's space."""
        return np.concatenate([self.jets.reshape(len(self), -1), self.dphi[:, None]], axis=1)

    @classmethod
    def from_parts(cls, jet_vector: np.ndarray, particles: np.ndarray, mask: np.ndarray,
                   mjj: np.ndarray) -> "DijetCloud":
        """A cloud from a generated jet vector (:meth:`jet_vector` layout) and particles; the
        multiplicities are the masks' counts."""
        n = len(jet_vector)
        jets = np.asarray(jet_vector[:, :8], float).reshape(n, 2, 4).copy()
        jets[..., 3] = mask.sum(-1)
        return cls(jets, np.mod(jet_vector[:, 8], 2 * np.pi), np.where(mask[..., None], particles, 0)
                   .astype(np.float32), mask.astype(bool), np.asarray(mjj, float))

    def to_events(self, rng: np.random.Generator, namespace: str = "generated/dijet") -> EventSet:
        """Physical events: jets (pt, eta, phi, m) with phi_1 ~ U(-pi, pi), massless constituents
        (pt, eta, phi, E) from the relative coordinates, and ``mjj`` (the condition)."""
        n, P = len(self), self.n_particles
        pt = np.exp(self.jets[..., 0]) * self.mjj[:, None]
        mass = np.exp(self.jets[..., 2]) * self.mjj[:, None]
        phi1 = rng.uniform(-np.pi, np.pi, n)
        phi = np.stack([phi1, wrap_phi(phi1 + self.dphi)], axis=1)
        jets = np.stack([pt, self.jets[..., 1], phi, mass], axis=-1)
        p = self.particles.astype(float)
        pt_rel = 1.0 - np.exp(np.minimum(p[..., 2], 0.0))
        cpt = np.clip(pt_rel, LOG_FLOOR, 1.0) * pt[..., None]
        ceta = p[..., 0] + self.jets[..., 1][..., None]
        cphi = wrap_phi(p[..., 1] + phi[..., None])
        cons = np.stack([cpt, ceta, cphi, cpt * np.cosh(ceta)], axis=-1) * self.mask[..., None]
        return EventSet({"jets": jets, "constituents": cons, "constituents_mask": self.mask.copy(),
                         "mjj": self.mjj.copy(), "weights": np.ones(n)}, make_event_ids(namespace, n))


class DijetScaler:
    """z-scores fitted on the sideband: the 9-d jet vector per column, the jet features shared by
    both jets (the classifier's jet tokens), the particle features over real particles, log mjj."""

    def fit(self, cloud: DijetCloud) -> "DijetScaler":
        self.vector = Standardiser().fit(cloud.jet_vector())
        self.jet = Standardiser().fit(np.concatenate([cloud.jets, np.stack([np.zeros(len(cloud)), cloud.dphi], 1)
                                                      [..., None]], axis=-1))
        self.particle = Standardiser().fit(cloud.particles, cloud.mask)
        log_m = np.log(cloud.mjj)
        self.m_mean, self.m_std = float(log_m.mean()), float(log_m.std() or 1.0)
        return self

    def mjj(self, m: np.ndarray) -> np.ndarray:
        """(n, 1) scaled log mjj: the generators' condition."""
        return ((np.log(np.asarray(m, float)) - self.m_mean) / self.m_std)[:, None].astype(np.float32)

    def jet_tokens(self, cloud: DijetCloud) -> np.ndarray:
        """(n, 2, 5) scaled per-jet features plus phi relative to the leading jet (0, Delta phi)."""
        raw = np.concatenate([cloud.jets, np.stack([np.zeros(len(cloud)), cloud.dphi], 1)[..., None]], axis=-1)
        return self.jet.transform(raw).astype(np.float32)

    def particle_cond(self, cloud_jets: np.ndarray, mjj: np.ndarray) -> np.ndarray:
        """(n, 2, 5) condition of the particle model per jet: its scaled features and log mjj."""
        jets = (cloud_jets - self.jet.mean_[:4]) / self.jet.std_[:4]
        m = np.broadcast_to(self.mjj(mjj)[:, None, :], (len(mjj), 2, 1))
        return np.concatenate([jets, m], axis=-1).astype(np.float32)

    def classifier_inputs(self, cloud: DijetCloud) -> dict[str, np.ndarray]:
        """The data-vs-synthetic classifier's inputs: jet tokens, scaled particles and their mask."""
        return {"jets": self.jet_tokens(cloud), "parts": self.particle.transform(cloud.particles, cloud.mask)
                .astype(np.float32), "mask": cloud.mask}
