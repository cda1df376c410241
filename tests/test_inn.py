"""INN of "What's Anomalous in LHC Jets?" (baselines/inn.py) and its coupling blocks
(baselines/nn/coupling.py): exact inverse and Jacobian, a normalised physics-space density, the x^n
reweighting of Eq. 21, determinism, and top-vs-QCD separation on the shipped generated samples."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from baselines.inn import PCAWhitening, fit_inn, leading_jet_efps, reweighting_shift
from baselines.nn.coupling import AffineCoupling, CouplingINN, random_rotation
from benchmark.contract import FitContext, load_scorer
from test_dvae import smoke_auc
from test_nn_training import jets


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_rotations_are_fixed_special_orthogonal():
    q = random_rotation(8, torch.Generator().manual_seed(3)).double()
    assert torch.allclose(q @ q.T, torch.eye(8, dtype=torch.float64), atol=1e-6)
    assert torch.det(q).item() == pytest.approx(1.0, abs=1e-5)
    a, b = CouplingINN(4, blocks=3, hidden=8, seed=1), CouplingINN(4, blocks=3, hidden=8, seed=1)
    assert torch.equal(a.rotations, b.rotations) and "rotations" in a.state_dict()
    assert not any(p is a.rotations for p in a.parameters())          # fixed: never trained


def test_inverse_and_log_det_match_autograd_jacobian():
    torch.manual_seed(0)
    inn = CouplingINN(5, blocks=4, hidden=16, scale=1.0).double()
    for block in inn.couplings:          # leave the zero-initialised identity start
        torch.nn.init.normal_(block.subnet.net[-1].weight, std=1.0)
    x = torch.randn(6, 5, dtype=torch.float64)
    z, log_det = inn(x)
    assert torch.allclose(inn.inverse(z), x, atol=1e-10)
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(lambda v: inn(v[None])[0][0], x[i])
        assert log_det[i].item() == pytest.approx(torch.linalg.slogdet(jac)[1].item(), abs=1e-6)  # rotations stored in float32


def test_soft_clamp_bounds_the_log_scale():
    block = AffineCoupling(4, hidden=8, clamp=2.0, scale=1.0)
    torch.nn.init.constant_(block.subnet.net[-1].bias, 100.0)
    _, log_det = block(torch.zeros(3, 4))
    assert torch.allclose(log_det, torch.full((3,), 2.0 * 2), atol=1e-5)   # 2 tanh(100) = 2 per dimension


def context(seed: int = 0) -> SimpleNamespace:
    return SimpleNamespace(seed=seed, device="cpu", workdir=None, time_budget_s=None, log=lambda message: None)


TOY_PARAMS = {"blocks": 6, "hidden": 64, "clamp": 2.0, "noise": 0.0, "noise_decay": 1.0, "epochs": 60,
              "batch_size": 256, "lr": 3e-3, "betas": [0.9, 0.999], "schedule": "constant", "patience": 0,
              "val_fraction": 0.0, "checkpoint": False}


def test_density_integrates_to_one_in_physics_space():
    """A short fit on a stretched 2-D Gaussian mixture: exp(log p) on a grid sums to 1 within 5 %.
    The data are far from unit scale, so dropping the PCA Jacobian would miss by a factor ~8."""
    rng = np.random.default_rng(0)
    n = 3000
    centres = np.array([[-6.0, 0.0], [6.0, 1.0]])
    x = centres[rng.integers(0, 2, n)] + rng.normal(0, [2.0, 0.5], (n, 2))
    model, record = fit_inn(x, TOY_PARAMS, context())
    assert record.train_loss[-1] < record.train_loss[0]
    gx, gy = np.linspace(-20, 20, 321), np.linspace(-6, 7, 201)
    grid = np.stack(np.meshgrid(gx, gy, indexing="ij"), -1).reshape(-1, 2)
    with torch.no_grad():
        dens = model.log_prob(torch.as_tensor(grid, dtype=torch.float32)).exp().numpy()
    integral = dens.sum() * (gx[1] - gx[0]) * (gy[1] - gy[0])
    assert integral == pytest.approx(1.0, abs=0.05)
    assert abs(model.pca_log_det) > 1.0


def test_pca_whitening_is_white_and_its_log_det_is_exact():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5000, 3)) @ np.array([[3.0, 0, 0], [1.0, 0.5, 0], [0, 0.2, 0.1]]) + 7.0
    pca = PCAWhitening().fit(x)
    w = pca.transform(x)
    assert np.allclose(w.mean(0), 0, atol=1e-10) and np.allclose(np.cov(w, rowvar=False), np.eye(3), atol=1e-8)
    assert pca.log_abs_det == pytest.approx(np.linalg.slogdet(pca.matrix_)[1], abs=1e-10)


def fitted_inn(seed: int, tmp_path, **params):
    scorer = load_scorer("inn", {"epochs": 3, **params}, "smoke")
    ctx = FitContext(task="toy", protocol="unsupervised", seed=seed, device="cpu", workdir=tmp_path,
                     params=dict(scorer.params), preset="smoke", log=lambda message: None)
    return scorer.fit(jets(400, 1), context=ctx)


def test_xn_reweighting_is_the_analytic_jacobian_shift(tmp_path):
    scorer = fitted_inn(0, tmp_path)
    events = jets(100, 2, prongs=3)
    x = leading_jet_efps(events, 1.0, 1.0)
    scores = {}
    for n in (0.0, 1 / 3, 0.5, 1.0):
        scorer.params["n"] = n
        scores[n] = scorer.score(events)
    log_x = np.log(x + 1e-10).sum(-1)
    for n in (1 / 3, 0.5, 1.0):
        assert np.allclose(scores[n] - scores[0.0], n * log_x, rtol=0, atol=1e-9)   # Eq. 21
    # n = 1 is the plain physics-space density of the EFPs
    assert np.allclose(scores[1.0], -scorer.log_prob(events), rtol=0, atol=1e-9)
    assert np.allclose(reweighting_shift(x, 0.25, 0.0), -0.75 * np.log(x).sum(-1))


@pytest.mark.parametrize("score", ["nll", "latent"])
def test_same_seed_same_scores(tmp_path, score):
    events = jets(100, 2, prongs=3)
    a, b, c = (fitted_inn(s, tmp_path, score=score).score(events) for s in (0, 0, 1))
    assert a.shape == (100,) and np.isfinite(a).all()
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_separates_top_from_qcd(tmp_path):
    auc, record = smoke_auc("inn", tmp_path / "results")
    assert auc > 0.6, auc
    assert record["training"]["extra"]["final_noise"] < 0.1
