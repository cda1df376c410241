"""The k-means, GMM and floor scorers end to end on the shipped generated jets: each separates
top from QCD; the floors' sign flips the ranking; params reach the image preprocessing."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from benchmark.contract import FitContext, load_scorer
from benchmark.registry import load_registry
from benchmark.tasks import TaskData, build_task_data

KMEANS_SCORERS = ["kmeans-mind", "kmeans-knc5", "kmeans-mlled", "kmeans-mll1d", "kmeans-mlln", "gmm-images"]
FLOORS = ["jet-mass", "multiplicity"]


@lru_cache(maxsize=4)
def task_data(task: str, train: int, test: int, seed: int = 0) -> TaskData:
    """A job's data for ``task`` from the shipped generated samples at small sizes."""
    return build_task_data(load_registry().task(task), "generated", seed, sizes={"train": train, "test": test})


def fit_and_auc(name: str, task: str = "top/qcd-vs-top", **params: object) -> tuple[float, object]:
    data = task_data(task, 1500, 1000)
    scorer = load_scorer(name, params, preset="smoke")
    ctx = FitContext(task=task, protocol="unsupervised", seed=0, device="cpu", params=dict(scorer.params),
                     preset="smoke", log=lambda _msg: None)
    scorer.fit(data.scorer_view(data.train, "train"), context=ctx)
    test = data.scorer_view(data.test, "test")
    scores = scorer.score(test)
    assert scores.shape == (len(test),) and np.all(np.isfinite(scores))
    return roc_auc_score(data.test_labels.is_signal, scores), scorer


@pytest.mark.parametrize("name", KMEANS_SCORERS + FLOORS)
def test_every_scorer_finds_top_jets_in_qcd(name):
    auc, scorer = fit_and_auc(name)
    assert auc > 0.65, f"{name}: AUC {auc:.3f}"
    info = scorer.info
    assert info.paper == "arXiv:2202.00686" and info.protocols == ("unsupervised",)
    if name in KMEANS_SCORERS:
        assert info.representation == "images" and set(info.presets) == {"smoke", "paper"}
        assert info.presets["paper"]["k"] == 100
        assert scorer.training_record  # Table-1 style summary or the GMM's regulariser


def test_kmeans_records_table1_columns_and_paper_preset():
    _, scorer = fit_and_auc("kmeans-mlled")
    rec = scorer.training_record
    assert rec["k"] == 10 and 0 < rec["min_rho"] <= rec["median_rho"] <= rec["max_rho"]
    assert rec["median_d_i"] >= 1.0 and rec["inertia"] > 0
    paper = load_scorer("kmeans-mll1d", None, "paper").params
    assert (paper["k"], paper["n_init"], paper["sigma"], paper["c"]) == (100, 10, 3.0, 1.1)


def test_floor_sign_reverses_the_ranking():
    up, _ = fit_and_auc("jet-mass")
    down, _ = fit_and_auc("jet-mass", sign=-1)
    assert down == pytest.approx(1.0 - up)
    with pytest.raises(ValueError, match="'sign' must be \\+1"):
        load_scorer("multiplicity", {"sign": 2})


def test_image_params_reach_the_representation():
    data = task_data("top/qcd-vs-top", 1500, 1000)
    a = load_scorer("kmeans-mind", {"power": 0.25, "sigma": 1.0}, "smoke")
    from baselines.kmeans import leading_jet_images

    got = leading_jet_images(data.train, a.params)
    ref = data.train.features("images", npix=40, extent=0.8, power=0.25, sigma=1.0)[:, 0].reshape(len(got), -1)
    np.testing.assert_allclose(got, ref)
    assert not np.allclose(got, leading_jet_images(data.train, load_scorer("kmeans-mind").params))
