"""Dirichlet VAE of "What's Anomalous in LHC Jets?" (baselines/dvae.py): the softmax-Gaussian prior
and its KL, determinism, and top-vs-QCD separation on the shipped generated samples."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from baselines.dvae import DirichletVAE, dirichlet_prior, gaussian_kl
from benchmark.contract import FitContext, load_scorer
from benchmark.runner import plan_jobs, run_jobs
from test_nn_training import jets


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def smoke_auc(scorer: str, results, params: dict | None = None, task: str = "top/qcd-vs-top") -> tuple[float, dict]:
    """AUC and training record of ``scorer`` at preset smoke on the shipped generated samples,
    in-process with the quick suite's sizes (train 1500, test 1000)."""
    jobs = plan_jobs(tasks=[task], scorers=[scorer], seeds=1, source="generated", results_dir=results,
                     params=params or {}, preset="smoke", sizes={"train": 1500, "test": 1000}, n_boot=0)
    summary = run_jobs(jobs, progress=False)
    assert not summary.failed, summary.failed
    record = json.loads(jobs[0].result_path.read_text())
    return record["metrics"]["auc"], record


def test_prior_matches_eq14():
    mu, var = dirichlet_prior([1.0, 0.1])
    log_a = np.log([1.0, 0.1])
    assert np.allclose(mu.numpy(), log_a - log_a.mean(), atol=1e-6)
    assert np.allclose(var.numpy(), [(1 + 10) / 4] * 2, atol=1e-6)          # 1 - 2/R = 0 for R = 2
    mu3, var3 = dirichlet_prior([1.0, 0.25, 0.1])
    a = np.array([1.0, 0.25, 0.1])
    assert np.allclose(var3.numpy(), (1 - 2 / 3) / a + (1 / a).sum() / 9, atol=1e-5)
    with pytest.raises(ValueError, match="'alpha' must list R >= 2 positive"):
        dirichlet_prior([1.0, -0.1])


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    mu0, var0 = dirichlet_prior([1.0, 0.1])
    at_prior = gaussian_kl(mu0[None], var0.log()[None], mu0, var0)
    assert torch.allclose(at_prior, torch.zeros(1), atol=1e-6)
    gen = torch.Generator().manual_seed(0)
    mu = mu0 + torch.randn(200, 2, generator=gen)
    logvar = var0.log() + torch.randn(200, 2, generator=gen)
    kl = gaussian_kl(mu, logvar, mu0, var0)
    assert (kl > 0).all()
    # the model's KL uses the same prior buffers
    model = DirichletVAE(16, [1.0, 0.1], hidden=8)
    assert torch.allclose(model.kl(mu, logvar), kl)
    assert model.dominant_mode() == 0


def test_decoder_is_bias_free_softmax_and_reconstruction_loss_is_a_kl():
    model = DirichletVAE(25, [1.0, 0.1], hidden=8).eval()
    assert model.decoder.bias is None
    x = torch.softmax(torch.randn(5, 25), dim=-1)
    mu, logvar, reco = model(x)
    assert torch.allclose(reco.exp().sum(-1), torch.ones(5), atol=1e-5)
    assert (model.reconstruction_loss(x, reco) >= -1e-6).all()
    assert torch.allclose(model.reconstruction_loss(x, x.log()), torch.zeros(5), atol=1e-5)


def dvae_scores(seed: int, tmp_path, **params) -> np.ndarray:
    scorer = load_scorer("dvae", {"npix": 16, "epochs": 2, **params}, "smoke")
    ctx = FitContext(task="toy", protocol="unsupervised", seed=seed, device="cpu", workdir=tmp_path,
                     params=dict(scorer.params), preset="smoke", log=lambda message: None)
    prongs = 3 if scorer.params["inputs"] == "efp" else 1   # EFPs of the 1-prong toy are nearly degenerate
    scorer.fit(jets(300, 1, prongs=prongs), context=ctx)
    return scorer.score(jets(100, 2, prongs=3))


@pytest.mark.parametrize("params", [{}, {"inputs": "efp", "score": "kl"}, {"inputs": "efp", "efp_scaling": "standard",
                                                                            "score": "latent"}])
def test_same_seed_same_scores(tmp_path, params):
    a, b, c = dvae_scores(0, tmp_path, **params), dvae_scores(0, tmp_path, **params), dvae_scores(1, tmp_path, **params)
    assert a.shape == (100,) and np.isfinite(a).all()
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_bad_options_name_the_param():
    with pytest.raises(ValueError, match="param 'score' must be one of"):
        load_scorer("dvae", {"score": "recon"})
    with pytest.raises(ValueError, match="param 'inputs' must be one of"):
        load_scorer("dvae", {"inputs": "image"})


@pytest.mark.parametrize("params", [{}, {"inputs": "efp"}])
def test_separates_top_from_qcd(tmp_path, params):
    auc, record = smoke_auc("dvae", tmp_path / "results", params)
    assert auc > 0.6, auc
    assert record["training"]["epochs_run"] == 25 and record["training"]["n_parameters"] > 0
