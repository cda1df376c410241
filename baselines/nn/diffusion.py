"""Gaussian diffusion with a cosine log-SNR schedule and velocity prediction, written once for any
feature dimension, any (optional) condition and padded sets of variable multiplicity.

The final code of the permutation-invariant AD paper (methods.md a.2, a.5), in the log-SNR
variable lambda = log(alpha^2 / sigma^2):

* schedule: lambda(t) = -2 log tan(a t + b), b = atan(exp(-lambda_max / 2)),
  a = atan(exp(-lambda_min / 2)) - b, alpha^2 = sigmoid(lambda), sigma^2 = sigmoid(-lambda);
* noising x_lambda = alpha x + sigma eps, the network predicts v = alpha eps - sigma x
  (so x_hat = alpha x_lambda - sigma v_hat, eps_hat = sigma x_lambda + alpha v_hat);
* ``standard`` weighting: t ~ U(0, 1), loss |v_hat - v|^2 (the implicit lambda(t) = sigma^2 of
  the paper's Eq. 1); ``likelihood`` weighting: lambda ~ U(lambda_min, lambda_max) and the loss
  |eps_hat - eps|^2 (= alpha^2 |v_hat - v|^2), the continuous-time ELBO (lambda(t) = g^2 with
  log-SNR importance sampling, Kingma et al. 2021);
* probability-flow (DDIM) ODE in s = lambda / 2: dx/ds = -alpha sigma v_hat(x, lambda), integrated
  from the data end (s = lambda_max / 2) to the noise end (s = lambda_min / 2), where a standard
  normal is the prior; log p(x) = log N(z) + integral of div(dx/ds) ds (:mod:`baselines.nn.ode`);
* sampling (:func:`sample_ddim`): deterministic DDIM steps from the noise end to the data end,
  optionally with the midpoint (second-order) correction of the full-phase-space paper.

The network is any callable ``net(x_lambda, time, cond, mask) -> v_hat`` with ``time`` the
normalised log-SNR (lambda - lambda_min) / (lambda_max - lambda_min) in [0, 1] (the reference's
conditioning input). For sets (B, N, F) with a mask, padded elements are kept exactly zero, left
out of the loss, the divergence and the prior's dimension (only 3 N_real dimensions for a jet of
N_real particles with 3 features).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from baselines.nn.ode import integrate_divergence, standard_normal_log_prob

#: Loss weightings: the v-loss of standard training and the maximum-likelihood (ELBO) eps-loss.
WEIGHTINGS = ("standard", "likelihood")

#: ``net(x_lambda, time in [0, 1], cond or None, mask or None) -> v_hat`` (shape of ``x_lambda``)
VelocityNet = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None", "torch.Tensor | None"], torch.Tensor]


@dataclass(frozen=True)
class CosineLogSNR:
    """The cosine schedule in log-SNR, truncated to [``logsnr_min``, ``logsnr_max``] (-10, 10 in the reference)."""

    logsnr_min: float = -10.0
    logsnr_max: float = 10.0

    def __post_init__(self) -> None:
        if not self.logsnr_min < self.logsnr_max:
            raise ValueError(f"the log-SNR range needs logsnr_min < logsnr_max, got {self.logsnr_min}, "
                             f"{self.logsnr_max}")

    @property
    def _b(self) -> float:
        return math.atan(math.exp(-0.5 * self.logsnr_max))

    @property
    def _a(self) -> float:
        return math.atan(math.exp(-0.5 * self.logsnr_min)) - self._b

    def logsnr(self, t: torch.Tensor) -> torch.Tensor:
        """lambda(t) for t in [0, 1] (t = 0: lambda_max, data end; t = 1: lambda_min, noise end)."""
        return -2.0 * torch.log(torch.tan(self._a * t + self._b))

    def time(self, logsnr: torch.Tensor) -> torch.Tensor:
        """The inverse map t(lambda)."""
        return (torch.atan(torch.exp(-0.5 * logsnr)) - self._b) / self._a

    @staticmethod
    def alpha_sigma(logsnr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(alpha, sigma) with alpha^2 = sigmoid(lambda), sigma^2 = sigmoid(-lambda) (variance preserving)."""
        return torch.sigmoid(logsnr).sqrt(), torch.sigmoid(-logsnr).sqrt()

    def network_time(self, logsnr: torch.Tensor) -> torch.Tensor:
        """The network's time input: lambda scaled to [0, 1]."""
        return (logsnr - self.logsnr_min) / (self.logsnr_max - self.logsnr_min)


