"""The one training loop of the torch baselines, so that validation splits, early stopping, EMA,
schedules, devices, time budgets, checkpoints and the training record behave the same everywhere.

A scorer builds its network, writes a loss and calls :func:`fit_model`::

    from baselines.nn.mlp import MLP
    from baselines.nn.training import TrainConfig, fit_model, predict

    def fit(self, train, *, context):
        x = torch.as_tensor(features(train))                   # (N, D), or a dict of arrays
        self.model = MLP(x.shape[1], x.shape[1], [64, 16, 64])
        mse = lambda model, batch: ((model(batch) - batch) ** 2).mean(1)   # per-event loss
        config = TrainConfig.from_params(self.params)            # epochs, batch_size, lr, ...
        self.training_record = fit_model(self.model, mse, x, config=config, context=context)

    def score(self, events):
        x = torch.as_tensor(features(events))
        return predict(self.model, x, lambda model, b: ((model(b) - b) ** 2).mean(1))

The loss gets ``(model, batch)`` where ``batch`` has the structure of ``data`` (a tensor, or a dict
of tensors such as ``{"x": ..., "mask": ...}``) restricted to a batch of events, and returns a scalar
or one loss per event (averaged). After :func:`fit_model` the model holds the weights to score with:
the best epoch's (by validation loss), and with ``ema_decay`` those of the moving average.
"""
from __future__ import annotations

import math
import resource
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from torch import nn

from baselines.nn.ema import EMA

Batch = Union[torch.Tensor, dict[str, torch.Tensor]]
Data = Union[torch.Tensor, np.ndarray, Mapping[str, Union[torch.Tensor, np.ndarray]]]
LossFn = Callable[[nn.Module, Batch], torch.Tensor]

SCHEDULES = ("constant", "cosine", "plateau", "exponential")
STOP_REASONS = ("max_epochs", "early_stopping", "time_budget")


@dataclass
class TrainConfig:
    """How to train; a scorer fills it from its hyper-parameters with :meth:`from_params`.

    ``patience``: epochs without a validation improvement larger than ``min_delta`` before
    stopping (``None`` or 0: never). ``schedule``: ``constant``; ``cosine`` (per step to zero over
    ``epochs``); ``plateau`` (multiply by ``plateau_factor`` after ``plateau_patience`` epochs
    without improvement, not below ``min_lr``); ``exponential`` (multiply by ``gamma`` every
    epoch). ``ema_decay``: ``None`` or 0 for none. ``clip_norm``: global gradient-norm clip (``None``
    or 0: none). ``val_fraction``: share of the events held out, drawn from the job seed; 0
    monitors the training loss instead. ``amp``: bf16 autocast, used on CUDA only.
    ``time_margin``: the next epoch is started only if ``time_margin`` times the slowest epoch so
    far still fits in the time budget.
    """

    epochs: int = 100
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    patience: int | None = 10
    min_delta: float = 0.0
    schedule: str = "constant"
    plateau_patience: int = 3
    plateau_factor: float = 0.1
    min_lr: float = 1e-6
    gamma: float = 0.98
    ema_decay: float | None = None
    clip_norm: float | None = None
    val_fraction: float = 0.1
    drop_last: bool = False
    amp: bool = True
    log_every: int = 5
    checkpoint: bool = True
    time_margin: float = 1.5

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"TrainConfig.schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if int(self.epochs) < 1 or int(self.batch_size) < 1:
            raise ValueError(f"TrainConfig needs epochs >= 1 and batch_size >= 1, got {self.epochs}, {self.batch_size}")
        if not 0.0 <= float(self.val_fraction) < 1.0:
            raise ValueError(f"TrainConfig.val_fraction must be in [0, 1), got {self.val_fraction}")
        self.betas = (float(self.betas[0]), float(self.betas[1]))

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **overrides: Any) -> "TrainConfig":
        """The fields of this config found in a scorer's ``params`` (other keys ignored), then
        ``overrides``; so a scorer declares ``epochs``, ``lr``, ... in its defaults and presets."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in params.items() if k in names}
        values.update(overrides)
        return cls(**values)


@dataclass
class TrainingRecord:
    """What a fit did; a scorer sets it as ``self.training_record`` and it lands in the result JSON
    under ``"training"`` (epochs, losses, parameters, device, time and memory per entry)."""

    epochs_run: int
    best_epoch: int
    stop_reason: str
    train_loss: list[float]
    val_loss: list[float]
    n_parameters: int
    wall_time_s: float
    device: str
    peak_memory_mb: float
    seed: int
    best_val_loss: float = math.nan
    monitored: str = "val_loss"
    ema_decay: float | None = None
    final_lr: float = math.nan
    checkpoint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``auto`` (or ``None``) -> CUDA when available, else CPU; an unavailable CUDA fails clearly."""
    name = "auto" if device is None else str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} was requested but torch sees no CUDA device "
                           f"(torch {torch.__version__}, CUDA build: {torch.version.cuda}); use --device cpu or auto")
    return torch.device(name)


