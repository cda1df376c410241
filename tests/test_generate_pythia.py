"""Generation mechanics: missing extra, seeds, chunking, canonical layout, workers, resume."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import benchmark.generate.pythia as gen
from benchmark.events import EventSet, make_event_ids
from benchmark.generate import RECIPES, chunk_seeds, chunk_sizes, generate_chunk, generate_dataset, require_pythia


def test_missing_pythia_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pythia8mc", None)  # makes `import pythia8mc` fail
    with pytest.raises(ImportError) as err:
        require_pythia()
    msg = str(err.value)
    assert "pythia8mc" in msg and "pip install 'lhcad[generate]'" in msg
    with pytest.raises(ImportError, match=r"lhcad\[generate\]"):
        generate_dataset("top", 5, out_dir=tmp_path, progress=False)


def test_package_imports_without_pythia(monkeypatch):
    monkeypatch.setitem(sys.modules, "pythia8mc", None)
    import importlib

    import benchmark.generate

    importlib.reload(benchmark.generate)
    assert set(benchmark.generate.RECIPES) == {"top", "darkjets", "zprime", "lhco", "darkmachines"}


def test_chunk_seeds_are_deterministic_and_distinct():
    a = chunk_seeds("top", 1, "qcd", 0)
    assert a == chunk_seeds("top", 1, "qcd", 0)
    others = {chunk_seeds("top", 1, "qcd", 1), chunk_seeds("top", 1, "top", 0),
              chunk_seeds("top", 2, "qcd", 0), chunk_seeds("lhco", 1, "qcd", 0)}
    assert a not in others and len(others) == 4
    for seed, _ in [a, *others]:
        assert 1 <= seed <= gen.PYTHIA_SEED_MAX


def test_chunk_sizes():
    assert chunk_sizes(1200, 500) == [500, 500, 200]
    assert chunk_sizes(1000, 500) == [500, 500]
    assert chunk_sizes(3, 500) == [3]
    with pytest.raises(ValueError):
        chunk_sizes(10, 0)


def test_bad_arguments(tmp_path):
    pytest.importorskip("pythia8mc")
    with pytest.raises(KeyError, match="did you mean"):
        generate_dataset("top", {"qdc": 3}, out_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="positive"):
        generate_dataset("top", {"qcd": 0}, out_dir=tmp_path, progress=False)
    with pytest.raises(KeyError):
        generate_dataset("no-such-dataset", 3, out_dir=tmp_path, progress=False)


def _check_canonical(es: EventSet, n_jets: int, n_const: int) -> None:
    c, m, j = es["constituents"], es["constituents_mask"], es["jets"]
    n = len(es)
    assert c.shape == (n, n_jets, n_const, 4) and c.dtype == np.float32
    assert m.shape == (n, n_jets, n_const) and m.dtype == bool
    assert j.shape == (n, n_jets, 4) and j.dtype == np.float64
    assert np.array_equal(m, c[..., 0] > 0)
    assert not c[~m].any()  # zero padding
    assert (np.diff(m.astype(np.int8), axis=-1) <= 0).all()  # real particles first
    pt = np.where(m, c[..., 0], -1.0)
    assert (np.diff(pt, axis=-1)[m[..., 1:]] <= 0).all()  # pt-ordered
    assert np.all(np.abs(c[..., 2]) <= np.float32(np.pi))
    np.testing.assert_array_equal(es["weights"], np.ones(n))
    # the stored jet four-vector is the sum of its constituents (up to storage rounding)
    cc = c.astype(np.float64)
    px = (cc[..., 0] * np.cos(cc[..., 2])).sum(-1)
    py = (cc[..., 0] * np.sin(cc[..., 2])).sum(-1)
    full = m.sum(-1) < n_const
    assert np.allclose(np.hypot(px, py)[full], j[..., 0][full], rtol=2e-3)


def test_lhco_signal_layout_and_meta(tmp_path):
    pytest.importorskip("pythia8mc")
    out = generate_dataset("lhco", {"signal": 6}, out_dir=tmp_path, chunk_size=4, progress=False)
    assert set(out) == {"signal"} and out["signal"] == tmp_path / "signal.h5"
    es = EventSet.load(out["signal"])
    assert len(es) == 6
    _check_canonical(es, 2, 279)
    assert set(es.names) == {"constituents", "constituents_mask", "jets", "jet_nsubjettiness", "mjj", "weights"}
    np.testing.assert_array_equal(es.event_id, make_event_ids("lhco/generated/signal", 6))
    assert es["jet_nsubjettiness"].shape == (6, 2, 3)
    assert (es["jets"][:, 0, 0] >= es["jets"][:, 1, 0]).all()
    assert (es["jets"][:, :, 0].max(axis=1) > 1200).all()
    from benchmark.clustering import dijet_mass

    np.testing.assert_allclose(es["mjj"], dijet_mass(es["jets"]))
    meta = es.meta
    for key in ("recipe", "settings", "selection", "seed", "versions", "detector", "sigma_gen_mb",
                "efficiency", "chunk_size", "pythia_seeds", "n_generated"):
        assert key in meta, key
    assert meta["recipe"] == "lhco" and meta["seed"] == 4 and meta["chunk_size"] == 4
    assert meta["settings"] == RECIPES["lhco"].settings("signal")
    assert meta["versions"]["pythia8mc"] and meta["versions"]["fastjet"]
    assert meta["sigma_gen_mb"] > 0 and 0 < meta["efficiency"] <= 1
    assert meta["n_chunks"] == 2 and len(meta["pythia_seeds"]) == 2


def test_top_layout_single_jets(tmp_path):
    pytest.importorskip("pythia8mc")
    out = generate_dataset("top", {"qcd": 3, "top": 2}, out_dir=tmp_path, chunk_size=10, seed=11, progress=False)
    for cls, n in (("qcd", 3), ("top", 2)):
        es = EventSet.load(out[cls])
        assert len(es) == n
        _check_canonical(es, 1, 200)
        assert set(es.names) == {"constituents", "constituents_mask", "jets", "weights"}
        pt, eta = es["jets"][:, 0, 0], es["jets"][:, 0, 1]
        assert ((pt > 550) & (pt < 650) & (np.abs(eta) < 2)).all()
        assert es.meta["seed"] == 11


def test_chunk_prefix_property():
    pytest.importorskip("pythia8mc")
    small = generate_chunk("lhco", "signal", 0, 3, 9)
    big = generate_chunk("lhco", "signal", 0, 7, 9)
    for name, arr in small.arrays.items():
        np.testing.assert_array_equal(arr, big.arrays[name][:3])


def test_workers_do_not_change_results(tmp_path):
    pytest.importorskip("pythia8mc")
    one = generate_dataset("lhco", {"signal": 8}, out_dir=tmp_path / "one", chunk_size=3, workers=1, progress=False)
    two = generate_dataset("lhco", {"signal": 8}, out_dir=tmp_path / "two", chunk_size=3, workers=2, progress=False)
    a, b = EventSet.load(one["signal"]), EventSet.load(two["signal"])
    assert a.fingerprint() == b.fingerprint()
    assert a.meta["pythia_seeds"] == b.meta["pythia_seeds"]


def test_interrupted_run_resumes_only_missing_chunks(tmp_path, monkeypatch):
    pytest.importorskip("pythia8mc")
    calls: list[tuple[str, int]] = []
    real = gen.generate_chunk

    def counting(recipe, cls, index, *args, **kwargs):
        calls.append((cls, index))
        return real(recipe, cls, index, *args, **kwargs)

    monkeypatch.setattr(gen, "generate_chunk", counting)
    out = generate_dataset("lhco", {"signal": 9}, out_dir=tmp_path, chunk_size=3, progress=False)
    assert calls == [("signal", 0), ("signal", 1), ("signal", 2)]
    first = EventSet.load(out["signal"]).fingerprint()
    parts = sorted((tmp_path / ".parts" / "signal").glob("chunk_*.h5"))
    assert [p.name for p in parts] == ["chunk_00000.h5", "chunk_00001.h5", "chunk_00002.h5"]
    mtimes = {p.name: os.stat(p).st_mtime_ns for p in parts}

    # simulate an interruption: the merge never happened and chunk 1 was not written
    out["signal"].unlink()
    parts[1].unlink()
    calls.clear()
    out2 = generate_dataset("lhco", {"signal": 9}, out_dir=tmp_path, chunk_size=3, progress=False)
    assert calls == [("signal", 1)]
    for p in (parts[0], parts[2]):
        assert os.stat(p).st_mtime_ns == mtimes[p.name]
    assert EventSet.load(out2["signal"]).fingerprint() == first

    # a complete rerun regenerates nothing; another seed regenerates everything
    calls.clear()
    generate_dataset("lhco", {"signal": 9}, out_dir=tmp_path, chunk_size=3, progress=False)
    assert calls == []
    generate_dataset("lhco", {"signal": 9}, out_dir=tmp_path, chunk_size=3, seed=99, progress=False)
    assert calls == [("signal", 0), ("signal", 1), ("signal", 2)]


def test_pythia_errors_are_explicit():
    pytest.importorskip("pythia8mc")
    import dataclasses

    from benchmark.generate.pythia import make_pythia
    from benchmark.generate.recipes import ProcessSpec

    base = RECIPES["zprime"]
    bad_setting = dataclasses.replace(base, classes={"x": ProcessSpec(("NoSuch:setting = on",), "bad")})
    with pytest.raises(ValueError, match="rejected the setting"):
        make_pythia(bad_setting, "x", 1)
    # a Zv that couples only to dark quarks cannot be produced: init() fails and we say so
    dark_only = dataclasses.replace(base, classes={"x": ProcessSpec(
        ("HiddenValley:ffbar2Zv = on", "4900023:m0 = 1000.", "4900023:oneChannel = 1 1.0 102 4900101 -4900101"),
        "unproducible")})
    with pytest.raises(RuntimeError, match="init"):
        make_pythia(dark_only, "x", 1)
