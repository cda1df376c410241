"""LHC Olympics converter: the real tiny R&D sample, and fixtures in the upstream layouts."""
from __future__ import annotations

import h5py
import hdf5plugin  # noqa: F401
import numpy as np
import pandas as pd
import pytest

from benchmark.events import EventSet
from benchmark.sources import FormatError, lhco


def _tiny(real_samples):
    return real_samples / "lhco" / "events_anomalydetection_tiny.h5"


def test_real_tiny_sample_clusters_to_the_known_resonances(real_samples, tmp_path):
    res = lhco.convert({"events_anomalydetection.h5": _tiny(real_samples)}, tmp_path / "out", chunk_size=400)
    assert res.counts == {"background": 907, "signal": 93}
    sig = EventSet.load(res.classes["signal"])
    bkg = EventSet.load(res.classes["background"])
    for es in (sig, bkg):
        assert es["constituents"].shape[1:] == (2, 279, 4) and es["constituents"].dtype == np.float32
        assert es["jets"].shape[1:] == (2, 4) and es["jet_nsubjettiness"].shape[1:] == (2, 3)
        assert np.isfinite(es["jet_nsubjettiness"]).all() and (es["jet_nsubjettiness"] >= 0).all()
        assert (es["jets"][:, 0, 0] >= es["jets"][:, 1, 0]).all()  # leading jet first
        # constituents pt-ordered, mask consistent
        pt = es["constituents"][..., 0]
        assert (np.diff(pt, axis=-1) <= 1e-3).all()
        np.testing.assert_array_equal(es["constituents_mask"], pt > 0)
    # W' (3.5 TeV) -> X (500 GeV) Y (100 GeV): the two jet masses and the dijet mass
    masses = np.sort(sig["jets"][:, :, 3], axis=1)
    light, heavy = np.median(masses, axis=0)
    assert 80 < light < 130 and 440 < heavy < 560
    assert 3300 < np.median(sig["mjj"]) < 3700
    assert np.median(bkg["mjj"]) < 3300
    # two-prong signal jets have smaller tau2/tau1 than QCD jets
    tau21 = lambda es: es["jet_nsubjettiness"][..., 1] / np.maximum(es["jet_nsubjettiness"][..., 0], 1e-9)  # noqa: E731
    assert np.median(tau21(sig)) < np.median(tau21(bkg)) - 0.1
    assert res.notes["lhco-rnd"]["truncated_jets"] == 0
    assert sig.meta["clustering"].startswith("anti-kT R=1.0")


def test_real_tiny_sample_layout_is_what_the_reader_expects(real_samples):
    reader = lhco.RawEvents(_tiny(real_samples))
    assert (reader.n_rows, reader.n_cols, reader.labelled) == (1000, 2101, True)
    rows = reader.read(10, 20)
    assert rows.shape == (10, 2101)
    ref = pd.read_hdf(_tiny(real_samples), key="df", start=10, stop=20).to_numpy()
    np.testing.assert_array_equal(rows, ref)


def test_fixture_matches_the_organisers_layout_and_converts(tmp_path):
    path, labels = lhco.write_raw_fixture(tmp_path / "events_anomalydetection_v2.h5", 24, seed=3, signal_fraction=0.3)
    with h5py.File(path) as f:
        ds = f["df/block0_values"]
        assert ds.shape == (24, 2101) and ds.dtype == np.float64
        assert "32001" in ds._filters  # blosc
        np.testing.assert_array_equal(f["df/axis0"][:], np.arange(2101))
    res = lhco.convert({path.name: path}, tmp_path / "out", chunk_size=10)
    assert res.counts == {"background": int((labels == 0).sum()), "signal": int((labels == 1).sum())}
    sig = EventSet.load(res.classes["signal"])
    assert (sig["jets"][:, 0, 0] > 300).all() and (sig["mjj"] > 0).all()


def test_three_prong_file_without_label_is_signal_qqq(tmp_path):
    path, _ = lhco.write_raw_fixture(tmp_path / "events_anomalydetection_Z_XY_qqq.h5", 8, labelled=False)
    res = lhco.convert({path.name: path}, tmp_path / "out")
    assert res.counts == {"signal_qqq": 8}


def test_bad_label_names_file_row_and_column(tmp_path):
    path, _ = lhco.write_raw_fixture(tmp_path / "events_anomalydetection_v2.h5", 12)
    df = pd.read_hdf(path, key="df")
    df.iloc[7, 2100] = 3.0
    df.to_hdf(path, key="df", mode="w", complevel=5, complib="blosc")
    with pytest.raises(FormatError, match=r"events_anomalydetection_v2\.h5: row 7, column 2100 \(label\): 3\.0"):
        lhco.convert({path.name: path}, tmp_path / "out", chunk_size=5)
    # the chunk before the bad row is kept for the next attempt
    assert list((tmp_path / "out" / ".chunks" / "lhco-rnd").glob("*/done.json"))