def as_tensors(data: Data, device: torch.device | None = None) -> Batch:
    """``data`` as torch tensors (a dict stays a dict), on ``device``, all sharing their first axis."""
    def one(value: Any) -> torch.Tensor:
        t = value if isinstance(value, torch.Tensor) else torch.as_tensor(np.ascontiguousarray(value))
        if t.dtype == torch.float64:
            t = t.float()
        return t.to(device) if device is not None else t

    if isinstance(data, Mapping):
        out = {k: one(v) for k, v in data.items()}
        lengths = {k: len(v) for k, v in out.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"the arrays passed to the training loop differ in length: {lengths}")
        return out
    return one(data)


def n_events(data: Batch) -> int:
    return len(next(iter(data.values()))) if isinstance(data, dict) else len(data)


def take(data: Batch, index: torch.Tensor) -> Batch:
    """The events ``index`` of every array: one gather per array, no per-event Python loop."""
    if isinstance(data, dict):
        return {k: v[index.to(v.device)] for k, v in data.items()}
    return data[index.to(data.device)]


def count_parameters(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def peak_memory_mb(device: torch.device) -> float:
    """Peak CUDA memory allocated on ``device``, else the process's peak resident set size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, KiB on Linux


def _mean_loss(loss: torch.Tensor) -> torch.Tensor:
    return loss.mean() if loss.ndim else loss


def _autocast(device: torch.device, enabled: bool) -> Any:
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=enabled and device.type == "cuda")


def _state_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _scheduler(opt: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int) -> Any:
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, config.epochs * steps_per_epoch))
    if config.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=config.plateau_factor,
                                                          patience=config.plateau_patience, min_lr=config.min_lr)
    if config.schedule == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(opt, gamma=config.gamma)
    return None


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, validation) event indices, a random split drawn from ``seed`` (same seed, same split)."""
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(n, generator=gen)
    n_val = int(round(val_fraction * n)) if val_fraction > 0 else 0
    if val_fraction > 0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    return perm[n_val:].sort().values, perm[:n_val].sort().values


def fit_model(model: nn.Module, loss_fn: LossFn, data: Data, *, config: TrainConfig, context: Any,
              name: str = "model", started: float | None = None,
              on_epoch_end: Callable[[int, nn.Module], None] | None = None) -> TrainingRecord:
    """Train ``model`` in place on ``data`` with ``loss_fn``; return what happened.

    ``context`` is the job's :class:`benchmark.contract.FitContext` (uses ``seed``, ``device``,
    ``workdir``, ``time_budget_s`` and ``log``; anything with those attributes works). ``started``:
    ``time.monotonic()`` when the scorer's fit began, so time spent before the loop (features)
    counts against the budget. ``on_epoch_end(epoch, model)`` runs after every epoch (e.g. a noise
    level that decays per epoch). ``name`` labels log lines and the checkpoint file
    ``<workdir>/<name>-best.pt``.

    On return the model is in eval mode, on the resolved device, holding the weights to score with.
    """
    t_start = time.monotonic()
    started = t_start if started is None else started
    seed = int(getattr(context, "seed", 0))
    device = resolve_device(getattr(context, "device", "auto"))
    log: Callable[[str], None] = getattr(context, "log", None) or (lambda message: None)
    budget = getattr(context, "time_budget_s", None)
    workdir = getattr(context, "workdir", None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    torch.manual_seed(seed)  # dropout, noise and sampling inside the loss: reproducible per job seed
    model.to(device)
    tensors = as_tensors(data, device)
    n = n_events(tensors)
    if n < 1:
        raise ValueError(f"{name}: no training events")
    train_idx, val_idx = split_indices(n, config.val_fraction, seed)
    monitored = "val_loss" if len(val_idx) else "train_loss"
    shuffle = torch.Generator().manual_seed(seed + 1)

    bs = min(int(config.batch_size), len(train_idx))
    steps = len(train_idx) // bs if config.drop_last else math.ceil(len(train_idx) / bs)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.lr,
                            betas=config.betas, weight_decay=config.weight_decay)
    sched = _scheduler(opt, config, steps)
    ema = EMA(model, config.ema_decay) if config.ema_decay else None
    patience = int(config.patience or 0)
    clip = float(config.clip_norm or 0.0)

    record = TrainingRecord(epochs_run=0, best_epoch=0, stop_reason="max_epochs", train_loss=[], val_loss=[],
                            n_parameters=count_parameters(model), wall_time_s=0.0, device=str(device),
                            peak_memory_mb=0.0, seed=seed, monitored=monitored, ema_decay=config.ema_decay or None)
    best, best_state, since_best, slowest, last_save = math.inf, _state_copy(model), 0, 0.0, -math.inf
    ckpt = Path(workdir) / f"{name}-best.pt" if (workdir is not None and config.checkpoint) else None
    log(f"{name}: {record.n_parameters} parameters, {len(train_idx)} train / {len(val_idx)} validation events, "
        f"device {device}, up to {config.epochs} epochs")

    for epoch in range(1, int(config.epochs) + 1):
        t_epoch = time.monotonic()
        if budget is not None and epoch > 1 and (t_epoch - started) + config.time_margin * slowest > budget:
            record.stop_reason = "time_budget"
            log(f"{name}: stopping before epoch {epoch}: the time budget of {budget:.0f} s would be exceeded "
                f"(slowest epoch {slowest:.1f} s, {t_epoch - started:.0f} s used)")
            break
        model.train()
        order = train_idx[torch.randperm(len(train_idx), generator=shuffle)]
        total, seen = 0.0, 0
        for step in range(steps):
            index = order[step * bs:(step + 1) * bs]
            with _autocast(device, config.amp):
                loss = _mean_loss(loss_fn(model, take(tensors, index)))
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{name}: non-finite training loss {loss.item()} at epoch {epoch}, step "
                                         f"{step}; lower lr (now {opt.param_groups[0]['lr']:.3g}) or set clip_norm")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            if ema is not None:
                ema.update(model)
            if config.schedule == "cosine":
                sched.step()
            total += float(loss.detach()) * len(index)
            seen += len(index)
        record.train_loss.append(total / max(seen, 1))

        if len(val_idx):
            if ema is not None:
                with ema.swapped_in(model):
                    val = evaluate_loss(model, loss_fn, tensors, val_idx, bs, amp=config.amp)
            else:
                val = evaluate_loss(model, loss_fn, tensors, val_idx, bs, amp=config.amp)
            record.val_loss.append(val)
        else:
            val = record.train_loss[-1]
        if not math.isfinite(val):
            raise FloatingPointError(f"{name}: non-finite {monitored} {val} at epoch {epoch}")
        if config.schedule == "plateau":
            sched.step(val)
        elif config.schedule == "exponential":
            sched.step()
        record.epochs_run = epoch

        if val < best - config.min_delta:
            best, since_best, record.best_epoch = val, 0, epoch
            best_state = {k: v.clone() for k, v in ema.shadow.items()} if ema is not None else _state_copy(model)
            if ckpt is not None and time.monotonic() - last_save > 30.0:
                _save(ckpt, best_state, epoch, val)
                last_save = time.monotonic()
        else:
            since_best += 1
        if on_epoch_end is not None:
            on_epoch_end(epoch, model)
        slowest = max(slowest, time.monotonic() - t_epoch)
        if epoch == 1 or epoch % max(1, int(config.log_every)) == 0:
            log(f"{name}: epoch {epoch}/{config.epochs} train {record.train_loss[-1]:.6g} "
                f"{'val ' + format(val, '.6g') + ' ' if len(val_idx) else ''}lr {opt.param_groups[0]['lr']:.3g} "
                f"best {best:.6g} (epoch {record.best_epoch}) {time.monotonic() - t_epoch:.1f} s/epoch")
        if patience and since_best >= patience:
            record.stop_reason = "early_stopping"
            break
        if budget is not None and time.monotonic() - started > budget:
            record.stop_reason = "time_budget"
            log(f"{name}: time budget of {budget:.0f} s used up after epoch {epoch}")
            break

    model.load_state_dict(best_state)
    model.eval()
    if ckpt is not None:
        _save(ckpt, best_state, record.best_epoch, best)
        record.checkpoint = str(ckpt)
    record.best_val_loss = float(best)
    record.final_lr = float(opt.param_groups[0]["lr"])
    record.wall_time_s = time.monotonic() - t_start
    record.peak_memory_mb = peak_memory_mb(device)
    log(f"{name}: stopped ({record.stop_reason}) after {record.epochs_run} epochs in {record.wall_time_s:.1f} s; "
        f"best {monitored} {best:.6g} at epoch {record.best_epoch}")
    return record


