"""Full-phase-space CATHODE (EPiC flow matching): the dijet representation, the permutation-invariant
classifier, the background estimate without signal on toys with a known law, and the scorer end to
end on the shipped LHCO look-alikes with its generator-quality record."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from resonant_toys import SIDEBANDS, SR, context, dijet_cloud_events, hanley_mcneil_null_sigma, in_windows

from baselines.dijet import DijetCloud, DijetScaler
from baselines.fullphase import PRESETS, CathodeFullPhase
from baselines.nn.dijet_classifier import DijetClassifier
from benchmark import metrics as M


# -- representation ---------------------------------------------------------------------------------
def test_cloud_round_trip_through_physical_events():
    """features -> (pt, eta, phi, E) constituents -> features: the generated events' physics is the
    one the models learned (units, signs, the jet axis, Delta phi wrapping)."""
    rng = np.random.default_rng(0)
    events = dijet_cloud_events(rng, 300)
    cloud = DijetCloud.from_events(events, 12)
    again = DijetCloud.from_events(cloud.to_events(rng), 12)
    assert np.array_equal(again.mask, cloud.mask)
    np.testing.assert_allclose(again.jets, cloud.jets, atol=1e-9)
    np.testing.assert_allclose(again.dphi, cloud.dphi, atol=1e-9)
    m = cloud.mask
    # particles are placed around the jet axis, then re-measured from their own E-scheme axis
    # (pseudorapidity vs rapidity of that axis: a few 1e-3)
    np.testing.assert_allclose(again.particles[m], cloud.particles[m], atol=5e-3)
    # the toy's particle spread grows with the jet mass: the representation keeps it
    width = np.sqrt((cloud.particles[..., 0] ** 2 * m).sum(-1) / m.sum(-1))
    heavy = cloud.jets[..., 2] > np.median(cloud.jets[..., 2])
    assert width[heavy].mean() > 1.3 * width[~heavy].mean()


# -- classifier -------------------------------------------------------------------------------------
def test_classifier_is_invariant_to_jet_and_particle_order_and_blind_to_padding():
    torch.manual_seed(0)
    net = DijetClassifier(5, 3, dim=16, particle_blocks=2, jet_blocks=2, ff_dim=32).eval()
    B, P = 4, 9
    jets, parts = torch.randn(B, 2, 5), torch.randn(B, 2, P, 3)
    counts = torch.tensor([[9, 3], [5, 5], [1, 7], [2, 8]])
    mask = torch.arange(P)[None, None, :] < counts[..., None]
    parts = parts * mask.unsqueeze(-1)
    out = net(jets, parts, mask)
    # swap the jets and scatter each jet's particles (padding moves between real ones)
    perm = torch.randperm(P)
    swapped = net(jets.flip(1), parts.flip(1)[:, :, perm], mask.flip(1)[:, :, perm])
    assert torch.allclose(swapped, out, atol=1e-5)
    padded = torch.cat([parts, torch.randn(B, 2, 4, 3) * 30], 2)           # extra padding full of garbage
    assert torch.allclose(net(jets, padded, torch.cat([mask, torch.zeros(B, 2, 4, dtype=torch.bool)], 2)), out,
                          atol=1e-5)
    # particles do matter: moving one real particle of jet 2 changes that event only
    moved = parts.clone()
    moved[0, 1, 0] += 2.0
    changed = net(jets, moved, mask)
    assert not torch.isclose(changed[0], out[0]) and torch.allclose(changed[1:], out[1:], atol=1e-6)


# -- no signal: the background estimate is unbiased -------------------------------------------------
TOY = {"max_particles": 12, "ode_steps": 12, "jet_blocks": [[64, 64], [64, 64]], "jet_epochs": 30,
       "jet_batch_size": 256, "jet_lr": 1e-2, "jet_schedule": "cosine", "jet_ema_decay": 0.0,
       "part_layers": 2, "part_local_dim": 32, "part_global_dim": 8, "part_hidden": 32, "part_time_dim": 8,
       "part_epochs": 6, "part_batch_size": 256, "part_lr": 5e-3, "part_ema_decay": 0.0,
       "clf_dim": 16, "clf_particle_blocks": 1, "clf_jet_blocks": 1, "clf_ff_dim": 32, "clf_epochs": 4,
       "clf_batch_size": 128, "clf_lr": 1e-3, "clf_patience": 0, "oversample": 1.0, "quality_fraction": 0.2,
       "quality_max_events": 2000}


@pytest.fixture(scope="module")
def fullphase_null():
    """The scorer fitted on a toy without signal: (scorer, held-out SR data)."""
    rng = np.random.default_rng(4)
    events = dijet_cloud_events(rng, 12000)
    sb, sr = in_windows(events, SIDEBANDS), in_windows(events, (SR,))
    half = len(sr) // 2
    scorer = CathodeFullPhase(**TOY).fit(sr.take(np.arange(half)), context=context(sideband=sb))
    return scorer, sr.take(np.arange(half, len(sr)))


@pytest.mark.slow
def test_fullphase_null_auc_is_one_half(fullphase_null):
    """Held-out SR data vs fresh generated SR events through the trained data-vs-synthetic
    classifier: with no signal and a sound generator, AUC 0.5 within 3 sigma of the Mann-Whitney
    null (a generator that misses the mjj dependence or the particle spread is caught)."""
    scorer, held_out = fullphase_null
    fresh = scorer.generator.sample(len(held_out))
    s_data = scorer.score(held_out)
    s_fake = scorer._clf.score(scorer.generator.scaler.classifier_inputs(fresh))
    y = np.concatenate([np.ones(len(s_data)), np.zeros(len(s_fake))])
    auc = M.auc(y, np.concatenate([s_data, s_fake]))
    sigma = hanley_mcneil_null_sigma(len(s_data), len(s_fake))
    assert abs(auc - 0.5) < 3 * sigma, f"held-out data vs fresh samples: AUC {auc:.4f}, null sigma {sigma:.4f}"
    quality = scorer.training_record["generator_quality"]
    assert abs(quality["auc"] - 0.5) < 4 * quality["null_sigma"], quality["auc"]


@pytest.mark.slow
def test_generated_events_follow_the_mjj_dependence(fullphase_null):
    """The toy's jet mass moves with mjj (60 GeV per TeV); the generator, trained in the sidebands
    only, must carry it to both ends and into the SR."""
    from resonant_toys import background_mean_mj

    scorer, _ = fullphase_null
    n = 3000
    means = {}
    for mjj in (2600.0, 3500.0, 4300.0):
        cloud = scorer.generator.sample(n, np.full(n, mjj))
        mass = np.exp(cloud.jets[:, 0, 2]) * mjj
        means[mjj] = mass.mean()
        assert abs(means[mjj] - background_mean_mj(np.array([mjj]))[0]) < 12.0, (mjj, means[mjj])
        assert cloud.mask.sum(-1).min() >= 1 and cloud.mask.sum(-1).max() <= 12
    assert means[4300.0] - means[2600.0] > 0.6 * 60.0 * 1.7


@pytest.mark.slow
def test_scorer_sample_gives_physical_events(fullphase_null):
    scorer, _ = fullphase_null
    events = scorer.sample(50)
    assert events["constituents"].shape == (50, 2, 12, 4) and np.all((events["mjj"] > SR[0]) & (events["mjj"] < SR[1]))
    cons, mask = events["constituents"], events["constituents_mask"]
    assert np.all(cons[..., 0][mask] > 0) and np.all(cons[~mask] == 0)
    with pytest.raises(ValueError, match="condition has 2 masses"):
        scorer.generator.sample(3, np.array([3400.0, 3500.0]))


def test_scaler_z_scores_real_particles_only():
    rng = np.random.default_rng(1)
    cloud = DijetCloud.from_events(dijet_cloud_events(rng, 400), 12)
    x = DijetScaler().fit(cloud).classifier_inputs(cloud)
    real = x["parts"][cloud.mask]
    np.testing.assert_allclose(real.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(real.std(0), 1, atol=1e-4)
    assert np.all(x["parts"][~cloud.mask] == 0)


def test_diffusion_generator_family_end_to_end_on_a_toy():
    """``generator=diffusion``: the same scorer trains both models by diffusion (its records say so),
    samples events inside the SR at the KDE's masses, scores finite; an unknown family is named."""
    rng = np.random.default_rng(6)
    events = dijet_cloud_events(rng, 3000)
    sb, sr = in_windows(events, SIDEBANDS), in_windows(events, (SR,))
    params = {**TOY, "generator": "diffusion", "diffusion_steps": 6, "jet_epochs": 3, "part_epochs": 1,
              "clf_epochs": 1, "quality_fraction": 0.0}
    scorer = CathodeFullPhase(**params).fit(sr, context=context(sideband=sb))
    record = scorer.training_record
    assert record["generator"] == "diffusion"
    assert record["jet_model"]["epochs_run"] == 3 and np.isfinite(record["particle_model"]["train_loss"]).all()
    sample = scorer.sample(50)
    assert np.all((sample["mjj"] > SR[0] - 1) & (sample["mjj"] < SR[1] + 1))
    assert np.isfinite(scorer.score(sr)).all()
    with pytest.raises(ValueError, match="generator='score-matching'"):
        CathodeFullPhase(**{**params, "generator": "score-matching"}).fit(sr, context=context(sideband=sb))


