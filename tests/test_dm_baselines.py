"""Dark Machines baselines: inputs, the modified Chamfer loss, the deep-set beta-VAE (permutation
invariance, 1 to 20 objects), Deep SVDD, the spline flow and score combinations; end to end on the
real channel-1 sample (skipped when absent)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from baselines.dm_inputs import MET_TYPE, N_KINEMATIC, N_SLOTS, flat_features, object_set, object_types
from baselines.nn.chamfer import modified_chamfer, modified_chamfer_loop
from benchmark.contract import FitContext, resolve_params
from benchmark.events import OBJECT_TYPES, EventSet
from benchmark.sources import darkmachines


def _events(lines: list[str]) -> EventSet:
    arrays, _, _ = darkmachines.parse_lines(lines, "test")
    arrays.pop("process_code")
    return EventSet(arrays, np.arange(len(arrays["weights"])), {"dataset": "darkmachines"})


def _with_objects(counts: list[int], seed: int = 0) -> EventSet:
    """Events with exactly ``counts[i]`` visible objects each (0..19), physical kinematics."""
    rng = np.random.default_rng(seed)
    n = len(counts)
    objects = np.zeros((n, 20, 5), np.float32)
    mask = np.zeros((n, 20), bool)
    for i, k in enumerate(counts):
        pt = np.sort(rng.exponential(100, k) + 20)[::-1]
        eta = rng.uniform(-2.5, 2.5, k)
        objects[i, :k] = np.stack([rng.integers(1, 8, k), pt * np.cosh(eta), pt, eta, rng.uniform(-np.pi, np.pi, k)], 1)
        mask[i, :k] = True
    met = np.stack([rng.uniform(200, 600, n), rng.uniform(-np.pi, np.pi, n)], 1)
    return EventSet({"objects": objects, "objects_mask": mask, "met": met, "weights": np.ones(n)}, np.arange(n))


def _context(params: dict, preset: str = "smoke", seed: int = 0) -> FitContext:
    return FitContext(task="darkmachines/chan1", protocol="unsupervised", seed=seed, params=params, preset=preset,
                      log=lambda message: None)


# -- inputs ---------------------------------------------------------------------------------------
def test_object_set_puts_met_first_in_log10_gev_with_one_hot_types():
    line = "1;ttbar;1;351709;-2.56781;j,672376,506951,0.784228,0.908651;m+,50000,40000,0.3,0.4;\n"
    x, mask = object_set(_events([line]))
    assert x.shape == (1, N_SLOTS, N_KINEMATIC + 8) and mask[0].tolist() == [True] * 3 + [False] * 17
    np.testing.assert_allclose(x[0, 0, :4], [0.0, math.log10(351.709), 0.0, -2.56781], rtol=1e-6)  # E = 0 stays 0
    np.testing.assert_allclose(x[0, 1, :4], [math.log10(672.376), math.log10(506.951), 0.784228, 0.908651], rtol=1e-6)
    assert object_types(x, mask)[0, :4].tolist() == [MET_TYPE, OBJECT_TYPES["j"], OBJECT_TYPES["m+"], 0]
    assert (x[0, 3:] == 0).all()


def test_flat_features_separate_jets_and_leptons_in_pt_order():
    line = ("1;ttbar;1;300000;0.1;j,200000,100000,0,0;e-,90000,80000,0.5,1;b,400000,300000,1,2;"
            "m+,60000,50000,-1,-2;g,30000,30000,0,0;\n")
    f = flat_features(_events([line]), n_jets=2, n_leptons=2)
    assert f.shape == (1, 2 + 5 + 4 * 4)
    np.testing.assert_allclose(f[0, :7], [math.log1p(300), 0.1, 1, 1, 1, 1, 1])
    jets, leptons = f[0, 7:15].reshape(2, 4), f[0, 15:].reshape(2, 4)
    np.testing.assert_allclose(jets[:, 1], np.log1p([300, 100]))  # the b-jet leads by pT
    np.testing.assert_allclose(leptons[:, 1], np.log1p([80, 50]))
    np.testing.assert_allclose(leptons[:, 2], [0.5, -1])


def test_inputs_name_the_missing_array():
    es = EventSet({"jets": np.zeros((2, 2, 4))}, np.arange(2))
    with pytest.raises(KeyError, match="objects.*darkmachines"):
        object_set(es)


# -- the modified Chamfer loss ------------------------------------------------------------------------
def _chamfer_batch(b: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(b, 20, 4, generator=g)
    logits = torch.randn(b, 20, 9, generator=g) * 2
    true = torch.randn(b, 20, 4, generator=g)
    types = torch.randint(1, 9, (b, 20), generator=g)
    n = torch.randint(0, 21, (b,), generator=g)
    n[0], n[1] = 1, 20
    mask = torch.arange(20)[None] < n[:, None]
    return pred, logits, true, types, mask


@pytest.mark.parametrize("w", [0.0, 1.0, 10.0])
def test_vectorised_chamfer_equals_the_per_event_loop(w):
    args = _chamfer_batch()
    args[1][2] = -10.0
    args[1][2, :, 0] = 10.0  # an event whose every prediction is "empty"
    fast, slow = modified_chamfer(*args, w=w), modified_chamfer_loop(*args, w=w)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)


def test_chamfer_is_zero_distance_for_a_perfect_reconstruction_and_grows_with_displacement():
    true = torch.tensor([[[1.0, 2.0, 0.5, 0.1], [2.0, 1.5, -1.0, 2.0]]])
    types = torch.tensor([[2, 5]])
    mask = torch.tensor([[True, True]])
    pred = torch.zeros(1, 20, 4)
    pred[0, :2] = true[0]
    logits = torch.full((1, 20, 9), -30.0)
    logits[0, :, 0] = 30.0         # the other 18 slots: empty
    logits[0, 0, 2] = logits[0, 1, 5] = 60.0
    perfect = modified_chamfer(pred, logits, true, types, mask, w=1.0)
    assert perfect.item() == pytest.approx(0.0, abs=1e-4)
    shifted = pred.clone()
    shifted[0, 0, 2] += 0.3
    assert modified_chamfer(shifted, logits, true, types, mask, w=1.0).item() == pytest.approx(0.6, abs=1e-3)
    wrong = logits.clone()
    wrong[0, 0, 2], wrong[0, 0, 3] = -30.0, 60.0   # right place, wrong type: only the w-weighted term grows
    loss1 = modified_chamfer(pred, wrong, true, types, mask, w=1.0).item()
    loss10 = modified_chamfer(pred, wrong, true, types, mask, w=10.0).item()
    assert loss1 > 50 and loss10 == pytest.approx(10 * loss1, rel=1e-3)


def test_chamfer_is_invariant_to_the_order_of_both_sets():
    pred, logits, true, types, mask = _chamfer_batch(4, seed=3)
    mask[:] = True
    base = modified_chamfer(pred, logits, true, types, mask, w=3.0)
    p, q = torch.randperm(20), torch.randperm(20)
    again = modified_chamfer(pred[:, p], logits[:, p], true[:, q], types[:, q], mask[:, q], w=3.0)
    torch.testing.assert_close(base, again)


# -- deep-set beta-VAE ----------------------------------------------------------------------------
def _fit(cls, events, preset="smoke", seed=0, **params):
    p = resolve_params(cls.info, preset, params)
    scorer = cls(**p)
    scorer.fit(events, context=_context(p, preset, seed))
    return scorer


@pytest.mark.parametrize("beta", [1.0, 0.001])
def test_deepset_vae_is_permutation_invariant_and_takes_1_to_20_objects(beta):
    from baselines.deepset_vae import DeepSetBetaVAE

    train = _with_objects(list(np.random.default_rng(1).integers(0, 20, 300)))
    scorer = _fit(DeepSetBetaVAE, train, beta=beta, epochs=2)
    assert (scorer.model.decoder is None) == (beta == 1.0)
    events = _with_objects(list(range(20)), seed=5)   # 1 (MET only) .. 20 objects
    scores = scorer.score(events)
    assert scores.shape == (20,) and np.isfinite(scores).all()
    # shuffle the visible objects of every event (the padding stays behind them)
    rng = np.random.default_rng(2)
    obj, mask = events["objects"].copy(), events["objects_mask"]
    for i in range(len(obj)):
        k = int(mask[i].sum())
        obj[i, :k] = obj[i, rng.permutation(k)]
    shuffled = events.with_arrays(objects=obj)
    np.testing.assert_allclose(scorer.score(shuffled), scores, rtol=1e-5, atol=1e-5)
    # also the encoder on the full slot tensor, MET moved away from slot 0 and padding interleaved
    x, m = (torch.as_tensor(a) for a in object_set(events))
    perm = torch.randperm(N_SLOTS)
    with torch.no_grad():
        mu, logvar = scorer.model.encode(x, m)
        mu2, logvar2 = scorer.model.encode(x[:, perm], m[:, perm])
        garbage = x.clone()
        garbage[~m] = 7.0   # padded slots hold garbage: no effect
        mu3, _ = scorer.model.encode(garbage, m)
    torch.testing.assert_close(mu, mu2, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(logvar, logvar2, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(mu, mu3)


def test_deepset_vae_beta1_score_is_the_kl_to_the_unit_gaussian():
    from baselines.deepset_vae import DeepSetBetaVAE, kl_divergence

    train = _with_objects(list(np.random.default_rng(3).integers(1, 12, 200)))
    scorer = _fit(DeepSetBetaVAE, train, epochs=1)
    x, m = (torch.as_tensor(a) for a in object_set(train))
    with torch.no_grad():
        mu, logvar = scorer.model.encode(x, m)
    np.testing.assert_allclose(scorer.score(train), kl_divergence(mu, logvar).numpy(), rtol=1e-5)
    assert kl_divergence(torch.zeros(1, 8), torch.zeros(1, 8)).item() == 0.0


def test_deepset_vae_refuses_beta_outside_unit_interval_and_builds_every_scan_point():
    from baselines.deepset_vae import DeepSetBetaVAE, scan_configurations

    grid = scan_configurations()
    assert len(grid) == 6 * 3 + 1 and {"beta": 0.001, "w": 10.0} in grid
    assert all(DeepSetBetaVAE(**config).params["beta"] == config["beta"] for config in grid)

    with pytest.raises(ValueError, match="beta"):
        DeepSetBetaVAE(beta=1.5)


# -- Deep SVDD, flow -----------------------------------------------------------------------------
def test_deep_svdd_scores_the_mean_squared_distance_to_the_fixed_centre():
    from baselines.deep_svdd import DeepSVDD

    train = _with_objects(list(np.random.default_rng(4).integers(3, 10, 300)))
    scorer = _fit(DeepSVDD, train, C=2.0, d=5, epochs=30)
    assert all(not isinstance(m, torch.nn.Linear) or m.bias is None for m in scorer.model.modules())
    x = torch.as_tensor(scorer.scaler.transform(flat_features(train)), dtype=torch.float32)
    with torch.no_grad():
        expected = ((scorer.model(x) - 2.0) ** 2).mean(1).numpy()
    np.testing.assert_allclose(scorer.score(train), expected, rtol=1e-5)
    # trained towards C: the background sits closer to it than events unlike it (10x the momenta)
    far = train.with_arrays(objects=train["objects"] * np.array([1, 10, 10, 1, 1], np.float32))
    assert np.median(scorer.score(far)) > np.median(scorer.score(train))


def test_spline_flow_score_is_normalised_minus_log_p():
    from baselines.dm_flow import SplineFlow

    train = _with_objects(list(np.random.default_rng(5).integers(3, 10, 400)))
    scorer = _fit(SplineFlow, train, epochs=3)
    s = scorer.score(train)
    assert s.min() == pytest.approx(0.0, abs=1e-6) and s.max() == pytest.approx(1.0, abs=1e-6)
    lp = scorer.log_prob(train)
    assert np.corrcoef(s, -lp)[0, 1] == pytest.approx(1.0, abs=1e-9)
    far = train.with_arrays(met=train["met"] * np.array([20.0, 1.0]))
    assert np.median(scorer.score(far)) > np.quantile(s, 0.9)  # 20x the MET: less likely than most background


# -- combinations ----------------------------------------------------------------------------------
def test_efficiency_map_and_the_challenge_rules():
    from baselines.dm_combine import combine, efficiency_map

    cal = np.arange(100.0)
    np.testing.assert_allclose(efficiency_map(cal, [-1, 49.5, 98.5, 1000]), [1.0, 0.5, 0.01, 0.0])
    eff = np.array([[0.1, 0.5, 0.9], [0.2, 0.4, 0.01]])
    np.testing.assert_allclose(combine(eff, "AND"), [0.1, 0.4, 0.01])
    np.testing.assert_allclose(combine(eff, "OR"), [0.2, 0.5, 0.9])
    np.testing.assert_allclose(combine(eff, "PROD"), [0.02, 0.2, 0.009])
    np.testing.assert_allclose(combine(eff, "avg"), [0.15, 0.45, 0.455])
    with pytest.raises(ValueError, match="rule"):
        combine(eff, "XOR")


def test_combination_fits_its_members_at_its_preset_and_scores_minus_the_combined_efficiency():
    from baselines.dm_combine import ScoreCombination, combine

    train = _with_objects(list(np.random.default_rng(6).integers(3, 10, 300)))
    scorer = _fit(ScoreCombination, train, members="deep-svdd,dm-flow", rule="OR",
                  member_params={"deep-svdd": {"epochs": 2}, "dm-flow": {"epochs": 2}})
    assert [s.info.name for s in scorer.scorers] == ["deep-svdd", "dm-flow"]
    assert scorer.scorers[0].params["epochs"] == 2 and scorer.scorers[0].params["hidden"] == [64, 32]  # smoke
    assert scorer.training_record["calibration_events"] == 60
    test = _with_objects(list(np.random.default_rng(7).integers(3, 10, 50)))
    eff = scorer.member_efficiencies(test)
    assert eff.shape == (2, 50) and ((eff >= 0) & (eff <= 1)).all()
    np.testing.assert_allclose(scorer.score(test), -combine(eff, "OR"))
    with pytest.raises(ValueError, match="at least two"):
        ScoreCombination(members=["deep-svdd"])
    with pytest.raises(ValueError, match="member_params"):
        ScoreCombination(member_params={"dm-flo": {}})


# -- end to end on the real channel-1 sample --------------------------------------------------------
SCORERS = [("deepset-vae", {}), ("deepset-vae", {"beta": 0.001, "w": 10.0}), ("deep-svdd", {}), ("dm-flow", {}),
           ("dm-combine", {"rule": "AND"})]


def trimmed_registry(path, present: set[str]):
    """datasets.yaml with Dark Machines channel 1 limited to the classes ``present`` (the real sample
    holds three of its eight signals; the task's ``chan1/*`` then means those three)."""
    import yaml

    from benchmark.registry import default_registry_path

    reg = yaml.safe_load(default_registry_path().read_text())
    classes = reg["datasets"]["darkmachines"]["classes"]
    reg["datasets"]["darkmachines"]["classes"] = {c: v for c, v in classes.items()
                                                   if c in present or not c.startswith("chan1/")}
    reg["datasets"]["darkmachines"]["sources"].pop("generated", None)  # its chan1 signals are trimmed away
    path.write_text(yaml.safe_dump(reg, sort_keys=False))
    return path


@pytest.fixture
def real_chan1(real_samples, _isolated_cache, tmp_path, monkeypatch):
    """The real chan1 sample converted into this test's data cache (source ``real``), with a
    registry that lists the classes it holds."""
    res = darkmachines.convert({"chan1": real_samples / "darkmachines" / "chan1"},
                               _isolated_cache / "darkmachines" / "real")
    monkeypatch.setenv("LHCAD_REGISTRY", str(trimmed_registry(tmp_path / "datasets.yaml", set(res.classes))))
    return _isolated_cache


@pytest.mark.parametrize("scorer, params", SCORERS, ids=[f"{s}{'-' + str(p) if p else ''}" for s, p in SCORERS])
def test_every_scorer_runs_end_to_end_on_real_chan1_with_finite_ti(real_chan1, tmp_path, scorer, params):
    from benchmark.runner import plan_jobs, run_jobs

    jobs = plan_jobs(tasks=["darkmachines/chan1"], scorers=[scorer], seeds=[0], source="real",
                     results_dir=tmp_path / "results", params=params, preset="smoke", n_boot=10,
                     sizes={"train": 600, "test": 400})
    summary = run_jobs(jobs, progress=False, fail_fast=True)
    assert len(summary.done) == 1
    record = json.loads(jobs[0].result_path.read_text())
    assert set(record["per_signal"]) == {"chan1/monojet_Zp2000.0_DM_50.0", "chan1/monotop_200_A",
                                         "chan1/sqsq_sq1800_neut800"}
    ti = record["total_improvement"]
    assert all(math.isfinite(ti[k]) for k in ("min", "median", "max")) and ti["max"] > 0
    assert record["training"]


def test_dark_machines_scorers_are_not_planned_on_jet_tasks(tmp_path):
    from benchmark.cli import _skip_summary
    from benchmark.runner import jobs_for_suite, missing_arrays

    assert missing_arrays("objects", ["constituents", "jets"]) == ["objects", "objects_mask", "met"]
    assert missing_arrays("objects", ["objects", "objects_mask", "met", "weights"]) == []
    assert missing_arrays("images", ["objects"]) == ["constituents", "constituents_mask"]
    assert missing_arrays("highlevel", ["objects"]) == []  # computed from what the dataset carries
    skipped: list[str] = []
    jobs = jobs_for_suite("quick", ["deep-svdd", "hlf-gmm"], results_dir=tmp_path, seeds=1, skipped=skipped)
    assert {j.scorer for j in jobs} == {"hlf-gmm", "deep-svdd"}
    assert {j.task for j in jobs if j.scorer == "deep-svdd"} == {"darkmachines/chan1"}  # the one object-level task
    lines = _skip_summary(skipped)
    assert any(line.startswith("deep-svdd: not run on tasks without objects, objects_mask, met (") for line in lines)
    assert len([line for line in lines if line.startswith("deep-svdd")]) == 2  # + the resonant/supervised tasks
