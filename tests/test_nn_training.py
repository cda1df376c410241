"""The shared training loop (baselines.nn.training) and its first consumer, the dense image AE."""
from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from baselines.nn.training import TrainConfig, fit_model, predict, split_indices
from benchmark.contract import FitContext, load_scorer
from benchmark.events import EventSet, make_event_ids


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def context(tmp_path: Path | None = None, seed: int = 0, budget: float | None = None, log=None):
    return SimpleNamespace(seed=seed, device="cpu", workdir=tmp_path, time_budget_s=budget,
                           log=log or (lambda message: None))


class Scalar(nn.Module):
    """One weight w; training pulls it to 5, validation prefers 1: validation loss falls, then rises."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0 + self.w


def pulled_loss(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    target = 5.0 if model.training else 1.0
    return (model(batch) - target) ** 2


def test_early_stopping_stops_on_plateau_and_restores_best_weights(tmp_path):
    model, seen = Scalar(), {}
    config = TrainConfig(epochs=200, batch_size=1000, lr=0.1, patience=4, val_fraction=0.2)
    record = fit_model(model, pulled_loss, torch.zeros(100), config=config, context=context(tmp_path),
                       on_epoch_end=lambda epoch, m: seen.__setitem__(epoch, float(m.w.detach())))
    assert record.stop_reason == "early_stopping"
    assert record.epochs_run == record.best_epoch + 4 < 200
    assert np.argmin(record.val_loss) + 1 == record.best_epoch
    assert float(model.w.detach()) == pytest.approx(seen[record.best_epoch])
    assert abs(seen[record.epochs_run] - 1) > 0.2
    assert abs(float(model.w.detach()) - 1.0) < 0.15                        # the weights that fit validation best
    saved = torch.load(record.checkpoint)
    assert saved["epoch"] == record.best_epoch and float(saved["state_dict"]["w"]) == pytest.approx(float(model.w.detach()))
    assert len(record.train_loss) == len(record.val_loss) == record.epochs_run


def test_time_budget_stops_cleanly_before_max_epochs():
    lines: list[str] = []
    t0 = time.monotonic()
    record = fit_model(Scalar(), pulled_loss, torch.zeros(50), config=TrainConfig(epochs=10_000, patience=0),
                       context=context(budget=2.0, log=lines.append),
                       on_epoch_end=lambda epoch, m: time.sleep(0.2))
    assert record.stop_reason == "time_budget"
    assert 2 <= record.epochs_run < 20
    assert time.monotonic() - t0 < 2.0                              # stopped before the budget ran out
    assert any("time budget" in line for line in lines)
    assert record.to_dict()["stop_reason"] == "time_budget"


def test_ema_weights_are_the_ones_kept_and_scored():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    x = torch.randn(64, 3)
    y = x.sum(1, keepdim=True)

    def loss(m: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return ((m(batch["x"]) - batch["y"]) ** 2).mean(1)

    decay, shadow, raw = 0.8, {k: v.clone() for k, v in model.state_dict().items()}, {}

    def track(epoch: int, m: nn.Module) -> None:  # one step per epoch: the EMA by hand
        for k, v in m.state_dict().items():
            shadow[k] = decay * shadow[k] + (1 - decay) * v
        raw[epoch] = {k: v.clone() for k, v in shadow.items()}, {k: v.clone() for k, v in m.state_dict().items()}

    config = TrainConfig(epochs=15, batch_size=1000, lr=0.05, patience=0, val_fraction=0.25, ema_decay=decay)
    record = fit_model(model, loss, {"x": x, "y": y}, config=config, context=context(), on_epoch_end=track)
    ema_state, raw_state = raw[record.best_epoch]
    for k, v in model.state_dict().items():
        assert torch.allclose(v, ema_state[k], atol=1e-6), k
    scores = predict(model, {"x": x, "y": y}, loss)
    raw_model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    raw_model.load_state_dict(raw_state)
    raw_scores = predict(raw_model, {"x": x, "y": y}, loss)
    assert not np.allclose(scores, raw_scores, rtol=1e-3)
    assert record.ema_decay == decay


def test_validation_split_follows_the_seed():
    a, b, c = (split_indices(100, 0.2, s) for s in (0, 0, 1))
    assert torch.equal(a[1], b[1]) and not torch.equal(a[1], c[1])
    assert len(a[1]) == 20 and len(set(a[0].tolist()) | set(a[1].tolist())) == 100


def jets(n: int, seed: int, prongs: int = 1) -> EventSet:
    """Jets of 24 particles spread around 1 or 3 prongs in (eta, phi), enough structure for images."""
    rng = np.random.default_rng(seed)
    cons = np.zeros((n, 1, 24, 4), np.float32)
    centres = rng.normal(0, 0.25, (n, prongs, 2)) * (prongs > 1)
    which = rng.integers(0, prongs, (n, 24))
    pos = np.take_along_axis(centres, which[..., None], 1) + rng.normal(0, 0.05, (n, 24, 2))
    pt = -np.sort(-rng.exponential(20, (n, 24)), axis=1)
    cons[:, 0, :, 0], cons[:, 0, :, 1], cons[:, 0, :, 2], cons[:, 0, :, 3] = pt, pos[..., 0], pos[..., 1], pt
    return EventSet({"constituents": cons, "constituents_mask": np.ones((n, 1, 24), bool),
                     "jets": np.zeros((n, 1, 4)), "weights": np.ones(n)}, make_event_ids(f"j{prongs}-{seed}", n))


def dense_ae_scores(seed: int, tmp_path: Path) -> tuple[np.ndarray, dict]:
    scorer = load_scorer("dense-ae", {"npix": 16, "epochs": 2}, "smoke")
    ctx = FitContext(task="toy", protocol="unsupervised", seed=seed, device="cpu", workdir=tmp_path,
                     params=dict(scorer.params), preset="smoke", log=lambda message: None)
    scorer.fit(jets(300, 1), context=ctx)
    return scorer.score(jets(100, 2, prongs=3)), scorer.training_record.to_dict()


def test_dense_ae_same_seed_same_scores_other_seed_different(tmp_path):
    a, rec = dense_ae_scores(0, tmp_path)
    b, _ = dense_ae_scores(0, tmp_path)
    c, _ = dense_ae_scores(1, tmp_path)
    assert a.shape == (100,) and np.isfinite(a).all()
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    assert rec["epochs_run"] == 2 and rec["seed"] == 0 and rec["n_parameters"] > 0


REGISTRY = """
schema: 1
datasets:
  toyjets:
    title: toy jets with structure in their images
    kind: jets
    arrays: [constituents, constituents_mask, jets, weights]
    classes:
      bkg: {role: background}
      sig: {role: signal}
    sources:
      generated: {recipe: none, version: t1}
