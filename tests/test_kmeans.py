"""Torch k-means against scikit-learn, and the density scores of arXiv:2202.00686 sec. 3 on known densities."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import spearmanr

from baselines.kmeans import (KMEANS_DEFAULTS, ClusterDensity, fit_spherical_gmm, kmeans, leading_jet_images,
                              spread_components)

from test_kmeans_scorers import task_data

sklearn_cluster = pytest.importorskip("sklearn.cluster")


@pytest.fixture(scope="module")
def top_images() -> np.ndarray:
    """Flattened, smoothed (sigma = 3) 40x40 images of shipped generated QCD jets."""
    return leading_jet_images(task_data("top/qcd-vs-top", 1500, 200).train, KMEANS_DEFAULTS)


def blobs(n: int = 3000, d: int = 8, centers: int = 12, seed: int = 0) -> np.ndarray:
    from sklearn.datasets import make_blobs

    return make_blobs(n, n_features=d, centers=centers, cluster_std=1.5, random_state=seed)[0].astype(np.float32)


def test_inertia_matches_sklearn_on_blobs():
    x = blobs()
    ours = kmeans(x, 12, n_init=3, seed=1, device="cpu")
    ref = sklearn_cluster.KMeans(12, n_init=3, random_state=1).fit(x)
    assert abs(ours.inertia - ref.inertia_) <= 0.01 * ref.inertia_
    # the inertia it reports is the one of its own centres and labels
    own = ((x - ours.centers[ours.labels]) ** 2).sum()
    assert own == pytest.approx(ours.inertia, rel=1e-4)


def test_inertia_matches_sklearn_on_jet_images(top_images):
    x = top_images[:1000]
    ours = kmeans(x, 10, n_init=2, seed=0, device="cpu")
    ref = sklearn_cluster.KMeans(10, n_init=2, random_state=0).fit(x)
    assert abs(ours.inertia - ref.inertia_) <= 0.01 * ref.inertia_


def test_restarts_keep_the_best_seeded_run_and_chunking_is_invisible():
    x = blobs(1000, 4, 15, seed=3)
    one = kmeans(x, 15, n_init=1, seed=7, device="cpu")
    again = kmeans(x, 15, n_init=1, seed=7, device="cpu", chunk=97)
    np.testing.assert_array_equal(one.labels, again.labels)
    many = kmeans(x, 15, n_init=4, seed=7, device="cpu")  # its first restart is `one`
    assert many.inertia <= one.inertia
    other = kmeans(x, 15, n_init=1, seed=8, device="cpu")
    assert not np.array_equal(other.centers, one.centers)


def test_bad_arguments_are_named():
    x = blobs(50)
    with pytest.raises(ValueError, match="1 <= k <= n_samples, got k=60"):
        kmeans(x, 60)
    with pytest.raises(ValueError, match="dtype must be one of"):
        kmeans(x, 3, dtype="float16")
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        kmeans(x, 3, device="cpu")


@pytest.fixture(scope="module")
def gaussian_model() -> ClusterDensity:
    """The setting of the paper's Fig. 6 (a 5-d standard normal), scaled down from 100 clusters on
    100k points to 50 clusters on 10k points (200 per cluster)."""
    g = np.random.default_rng(0).normal(size=(10000, 5)).astype(np.float32)
    return ClusterDensity.fit(g, kmeans(g, 50, n_init=1, max_iter=100, seed=0, device="cpu"), device="cpu")


def test_mind_and_knc5_track_the_log_density_of_a_gaussian(gaussian_model):
    t = np.random.default_rng(1).normal(size=(4000, 5))
    neg_log_p = 0.5 * (t**2).sum(1)
    rho_mind = spearmanr(gaussian_model.score("mind", t), neg_log_p)[0]
    rho_knc = spearmanr(gaussian_model.score("knc", t, n_nearest=5), neg_log_p)[0]
    assert rho_mind > 0.6          # "a strong correlation between MinD and the logarithm of the density"
    assert rho_knc > 0.95          # "KNC5 improves the correlation significantly"
    assert rho_knc > rho_mind + 0.1


def test_likelihood_scores_are_finite_and_flag_an_outlier(gaussian_model):
    inliers = np.random.default_rng(2).normal(size=(500, 5))
    outlier = np.full((1, 5), 4.0)
    for kind in ("mlled", "mll1d", "mlln"):
        s = gaussian_model.score(kind, np.concatenate([inliers, outlier]))
        assert np.all(np.isfinite(s)), kind
        assert s[-1] > s[:-1].max(), kind
        assert spearmanr(s[:-1], 0.5 * (inliers**2).sum(1))[0] > 0.8, kind
    # the effective dimension of 5-d data, measured at the cluster radii (the paper finds 5-8 on images)
    assert 3.0 < gaussian_model.d_eff < 7.0


@pytest.mark.parametrize("d", [1.0, 3.0, 5.5])
def test_cluster_likelihood_integrates_to_its_weight_in_d_dimensions(d):
    """Eq. (12) with the normalisation of step 4: the integral of L_i over R^d is N_i / N."""
    one = ClusterDensity(np.zeros((1, 2)), np.array([40.0]), np.array([0.7]), np.array([0.2]),
                         np.array([d]), d, device="cpu")
    log_area = math.log(2) + 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d)

    def radial(r: float) -> float:
        return math.exp(one.log_likelihood(np.array([[r]]), d)[0] + log_area + (d - 1) * math.log(r))

    total = quad(radial, 0, 0.7)[0] + quad(radial, 0.7, 10.0)[0]
    assert total == pytest.approx(1.0, rel=1e-6)
    # MLLN: weight N_i, no volume: the flat core sits at log N_i
    assert one.log_likelihood(np.array([[0.3]]), 1.0, volume=False)[0] == pytest.approx(math.log(40.0))


def test_effective_dimension_follows_the_data_dimension():
    rng = np.random.default_rng(4)
    dims = {}
    for d in (2, 6):
        x = np.zeros((4000, 30), dtype=np.float32)
        x[:, :d] = rng.normal(size=(4000, d))         # a d-dimensional sheet in 30 dimensions
        km = kmeans(x, 10, n_init=1, max_iter=50, seed=0, device="cpu")
        dims[d] = ClusterDensity.fit(x, km, device="cpu").d_eff
    assert 1.0 <= dims[2] < 3.5 and dims[6] > dims[2] + 1.5


def test_gmm_lowers_its_regulariser_until_the_variances_dominate():
    x = blobs(1200, 6, 5, seed=5) * 1e-3                 # component variances ~ 2e-6
    km = kmeans(x, 5, n_init=1, seed=0, device="cpu")
    gmm, beta, fits = fit_spherical_gmm(x, km.centers, max_iter=50, tol=1e-3, reg_start=1e-6, reg_ratio=1e3,
                                        max_reg_steps=8, seed=0)
    alpha = gmm.covariances_ - beta
    assert fits > 1 and beta <= 1e-9 and alpha.min() >= 1e3 * beta
    assert gmm.score_samples(np.full((1, 6), 1.0)) < gmm.score_samples(x).min()
    with pytest.raises(ValueError, match="max_reg_steps >= 1"):
        fit_spherical_gmm(x, km.centers, max_iter=5, tol=1e-3, reg_start=1e-6, reg_ratio=1e3, max_reg_steps=0,
                          seed=0)


def test_gmm_regulariser_rule_ignores_a_component_on_a_single_image():
    """A component that sits on one training image (or identical ones, as k-means leaves at 2000
    images and k = 100) has zero variance whatever beta is: the sec. 3.2 rule must be judged on the
    components with a spread, else beta runs down to the last step and that step, not the rule,
    sets it."""
    x = np.concatenate([blobs(1200, 6, 5, seed=5) * 1e-3, np.full((1, 6), 0.5, dtype=np.float32)])
    km = kmeans(x, 6, n_init=1, seed=0, device="cpu")
    assert np.bincount(km.labels).min() == 1                # the far image is a cluster of its own
    gmm, beta, fits = fit_spherical_gmm(x, km.centers, max_iter=50, tol=1e-3, reg_start=1e-6, reg_ratio=1e3,
                                        max_reg_steps=8, seed=0)
    alpha = gmm.covariances_ - beta
    spread = spread_components(gmm, len(x))
    assert spread.sum() == 5 and alpha[~spread].max() < 1e-3 * beta   # the lone image: variance beta alone
    assert fits < 8 and beta >= 1e-10 and alpha[spread].min() >= 1e3 * beta
    # the same answer as without the lone image: the rule is about the components with a spread
    _, beta_clean, fits_clean = fit_spherical_gmm(x[:-1], km.centers[np.bincount(km.labels) > 1], max_iter=50,
                                                  tol=1e-3, reg_start=1e-6, reg_ratio=1e3, max_reg_steps=8, seed=0)
    assert (beta, fits) == (beta_clean, fits_clean)


def test_table1_summary_leaves_singleton_clusters_out():
    """Table 1's columns describe measured clusters: a lone image's rho and sigma are only the
    floor that keeps its likelihood finite, so it must not set min rho or max sigma/rho."""
    x = np.concatenate([blobs(1200, 6, 5, seed=5), np.full((1, 6), 200.0, dtype=np.float32)])
    km = kmeans(x, 6, n_init=1, seed=0, device="cpu")
    model = ClusterDensity.fit(x, km, device="cpu")
    table = model.summary()
    members = np.bincount(km.labels, minlength=6) > 1
    assert table["singletons"] == 1 and table["smallest_cluster"] == 1
    assert table["min_rho"] == pytest.approx(model.rho[members].min()) and table["min_rho"] > 1.0  # blobs: std 1.5
    assert table["max_sigma_over_rho"] < 0.8                     # a Gaussian blob's radial spread, not 1 = floor/floor


def test_score_kind_is_checked():
    m = ClusterDensity(np.zeros((2, 2)), np.ones(2), np.ones(2), np.ones(2), np.ones(2), 1.0, device="cpu")
    with pytest.raises(ValueError, match="unknown score 'knc6'"):
        m.score("knc6", np.zeros((3, 2)))
    with pytest.raises(ValueError, match="n_nearest must be in 1..k=2"):
        m.score("knc", np.zeros((3, 2)), n_nearest=5)
