"""Dark Machines look-alike: object reconstruction, channel cuts, mixing, shipped chan1 sample physics.

Fast tests use hand-made particles and the shipped sample; the ones that run Pythia are marked
slow (or skip without pythia8mc). The real chan1 sample (../shared/real-samples) is compared with
where it exists.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmark.events import OBJECT_TYPES, EventSet
from benchmark.generate import darkmachines as dm
from benchmark.generate.dm_samples import mixture_counts, mixture_order
from benchmark.generate.pythia import SAMPLES_DIR

SAMPLE = SAMPLES_DIR / "darkmachines" / "chan1"
REAL = Path(__file__).resolve().parents[2] / "shared" / "real-samples" / "darkmachines" / "chan1"
if not REAL.exists():
    REAL = Path("/work/shared/real-samples/darkmachines/chan1")


def _event(objs: list[tuple[str, float, float, float]], met: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One event from (type, pt, eta, phi) objects."""
    objects = np.zeros((1, dm.N_OBJECTS, 5), np.float32)
    mask = np.zeros((1, dm.N_OBJECTS), bool)
    for i, (kind, pt, eta, phi) in enumerate(objs):
        objects[0, i] = (OBJECT_TYPES[kind], pt * np.cosh(eta), pt, eta, phi)
        mask[0, i] = True
    return objects, mask, np.array([[met, 0.0]])


# -- channel cuts ----------------------------------------------------------------------------------
def test_chan1_cuts_one_at_a_time():
    jets = [("j", 250.0, 0.1, 0.0), ("b", 150.0, 0.3, 1.0), ("j", 120.0, -0.5, 2.0), ("j", 80.0, 1.0, -2.0)]
    ok = dm.channel_mask(*_event(jets, 200.0), "chan1")  # H_T = 600, MET = 200, MET/H_T = 0.33
    assert ok.tolist() == [True]
    assert not dm.channel_mask(*_event(jets, 199.0), "chan1")[0]  # MET
    assert not dm.channel_mask(*_event(jets[:3] + [("j", 45.0, 1.0, -2.0)], 300.0), "chan1")[0]  # 4th jet < 50
    soft = [("j", 190.0, 0, 0), ("j", 180.0, 0, 1), ("j", 150.0, 0, 2), ("j", 100.0, 0, 3)]
    assert not dm.channel_mask(*_event(soft, 300.0), "chan1")[0]  # no jet > 200
    hard = [("j", 900.0, 0, 0), ("j", 500.0, 0, 1), ("j", 300.0, 0, 2), ("j", 100.0, 0, 3)]
    assert not dm.channel_mask(*_event(hard, 300.0), "chan1")[0]  # MET/H_T = 0.17
    # leptons and photons do not count in H_T or as jets
    assert not dm.channel_mask(*_event(jets[:3] + [("e-", 200.0, 0, 3)], 250.0), "chan1")[0]


def test_lepton_channels_count_leptons():
    two = [("j", 60.0, 0, 0), ("e-", 30.0, 0, 1), ("m+", 20.0, 0, 2)]
    assert dm.channel_mask(*_event(two, 60.0), "chan2b")[0]
    assert not dm.channel_mask(*_event(two, 60.0), "chan2a")[0]
    assert dm.channel_mask(*_event(two + [("e+", 16.0, 0, 3)], 60.0), "chan2a")[0]
    assert not dm.channel_mask(*_event(two, 40.0), "chan2b")[0]
    with pytest.raises(ValueError, match="chan9"):
        dm.channel_mask(*_event(two, 60.0), "chan9")