tasks:
  toyjets/unsup:
    version: 1
    dataset: toyjets
    protocol: unsupervised
    background: [toyjets:bkg]
    signal: [toyjets:sig]
    sizes: {train: 300, test: 200}
    representation: images
    metrics: [auc]
"""


def test_training_record_lands_in_the_result_json(tmp_path, monkeypatch, _isolated_cache):
    from benchmark.runner import plan_jobs, run_jobs

    reg = tmp_path / "datasets.yaml"
    reg.write_text(REGISTRY)
    monkeypatch.setenv("LHCAD_REGISTRY", str(reg))
    jets(600, 10).save(_isolated_cache / "toyjets" / "generated" / "bkg.h5")
    jets(300, 11, prongs=3).save(_isolated_cache / "toyjets" / "generated" / "sig.h5")
    jobs = plan_jobs(tasks=["toyjets/unsup"], scorers=["dense-ae"], seeds=1, source="generated",
                     results_dir=tmp_path / "results", params={"npix": 16}, preset="smoke", n_boot=0)
    summary = run_jobs(jobs, progress=False)
    assert not summary.failed, summary.failed
    record = json.loads(jobs[0].result_path.read_text())
    training = record["training"]
    assert training["stop_reason"] == "max_epochs" and training["epochs_run"] == 10
    assert len(training["train_loss"]) == 10 and training["device"] == "cpu" and training["n_parameters"] > 0
    assert training["wall_time_s"] > 0 and training["peak_memory_mb"] > 0
    assert 0.0 <= record["metrics"]["auc"] <= 1.0


@pytest.mark.gpu
def test_dense_ae_trains_on_cuda_with_bf16_autocast(tmp_path):
    scorer = load_scorer("dense-ae", {"npix": 16}, "smoke")
    ctx = FitContext(task="toy", protocol="unsupervised", seed=0, device="auto", workdir=tmp_path,
                     params=dict(scorer.params), preset="smoke", log=lambda message: None)
    scorer.fit(jets(2000, 1), context=ctx)
    record = scorer.training_record.to_dict()
    assert record["device"].startswith("cuda") and record["peak_memory_mb"] > 0
    scores = scorer.score(jets(500, 2, prongs=3))
    assert scores.shape == (500,) and np.isfinite(scores).all()
