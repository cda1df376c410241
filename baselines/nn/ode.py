"""Log-likelihoods through a probability-flow / flow-matching ODE, for a whole batch at once.

For dx/dt = v(t, x), log p_t(x(t)) changes by -div v along a trajectory, so
log p_t0(x) = log p_t1(x(t1)) + integral_{t0}^{t1} div v(t, x(t)) dt. :func:`integrate_divergence`
solves the state and that integral together with torchdiffeq (adaptive solvers on the GPU: ``bosh3``
is scipy's RK23, ``dopri5`` its RK45), with the divergence exact (one backward pass per dimension,
for small dimensions) or Hutchinson's estimate eps^T (dv/dx) eps with probes drawn once per solve.
Padded set elements (a ``mask``) have their velocity zeroed and are left out of the divergence and
of the prior's dimension.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torchdiffeq import odeint

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
DIVERGENCES = ("exact", "hutchinson")
PROBES = ("rademacher", "gaussian")
#: Error norms of the adaptive step control: ``batch`` is torchdiffeq's RMS over the whole batch;
#: ``per_sample`` the largest per-row RMS over real entries, so every row keeps its own tolerance
#: (the step sizes of the hardest row, as if each were solved alone).
NORMS = ("batch", "per_sample")


def _element_mask(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The mask broadcast to the shape of ``x``: (B, N) for a set (B, N, F), else all ones."""
    if mask is None:
        return torch.ones_like(x)
    m = mask.to(x.dtype)
    while m.ndim < x.ndim:
        m = m.unsqueeze(-1)
    return m.expand_as(x)


def probes(x: torch.Tensor, n_probes: int = 1, kind: str = "rademacher",
           generator: torch.Generator | None = None) -> torch.Tensor:
    """(n_probes, *x.shape) Hutchinson probe vectors with E[eps eps^T] = 1."""
    if kind not in PROBES:
        raise ValueError(f"probe kind must be one of {PROBES}, got {kind!r}")
    shape = (int(n_probes), *x.shape)
    if kind == "gaussian":
        return torch.randn(shape, generator=generator, dtype=x.dtype).to(x.device)
    return (torch.randint(0, 2, shape, generator=generator).to(x.dtype) * 2 - 1).to(x.device)


def divergence(v: torch.Tensor, x: torch.Tensor, m: torch.Tensor, eps: torch.Tensor | None) -> torch.Tensor:
    """div v per batch row: exact (``eps`` None; sum of d v_i / d x_i over real dimensions) or
    Hutchinson's mean over probes of eps^T (dv/dx) eps. ``x`` must require grad and ``v = v(x)``."""
    B = x.shape[0]
    if eps is None:
        flat_v, flat_m = v.reshape(B, -1), m.reshape(B, -1)
        div = torch.zeros(B, dtype=x.dtype, device=x.device)
        for i in range(flat_v.shape[1]):
            if not bool(flat_m[:, i].any()):
                continue
            grad = torch.autograd.grad(flat_v[:, i].sum(), x, retain_graph=True)[0].reshape(B, -1)[:, i]
            div = div + grad * flat_m[:, i]
        return div
    total = torch.zeros(B, dtype=x.dtype, device=x.device)
    for e in eps:
        e = e * m
        vjp = torch.autograd.grad((v * e).sum(), x, retain_graph=True)[0]
        total = total + (vjp * e).reshape(B, -1).sum(1)
    return total / len(eps)


def integrate_divergence(velocity: Velocity, x: torch.Tensor, *, t0: float = 0.0, t1: float = 1.0,
                         mask: torch.Tensor | None = None, method: str = "exact", n_probes: int = 1,
                         probe: str = "rademacher", generator: torch.Generator | None = None,
                         solver: str = "dopri5", rtol: float = 1e-5, atol: float = 1e-5,
                         norm: str = "batch", options: dict | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(x(t1), integral_{t0}^{t1} div v dt) for a batch of states ``x`` (B, ...).

    ``velocity(t, x)`` gets a scalar time tensor and the batch. ``method``: ``exact`` or
    ``hutchinson`` (``n_probes`` ``probe`` vectors drawn once per solve from ``generator``).
    ``solver``, ``rtol``, ``atol``, ``options``: passed to :func:`torchdiffeq.odeint`; ``norm``
    (:data:`NORMS`) sets its error norm unless ``options`` has one.
    """
    if method not in DIVERGENCES:
        raise ValueError(f"divergence method must be one of {DIVERGENCES}, got {method!r}")
    if norm not in NORMS:
        raise ValueError(f"ODE error norm must be one of {NORMS}, got {norm!r}")
    m = _element_mask(x, mask)
    if norm == "per_sample" and "norm" not in (options or {}):
        options = {**(options or {}), "norm": per_sample_norm(m)}
    eps = probes(x, n_probes, probe, generator) if method == "hutchinson" else None

    def rhs(t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            xt = state[0].detach().requires_grad_(True)
            v = velocity(t, xt) * m
            div = divergence(v, xt, m, eps)
        return v.detach(), div.detach()

    times = torch.tensor([float(t0), float(t1)], dtype=x.dtype, device=x.device)
    start = (x * m, torch.zeros(x.shape[0], dtype=x.dtype, device=x.device))
    xs, divs = odeint(rhs, start, times, method=solver, rtol=rtol, atol=atol, options=options)
    return xs[-1], divs[-1]


def per_sample_norm(m: torch.Tensor) -> Callable[[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
    """Error norm of the state (x, divergence integral): max over rows of max(RMS over the row's
    real entries of x, |divergence error|); ``m`` is the element mask of x."""
    B = m.shape[0]
    flat_m = m.reshape(B, -1)
    counts = flat_m.sum(1).clamp(min=1.0)

    def norm(state: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        err_x, err_div = state
        rms = ((err_x.reshape(B, -1) ** 2 * flat_m).sum(1) / counts).sqrt()
        return torch.maximum(rms.max(), err_div.abs().max())

    return norm


def standard_normal_log_prob(z: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """log N(z; 0, 1) per batch row, counting only real dimensions (padded elements have no density)."""
    m = _element_mask(z, mask)
    B = z.shape[0]
    dims = m.reshape(B, -1).sum(1)
    return -0.5 * (z * z * m).reshape(B, -1).sum(1) - 0.5 * dims * math.log(2 * math.pi)


def ode_log_likelihood(velocity: Velocity, x: torch.Tensor, *, t0: float = 0.0, t1: float = 1.0,
                       mask: torch.Tensor | None = None, **solve: object) -> torch.Tensor:
    """log p_t0(x) of data at t0 whose flow reaches a standard normal at t1 (diffusion: t0 = data
    end, t1 = noise end; flow matching with noise at t = 1 likewise). ``solve``: options of
    :func:`integrate_divergence`."""
    z, div = integrate_divergence(velocity, x, t0=t0, t1=t1, mask=mask, **solve)  # type: ignore[arg-type]
    return standard_normal_log_prob(z, mask) + div
