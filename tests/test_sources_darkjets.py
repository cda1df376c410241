"""Dark-jet sources: format probe of Zenodo 12801842 files, and the Z' dark-shower text format."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from benchmark.events import EventSet
from benchmark.sources import FormatError, darkjets, toptagging


def test_top_like_files_are_converted_with_the_class_from_the_name(tmp_path):
    qcd = toptagging.write_fixture(tmp_path / "up" / "qcd_lowpt_test.h5", 30, seed=1)
    aachen = toptagging.write_fixture(tmp_path / "up" / "Aachen_sig.h5", 20, seed=2)
    (tmp_path / "up" / "README.md").write_text("about these files\n")
    files = {p.name: p for p in (qcd, aachen, tmp_path / "up" / "README.md")}
    res = darkjets.convert(files, tmp_path / "out", chunk_size=8)
    assert res.counts == {"qcd": 30, "aachen": 20}
    es = EventSet.load(res.classes["aachen"])
    assert es.names == ["constituents", "constituents_mask", "jets", "weights"]  # no split for darkjets
    assert es["constituents"].shape[1:] == (1, 200, 4)
    assert any("README.md" in w for w in res.warnings)


def test_probe_reports_clearly_what_it_found(tmp_path):
    with h5py.File(tmp_path / "jets_qcd.h5", "w") as f:
        f["particles"] = np.zeros((7, 50, 3), dtype=np.float32)
        f.create_group("meta")["labels"] = np.zeros(7, dtype=np.int8)
    np.savez(tmp_path / "aachen.npz", x=np.zeros((4, 2)))
    files = {"jets_qcd.h5": tmp_path / "jets_qcd.h5", "aachen.npz": tmp_path / "aachen.npz"}
    with pytest.raises(FormatError) as err:
        darkjets.convert(files, tmp_path / "out")
    msg = str(err.value)
    assert "no file has the expected layout" in msg
    assert "jets_qcd.h5" in msg and "dataset /particles: shape (7, 50, 3), dtype float32" in msg
    assert "dataset /meta/labels: shape (7,), dtype int8" in msg
    assert "aachen.npz" in msg and "array 'x': shape (4, 2)" in msg
    assert "E_0, PX_0" in msg  # what was expected


def test_probe_of_pandas_files_lists_columns_and_refuses_unknown_classes(tmp_path):
    p = toptagging.write_fixture(tmp_path / "jets.h5", 5)
    probe = darkjets.probe_file(p)
    assert probe.kind == "pandas-hdf5" and probe.top_like and probe.n_rows == 5 and probe.key == "table"
    with pytest.raises(FormatError, match="cannot tell the class of jets.h5"):
        darkjets.convert({"jets.h5": p}, tmp_path / "out")
    assert darkjets.class_from_name("hb_q50m10_lpt.h5") == "heidelberg"
    assert darkjets.class_from_name("qcd_vs_aachen.h5") is None  # two classes named: ambiguous


def test_zprime_text_format(tmp_path):
    path = darkjets.write_zprime_fixture(tmp_path / "events100k.txt", 30, max_constituents=250)
    res = darkjets.convert_zprime({path.name: path}, tmp_path / "out", chunk_size=7)
    assert res.counts == {"zprime": 30}
    es = EventSet.load(res.classes["zprime"])
    c, mask = es["constituents"], es["constituents_mask"]
    assert c.shape == (30, 1, 200, 4)
    lines = path.read_text().splitlines()
    first = lines[0].split()
    parts = np.array([[float(first[i + 1]), float(first[i + 2]), float(first[i + 3])]
                      for i in range(13, len(first), 4)])
    parts = parts[np.argsort(-parts[:, 0])][:200]
    np.testing.assert_allclose(c[0, 0, : len(parts), :3], parts, rtol=1e-6)
    np.testing.assert_allclose(c[0, 0, : len(parts), 3], parts[:, 0] * np.cosh(parts[:, 1]), rtol=1e-5)
    assert mask[0, 0].sum() == len(parts)
    assert (np.diff(c[..., 0], axis=-1) <= 1e-4).all()  # pt-ordered
    # jet = sum of the stored constituents
    pt, eta, phi = (c[:, 0, :, i].astype(np.float64) for i in range(3))
    np.testing.assert_allclose(es["jets"][:, 0, 0], np.hypot((pt * np.cos(phi)).sum(1), (pt * np.sin(phi)).sum(1)),
                               rtol=1e-5)
    n_long = sum((len(line.split()) - 13) // 4 > 200 for line in lines)
    assert res.notes["zprime"]["truncated_jets"] == n_long


def test_zprime_malformed_line_names_file_and_line(tmp_path):
    path = darkjets.write_zprime_fixture(tmp_path / "events100k.txt", 5)
    lines = path.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace(" P ", " Q ", 1)
    path.write_text("".join(lines))
    with pytest.raises(FormatError, match=r"events100k\.txt, line 4: constituents must be groups 'P <pT> <eta> <phi>'"):
        darkjets.convert_zprime({path.name: path}, tmp_path / "out")
