"""Event-level dijet features (CATHODE ordering) from stored arrays and from constituents."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.events import EventSet, make_event_ids
from benchmark.features.highlevel import dijet_mass, highlevel_features, highlevel_from_events
from benchmark.features.nsubjettiness import jet_four_vector, nsubjettiness
from test_features_toys import toy_jets


def test_ordering_by_mass_and_guard():
    jets = np.array([[[1000, 0.1, 0.0, 500], [900, -0.2, 3.0, 100]],
                     [[1000, 0.1, 0.0, 80], [900, -0.2, 3.0, 300]]], float)
    taus = np.array([[[0.5, 0.25, 0.1], [0.0, 0.0, 0.0]],
                     [[0.4, 0.3, 0.1], [0.6, 0.3, 0.2]]], float)
    out = highlevel_features(jets, taus)
    np.testing.assert_allclose(out[0, 1:], [100, 400, 0.0, 0.5])  # tau1 = 0 -> tau21 = 0
    np.testing.assert_allclose(out[1, 1:], [80, 220, 0.75, 0.5])
    np.testing.assert_allclose(out[:, 0], dijet_mass(jets))
    tev = highlevel_features(jets, taus, unit="TeV")
    np.testing.assert_allclose(tev[:, :3], out[:, :3] / 1000)
    np.testing.assert_allclose(tev[:, 3:], out[:, 3:])
    with pytest.raises(ValueError):
        highlevel_features(jets[:, :1], taus[:, :1])


def test_dijet_mass_back_to_back():
    jets = np.array([[[1000.0, 0.0, 0.0, 0.0], [1000.0, 0.0, np.pi, 0.0]]])
    np.testing.assert_allclose(dijet_mass(jets), [2000.0])


def test_from_events_stored_and_computed_agree():
    x1, m1 = toy_jets(20, 30, seed=1)
    x2, m2 = toy_jets(20, 30, seed=2, prongs=2)
    cons = np.stack([x1, x2], axis=1)
    mask = np.stack([m1, m2], axis=1)
    ids = make_event_ids("hl", 20)
    computed = highlevel_from_events(EventSet({"constituents": cons, "constituents_mask": mask}, ids))
    jets = np.stack([jet_four_vector(x1, m1), jet_four_vector(x2, m2)], axis=1)
    taus = np.stack([nsubjettiness(x1, m1), nsubjettiness(x2, m2)], axis=1)
    stored = EventSet({"jets": jets, "jet_nsubjettiness": taus}, ids)
    np.testing.assert_allclose(highlevel_from_events(stored), computed, rtol=1e-9)
    with pytest.raises(KeyError):
        highlevel_from_events(EventSet({"constituents": cons, "constituents_mask": mask}, ids),
                              source="stored")
    # a stored mjj is used as given
    ev = EventSet({"jets": jets, "jet_nsubjettiness": taus, "mjj": np.full(20, 1234.0)}, ids)
    np.testing.assert_array_equal(highlevel_from_events(ev)[:, 0], 1234.0)