def _save(path: Path, state: dict[str, torch.Tensor], epoch: int, loss: float) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"state_dict": state, "epoch": epoch, "loss": loss}, tmp)
    tmp.replace(path)


@torch.no_grad()
def evaluate_loss(model: nn.Module, loss_fn: LossFn, data: Batch, index: torch.Tensor, batch_size: int, *,
                  amp: bool = False) -> float:
    """Mean loss over the events ``index`` (eval mode, no gradients), batch-size weighted."""
    model.eval()
    device = next(model.parameters()).device
    total = 0.0
    for start in range(0, len(index), batch_size):
        sub = index[start:start + batch_size]
        with _autocast(device, amp):
            total += float(_mean_loss(loss_fn(model, take(data, sub)))) * len(sub)
    return total / max(len(index), 1)


@torch.no_grad()
def predict(model: nn.Module, data: Data, fn: Callable[[nn.Module, Batch], torch.Tensor] | None = None, *,
            batch_size: int = 4096, device: str | torch.device | None = None) -> np.ndarray:
    """``fn(model, batch)`` (default ``model(batch)``) over ``data`` in batches, concatenated as numpy.

    Eval mode and no gradients; the model scores with the weights :func:`fit_model` left in it (the
    best epoch's, EMA-averaged when EMA was on). Runs on the model's device unless ``device``.
    """
    dev = resolve_device(device) if device is not None else next(model.parameters()).device
    model.to(dev).eval()
    tensors = as_tensors(data)
    fn = fn or (lambda m, b: m(b))
    outs = []
    n = n_events(tensors)
    for start in range(0, n, int(batch_size)):
        index = torch.arange(start, min(start + int(batch_size), n))
        batch = take(tensors, index)
        batch = {k: v.to(dev) for k, v in batch.items()} if isinstance(batch, dict) else batch.to(dev)
        outs.append(fn(model, batch).float().cpu())
    return torch.cat(outs).numpy() if outs else np.zeros(0, np.float32)
