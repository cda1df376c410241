"""The multijet probe behind the chan3 (and chan1) multijet generation cuts."""
import numpy as np
import pytest

from benchmark.generate.dm_probes import pass_profile


def test_pass_profile_sums_weighted_pass_probabilities_per_bin():
    pthat = np.array([120.0, 180.0, 220.0, 260.0, 500.0])
    weight = np.array([4.0, 2.0, 1.0, 1.0, 2.0])  # scaled to sum to sigma = 100 pb: 40, 20, 10, 10, 20
    p_pass = np.array([0.0, 0.5, 1.0, 0.25, 1.0])
    untailed = np.array([False, False, True, False, False])
    prof = pass_profile(pthat, weight, p_pass, untailed, 100.0, [100, 200, 250, 1000])
    assert [b["pthat"] for b in prof] == [(100.0, 200.0), (200.0, 250.0), (250.0, 1000.0)]
    assert [b["events"] for b in prof] == [2, 1, 2]
    assert [b["events_passing"] for b in prof] == [1, 1, 2]
    assert [b["sigma_pb"] for b in prof] == pytest.approx([60.0, 10.0, 30.0])
    assert [b["sigma_pass_pb"] for b in prof] == pytest.approx([10.0, 10.0, 22.5])
    assert [b["sigma_untailed_pb"] for b in prof] == pytest.approx([0.0, 10.0, 0.0])
    assert prof[2]["sigma_pass_err_pb"] == pytest.approx(np.hypot(2.5, 20.0))
    with pytest.raises(ValueError, match="no events"):
        pass_profile(pthat, np.zeros(5), p_pass, untailed, 1.0, [0, 1000])


@pytest.mark.slow
def test_probe_multijets_gives_weighted_events_below_the_recipe_cut():
    pytest.importorskip("pythia8mc")
    from benchmark.generate.dm_probes import probe_multijets

    res = probe_multijets("chan3", pthat_min=100.0, seconds=3.0, draws=4, batch=20)
    n = len(res["pthat"])
    assert n >= 20 and all(len(res[k]) == n for k in ("weight", "p_pass", "untailed"))
    assert res["pthat"].min() >= 100.0 and (res["pthat"] < 200.0).any()  # below chan3's cut of 200
    # bias2Selection oversamples high pTHat: the weights fall with pTHat
    lo, hi = res["pthat"] < 150.0, res["pthat"] > 300.0
    if lo.any() and hi.any():
        assert res["weight"][lo].mean() > res["weight"][hi].mean()
    assert set(np.unique(res["p_pass"] * 4)) <= {0.0, 1.0, 2.0, 3.0, 4.0}
    assert 1e5 < res["sigma_pb"] < 1e7  # sigma(pTHat > 100 GeV) at 13 TeV, about 1.3 ub
