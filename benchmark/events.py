"""Canonical events: :class:`EventSet` (what a scorer sees) and :class:`Labels` (what only metrics see).

An :class:`EventSet` is a bag of named arrays that share their first axis (one row per event),
plus a stable 64-bit ``event_id`` per event and a metadata dict. Every dataset, real or generated,
is converted into these names, so a scorer written for one dataset runs on all that offer the
arrays it needs. Canonical names and layouts (units GeV, angles in radians):

==========================  =====================  ==============================================
name                        shape / dtype          meaning
==========================  =====================  ==============================================
``constituents``            (N, J, P, 4) float32   per jet j: particles (pt, eta, phi, E), pt-ordered,
                                                   zero-padded; J = 1 for single-jet datasets
``constituents_mask``       (N, J, P) bool         True for real particles
``jets``                    (N, J, 4) float64      jet (pt, eta, phi, mass); leading jet first
``jet_nsubjettiness``       (N, J, 3) float64      tau1, tau2, tau3 (beta = 1, exclusive-kT axes)
``objects``                 (N, O, 5) float32      reconstructed objects (type code, E, pt, eta, phi)
``objects_mask``            (N, O) bool            True for real objects
``met``                     (N, 2) float64         missing transverse momentum (MET, phi)
``mjj``                     (N,) float64           invariant mass of the two leading jets
``weights``                 (N,) float64           event weights (1 where the sample is unweighted)
``split``                   (N,) int8              official split where the dataset has one:
                                                   0 train, 1 validation, 2 test (:data:`SPLITS`)
==========================  =====================  ==============================================

Labels are never stored in an :class:`EventSet`; the runner builds them beside the test set and
hands them to the metrics only (see :mod:`benchmark.tasks`).
"""
from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.store import atomic_write

CANONICAL_FIELDS: dict[str, str] = {
    "constituents": "(N, J, P, 4) float32 pt, eta, phi, E per particle; pt-ordered, zero-padded",
    "constituents_mask": "(N, J, P) bool, True for real particles",
    "jets": "(N, J, 4) float64 jet pt, eta, phi, mass",
    "jet_nsubjettiness": "(N, J, 3) float64 tau1, tau2, tau3 (beta = 1)",
    "objects": "(N, O, 5) float32 object type code, E, pt, eta, phi",
    "objects_mask": "(N, O) bool, True for real objects",
    "met": "(N, 2) float64 MET, MET phi",
    "mjj": "(N,) float64 dijet invariant mass",
    "weights": "(N,) float64 event weight",
    "split": "(N,) int8 official split: 0 train, 1 validation, 2 test",
}
SPLITS = {"train": 0, "val": 1, "test": 2}
#: Dark Machines object type codes (``objects[..., 0]``), as in Ostdiek's converter; 8 = MET slot.
OBJECT_TYPES = {"j": 1, "b": 2, "e-": 3, "e+": 4, "m-": 5, "m+": 6, "g": 7}

FORMAT_VERSION = 1


