"""Point-cloud diffusion density (baselines/nn/diffusion.py, baselines/diffusion.py) and its
supervised classifier (baselines/pointcloud_classifier.py): the schedule, the two loss weightings,
the probability-flow likelihood against a Gaussian point cloud whose density is known, permutation
invariance, and both scorers end to end at ``smoke`` on the shipped generated samples."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from baselines.nn.diffusion import (CosineLogSNR, diffusion_loss, log_likelihood, sample_ddim,
                                    score_from_velocity, velocity_from_score)
from baselines.nn.pointcloud import ParticleClassifierNet, ParticleVelocityNet
from test_dvae import smoke_auc

pytestmark = pytest.mark.usefixtures("torch_one_thread")

SCHEDULE = CosineLogSNR()
#: per-feature mean and width of the toy Gaussian particles (3 features, as deta, dphi, log(1 - pT_rel))
TOY_MU = torch.tensor([0.0, 0.0, 0.0], dtype=torch.float64)
TOY_SIGMA = torch.tensor([0.5, 1.6, 0.8], dtype=torch.float64)


def gaussian_velocity(mu: torch.Tensor, sigma: torch.Tensor):
    """The exact v of data ~ N(mu, diag sigma^2) per particle: the diffused marginal at log-SNR lambda
    is N(alpha mu, alpha^2 sigma^2 + sigma_lambda^2), its score turned into a velocity."""
    def net(x, t, cond, mask):
        logsnr = SCHEDULE.logsnr_min + t * (SCHEDULE.logsnr_max - SCHEDULE.logsnr_min)
        shape = (-1,) + (1,) * (x.ndim - 1)
        a2, s2 = torch.sigmoid(logsnr).reshape(shape), torch.sigmoid(-logsnr).reshape(shape)
        score = -(x - a2.sqrt() * mu) / (a2 * sigma**2 + s2)
        return velocity_from_score(x, score, logsnr)
    return net


def gaussian_cloud(n_jets: int, max_particles: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    n = torch.randint(1, max_particles + 1, (n_jets,), generator=gen)
    mask = torch.arange(max_particles)[None] < n[:, None]
    x = TOY_MU + TOY_SIGMA * torch.randn(n_jets, max_particles, 3, generator=gen, dtype=torch.float64)
    return x * mask[..., None], mask


def exact_log_density(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log of the data density the ODE starts from: the marginal at log-SNR lambda_max - 2 margin."""
    logsnr = torch.tensor(SCHEDULE.logsnr_max - 2e-4, dtype=torch.float64)
    a2, s2 = torch.sigmoid(logsnr), torch.sigmoid(-logsnr)
    normal = torch.distributions.Normal(a2.sqrt() * TOY_MU, (a2 * TOY_SIGMA**2 + s2).sqrt())
    return (normal.log_prob(x).sum(-1) * mask).sum(1)


def test_ddim_sampler_of_the_exact_model_draws_the_data_law():
    """With the exact v of data ~ N(mu, sigma^2) the sampler must turn noise into that law: means
    and widths per feature (a sign or direction error lands at -mu or at the noise), padded entries
    stay zero, and the sampler converges at its order: first for DDIM, second with the midpoint
    correction."""
    mu = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    net = gaussian_velocity(mu, TOY_SIGMA)
    gen = torch.Generator().manual_seed(3)
    z = torch.randn(8000, 4, 3, generator=gen, dtype=torch.float64)
    mask = torch.ones(8000, 4, dtype=torch.bool)
    mask[:, 3] = False
    x = sample_ddim(net, z, schedule=SCHEDULE, mask=mask, steps=32)
    real = x[:, :3].reshape(-1, 3)
    assert torch.all(x[:, 3] == 0)
    assert torch.allclose(real.mean(0), mu, atol=0.03), real.mean(0)
    assert torch.allclose(real.std(0), TOY_SIGMA, rtol=0.03), real.std(0)
    small = z[:500]
    converged = sample_ddim(net, small, schedule=SCHEDULE, steps=1024)
    err = {(s, n): (sample_ddim(net, small, schedule=SCHEDULE, steps=n, solver=s) - converged).abs().max().item()
           for s in ("ddim", "midpoint") for n in (16, 32)}
    # halving the step: error / 2 for DDIM (first order), / 4 with the midpoint correction (second order)
    assert 1.6 < err["ddim", 16] / err["ddim", 32] < 2.5, err
    assert 3.2 < err["midpoint", 16] / err["midpoint", 32] < 5.0, err
    assert err["midpoint", 16] < 0.5 * err["ddim", 32], err
    with pytest.raises(ValueError, match="sampler"):
        sample_ddim(net, small, schedule=SCHEDULE, solver="rk4")