def _per_row(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A (B,) tensor shaped to broadcast against ``like`` (B, ...)."""
    return value.reshape(-1, *([1] * (like.ndim - 1)))


def _element_weights(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """1 for real entries of ``x``, 0 for padded ones (``mask`` (B, N) for sets (B, N, F))."""
    if mask is None:
        return torch.ones_like(x)
    m = mask.to(x.dtype)
    while m.ndim < x.ndim:
        m = m.unsqueeze(-1)
    return m.expand_as(x)


def _uniform(shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """U(0, 1) on ``like``'s device: drawn there, or on the CPU from ``generator`` (reproducible tests)."""
    if generator is None:
        return torch.rand(shape, dtype=like.dtype, device=like.device)
    return torch.rand(shape, generator=generator, dtype=like.dtype).to(like.device)


def _normal(shape: torch.Size, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    if generator is None:
        return torch.randn(shape, dtype=like.dtype, device=like.device)
    return torch.randn(shape, generator=generator, dtype=like.dtype).to(like.device)


def diffusion_loss(net: VelocityNet, x: torch.Tensor, *, schedule: CosineLogSNR, weighting: str = "standard",
                   cond: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-event denoising loss (B,): squared error summed over the real entries divided by the
    number of (padded) entries per event, i.e. the reference's mean over all padded entries.

    ``weighting``: ``standard`` (t ~ U(0, 1), v-loss) or ``likelihood`` (lambda uniform, eps-loss).
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"diffusion weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    B = x.shape[0]
    u = _uniform((B,), x, generator)
    if weighting == "standard":
        logsnr = schedule.logsnr(u)
    else:
        logsnr = schedule.logsnr_min + (schedule.logsnr_max - schedule.logsnr_min) * u
    alpha, sigma = (_per_row(a, x) for a in schedule.alpha_sigma(logsnr))
    m = _element_weights(x, mask)
    x = x * m
    eps = _normal(x.shape, x, generator) * m
    x_t = alpha * x + sigma * eps
    v_hat = net(x_t, schedule.network_time(logsnr), cond, mask) * m
    if weighting == "standard":
        err = v_hat - (alpha * eps - sigma * x)
    else:
        err = (sigma * x_t + alpha * v_hat) - eps
    return (err * err * m).reshape(B, -1).sum(1) / m[0].numel()


def probability_flow_drift(net: VelocityNet, schedule: CosineLogSNR, cond: torch.Tensor | None = None,
                           mask: torch.Tensor | None = None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """dx/ds at s = lambda / 2 of the probability-flow ODE: -alpha sigma v_hat(x, lambda)."""
    def drift(s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        logsnr = (2.0 * s).to(x.dtype).expand(x.shape[0])
        alpha, sigma = (_per_row(a, x) for a in schedule.alpha_sigma(logsnr))
        return -alpha * sigma * net(x, schedule.network_time(logsnr), cond, mask)

    return drift


def score_from_velocity(x: torch.Tensor, v_hat: torch.Tensor, logsnr: torch.Tensor) -> torch.Tensor:
    """grad_x log p_lambda(x) = -eps_hat / sigma = -(sigma x + alpha v_hat) / sigma (for tests and samplers)."""
    alpha, sigma = (_per_row(a, x) for a in CosineLogSNR.alpha_sigma(logsnr))
    return -(sigma * x + alpha * v_hat) / sigma


def velocity_from_score(x: torch.Tensor, score: torch.Tensor, logsnr: torch.Tensor) -> torch.Tensor:
    """The v_hat whose implied score is ``score``: v_hat = -sigma (x + score) / alpha (e.g. an exact
    Gaussian score plugged into the likelihood)."""
    alpha, sigma = (_per_row(a, x) for a in CosineLogSNR.alpha_sigma(logsnr))
    return -sigma * (x + score) / alpha


#: samplers of :func:`sample_ddim`: first order (DDIM) and with the midpoint correction (the paper's)
SAMPLERS = ("ddim", "midpoint")


@torch.no_grad()
def sample_ddim(net: VelocityNet, z: torch.Tensor, *, schedule: CosineLogSNR, cond: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, steps: int = 512, solver: str = "midpoint") -> torch.Tensor:
    """Deterministic DDIM sampling from the noise ``z`` (a standard normal at the noise end) to data.

    ``steps`` equal steps in t from 1 (lambda_min) to 0 (lambda_max). A step from lambda to lambda'
    with a denoised estimate x_hat is x' = alpha' x_hat + sigma' (x - alpha x_hat) / sigma, the exact
    probability-flow step when x_hat is constant over it. ``ddim`` takes x_hat = alpha x - sigma v_hat
    at the start (first order); ``midpoint`` takes it at the point reached by a DDIM half step to
    the log-SNR midpoint (second order, two network evaluations per step, DPM-Solver-2; the
    reference's ``second_order_correction``, methods.md c.2). Padded set elements stay zero.
    """
    if solver not in SAMPLERS:
        raise ValueError(f"diffusion sampler must be one of {SAMPLERS}, got {solver!r}")
    if int(steps) < 1:
        raise ValueError(f"the diffusion sampler needs steps >= 1, got {steps}")
    m = _element_weights(z, mask)
    B = z.shape[0]

    def coefficients(logsnr: float, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return schedule.alpha_sigma(torch.tensor(logsnr, dtype=like.dtype, device=like.device))

    def denoise(x: torch.Tensor, logsnr: float) -> torch.Tensor:
        alpha, sigma = coefficients(logsnr, x)
        lam = torch.full((B,), logsnr, dtype=x.dtype, device=x.device)
        return (alpha * x - sigma * net(x, schedule.network_time(lam), cond, mask)) * m

    def step(x: torch.Tensor, x_hat: torch.Tensor, logsnr: float, logsnr_next: float) -> torch.Tensor:
        alpha, sigma = coefficients(logsnr, x)
        alpha_n, sigma_n = coefficients(logsnr_next, x)
        return (alpha_n * x_hat + sigma_n * (x - alpha * x_hat) / sigma) * m

    grid = schedule.logsnr(torch.linspace(1.0, 0.0, int(steps) + 1, dtype=torch.float64)).tolist()
    x = z * m
    for lam, lam_next in zip(grid[:-1], grid[1:]):
        x_hat = denoise(x, lam)
        if solver == "midpoint":
            mid = 0.5 * (lam + lam_next)
            x_hat = denoise(step(x, x_hat, lam, mid), mid)
        x = step(x, x_hat, lam, lam_next)
    return x


def log_likelihood(net: VelocityNet, x: torch.Tensor, *, schedule: CosineLogSNR, cond: torch.Tensor | None = None,
                   mask: torch.Tensor | None = None, divergence: str = "exact", n_probes: int = 1,
                   generator: torch.Generator | None = None, solver: str = "bosh3", rtol: float = 5e-4,
                   atol: float = 5e-5, margin: float = 1e-4, norm: str = "per_sample",
                   options: dict | None = None) -> torch.Tensor:
    """log p(x) (B,) of a batch through the probability-flow ODE, all events solved together.

    ``divergence``: ``exact`` (one backward pass per real dimension) or ``hutchinson``
    (``n_probes`` Rademacher probes). ``solver``/``rtol``/``atol``: torchdiffeq's adaptive solver
    (``bosh3`` = scipy RK23, the reference's, with its tolerances). ``norm``: ``per_sample`` keeps
    every event's local error within the tolerances (as if solved alone); ``batch`` is torchdiffeq's
    RMS over the whole batch (looser, fewer steps). ``margin``: s runs from lambda_max/2 - margin to
    lambda_min/2 + margin (the reference's 1e-4). Only real entries count in the prior's dimension.
    """
    s0 = 0.5 * schedule.logsnr_max - margin
    s1 = 0.5 * schedule.logsnr_min + margin
    z, div = integrate_divergence(probability_flow_drift(net, schedule, cond, mask), x, t0=s0, t1=s1, mask=mask,
                                  method=divergence, n_probes=n_probes, generator=generator, solver=solver,
                                  rtol=rtol, atol=atol, norm=norm, options=options)
    return standard_normal_log_prob(z, mask) + div