def make_event_ids(namespace: str, count: int, start: int = 0) -> np.ndarray:
    """Stable, unique 64-bit ids for events ``start .. start+count-1`` of ``namespace``.

    The id is the splitmix64 finaliser of ``crc32(namespace) << 32 | index``: a bijection, so ids
    are unique within a namespace, and scrambled, so neither the class nor the position of an event
    can be read off its id.
    """
    if start < 0 or start + count >= 2**32:
        raise ValueError(f"event index range [{start}, {start + count}) does not fit 32 bits")
    salt = np.uint64(zlib.crc32(namespace.encode()))
    x = (salt << np.uint64(32)) | np.arange(start, start + count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return x.view(np.int64)


class EventSet:
    """Named per-event arrays with stable ids; the only thing a scorer is given.

    ``features(name, **params)`` computes a representation (images, EFPs, ...) on demand through
    :mod:`benchmark.features` and memoises it on this object, so a scorer asks for what it needs
    instead of every representation being computed for every scorer.
    """

    def __init__(
        self,
        arrays: Mapping[str, np.ndarray],
        event_id: np.ndarray,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self.event_id = np.asarray(event_id, dtype=np.int64)
        if self.event_id.ndim != 1:
            raise ValueError(f"event_id must be 1-D, got shape {self.event_id.shape}")
        n = len(self.event_id)
        self._arrays: dict[str, np.ndarray] = {}
        for name, value in arrays.items():
            value = np.asarray(value)
            if value.shape[:1] != (n,):
                raise ValueError(
                    f"array {name!r} has {value.shape[0] if value.ndim else 'no'} rows, "
                    f"but there are {n} event ids"
                )
            self._arrays[name] = value
        self.meta: dict[str, Any] = dict(meta or {})
        self._feature_cache: dict[str, np.ndarray] = {}

    # -- mapping-like access -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.event_id)

    @property
    def n_events(self) -> int:
        return len(self.event_id)

    @property
    def names(self) -> list[str]:
        return sorted(self._arrays)

    def __contains__(self, name: object) -> bool:
        return name in self._arrays

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._arrays[name]
        except KeyError:
            have = ", ".join(self.names) or "none"
            raise KeyError(
                f"this event set has no array {name!r} (it has: {have}); "
                f"dataset {self.meta.get('dataset', '?')!r} does not provide it"
            ) from None

    def get(self, name: str, default: np.ndarray | None = None) -> np.ndarray | None:
        return self._arrays.get(name, default)

    @property
    def arrays(self) -> Mapping[str, np.ndarray]:
        return dict(self._arrays)

    @property
    def weights(self) -> np.ndarray:
        """Event weights, ones where the dataset is unweighted."""
        w = self._arrays.get("weights")
        return np.ones(len(self), dtype=np.float64) if w is None else w

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}{tuple(v.shape[1:])}" for k, v in sorted(self._arrays.items()))
        return f"EventSet(n={len(self)}, {parts})"

    # -- derived sets --------------------------------------------------------------------------
    def take(self, index: np.ndarray | Sequence[int] | slice) -> EventSet:
        """Subset (or reorder) events; metadata is kept, memoised features are sliced too."""
        sub = EventSet({k: v[index] for k, v in self._arrays.items()}, self.event_id[index], self.meta)
        sub._feature_cache = {k: v[index] for k, v in self._feature_cache.items()}
        return sub

    def with_arrays(self, **arrays: np.ndarray) -> EventSet:
        """A copy with arrays added or replaced."""
        merged = dict(self._arrays)
        merged.update(arrays)
        return EventSet(merged, self.event_id, self.meta)

    def without(self, *names: str) -> EventSet:
        return EventSet({k: v for k, v in self._arrays.items() if k not in names}, self.event_id, self.meta)

    @staticmethod
    def concatenate(sets: Sequence[EventSet], meta: Mapping[str, Any] | None = None) -> EventSet:
        """Stack event sets that share their array names (padding widths must agree)."""
        if not sets:
            raise ValueError("cannot concatenate an empty list of event sets")
        names = set(sets[0].names)
        for i, es in enumerate(sets[1:], 1):
            if set(es.names) != names:
                raise ValueError(
                    f"event set {i} has arrays {sorted(es.names)}, expected {sorted(names)}"
                )
        arrays = {k: np.concatenate([es[k] for es in sets]) for k in names}
        ids = np.concatenate([es.event_id for es in sets])
        return EventSet(arrays, ids, meta if meta is not None else sets[0].meta)

    # -- representations -----------------------------------------------------------------------
    def features(self, name: str, **params: Any) -> np.ndarray:
        """Representation ``name`` (see :func:`benchmark.features.available`), memoised per params."""
        key = self.feature_key(name, params)
        if key not in self._feature_cache:
            from benchmark.features import compute

            self._feature_cache[key] = compute(name, self, **params)
        return self._feature_cache[key]

    @staticmethod
    def feature_key(name: str, params: Mapping[str, Any]) -> str:
        """The memo key of ``features(name, **params)`` (also used to prefill it from outside)."""
        return name + json.dumps(dict(params), sort_keys=True, default=str)

    # -- identity ------------------------------------------------------------------------------
    def fingerprint(self) -> str:
        """sha256 over ids and array bytes: identifies exactly which events were scored."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.event_id).tobytes())
        for name in self.names:
            arr = np.ascontiguousarray(self._arrays[name])
            digest.update(name.encode() + str(arr.dtype).encode() + str(arr.shape).encode())
            digest.update(arr.tobytes())
        return digest.hexdigest()

    # -- storage -------------------------------------------------------------------------------
    def save(self, path: str | Path, compression: str | None = "gzip") -> Path:
        """Write atomically to HDF5 (``/arrays/<name>``, ``/event_id``, JSON ``meta`` attribute)."""
        import h5py

        path = Path(path)
        with atomic_write(path, "path") as tmp:
            with h5py.File(tmp, "w") as f:
                f.attrs["lhcad_format"] = FORMAT_VERSION
                f.attrs["meta"] = json.dumps(self.meta, sort_keys=True, default=str)
                f.create_dataset("event_id", data=self.event_id, compression=compression)
                group = f.create_group("arrays")
                for name, arr in self._arrays.items():
                    opts = {"compression": compression} if compression and arr.size else {}
                    if compression == "gzip" and arr.size:
                        opts["shuffle"] = True
                    group.create_dataset(name, data=arr, **opts)
        return path

    @classmethod
    def load(
        cls,
        path: str | Path,
        names: Iterable[str] | None = None,
        start: int | None = None,
        stop: int | None = None,
    ) -> EventSet:
        """Read an event file written by :meth:`save` (optionally some arrays, a row range)."""
        import h5py

        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"event file {path} does not exist")
        try:
            with h5py.File(path, "r") as f:
                if "event_id" not in f or "arrays" not in f:
                    raise ValueError(
                        f"{path} is not an lhcad event file (needs /event_id and /arrays)"
                    )
                rows = slice(start, stop)
                wanted = list(f["arrays"]) if names is None else list(names)
                missing = [n for n in wanted if n not in f["arrays"]]
                if missing:
                    raise KeyError(f"{path} has no arrays {missing}; it has {sorted(f['arrays'])}")
                arrays = {n: f["arrays"][n][rows] for n in wanted}
                ids = f["event_id"][rows]
                meta = json.loads(f.attrs.get("meta", "{}"))
        except OSError as exc:
            raise OSError(f"cannot read event file {path}: {exc}") from exc
        return cls(arrays, ids, meta)

    @staticmethod
    def count(path: str | Path) -> int:
        """Number of events in a file without loading it."""
        import h5py

        with h5py.File(path, "r") as f:
            return int(f["event_id"].shape[0])


@dataclass(frozen=True)
class Labels:
    """Truth for a set of events, kept apart from :class:`EventSet` so scorers never see it.

    ``is_signal`` is 1 for the anomaly class, 0 for background; ``process`` names each event's
    class (the dataset class, e.g. ``"qcd"`` or ``"monojet_Zp2000.0_DM_50.0"``).
    """

    event_id: np.ndarray
    is_signal: np.ndarray
    process: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))

    def __post_init__(self) -> None:
        if len(self.event_id) != len(self.is_signal):
            raise ValueError("labels: event_id and is_signal differ in length")

    def take(self, index: np.ndarray | slice) -> Labels:
        process = self.process[index] if len(self.process) else self.process
        return Labels(self.event_id[index], self.is_signal[index], process)

    def save(self, path: str | Path) -> Path:
        import h5py

        path = Path(path)
        with atomic_write(path, "path") as tmp:
            with h5py.File(tmp, "w") as f:
                f.create_dataset("event_id", data=self.event_id)
                f.create_dataset("is_signal", data=self.is_signal.astype(np.int8))
                f.create_dataset("process", data=np.asarray(self.process, dtype=object),
                                 dtype=h5py.string_dtype())
        return path

    @classmethod
    def load(cls, path: str | Path) -> Labels:
        import h5py

        with h5py.File(path, "r") as f:
            process = f["process"].asstr()[:] if "process" in f else np.array([], dtype=object)
            return cls(f["event_id"][:], f["is_signal"][:], np.asarray(process, dtype=object))


def merge_event_files(parts: Sequence[str | Path], out: str | Path, meta: Mapping[str, Any] | None = None,
                      compression: str | None = "gzip") -> Path:
    """Concatenate event files (e.g. per-chunk outputs) into ``out`` atomically, part by part.

    Memory stays bounded by one part, so a converter or generator can write resumable chunk files
    and merge them at the end without ever holding the whole dataset.
    """
    import h5py

    if not parts:
        raise ValueError("no event files to merge")
    out = Path(out)
    with h5py.File(parts[0], "r") as first:
        names = sorted(first["arrays"])
        tails = {n: first["arrays"][n].shape[1:] for n in names}
        dtypes = {n: first["arrays"][n].dtype for n in names}
        first_meta = json.loads(first.attrs.get("meta", "{}"))
    total = sum(EventSet.count(p) for p in parts)
    with atomic_write(out, "path") as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["lhcad_format"] = FORMAT_VERSION
            f.attrs["meta"] = json.dumps(dict(meta) if meta is not None else first_meta, sort_keys=True, default=str)
            opts: dict[str, Any] = {"compression": compression, "shuffle": True} if compression else {}
            ids = f.create_dataset("event_id", shape=(total,), dtype=np.int64, **opts)
            group = f.create_group("arrays")
            dsets = {n: group.create_dataset(n, shape=(total, *tails[n]), dtype=dtypes[n],
                                             **(opts if total else {})) for n in names}
            row = 0
            for part in parts:
                with h5py.File(part, "r") as src:
                    have = sorted(src["arrays"])
                    if have != names:
                        raise ValueError(f"{part} has arrays {have}, expected {names} (as in {parts[0]})")
                    n = src["event_id"].shape[0]
                    ids[row:row + n] = src["event_id"][:]
                    for name in names:
                        if src["arrays"][name].shape[1:] != tails[name]:
                            raise ValueError(f"{part}: array {name} has shape {src['arrays'][name].shape}, "
                                             f"expected (*, {tails[name]})")
                        dsets[name][row:row + n] = src["arrays"][name][:]
                    row += n
    return out