def test_schedule_endpoints_inverse_and_variance_preserving():
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    lam = SCHEDULE.logsnr(t)
    assert lam[0].item() == pytest.approx(10.0, abs=1e-9) and lam[-1].item() == pytest.approx(-10.0, abs=1e-9)
    assert bool((lam[1:] < lam[:-1]).all())                                   # monotonic: data -> noise
    assert torch.allclose(SCHEDULE.time(lam), t, atol=1e-12)
    alpha, sigma = SCHEDULE.alpha_sigma(lam)
    assert torch.allclose(alpha**2 + sigma**2, torch.ones_like(lam))
    assert torch.allclose(torch.log(alpha**2 / sigma**2), lam, atol=1e-9)
    # v <-> score round trip
    x, v = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    assert torch.allclose(velocity_from_score(x, score_from_velocity(x, v, lam[2:6]), lam[2:6]), v)


@pytest.mark.parametrize("weighting, expected", [("standard", 1.0), ("likelihood", 0.5)])
def test_loss_of_the_exact_model_of_white_noise_and_masking(weighting, expected):
    """Data ~ N(0, 1): the exact velocity is 0 at every lambda. Its v-loss is E|alpha eps - sigma x|^2
    = 1 per dimension; its eps-loss is E alpha^2 = mean of sigmoid(lambda) over U(-10, 10) = 1/2.
    Padded particles count nowhere: a jet with n of P particles has n/P of the full loss."""
    gen = torch.Generator().manual_seed(0)
    B, P = 4000, 8
    n = torch.randint(1, P + 1, (B,), generator=gen)
    mask = torch.arange(P)[None] < n[:, None]
    x = torch.randn(B, P, 3, generator=gen, dtype=torch.float64) * mask[..., None]

    def zero(xt, t, cond, m):
        return torch.zeros_like(xt) + 1e6 * (~m[..., None])       # garbage on padding must not matter

    loss = diffusion_loss(zero, x, schedule=SCHEDULE, weighting=weighting, mask=mask, generator=gen)
    full = loss * P / n
    assert full.mean().item() == pytest.approx(expected, rel=0.04)
    with pytest.raises(ValueError, match="weighting must be one of"):
        diffusion_loss(zero, x, schedule=SCHEDULE, weighting="sigma2", mask=mask)


@pytest.mark.parametrize("divergence, n_jets, max_particles", [("hutchinson", 12, 10), ("exact", 3, 4)])
def test_likelihood_of_a_gaussian_point_cloud_of_varying_multiplicity(divergence, n_jets, max_particles):
    """The exact Gaussian velocity in the batched ODE likelihood gives the known density of every jet
    (sum over its real particles) within 2e-3 nats at rtol 1e-4. A prior that counted padded
    particles would be off by 0.5 log(2 pi) + z^2/2 per padded dimension."""
    x, mask = gaussian_cloud(n_jets, max_particles, seed=1)
    ll = log_likelihood(gaussian_velocity(TOY_MU, TOY_SIGMA), x, schedule=SCHEDULE, mask=mask,
                        divergence=divergence, rtol=1e-4, atol=1e-5)
    truth = exact_log_density(x, mask)
    assert torch.allclose(ll, truth, atol=2e-3), (ll - truth)
    # the densities are far from a standard normal's, so the check has teeth
    assert (truth - torch.distributions.Normal(0.0, 1.0).log_prob(x).mul(mask[..., None]).sum((1, 2))).abs().max() > 1


