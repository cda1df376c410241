"""The representation registry: names, shapes, jet selection, parameter checks, disk cache."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.events import EventSet, make_event_ids
from benchmark.features import available, compute
from benchmark.features import cache as fcache
from test_features_toys import toy_jets

N, J, P = 12, 2, 20


@pytest.fixture
def events():
    parts = [toy_jets(N, P, seed=s) for s in range(J)]
    cons = np.stack([p[0] for p in parts], axis=1)
    mask = np.stack([p[1] for p in parts], axis=1)
    return EventSet({"constituents": cons, "constituents_mask": mask}, make_event_ids("reg", N))


EXPECTED = {
    "constituents": (N, J, P, 6),
    "images": (N, J, 40, 40),
    "efp": (N, J, 8),
    "nsubjettiness": (N, J, 5),
    "jet_observables": (N, J, 4),
    "highlevel": (N, 5),
}


def test_available_names():
    names = available()
    assert set(EXPECTED) <= set(names)
    assert all(isinstance(v, str) and v for v in names.values())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shapes_and_finiteness(events, name):
    out = events.features(name)
    assert out.shape == EXPECTED[name]
    assert np.all(np.isfinite(out))


def test_jet_selection(events):
    full = compute("efp", events)
    np.testing.assert_allclose(compute("efp", events, jet=1), full[:, 1], rtol=1e-13)
    np.testing.assert_array_equal(compute("images", events, jet=0, npix=16),
                                  compute("images", events, npix=16)[:, 0])
    with pytest.raises(ValueError, match="out of range"):
        compute("efp", events, jet=2)
    with pytest.raises(ValueError, match="per event"):
        compute("highlevel", events, jet=0)


def test_unknown_name_and_parameter(events):
    with pytest.raises(ValueError, match="did you mean 'images'"):
        compute("imagse", events)
    with pytest.raises(TypeError, match="did you mean 'sigma'"):
        compute("images", events, sigm=1.0)


def test_disk_cache_roundtrip(events, _isolated_cache):
    a = compute("efp", events, beta=0.5)
    files = sorted((_isolated_cache / "features" / "efp").glob("*.npy"))
    assert len(files) == 1 and files[0].with_suffix(".json").exists()
    np.testing.assert_array_equal(np.load(files[0]), a)
    # defaults are part of the key: an explicit default hits the same file
    compute("efp", events, beta=0.5, kappa=1.0, n_threads=1)
    assert len(list((_isolated_cache / "features" / "efp").glob("*.npy"))) == 1
    # a corrupt file is recomputed and replaced
    files[0].write_bytes(b"not a numpy file")
    np.testing.assert_array_equal(compute("efp", events, beta=0.5), a)
    np.testing.assert_array_equal(np.load(files[0]), a)
    # other data -> other key
    compute("efp", events.take(np.arange(5)), beta=0.5)
    assert len(list((_isolated_cache / "features" / "efp").glob("*.npy"))) == 2
    assert fcache.clear("efp") == 4
    compute("efp", events, beta=0.5, cache=False)
    assert not list((_isolated_cache / "features" / "efp").glob("*.npy"))


def test_stored_nsubjettiness_without_constituents():
    taus = np.array([[[0.4, 0.2, 0.1]], [[0.0, 0.0, 0.0]]])
    ev = EventSet({"jet_nsubjettiness": taus}, make_event_ids("st", 2))
    out = compute("nsubjettiness", ev, cache=False)
    np.testing.assert_allclose(out[:, 0], [[0.4, 0.2, 0.1, 0.5, 0.5], [0, 0, 0, 0, 0]])
    with pytest.raises(KeyError, match="constituents"):
        compute("efp", ev, cache=False)