# -- shipped LHCO-like samples, end to end ----------------------------------------------------------
@pytest.mark.slow
def test_fullphase_smoke_on_the_shipped_lhco_samples(tmp_path):
    """One job through the runner at ``smoke``: finite scores, metrics, and the generator-quality
    check and sampling speed in the result JSON's ``training`` record."""
    import json

    from benchmark.runner import plan_jobs, run_jobs

    jobs = plan_jobs(tasks=["lhco/rnd"], scorers=["cathode-fullphase"], seeds=1, source="generated",
                     results_dir=tmp_path, injections=[1000], preset="smoke", n_boot=0, sizes={"test": 600})
    summary = run_jobs(jobs, progress=False)
    assert not summary.failed, summary.failed
    record = json.loads(jobs[0].result_path.read_text())
    training = record["training"]
    quality = training["generator_quality"]
    assert 0.0 <= quality["auc"] <= 1.0 and quality["n_test_per_class"] == 500
    # one generated event per signal-region data event at the smoke preset's oversampling
    assert training["n_signal_region"] == record["counts"]["sr_data"] > 1000
    assert training["n_samples"] == round(PRESETS["smoke"]["oversample"] * record["counts"]["sr_data"])
    assert training["jet_model"]["epochs_run"] == PRESETS["smoke"]["jet_epochs"]
    assert training["sampling_events_per_s"] > 0 and training["n_parameters"] > 0
    assert np.isfinite(record["metrics"]["auc"]) and "max_sic_paper" in record["metrics"]


def test_quick_suite_runs_every_builtin_scorer():
    """The quick suite is the README's main job: every built-in baseline at smoke, the full-phase-space
    CATHODE and the supervised resonant reference included (243 jobs, ~8.5 min on 2 cores)."""
    from benchmark.contract import builtin_scorers
    from benchmark.registry import load_registry
    from benchmark.runner import suite_scorers

    quick = suite_scorers(load_registry().suite("quick"))
    assert {"cathode-fullphase", "supervised-resonant", "cathode-lowdim"} <= set(quick)
    assert set(quick) == set(builtin_scorers())