def test_wrong_column_count_is_reported(tmp_path):
    path = tmp_path / "events_anomalydetection_v2.h5"
    pd.DataFrame(np.zeros((3, 2000))).to_hdf(path, key="df", mode="w")
    with pytest.raises(FormatError, match=r"2000 columns, expected 2100"):
        lhco.convert({path.name: path}, tmp_path / "out")


def test_feature_files_use_the_features_only_layout(tmp_path):
    feats = lhco.write_features_fixture(tmp_path / "events_anomalydetection_v2.features.h5", 50, seed=1)
    extra = lhco.write_features_fixture(tmp_path / "events_anomalydetection_qcd_extra_inneronly_features.h5", 30,
                                        seed=2, labelled=False)
    res = lhco.convert({feats.name: feats, extra.name: extra}, tmp_path / "out", feature_chunk_size=20)
    assert res.counts == {"extra_qcd": 30}
    assert set(res.extras) == {"features/background", "features/signal"}
    df = pd.read_hdf(feats, key="df")
    assert res.extra_counts["features/signal"] == int(df["label"].sum())
    es = EventSet.load(res.classes["extra_qcd"])
    assert es.names == ["jet_nsubjettiness", "jets", "mjj", "weights"]
    raw = pd.read_hdf(extra, key="df")
    pt1, pt2 = np.hypot(raw.pxj1, raw.pyj1), np.hypot(raw.pxj2, raw.pyj2)
    np.testing.assert_allclose(es["jets"][:, 0, 0], np.maximum(pt1, pt2))
    lead_m = np.where(pt1 >= pt2, raw.mj1, raw.mj2)
    np.testing.assert_allclose(es["jets"][:, 0, 3], lead_m)
    lead_t1 = np.where(pt1 >= pt2, raw.tau1j1, raw.tau1j2)
    np.testing.assert_allclose(es["jet_nsubjettiness"][:, 0, 0], lead_t1)
    e1 = np.sqrt(raw.pxj1**2 + raw.pyj1**2 + raw.pzj1**2 + raw.mj1**2)
    e2 = np.sqrt(raw.pxj2**2 + raw.pyj2**2 + raw.pzj2**2 + raw.mj2**2)
    m2 = (e1 + e2) ** 2 - (raw.pxj1 + raw.pxj2) ** 2 - (raw.pyj1 + raw.pyj2) ** 2 - (raw.pzj1 + raw.pzj2) ** 2
    np.testing.assert_allclose(es["mjj"], np.sqrt(m2), rtol=1e-9)


def test_feature_file_with_integer_column_labels_and_bad_names(tmp_path):
    path = lhco.write_features_fixture(tmp_path / "events_anomalydetection_v2.features.h5", 10)
    df = pd.read_hdf(path, key="df")
    df.columns = range(15)
    df.to_hdf(path, key="df", mode="w")
    res = lhco.convert({path.name: path}, tmp_path / "a")
    assert sum(res.extra_counts.values()) == 10
    df.columns = [*lhco.FEATURE_COLUMNS[:4], "tau1_j1", *lhco.FEATURE_COLUMNS[5:], "label"]
    df.to_hdf(path, key="df", mode="w")
    with pytest.raises(FormatError, match=r"features\.h5: column 4 is 'tau1_j1', expected 'tau1j1'"):
        lhco.convert({path.name: path}, tmp_path / "b")


def test_black_box_with_master_key(tmp_path):
    path, _ = lhco.write_raw_fixture(tmp_path / "events_LHCO2020_BlackBox1.h5", 12, labelled=False, seed=5)
    key = tmp_path / "events_LHCO2020_BlackBox1.masterkey"
    truth = np.array([0, 1, 0, 0, 2, 0, 1, 0, 0, 0, 0, 1])
    key.write_text("".join(f"{v}.0\n" for v in truth))
    res = lhco.convert_blackbox(path, key, tmp_path / "out", chunk_size=5)
    assert res.counts == {"blackbox1/background": 8, "blackbox1/signal": 3, "blackbox1/signal2": 1}
    assert (tmp_path / "out" / "blackbox1" / "signal.h5").exists()
    # through the dataset converter the black boxes land in the extras
    res = lhco.convert({path.name: path, key.name: key}, tmp_path / "out2")
    assert set(res.extras) == {"blackbox1/background", "blackbox1/signal", "blackbox1/signal2"}
    # without a key: unlabelled data
    res = lhco.convert_blackbox(path, None, tmp_path / "out3")
    assert res.counts == {"blackbox1/data": 12}
    key.write_text("0\n1\n")
    with pytest.raises(FormatError, match="12 events but the master key has 2 lines"):
        lhco.convert_blackbox(path, key, tmp_path / "out4")
    key.write_text("0\n1\nx\n")
    with pytest.raises(FormatError, match=r"masterkey, line 3: 'x' is not a number"):
        lhco.read_masterkey(key)
