"""Dark Machines event inputs of the challenge's methods, from the canonical ``objects`` arrays.

Two views of one event (``objects`` (N, 20, 5) = type code, E, pt, eta, phi in GeV with
``objects_mask``, and ``met`` (N, 2) = MET, MET phi; :mod:`benchmark.sources.darkmachines`):

* :func:`object_set`: the deep-set VAE's input (Ostdiek, methods.md d.1): a set of up to
  :data:`N_SLOTS` slots, slot 0 the MET as an object (type :data:`MET_TYPE`, E = 0, pT = MET,
  eta = 0, phi = MET phi), then the visible objects; per slot (log10 E, log10 pT, eta, phi) with
  zeros kept as 0 (the MET's E) and the type one-hot over :data:`N_TYPES` types;
* :func:`flat_features`: the fixed-length vector of the challenge's flow and Deep SVDD (DMPDF
  Tab. 15): MET, MET phi, the object counts per kind, then (log E, log pT, eta, phi) of the
  leading :data:`N_JETS` jets / b-jets and :data:`N_LEPTONS` leptons, zero-padded.

Both are cheap numpy from arrays every Dark Machines event set carries, so the scorers need no
cached representation; they run on any task whose events have ``objects`` (real or look-alike).
"""
from __future__ import annotations

import numpy as np

from benchmark.events import OBJECT_TYPES, EventSet

#: slots of the deep-set input: the MET object and up to 19 visible objects (the challenge's 20)
N_SLOTS = 20
#: the MET object's type code, after the seven visible kinds j, b, e-, e+, m-, m+, g (codes 1..7)
MET_TYPE = 8
N_TYPES = 8
#: four-vector coordinates per slot (log10 E, log10 pT, eta, phi)
N_KINEMATIC = 4
N_JETS = 7
N_LEPTONS = 4

_JETS = (OBJECT_TYPES["j"], OBJECT_TYPES["b"])
_LEPTONS = (OBJECT_TYPES["e-"], OBJECT_TYPES["e+"], OBJECT_TYPES["m-"], OBJECT_TYPES["m+"])
_COUNTED = ((OBJECT_TYPES["j"],), (OBJECT_TYPES["b"],), (OBJECT_TYPES["e-"], OBJECT_TYPES["e+"]),
            (OBJECT_TYPES["m-"], OBJECT_TYPES["m+"]), (OBJECT_TYPES["g"],))


def _arrays(events: EventSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    for name in ("objects", "objects_mask", "met"):
        if name not in events:
            raise KeyError(f"Dark Machines scorers need the event array {name!r} (objects, objects_mask, met); "
                           f"these events carry {events.names}: run them on a darkmachines/* task")
    return (np.asarray(events["objects"], np.float64), np.asarray(events["objects_mask"], bool),
            np.asarray(events["met"], np.float64))


def _log10_or_zero(x: np.ndarray) -> np.ndarray:
    """log10 of positive entries, 0 elsewhere (the MET's zero energy and padding stay 0)."""
    out = np.zeros_like(x)
    np.log10(x, out=out, where=x > 0)
    return out


def object_set(events: EventSet) -> tuple[np.ndarray, np.ndarray]:
    """(x (N, 20, 4 + 8) float32, mask (N, 20) bool): MET object first, then the visible objects in
    file order (at most 19 kept); x = (log10 E, log10 pT, eta, phi, one-hot type 1..8)."""
    objects, mask, met = _arrays(events)
    n = len(objects)
    kin = np.zeros((n, N_SLOTS, N_KINEMATIC))
    types = np.zeros((n, N_SLOTS), np.int64)
    out_mask = np.zeros((n, N_SLOTS), bool)
    kin[:, 0, 1] = _log10_or_zero(met[:, 0])
    kin[:, 0, 3] = met[:, 1]
    types[:, 0] = MET_TYPE
    out_mask[:, 0] = True
    # visible objects, compacted to the front in file order (the canonical arrays are front-filled,
    # but a stable sort on ~mask makes this hold for any mask)
    order = np.argsort(~mask, axis=1, kind="stable")[:, :N_SLOTS - 1]
    obj = np.take_along_axis(objects, order[..., None], axis=1)
    m = np.take_along_axis(mask, order, axis=1)
    k = obj.shape[1]
    kin[:, 1:1 + k, 0] = _log10_or_zero(obj[..., 1]) * m
    kin[:, 1:1 + k, 1] = _log10_or_zero(obj[..., 2]) * m
    kin[:, 1:1 + k, 2] = obj[..., 3] * m
    kin[:, 1:1 + k, 3] = obj[..., 4] * m
    types[:, 1:1 + k] = np.where(m, obj[..., 0].round().astype(np.int64), 0)
    out_mask[:, 1:1 + k] = m
    bad = out_mask & ((types < 1) | (types > N_TYPES))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"event {row}: object {col} has type code {types[row, col]}, outside 1..{N_TYPES - 1}")
    onehot = np.zeros((n, N_SLOTS, N_TYPES))
    rows, cols = np.nonzero(out_mask)
    onehot[rows, cols, types[rows, cols] - 1] = 1.0
    return np.concatenate([kin, onehot], axis=-1).astype(np.float32), out_mask


def object_types(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Type codes (0 = empty slot, 1..8) back from :func:`object_set`'s one-hot block."""
    return np.where(mask, x[..., N_KINEMATIC:].argmax(-1) + 1, 0)


def _leading(objects: np.ndarray, mask: np.ndarray, codes: tuple[int, ...], k: int) -> np.ndarray:
    """(N, k, 4) (log E, log pT, eta, phi) of the first ``k`` objects of the given kinds, in pT order."""
    sel = mask & np.isin(objects[..., 0].round(), codes)
    pt = np.where(sel, objects[..., 2], -np.inf)
    order = np.argsort(-pt, axis=1, kind="stable")[:, :k]
    obj = np.take_along_axis(objects, order[..., None], axis=1)
    keep = np.take_along_axis(sel, order, axis=1)
    out = np.stack([np.log1p(obj[..., 1]), np.log1p(obj[..., 2]), obj[..., 3], obj[..., 4]], axis=-1)
    out = out * keep[..., None]
    if out.shape[1] < k:
        out = np.concatenate([out, np.zeros((len(out), k - out.shape[1], 4))], axis=1)
    return out


def flat_features(events: EventSet, n_jets: int = N_JETS, n_leptons: int = N_LEPTONS) -> np.ndarray:
    """(N, 2 + 5 + 4 (n_jets + n_leptons)) float64: log(1 + MET), MET phi, counts of jets, b-jets,
    electrons, muons, photons, then the leading jets/b-jets and leptons as (log(1+E), log(1+pT),
    eta, phi), zero-padded (energies in GeV; logs keep the heavy pT tails inside a flow's range)."""
    objects, mask, met = _arrays(events)
    codes = objects[..., 0].round()
    counts = np.stack([(mask & np.isin(codes, c)).sum(1) for c in _COUNTED], axis=1).astype(np.float64)
    jets = _leading(objects, mask, _JETS, int(n_jets)).reshape(len(objects), -1)
    leptons = _leading(objects, mask, _LEPTONS, int(n_leptons)).reshape(len(objects), -1)
    return np.concatenate([np.log1p(met[:, :1]), met[:, 1:2], counts, jets, leptons], axis=1)
