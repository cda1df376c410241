"""The point-cloud generator of the dijet system given mjj (arXiv:2310.06897 Sec. III), trained in
the sidebands and interpolated into the signal region, by flow matching (EPiC-FM, Sec. III.B,
methods.md c.3) or by Gaussian diffusion (Sec. III.A, c.2) on the same networks (``generator``).

p(event | mjj) = p(jet vector | mjj) x prod_jets p(particles | that jet's features, mjj):

* jet-feature model: flow matching on the 9-d jet vector of :class:`baselines.dijet.DijetCloud`
  (both jets' (log pT/mjj, eta, log m/mjj, N) and Delta phi) with the stacked-MLP velocity network
  conditioned on log mjj; multiplicities are dequantised (+U(-1/2, 1/2)) in training and rounded,
  clipped to [1, P] when sampling, and define the particle masks;
* particle model: flow matching on each jet's cloud of (Delta eta, Delta phi, log(1 - pT_rel))
  with the EPiC velocity network, conditioned on that jet's features and log mjj; the two jets are
  independent samples of one model (EPiC-FM ``jet_type: all``).

Sampling: mjj from a KDE of the SR data (:class:`baselines.common.MassKDE`, as CATHODE), jets,
then particles, each with the generator family's sampler: flow matching integrates its ODE with
the fixed-step midpoint solver (``ode_steps``, the paper's 250); diffusion (cosine log-SNR in
[``diffusion_logsnr_min``, ``diffusion_logsnr_max``] = [-20, 20], v-prediction, the loss and
schedule of :mod:`baselines.nn.diffusion`) takes ``diffusion_steps`` DDIM steps with the midpoint
correction (the paper's 512). The paper's diffusion networks are transformers (DeepSetsAtt); here
both families share the EPiC particle network and the jet MLP, so they differ only in the
generative process. Any generator with ``fit(cloud,
context, started)``, ``set_condition_density(m, window, seed)`` and ``sample(n, condition) ->
DijetCloud`` (:class:`DijetGenerator`) can stand in for this one in :mod:`baselines.fullphase`.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np
import torch

from baselines.common import MassKDE
from baselines.dijet import DijetCloud, DijetScaler
from baselines.nn.diffusion import CosineLogSNR, diffusion_loss, sample_ddim
from baselines.nn.flow_matching import EPiCVelocity, MLPVelocity, cfm_loss, sample_ode
from baselines.nn.sets import real_width
from baselines.nn.training import TrainConfig, fit_model, resolve_device
from baselines.weak_supervision import prefixed
from benchmark.contract import FitContext

#: columns of the jet vector that hold multiplicities (dequantised in training, rounded when sampling)
MULTIPLICITY_COLUMNS = (3, 7)

#: generator families (``generator``): the same networks, trained and sampled by either process
GENERATORS = ("flow-matching", "diffusion")

GENERATOR_DEFAULTS: dict[str, Any] = {
    "generator": "flow-matching",
    "max_particles": 279, "sigma_min": 1e-4, "ode_steps": 250, "ode_solver": "midpoint", "kde_bandwidth": 1.0,
    "sample_batch_size": 1024,
    # diffusion (LHCO_diffusion GSGM_lhco.py): cosine log-SNR in [-20, 20], v-prediction, DDIM 512 steps with
    # the second-order midpoint correction
    "diffusion_logsnr_min": -20.0, "diffusion_logsnr_max": 20.0, "diffusion_steps": 512,
    "diffusion_sampler": "midpoint",
    # jet-feature model (EPiC-FM lhco_jet_features.yaml): 4 MLP blocks, ELU, AdamW 1e-3 constant, batch 1024,
    # grad clip 0.5, EMA 0.999, 1000-10000 epochs
    "jet_blocks": [[64, 64], [256, 256], [256, 256], [64, 64]], "jet_time_dim": 16, "jet_epochs": 1000,
    "jet_batch_size": 1024, "jet_lr": 1e-3, "jet_weight_decay": 0.0, "jet_schedule": "constant",
    "jet_clip_norm": 0.5, "jet_ema_decay": 0.999, "jet_patience": 0, "jet_val_fraction": 0.05,
    # particle model (EPiC-FM lhco_both_jets.yaml): 8 EPiC layers, local 150, global 256, cosine time
    # embedding 32, AdamW 1e-3 wd 5e-5, cosine schedule, batch 1024, grad clip 0.5, EMA 0.999, >= 500 epochs
    "part_layers": 8, "part_local_dim": 150, "part_global_dim": 256, "part_hidden": 150, "part_time_dim": 32,
    "part_epochs": 500, "part_batch_size": 1024, "part_lr": 1e-3, "part_weight_decay": 5e-5,
    "part_schedule": "cosine", "part_clip_norm": 0.5, "part_ema_decay": 0.999, "part_patience": 0,
    "part_val_fraction": 0.05,
}


class DijetGenerator(Protocol):
    """What :mod:`baselines.fullphase` needs of a background generator of the dijet system."""

    scaler: DijetScaler

    def fit(self, cloud: DijetCloud, context: FitContext, started: float | None = None) -> dict[str, Any]: ...

    def set_condition_density(self, m: np.ndarray, window: tuple[float, float], seed: int) -> None: ...

    def sample(self, n: int, condition: np.ndarray | None = None) -> DijetCloud: ...


Net = Callable[..., torch.Tensor]


class FlowMatching:
    """Conditional OT flow matching (:mod:`baselines.nn.flow_matching`): its loss and fixed-step ODE sampler."""

    name = "fm"

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.sigma_min, self.steps, self.solver = float(params["sigma_min"]), int(params["ode_steps"]), str(params["ode_solver"])

    def loss(self, net: Net, x: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return cfm_loss(net, x, cond=cond, mask=mask, sigma_min=self.sigma_min)

    def sample(self, net: Net, z: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return sample_ode(net, z, cond=cond, mask=mask, steps=self.steps, solver=self.solver)


class Diffusion:
    """Gaussian diffusion (:mod:`baselines.nn.diffusion`: cosine log-SNR, v-prediction, DDIM sampler)
    on the velocity networks of flow matching, whose time input is the schedule's t."""

    name = "diffusion"

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.schedule = CosineLogSNR(float(params["diffusion_logsnr_min"]), float(params["diffusion_logsnr_max"]))
        self.steps, self.solver = int(params["diffusion_steps"]), str(params["diffusion_sampler"])

    def _net(self, net: Net) -> Net:
        """``net(t, y, cond, mask)`` as the diffusion code calls it, ``net(x_lambda, time, cond, mask)``
        with ``time`` the normalised log-SNR; the network is given the schedule's time t(lambda) in
        [0, 1] instead (the reference's time input), which spreads the log-SNR range where the data's
        structure forms (|lambda| of a few) over most of [0, 1], where the normalised log-SNR of
        [-20, 20] would squeeze it into a tenth."""
        schedule = self.schedule
        span = schedule.logsnr_max - schedule.logsnr_min

        def call(x: torch.Tensor, time: torch.Tensor, cond: torch.Tensor | None, mask: torch.Tensor | None) -> torch.Tensor:
            return net(schedule.time(schedule.logsnr_min + time * span), x, cond, mask)

        return call

    def loss(self, net: Net, x: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return diffusion_loss(self._net(net), x, schedule=self.schedule, cond=cond, mask=mask)

    def sample(self, net: Net, z: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return sample_ddim(self._net(net), z, schedule=self.schedule, cond=cond, mask=mask, steps=self.steps,
                           solver=self.solver)


def generative_process(params: Mapping[str, Any]) -> FlowMatching | Diffusion:
    """The training loss and sampler of ``params["generator"]`` (:data:`GENERATORS`)."""
    kind = params.get("generator", "flow-matching")
    if kind == "flow-matching":
        return FlowMatching(params)
    if kind == "diffusion":
        return Diffusion(params)
    raise ValueError(f"hyper-parameter generator={kind!r}: must be one of {GENERATORS}")


class PointCloudDijetGenerator:
    """Jet-feature model (MLP) + EPiC particle model, trained and sampled by flow matching or
    diffusion (``params["generator"]``)."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = dict(params)
        self.process = generative_process(self.params)
        self.kde: MassKDE | None = None
        self.device = torch.device("cpu")

    # -- training ------------------------------------------------------------------------------------
    def fit(self, cloud: DijetCloud, context: FitContext, started: float | None = None) -> dict[str, Any]:
        """Train both models on sideband events; returns their training records (dicts)."""
        p = self.params
        if len(cloud) < 10:
            raise ValueError(f"the flow-matching generator needs sideband events to train on, got {len(cloud)}")
        self.device = resolve_device(getattr(context, "device", "cpu"))
        self.scaler = DijetScaler().fit(cloud)
        self.n_particles = cloud.n_particles
        process = self.process
        torch.manual_seed(context.seed)

        vec = self.scaler.vector
        self.jet_net = MLPVelocity(9, 1, [[int(w) for w in b] for b in p["jet_blocks"]], time_dim=int(p["jet_time_dim"]))
        dequant = torch.zeros(9)
        dequant[list(MULTIPLICITY_COLUMNS)] = torch.as_tensor(1.0 / vec.std_[list(MULTIPLICITY_COLUMNS)],
                                                              dtype=torch.float32)

        def jet_loss(net: torch.nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
            x = b["x"] + (torch.rand_like(b["x"]) - 0.5) * dequant.to(b["x"].device)
            return process.loss(net, x, b["c"])

        jet_data = {"x": vec.transform(cloud.jet_vector()).astype(np.float32), "c": self.scaler.mjj(cloud.mjj)}
        jet_record = fit_model(self.jet_net, jet_loss, jet_data, config=TrainConfig.from_params(prefixed(p, "jet_")),
                               context=context, name=f"{process.name}-jets", started=started)

        self.part_net = EPiCVelocity(3, 5, local_dim=int(p["part_local_dim"]), global_dim=int(p["part_global_dim"]),
                                     hidden=int(p["part_hidden"]), layers=int(p["part_layers"]),
                                     time_dim=int(p["part_time_dim"]))
        n = len(cloud)
        width = real_width(torch.as_tensor(cloud.mask))
        parts = self.scaler.particle.transform(cloud.particles, cloud.mask)[:, :, :width]
        part_data = {"x": parts.reshape(2 * n, width, 3).astype(np.float32),
                     "mask": cloud.mask[:, :, :width].reshape(2 * n, width),
                     "c": self.scaler.particle_cond(cloud.jets, cloud.mjj).reshape(2 * n, -1)}
        keep = part_data["mask"].any(1)                       # a jet without particles has nothing to learn
        part_data = {k: v[keep] for k, v in part_data.items()}

        def part_loss(net: torch.nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
            k = real_width(b["mask"])
            return process.loss(net, b["x"][:, :k], b["c"], b["mask"][:, :k])

        part_record = fit_model(self.part_net, part_loss, part_data,
                                config=TrainConfig.from_params(prefixed(p, "part_")), context=context,
                                name=f"{process.name}-particles", started=started)
        return {"generator": p.get("generator", "flow-matching"),
                "jet_model": jet_record.to_dict(), "particle_model": part_record.to_dict(), "n_events": n,
                "n_jets": int(keep.sum()), "n_particles": int(cloud.mask.sum()), "max_particles": self.n_particles}

    # -- sampling ------------------------------------------------------------------------------------
    def set_condition_density(self, m: np.ndarray, window: tuple[float, float], seed: int) -> None:
        """Gaussian KDE of the SR data's mjj (GeV), sampled inside ``window`` only."""
        self.kde = MassKDE(m, window, bandwidth=float(self.params["kde_bandwidth"]), seed=seed,
                           name="cathode-fullphase: the KDE of mjj")

    @torch.no_grad()
    def sample(self, n: int, condition: np.ndarray | None = None) -> DijetCloud:
        """``n`` events; mjj from the KDE unless ``condition`` (n masses in GeV) is given."""
        if condition is None:
            if self.kde is None:
                raise RuntimeError("sample() without a condition needs set_condition_density() first")
            mjj = self.kde.sample(n)
        else:
            mjj = np.asarray(condition, float).reshape(-1)
            if len(mjj) != n:
                raise ValueError(f"sample(n={n}, condition): condition has {len(mjj)} masses, expected {n}")
        jet_vector = self.sample_jets(mjj)
        P = self.n_particles
        counts = np.clip(np.rint(jet_vector[:, list(MULTIPLICITY_COLUMNS)]), 1, P).astype(int)   # (n, 2)
        jet_vector[:, list(MULTIPLICITY_COLUMNS)] = counts
        jets = jet_vector[:, :8].reshape(n, 2, 4)
        particles = self.sample_particles(self.scaler.particle_cond(jets, mjj).reshape(2 * n, -1), counts.reshape(-1))
        mask = np.arange(P)[None, :] < counts.reshape(-1, 1)
        particles = self.scaler.particle.inverse_transform(particles, mask).reshape(n, 2, P, 3)
        return DijetCloud.from_parts(jet_vector, particles, mask.reshape(n, 2, P), mjj)

    def _solve(self, net: torch.nn.Module, z: torch.Tensor, cond: torch.Tensor,
               mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.process.sample(net, z, cond, mask)

    def sample_jets(self, mjj: np.ndarray) -> np.ndarray:
        """(n, 9) jet vectors in physical units (multiplicities still continuous) at masses ``mjj``."""
        net = self.jet_net.to(self.device).eval()
        cond = torch.as_tensor(self.scaler.mjj(mjj), device=self.device)
        out = []
        for idx in np.array_split(np.arange(len(mjj)), max(1, -(-len(mjj) // 65536))):
            z = torch.randn(len(idx), 9, device=self.device)
            out.append(self._solve(net, z, cond[idx]).double().cpu().numpy())
        return self.scaler.vector.inverse_transform(np.concatenate(out))

    def sample_particles(self, cond: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """(m, P, 3) scaled particle features of ``m`` jets with conditions ``cond`` and ``counts``
        particles; jets are batched by multiplicity so each batch only carries its own padding."""
        net = self.part_net.to(self.device).eval()
        P, bs = self.n_particles, max(1, int(self.params["sample_batch_size"]))
        out = np.zeros((len(counts), P, 3), np.float32)
        order = np.argsort(counts, kind="stable")
        for start in range(0, len(order), bs):
            idx = order[start:start + bs]
            k = int(counts[idx].max())
            mask = torch.as_tensor(np.arange(k)[None, :] < counts[idx, None], device=self.device)
            z = torch.randn(len(idx), k, 3, device=self.device)
            c = torch.as_tensor(cond[idx], device=self.device)
            out[idx, :k] = self._solve(net, z, c, mask).float().cpu().numpy()
        return out


def timed_sample(generator: DijetGenerator, n: int, condition: np.ndarray | None = None) -> tuple[DijetCloud, float]:
    """(samples, seconds): sampling time goes into the result record."""
    t0 = time.monotonic()
    cloud = generator.sample(n, condition)
    return cloud, time.monotonic() - t0