# -- object building -------------------------------------------------------------------------------
def test_objects_are_ordered_like_the_real_files():
    ev = np.array([0, 0, 0, 0, 0, 0, 1])
    code = np.array([OBJECT_TYPES[k] for k in ("g", "m-", "j", "e+", "b", "j", "j")])
    pt = np.array([300.0, 40.0, 60.0, 25.0, 90.0, 30.0, 10.0])
    zeros = np.zeros(len(ev))
    objects, mask = dm._pack([(ev, code, pt, pt, zeros, zeros)], 2)
    kinds = objects[0, mask[0], 0].astype(int).tolist()
    assert kinds == [OBJECT_TYPES[k] for k in ("b", "j", "j", "e+", "m-", "g")]  # jets by pT, then e, mu, gamma
    assert objects[0, :3, 2].tolist() == [90.0, 60.0, 30.0]
    assert mask.sum(axis=1).tolist() == [6, 1]


def test_isolation_separates_lone_leptons_from_leptons_in_jets():
    # event 0: a lone 50 GeV electron; event 1: the same electron with 30 GeV of hadrons at dR 0.2
    pt = np.array([50.0, 1.0, 50.0, 10.0, 20.0])
    eta = np.array([0.0, 2.0, 0.0, 0.2, 0.0])
    phi = np.array([0.0, 0.0, 0.0, 0.0, 0.2])
    event = np.array([0, 0, 1, 1, 1])
    offsets = np.array([0, 2, 5])
    visible = np.ones(5, bool)
    ratio = dm.isolation_ratio(np.array([0, 2]), event, pt, eta, phi, offsets, 0.5, 0.5, visible)
    np.testing.assert_allclose(ratio, [0.0, 30.0 / 50.0])


def test_heavy_flavour_from_pdg_codes():
    codes = np.array([511, -521, 5122, 421, 4122, 211, 21, 5, 443, 553])
    assert dm.heavy_flavour(codes).tolist() == [5, 5, 5, 4, 4, 0, 0, 0, 4, 5]


def test_class_names_carry_the_channel():
    assert dm.channel_of("chan1/ttbar") == "chan1"
    with pytest.raises(ValueError, match="<channel>/<process>"):
        dm.channel_of("ttbar")


# -- background mixing -----------------------------------------------------------------------------
def test_mixture_follows_cross_sections_and_seed():
    counts = mixture_counts({"ttbar": 0.9, "w_jets": 0.18, "z_jets": 0.04}, 400)
    assert sum(counts.values()) == 400
    assert counts["ttbar"] == pytest.approx(400 * 0.9 / 1.12, abs=1)
    assert counts["ttbar"] > counts["w_jets"] > counts["z_jets"] > 0
    a = mixture_order(counts, 5, "chan1")
    b = mixture_order(counts, 5, "chan1")
    c = mixture_order(counts, 6, "chan1")
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    assert np.bincount(a[0]).tolist() == list(counts.values())
    with pytest.raises(ValueError, match="no background process"):
        mixture_counts({"ttbar": 0.0}, 10)


# -- registry: a source that holds a few classes ----------------------------------------------------
def test_generated_chan1_task_holds_the_generated_signals_only():
    from benchmark.registry import load_registry

    reg = load_registry()
    real = reg.task("darkmachines/chan1", "real")
    gen = reg.task("darkmachines/chan1", "generated")
    assert len(real.signal) == 8 and real is reg.task("darkmachines/chan1")
    held = set(reg.dataset("darkmachines").source("generated").classes)
    assert {r.name for r in gen.signal} == held - {"chan1/background"}
    assert [r.name for r in gen.background] == ["chan1/background"]
    with pytest.raises(ValueError, match="holds no background"):
        reg.task("darkmachines/chan2a", "generated")
    quick = reg.suite("quick")
    assert "darkmachines/chan1" in quick.tasks and quick.task_sizes["darkmachines/chan1"] == {"train": 0.99, "test": 0.4}


def test_leaderboard_ti_expects_the_signals_a_source_holds():
    from benchmark.leaderboard import Entry, dark_machines_ti

    records = [{"per_signal": {"chan1/glgl1600_neutralino800": {"si_all": 3.0},
                               "chan1/sqsq_sq1800_neut800": {"si_all": 5.0}}}]
    entry = Entry(task="darkmachines/chan1", source="generated", scorer="s", injection=None, records=records)
    ti = dark_machines_ti([entry])[("s", "generated")]
    assert ti["complete"] and ti["median"] == 4.0 and ti["n_signals"] == 2


