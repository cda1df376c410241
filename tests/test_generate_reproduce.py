"""Regenerating the shipped samples from their recorded recipe and seed gives identical arrays.

Fast: a prefix of chunk 0 of every shipped class (a chunk of n rows is a prefix of the same chunk
with more rows). Slow: whole shipped files for the cheaper classes, and the full first chunk of
every class. Bit-identity holds for the recorded software versions; other versions skip.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchmark.events import EventSet
from benchmark.generate.pythia import SAMPLES_DIR, software_versions

MANIFEST_PATH = SAMPLES_DIR / "MANIFEST.json"
PREFIX_ROWS = 6


def _cases() -> list[tuple[str, str]]:
    if not MANIFEST_PATH.exists():
        return []
    manifest = json.loads(MANIFEST_PATH.read_text())
    return [(ds, cls) for ds, entry in manifest["datasets"].items() for cls in entry["classes"]]


def _shipped(dataset: str, cls: str) -> EventSet:
    pytest.importorskip("pythia8mc")
    es = EventSet.load(SAMPLES_DIR / dataset / f"{cls}.h5")
    if es.meta["versions"] != software_versions():
        pytest.skip(f"sample made with {es.meta['versions']}, running {software_versions()}: "
                    "bit-identity is only promised for the recorded versions")
    return es


def _assert_same(rows: dict[str, np.ndarray], shipped: EventSet, n: int) -> None:
    assert set(rows) == set(shipped.names)
    for name, arr in rows.items():
        np.testing.assert_array_equal(arr, shipped[name][:n], err_msg=name)


@pytest.mark.parametrize("dataset,cls", _cases())
def test_first_rows_regenerate_identically(dataset, cls):
    from benchmark.generate import generate_chunk

    shipped = _shipped(dataset, cls)
    if dataset == "darkmachines":  # mixed background and finalised signal weights: see dm_samples
        from benchmark.generate.dm_samples import regenerate_rows

        positions, rows = regenerate_rows(shipped.meta, cls, 3)
        assert len(positions) > 0
        assert set(rows) == set(shipped.names)
        for name, arr in rows.items():
            np.testing.assert_array_equal(arr, shipped[name][positions], err_msg=name)
        return
    res = generate_chunk(shipped.meta["recipe"], cls, 0, PREFIX_ROWS, shipped.meta["seed"])
    _assert_same(res.arrays, shipped, PREFIX_ROWS)


@pytest.mark.slow
@pytest.mark.parametrize("dataset,cls", _cases())
def test_first_chunk_regenerates_identically(dataset, cls):
    from benchmark.generate import generate_chunk

    shipped = _shipped(dataset, cls)
    if dataset == "darkmachines":
        pytest.skip("covered by test_first_rows_regenerate_identically (mixture positions)")
    n = min(shipped.meta["chunk_size"], len(shipped))
    res = generate_chunk(shipped.meta["recipe"], cls, 0, n, shipped.meta["seed"])
    _assert_same(res.arrays, shipped, n)
    assert res.n_generated > 0


@pytest.mark.slow
@pytest.mark.parametrize("dataset,cls", [("lhco", "signal"), ("top", "top")])
def test_whole_sample_regenerates_identically(dataset, cls, tmp_path):
    from benchmark.generate import generate_dataset

    shipped = _shipped(dataset, cls)
    out = generate_dataset(dataset, {cls: len(shipped)}, out_dir=tmp_path, seed=shipped.meta["seed"],
                           chunk_size=shipped.meta["chunk_size"], workers=2, progress=False)
    regenerated = EventSet.load(out[cls])
    assert regenerated.fingerprint() == shipped.fingerprint()
    assert regenerated.meta["pythia_seeds"] == shipped.meta["pythia_seeds"]


def test_cli_generates_one_class_whose_rows_extend_the_shipped_sample(tmp_path):
    """`lhcad generate lhco --classes signal --events N` (how an injection scan gets more signal
    than ships): only that class is written, and its first rows are the shipped sample's."""
    from benchmark.cli import main

    shipped = _shipped("lhco", "signal")
    assert main(["generate", "lhco", "--classes", "signal", "--events", "3", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.h5")) == ["signal.h5"]
    _assert_same(EventSet.load(tmp_path / "signal.h5").arrays, shipped, 3)
    with pytest.raises(SystemExit, match="--classes is not for darkmachines"):
        main(["generate", "darkmachines", "--channel", "chan1", "--classes", "chan1/background"])
