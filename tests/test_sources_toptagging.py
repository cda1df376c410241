"""Top-tagging converter on fixtures in the exact upstream layout (table format, 806 columns)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tables

from benchmark.events import SPLITS, EventSet
from benchmark.sources import FormatError, toptagging


@pytest.fixture
def upstream(tmp_path):
    files = {}
    for i, (name, ttv) in enumerate((("train.h5", 0), ("val.h5", 2), ("test.h5", 1))):
        files[name] = toptagging.write_fixture(tmp_path / "up" / name, 60, seed=i, ttv=ttv, max_constituents=40)
    return files


def test_fixture_has_the_upstream_on_disk_layout(upstream):
    with tables.open_file(upstream["train.h5"]) as f:
        dtype = f.root.table.table.dtype
    assert dtype.names == ("index", "values_block_0", "values_block_1")
    assert dtype["values_block_0"].shape == (804,) and dtype["values_block_0"].base == np.float32
    assert dtype["values_block_1"].shape == (2,) and dtype["values_block_1"].base == np.int64
    cols = list(pd.read_hdf(upstream["train.h5"], key="table", stop=1).columns)
    assert cols[:4] == ["E_0", "PX_0", "PY_0", "PZ_0"] and cols[-6:] == [
        "truthE", "truthPX", "truthPY", "truthPZ", "ttv", "is_signal_new"] and len(cols) == 806


def test_converts_to_canonical_classes_with_splits(upstream, tmp_path):
    res = toptagging.convert(upstream, tmp_path / "out", chunk_size=25)
    assert set(res.classes) == {"qcd", "top"}
    assert res.counts["qcd"] + res.counts["top"] == 180
    frames = [pd.read_hdf(upstream[n], key="table") for n in ("train.h5", "val.h5", "test.h5")]
    df = pd.concat(frames, ignore_index=True)
    for label, cls in ((0, "qcd"), (1, "top")):
        es = EventSet.load(res.classes[cls])
        rows = df[df["is_signal_new"] == label]
        assert len(es) == len(rows)
        c = es["constituents"]
        assert c.shape == (len(rows), 1, 200, 4) and c.dtype == np.float32
        assert es["constituents_mask"].shape == (len(rows), 1, 200)
        assert es["jets"].shape == (len(rows), 1, 4) and es["jets"].dtype == np.float64
        e = rows[[f"E_{i}" for i in range(200)]].to_numpy()
        px = rows[[f"PX_{i}" for i in range(200)]].to_numpy()
        py = rows[[f"PY_{i}" for i in range(200)]].to_numpy()
        np.testing.assert_array_equal(es["constituents_mask"][:, 0], e > 0)
        np.testing.assert_allclose(c[:, 0, :, 0], np.hypot(px, py), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(c[:, 0, :, 3], e, rtol=1e-6)
        # pt-ordered as stored, padding zero
        pt = c[:, 0, :, 0]
        assert (np.diff(pt, axis=1) <= 1e-3).all()
        assert (c[~es["constituents_mask"]] == 0).all()
        # jet = sum of constituents
        jpx = px.sum(1)
        jpy = py.sum(1)
        np.testing.assert_allclose(es["jets"][:, 0, 0], np.hypot(jpx, jpy), rtol=1e-5)
        assert (es["jets"][:, 0, 3] > 0).all()
        # ttv 0 train / 2 val / 1 test -> split 0 / 1 / 2
        want = np.array([{0: 0, 1: 2, 2: 1}[t] for t in rows["ttv"]], dtype=np.int8)
        np.testing.assert_array_equal(es["split"], want)
        assert set(es["split"].tolist()) == {SPLITS["train"], SPLITS["val"], SPLITS["test"]}
        assert (es.weights == 1).all()
        assert len(set(es.event_id.tolist())) == len(es)
        assert es.meta["dataset"] == "top" and es.meta["class"] == cls


def test_event_ids_do_not_depend_on_chunking(upstream, tmp_path):
    a = toptagging.convert(upstream, tmp_path / "a", chunk_size=25)
    b = toptagging.convert(upstream, tmp_path / "b", chunk_size=1000)
    for cls in ("qcd", "top"):
        ea, eb = EventSet.load(a.classes[cls]), EventSet.load(b.classes[cls])
        np.testing.assert_array_equal(ea.event_id, eb.event_id)
        np.testing.assert_array_equal(ea["constituents"], eb["constituents"])


def test_wrong_column_names_the_file_and_column(tmp_path):
    path = toptagging.write_fixture(tmp_path / "train.h5", 5)
    df = pd.read_hdf(path, key="table").rename(columns={"PY_7": "PY_seven"})
    df.to_hdf(path, key="table", mode="w", format="table")
    with pytest.raises(FormatError, match=r"train\.h5: column 30 is 'PY_seven', expected 'PY_7'"):
        toptagging.convert({"train.h5": path}, tmp_path / "out")


def test_bad_values_name_the_file_and_row(tmp_path):
    path = toptagging.write_fixture(tmp_path / "val.h5", 30, ttv=2)
    df = pd.read_hdf(path, key="table")
    df.loc[17, "ttv"] = 5
    df.to_hdf(path, key="table", mode="w", format="table")
    with pytest.raises(FormatError, match=r"val\.h5: row 17: ttv = 5"):
        toptagging.convert({"val.h5": path}, tmp_path / "out", chunk_size=10)


def test_interrupted_conversion_resumes_from_its_chunks(upstream, tmp_path, monkeypatch):
    calls = []
    real = toptagging.frame_to_arrays

    def failing(path, frame, row0, **kw):
        calls.append((path.name, row0))
        if path.name == "val.h5" and row0 == 40:
            raise KeyboardInterrupt("simulated crash")
        return real(path, frame, row0, **kw)

    monkeypatch.setattr(toptagging, "frame_to_arrays", failing)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        toptagging.convert(upstream, out, chunk_size=20)
    assert not (out / "qcd.h5").exists()
    done_before = len(calls) - 1
    calls.clear()
    monkeypatch.setattr(toptagging, "frame_to_arrays", real)
    res = toptagging.convert(upstream, out, chunk_size=20)
    # 3 files x 3 chunks: those done before the crash are reused, not recomputed
    assert res.notes["chunks"] == {"computed": 9 - done_before, "reused": done_before}
    ref = toptagging.convert(upstream, tmp_path / "ref", chunk_size=20)
    for cls in ("qcd", "top"):
        assert EventSet.load(res.classes[cls]).fingerprint() == EventSet.load(ref.classes[cls]).fingerprint()
    # a finished stage is reused as a whole
    again = toptagging.convert(upstream, out, chunk_size=20)
    assert again.notes.get("reused") is True
