"""Jet mass, multiplicity, girth and C_0.2 against brute-force definitions (Eq. 4)."""
from __future__ import annotations

import numpy as np

from benchmark.features.nsubjettiness import jet_four_vector
from benchmark.features.observables import jet_observables
from test_features_toys import permute, toy_jets


def _brute(x, mask):
    out = []
    for k in range(len(x)):
        pt, eta, phi, e = x[k][mask[k]].astype(np.float64).T
        if len(pt) == 0:
            out.append([0, 0, 0, 0])
            continue
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        jpx, jpy, jpz, je = px.sum(), py.sum(), pz.sum(), e.sum()
        jy = 0.5 * np.log((je + jpz) / (je - jpz))
        jphi = np.arctan2(jpy, jpx)
        dphi = (phi - jphi + np.pi) % (2 * np.pi) - np.pi
        girth = (pt * np.hypot(eta - jy, dphi)).sum() / pt.sum()
        dr = np.hypot(eta[:, None] - eta[None], (phi[:, None] - phi[None] + np.pi) % (2 * np.pi) - np.pi)
        c02 = (pt[:, None] * pt[None] * dr**0.2).sum() / pt.sum() ** 2
        mass = np.sqrt(max(je**2 - jpx**2 - jpy**2 - jpz**2, 0))
        out.append([mass, len(pt), girth, c02])
    return np.array(out)


def test_against_brute_force():
    x, mask = toy_jets(30, 25, seed=1, dtype=np.float64)
    mask[0] = False
    got = jet_observables(x, mask)
    np.testing.assert_allclose(got, _brute(x, mask), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got[:, 0], jet_four_vector(x, mask)[:, 3], rtol=1e-12)
    np.testing.assert_array_equal(got[0], 0)


def test_permutation_invariance_and_physics():
    x, mask = toy_jets(20, 40, seed=2)
    xp, mp = permute(x, mask)
    np.testing.assert_allclose(jet_observables(xp, mp), jet_observables(x, mask), rtol=1e-9)
    narrow, nm = toy_jets(20, 40, seed=3, spread=0.02, pad=False)
    wide, wm = toy_jets(20, 40, seed=3, spread=0.2, pad=False)
    a, b = jet_observables(narrow, nm), jet_observables(wide, wm)
    assert np.all(a[:, 2] < b[:, 2]) and np.all(a[:, 3] < b[:, 3])  # girth, C0.2 grow with width
    assert np.all(a[:, 0] < b[:, 0])