# -- the shipped chan1 look-alike ------------------------------------------------------------------
def _sample(name: str) -> EventSet:
    path = SAMPLE / f"{name}.h5"
    if not path.exists():
        pytest.skip(f"shipped sample {path} missing")
    return EventSet.load(path)


def _summary(es: EventSet) -> dict[str, np.ndarray]:
    s = dm.event_summary(es["objects"], es["objects_mask"])
    code = es["objects"][..., 0]
    s["met"] = es["met"][:, 0]
    s["n_jets"] = (es["objects_mask"] & ((code == 1) | (code == 2))).sum(axis=1)
    s["n_b"] = (es["objects_mask"] & (code == 2)).sum(axis=1)
    return s


def test_shipped_background_passes_the_chan1_cuts_and_is_canonical():
    bkg = _sample("background")
    assert dm.channel_mask(bkg["objects"], bkg["objects_mask"], bkg["met"], "chan1").all()
    s = _summary(bkg)
    assert (s["ht"] >= 600).all() and (s["met"] >= 200).all() and (s["n_jets_50"] >= 4).all()
    # exactly the real converter's arrays, shapes and dtypes
    from benchmark.sources.darkmachines import fake_lines, parse_lines

    real_like, _, _ = parse_lines(fake_lines(3), "fixture")
    assert set(bkg.names) == set(real_like)
    for name, arr in real_like.items():
        assert bkg[name].dtype == arr.dtype and bkg[name].shape[1:] == arr.shape[1:], name
    # luminosity weights: their sum is the expected yield in 7.79 fb^-1
    meta = bkg.meta
    assert meta["luminosity_fb"] == 7.79
    assert bkg["weights"].sum() == pytest.approx(meta["expected_events"])
    sigma = sum(p["sigma_selected_pb"] for p in meta["mixture"]["processes"].values())
    assert meta["expected_events"] == pytest.approx(sigma * 1e3 * 7.79)


def test_shipped_background_mix_follows_the_real_non_multijet_ranking():
    bkg = _sample("background")
    names = {int(k): v for k, v in bkg.meta["process_names"].items()}
    counts = {names[c]: int(n) for c, n in zip(*np.unique(bkg["process_code"], return_counts=True))}
    # ttbar leads, then W + jets, then Z + jets: the order of these processes in the real chan1
    assert max(counts, key=counts.get) == "ttbar"
    assert counts["ttbar"] > counts["w_jets"] > counts["z_jets"] > 0
    real = REAL / "background_chan1_7.79_reduced.csv"
    if real.exists():
        procs = [line.split(";")[1] for line in real.read_text().splitlines()]
        real_counts = {p: procs.count(p) for p in ("ttbar", "w_jets", "z_jets")}
        assert real_counts["ttbar"] > real_counts["w_jets"] > real_counts["z_jets"]


def test_shipped_signals_have_more_met_and_harder_jets_than_background():
    bkg = _summary(_sample("background"))
    for name in ("glgl1600_neutralino800", "sqsq_sq1800_neut800"):
        es = _sample(name)
        assert dm.channel_mask(es["objects"], es["objects_mask"], es["met"], "chan1").all()
        s = _summary(es)
        assert np.median(s["met"]) > 1.5 * np.median(bkg["met"]), name
        assert np.median(s["ht"]) > 1.5 * np.median(bkg["ht"]), name
        # no top quarks: fewer b-tags than the ttbar-dominated background
        assert s["n_b"].mean() < bkg["n_b"].mean(), name
        w = es["weights"]
        assert np.all(w == w[0]) and w[0] == pytest.approx(es.meta["sigma_selected_pb"] / len(es))
    # gluino pairs (q qbar chi each) make more jets than squark pairs (q chi each)
    glgl, sqsq = _summary(_sample("glgl1600_neutralino800")), _summary(_sample("sqsq_sq1800_neut800"))
    assert glgl["n_jets"].mean() > sqsq["n_jets"].mean()