def test_likelihood_of_shifted_features_with_a_loose_per_sample_tolerance():
    """Non-centred data: the standard-normal prior at lambda_min = -10 is only approximately the
    diffused marginal (mean alpha mu, alpha = 0.0067), an error below 0.02 nats per dimension."""
    mu = torch.tensor([0.8, -0.5, 1.2], dtype=torch.float64)
    x, mask = gaussian_cloud(6, 5, seed=2)
    x = (x + mu) * mask[..., None]
    ll = log_likelihood(gaussian_velocity(mu, TOY_SIGMA), x, schedule=SCHEDULE, mask=mask, divergence="hutchinson",
                        rtol=1e-3, atol=1e-4, norm="per_sample")
    logsnr = torch.tensor(SCHEDULE.logsnr_max - 2e-4, dtype=torch.float64)
    a2, s2 = torch.sigmoid(logsnr), torch.sigmoid(-logsnr)
    truth = (torch.distributions.Normal(a2.sqrt() * mu, (a2 * TOY_SIGMA**2 + s2).sqrt()).log_prob(x).sum(-1)
             * mask).sum(1)
    dims = 3 * mask.sum(1)
    assert bool(((ll - truth).abs() < 0.02 * dims).all()), (ll - truth)


def random_particle_net(seed: int = 0) -> ParticleVelocityNet:
    """A small particle network with a non-zero (random) head, so it is not trivially invariant. Its
    time frequencies are scaled down 1000-fold: an untrained net of sin(1000 t f_k) oscillates in t
    and an adaptive solver needs ~1000 steps; the permutation property does not depend on it."""
    torch.manual_seed(seed)
    net = ParticleVelocityNet(3, 4, dim=16, heads=2, blocks=2, ff_dim=32, embed=8, head_dim=16).double()
    torch.nn.init.normal_(net.head.net[-1].weight, std=0.3)
    net.condition.time.embedding.freqs /= 1000.0
    return net.eval()


def test_likelihood_is_permutation_invariant():
    """One jet of 5 particles in 10 orders, its 3 padded slots at different positions each time, all
    in one batch: the log-likelihood (exact divergence) agrees to 1e-6; solved alone, one order agrees
    within the solver tolerance (rtol 1e-3 of |log p|); a different jet does not."""
    gen = torch.Generator().manual_seed(3)
    P, n = 8, 5
    particles = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    jet = torch.randn(1, 4, generator=gen, dtype=torch.float64)
    xs, masks = [], []
    for _ in range(10):
        slots = torch.randperm(P, generator=gen)[:n]                 # where the real particles sit
        x = torch.zeros(P, 3, dtype=torch.float64)
        x[slots] = particles[torch.randperm(n, generator=gen)]
        m = torch.zeros(P, dtype=torch.bool)
        m[slots] = True
        xs.append(x)
        masks.append(m)
    other = xs[0].clone()
    other[masks[0]] = other[masks[0]] * 1.5                           # another jet, last in the batch
    x, mask = torch.stack([*xs, other]), torch.stack([*masks, masks[0]])
    net = random_particle_net()
    solve = {"schedule": SCHEDULE, "divergence": "exact", "rtol": 1e-3, "atol": 1e-4}
    ll = log_likelihood(net, x, cond=jet.expand(11, 4), mask=mask, **solve)
    assert ll[:10].std().item() < 1e-6, ll
    assert ll[0].abs().item() > 1.0 and abs(ll[10].item() - ll[0].item()) > 0.1
    alone = log_likelihood(net, x[3:4], cond=jet, mask=mask[3:4], **solve)
    assert abs(alone.item() - ll[0].item()) < 1e-3 * abs(ll[0].item())


def test_classifier_network_is_invariant_and_blind_to_padding():
    torch.manual_seed(0)
    net = ParticleClassifierNet(3, dim=16, blocks=2, ff_dim=32, hidden=16, dropout=0.0).eval()
    x = torch.randn(1, 6, 3)
    mask = torch.tensor([[True] * 4 + [False] * 2])
    out = net(x, mask)
    perm = torch.tensor([3, 0, 2, 1, 4, 5])
    junk = x.clone()
    junk[0, 4:] = 50.0
    assert torch.allclose(net(x[:, perm], mask[:, perm]), out, atol=1e-5)
    assert torch.allclose(net(junk, mask), out, atol=1e-5)


