"""Dark Machines converter: the real chan1 samples, a tar fixture, malformed lines and resume."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.events import OBJECT_TYPES, EventSet
from benchmark.sources import FormatError, darkmachines

OFFICIAL = {"chan1/monojet_Zp2000.0_DM_50.0": 1130, "chan1/monotop_200_A": 1581,
            "chan1/sqsq_sq1800_neut800": 2822, "chan1/background": 1000}


@pytest.fixture
def converted(real_samples, tmp_path):
    return darkmachines.convert({"chan1": real_samples / "darkmachines" / "chan1"}, tmp_path / "out", chunk_size=700)


def test_real_samples_parse_to_the_official_counts(converted):
    assert converted.counts == OFFICIAL
    assert set(converted.classes) == set(OFFICIAL)
    assert converted.classes["chan1/background"].parent.name == "chan1"


def test_real_samples_are_in_gev_with_type_codes(converted, real_samples):
    bkg = EventSet.load(converted.classes["chan1/background"])
    # first line: 179903555;njets;1;351709;-2.56781;j,672376,506951,0.784228,0.908651;...
    np.testing.assert_allclose(bkg["met"][0], [351.709, -2.56781], rtol=1e-6)
    np.testing.assert_allclose(bkg["objects"][0, 0], [OBJECT_TYPES["j"], 672.376, 506.951, 0.784228, 0.908651], rtol=1e-6)
    assert bkg["objects_mask"][0].sum() == 5
    for cls, path in converted.classes.items():
        es = EventSet.load(path)
        obj, mask = es["objects"], es["objects_mask"]
        assert obj.shape[1:] == (darkmachines.N_OBJECTS, 5) and obj.dtype == np.float32
        assert (es["met"][:, 0] >= 200 - 1e-3).all()  # chan1: MET >= 200 GeV (so: GeV, not MeV)
        assert (obj[..., 2][mask] < 5000).all() and (obj[..., 2][mask] > 5).all()
        assert (obj[..., 1][mask] >= obj[..., 2][mask] * (1 - 1e-4)).all()  # E >= pT
        assert set(np.unique(obj[..., 0][mask]).astype(int)) <= set(OBJECT_TYPES.values())
        assert (obj[~mask] == 0).all()
        assert len(es) == OFFICIAL[cls]
    sig = EventSet.load(converted.classes["chan1/monojet_Zp2000.0_DM_50.0"])
    np.testing.assert_allclose(sig.weights, 2.44336e-05)
    assert sig.meta["signal"] == "monojet_Zp2000.0_DM_50.0" and sig.meta["channel"] == "chan1"
    assert (bkg.weights == 1).all() and bkg.meta["luminosity_fb"] == pytest.approx(7.79)
    names = bkg.meta["process_names"]
    procs = {names[str(c)] for c in np.unique(bkg["process_code"])}
    assert {"njets", "ttbar", "w_jets", "z_jets"} <= procs
    assert sum(bkg.meta["process_counts"].values()) == 1000


def test_class_names_from_file_names():
    assert darkmachines.classify("background_chan2a_309.6.csv") == (
        "chan2a/background", {"channel": "chan2a", "luminosity_fb": 309.6, "role": "background"})
    assert darkmachines.classify("background_chan1_7.79_reduced.csv")[0] == "chan1/background"
    assert darkmachines.classify("gluino_1000.0_neutralino_1.0_chan2b.csv")[0] == "chan2b/gluino_1000.0_neutralino_1.0"
    assert darkmachines.classify("monoV_Zp2000.0_DM_1.0_chan3.csv")[0] == "chan3/monoV_Zp2000.0_DM_1.0"
    assert darkmachines.classify("README.md") is None


def test_tar_fixture_converts_every_channel(tmp_path):
    tar = darkmachines.write_fixture(tmp_path / "training_files.tar")
    res = darkmachines.convert({"training_files.tar": tar}, tmp_path / "out", chunk_size=64)
    assert res.counts == {"chan1/background": 200, "chan1/monojet_Zp2000.0_DM_50.0": 50,
                          "chan2a/background": 80, "chan2a/pp23mt_50": 30}
    es = EventSet.load(res.classes["chan2a/background"])
    assert es.meta["luminosity_fb"] == pytest.approx(309.6) and es.meta["member"].startswith("training_files/chan2a/")


def _write(path, lines):
    path.write_text("".join(lines))
    return path


def test_malformed_line_names_file_and_line_and_keeps_converted_chunks(tmp_path):
    lines = darkmachines.fake_lines(10, seed=1)
    lines[6] = lines[6].replace(",", ";", 1)  # line 7: an object split wrongly
    path = _write(tmp_path / "background_chan1_7.79.csv", lines)
    out = tmp_path / "out"
    with pytest.raises(FormatError, match=r"background_chan1_7\.79\.csv, line 7: .*','-separated values, expected 5"):
        darkmachines.convert({"f": path}, out, chunk_size=3)
    done = sorted(p.parent.name for p in (out / ".chunks").rglob("done.json"))
    assert done == ["00000000", "00000001"]  # lines 1-6 stay converted
    res = darkmachines.convert({"f": path}, out, chunk_size=3, errors="skip")
    assert res.counts == {"chan1/background": 9}
    assert any("skipped 1 malformed lines (first: [7])" in w for w in res.warnings)


@pytest.mark.parametrize("bad, why", [
    ("1;ttbar;1;x;0.1;j,1,1,0,0;\n", "weight/MET/METphi"),
    ("1;ttbar;1;2e5;0.1;q,1,1,0,0;\n", "unknown type 'q'"),
    ("1;ttbar;1\n", "3 ';'-separated fields"),
    ("1;ttbar;1;2e5;0.1;j,1,one,0,0;\n", "not a number"),
])
def test_each_kind_of_bad_line_is_explained(tmp_path, bad, why):
    path = _write(tmp_path / "pp23mt_50_chan2a.csv", [*darkmachines.fake_lines(2), bad])
    with pytest.raises(FormatError, match=rf"pp23mt_50_chan2a\.csv, line 3: .*{why}"):
        darkmachines.convert({"f": path}, tmp_path / "out")


def test_aliases_blank_lines_and_truncation(tmp_path):
    objs = ";".join(["j,2e5,1e5,0.1,0.2"] * 22 + ["mu-,5e4,4e4,0.3,0.4", "a,3e4,3e4,0,0"])
    lines = ["7;sig;0.5;3e5;0.1;mu+,5e4,4e4,0.3,0.4;a,3e4,3e4,0,0;\n", "\n", f"8;sig;0.5;3e5;0.1;{objs};\n"]
    path = _write(tmp_path / "sig_chan3.csv", lines)
    res = darkmachines.convert({"f": path}, tmp_path / "out")
    es = EventSet.load(res.classes["chan3/sig"])
    assert len(es) == 2
    np.testing.assert_array_equal(es["objects"][0, :2, 0], [OBJECT_TYPES["m+"], OBJECT_TYPES["g"]])
    assert es["objects_mask"][1].all()
    assert res.notes["chan3/sig"]["truncated_events"] == 1 and res.notes["chan3/sig"]["blank_lines"] == 1
    assert any("more than 20 objects" in w for w in res.warnings)


def test_interrupted_conversion_resumes(tmp_path, monkeypatch):
    path = _write(tmp_path / "background_chan3_8.02.csv", darkmachines.fake_lines(50, seed=2))
    real = darkmachines.parse_lines
    seen = []

    def crash_on_third(lines, source, first, **kw):
        seen.append(first)
        if first == 21:
            raise KeyboardInterrupt
        return real(lines, source, first, **kw)

    monkeypatch.setattr(darkmachines, "parse_lines", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        darkmachines.convert({"f": path}, tmp_path / "out", chunk_size=10)
    seen.clear()
    monkeypatch.setattr(darkmachines, "parse_lines", lambda lines, source, first, **kw: (seen.append(first), real(lines, source, first, **kw))[1])
    res = darkmachines.convert({"f": path}, tmp_path / "out", chunk_size=10)
    assert seen == [21, 31, 41]  # chunks starting at lines 1 and 11 were reused
    ref = darkmachines.convert({"f": path}, tmp_path / "ref", chunk_size=10)
    cls = "chan3/background"
    assert EventSet.load(res.classes[cls]).fingerprint() == EventSet.load(ref.classes[cls]).fingerprint()