def test_background_has_b_tags_and_leptons_like_ttbar():
    s = _summary(_sample("background"))
    bkg = _sample("background")
    code = bkg["objects"][..., 0]
    leptons = (bkg["objects_mask"] & np.isin(code, dm.LEPTON_CODES)).sum(axis=1)
    assert 0.3 < (s["n_b"] >= 1).mean() < 0.95  # ttbar: two b jets at 70 % efficiency
    assert 0.05 < (leptons >= 1).mean() < 0.6  # semileptonic ttbar / W with a lost or soft lepton


# -- Pythia ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_channel_generation_resumes_and_reuses_chunks(tmp_path, monkeypatch):
    pytest.importorskip("pythia8mc")
    from benchmark.generate import dm_samples, pythia

    first = dm_samples.generate_channel("chan1", 4, signal_events=2, out_dir=tmp_path, pilot=2, chunk_size=2,
                                        progress=False)
    before = {cls: EventSet.load(p).fingerprint() for cls, p in first.items()}

    def boom(*args, **kwargs):
        raise AssertionError("a finished chunk was generated again")

    monkeypatch.setattr(pythia, "generate_chunk", boom)
    again = dm_samples.generate_channel("chan1", 4, signal_events=2, out_dir=tmp_path, pilot=2, chunk_size=2,
                                        progress=False)
    assert {cls: EventSet.load(p).fingerprint() for cls, p in again.items()} == before
    meta = json.loads(json.dumps(EventSet.load(again["chan1/background"]).meta))
    assert sum(p["rows"] for p in meta["mixture"]["processes"].values()) == 4


# -- validation ------------------------------------------------------------------------------------
def test_ks_distance():
    from benchmark.generate.dm_validate import ks_distance

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=2000), rng.normal(size=2000)
    assert ks_distance(a, b) < 0.06
    assert ks_distance(a, a + 10) == 1.0
    assert ks_distance([0, 0, 1, 1], [0, 1, 1, 1]) == pytest.approx(0.25)


def test_real_chan1_observables_satisfy_the_channel_cuts():
    if not REAL.exists():
        pytest.skip("real Dark Machines chan1 sample absent")
    from benchmark.generate.dm_validate import observables, read_real_channel

    real = read_real_channel(REAL, "chan1")
    assert {"background", "sqsq_sq1800_neut800"} <= set(real)
    for arrays in real.values():
        obs = observables(arrays["objects"], arrays["objects_mask"], arrays["met"])
        # our reading of the cuts agrees with the real files (H_T from the stored jets)
        assert (obs["met"] >= 200).all() and (obs["ht"] >= 599.9).all() and (obs["jet4_pt"] >= 50).all()
        assert dm.channel_mask(arrays["objects"], arrays["objects_mask"], arrays["met"] + 1e-3, "chan1").mean() > 0.99


def test_quick_suite_plans_chan1_at_its_own_sizes(tmp_path):
    _sample("background")
    from benchmark.runner import jobs_for_suite

    jobs = jobs_for_suite("quick", ["hlf-gmm"], results_dir=tmp_path, seeds=1)
    sizes = {j.task: j.sizes for j in jobs}
    assert sizes["darkmachines/chan1"] == {"train": 0.99, "test": 0.4}
    assert sizes["top/qcd-vs-top"] == {"train": 1500.0, "test": 1000.0}


def test_jet_scorers_are_skipped_on_object_tasks(tmp_path):
    _sample("background")
    from benchmark.runner import plan_jobs

    skipped: list[str] = []
    jobs = plan_jobs(tasks=["darkmachines/chan1"], scorers=["hlf-gmm", "jet-mass"], seeds=1, source="generated",
                     results_dir=tmp_path, sizes={"train": 0.99, "test": 0.4}, skipped=skipped)
    assert [j.scorer for j in jobs] == ["hlf-gmm"]
    assert any(s.startswith("jet-mass needs the event arrays jets that darkmachines/chan1 lacks") for s in skipped)