def test_diffusion_smoke_end_to_end_separates_top_from_qcd(tmp_path):
    """Trained on QCD at ``smoke`` (3 epochs, 1500 jets, Hutchinson, loose tolerance): top jets are
    more anomalous than QCD (AUC > 0.6; a broken likelihood or sign gives about 0.5 or below)."""
    auc, record = smoke_auc("diffusion", tmp_path)
    assert auc > 0.6, auc
    training = record["training"]
    assert training["epochs_run"] == 3 and all(math.isfinite(v) for v in training["train_loss"])


def test_density_ratio_smoke_with_the_pointcloud_reference(tmp_path):
    """top/density-ratio end to end at ``smoke``: two diffusion densities, their log ratio, and the
    point-cloud classifier (the task's ``reference``) trained on the same jets; both separate."""
    import json

    from benchmark.runner import plan_jobs, run_jobs

    jobs = plan_jobs(tasks=["top/density-ratio"], scorers=["diffusion"], seeds=1, source="generated",
                     results_dir=tmp_path, params={}, preset="smoke", sizes={"train": 600, "test": 600}, n_boot=0)
    summary = run_jobs(jobs, progress=False)
    assert not summary.failed, summary.failed
    record = json.loads(jobs[0].result_path.read_text())
    metrics = record["metrics"]
    assert metrics["auc"] > 0.6 and metrics["auc_supervised"] > 0.6, metrics
    assert math.isfinite(metrics["density_ratio_gap"])
    assert jobs[0].identity["reference"] == "pointcloud-classifier"
    ref = record["curves"]["supervised"]                                  # Fig. 5: both ROC curves kept
    assert len(ref["eps_s"]) == len(ref["eps_b"]) > 2 and ref["eps_s"][-1] == pytest.approx(1.0)


def test_pointcloud_classifier_smoke_on_the_supervised_task(tmp_path):
    auc, _ = smoke_auc("pointcloud-classifier", tmp_path, task="top/supervised")
    assert auc > 0.75, auc


def test_bad_params_are_named():
    from benchmark.contract import load_scorer

    with pytest.raises(ValueError, match="'weighting' must be one of"):
        load_scorer("diffusion", {"weighting": "sigma"}, "smoke")
    with pytest.raises(ValueError, match="'divergence' must be one of"):
        load_scorer("diffusion", {"divergence": "trace"}, "smoke")


def test_registry_reference_only_on_density_ratio_tasks(tmp_path):
    from benchmark.registry import RegistryError, load_registry, parse_registry

    reg = load_registry()
    assert reg.task("top/density-ratio").reference == "pointcloud-classifier"
    text = reg.path.read_text().replace("    papers: [whats-anomalous-in-lhc-jets]\n    reported: {diffusion: {max_sic: 16.0",
                                        "    reference: supervised\n    papers: [whats-anomalous-in-lhc-jets]\n"
                                        "    reported: {diffusion: {max_sic: 16.0", 1)
    with pytest.raises(RegistryError, match="only density_ratio tasks have a supervised reference"):
        parse_registry(text, tmp_path / "datasets.yaml")


def test_suite_scorer_tasks_keep_a_costly_scorer_to_its_tasks(tmp_path):
    from benchmark.registry import RegistryError, load_registry, parse_registry
    from benchmark.runner import jobs_for_suite

    reg = load_registry()
    assert reg.suite("quick").scorer_tasks == {"diffusion": ("top/qcd-vs-top",)}
    skipped: list[str] = []
    jobs = jobs_for_suite("quick", ["diffusion", "jet-mass"], results_dir=tmp_path, seeds=1, skipped=skipped)
    assert sorted({j.task for j in jobs if j.scorer == "diffusion"}) == ["top/qcd-vs-top"]
    assert len({j.task for j in jobs if j.scorer == "jet-mass"}) > 1                 # others unaffected
    assert any("diffusion runs only on top/qcd-vs-top" in line for line in skipped)
    text = reg.path.read_text().replace("diffusion: [top/qcd-vs-top]", "diffusion: [top/density-ratio]", 1)
    with pytest.raises(RegistryError, match="is not a task of this suite"):
        parse_registry(text, tmp_path / "datasets.yaml")
