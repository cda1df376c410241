"""LHC Olympics 2020 R&D dataset (and black boxes) -> canonical ``lhco`` class files.

Upstream raw event files (``events_anomalydetection[_v2].h5``, ``..._Z_XY_qqq.h5``, black boxes):
pandas *fixed* format, key ``df``, one float64 block ``/df/block0_values`` (N, 2101) =
700 x (pT, eta, phi) + label (2100 columns without label: black boxes, some qqq copies), blosc
compressed (HDF5 filter 32001, read through ``hdf5plugin``). Particles are massless, zero-padded
at the end and not pt-sorted. Rows are read in slices, so memory stays bounded by one chunk.

Conversion of raw events (one chunk at a time): anti-kT R = 1.0 with FastJet on the massless
particles (E = pt cosh eta), the two leading jets, their constituents pt-ordered up to 279
(the largest multiplicity of the R&D sample), then

* ``constituents`` (N, 2, 279, 4) float32 (pt, eta, phi, E), ``constituents_mask`` (N, 2, 279);
* ``jets`` (N, 2, 4) float64 (pt, eta, phi, mass) from FastJet (E-scheme), leading jet first;
* ``jet_nsubjettiness`` (N, 2, 3) float64 tau1..3 (beta = 1, R = 1, exclusive-kT axes) of the
  stored constituents (:func:`benchmark.features.nsubjettiness.nsubjettiness`);
* ``mjj`` (N,) float64 of the two jets, ``weights`` (N,) ones.

Classes: label 0 -> ``background``, 1 -> ``signal`` (R&D file); the 3-prong file -> ``signal_qqq``.

High-level feature files (``*.features.h5``, key ``df``, columns ``pxj1 pyj1 pzj1 mj1 tau1j1 tau2j1
tau3j1 pxj2 pyj2 pzj2 mj2 tau1j2 tau2j2 tau3j2 [label]``) use the **features-only** layout, a
subset of the above with the same meaning, so feature-only and clustered classes can be mixed:

* ``jets`` (N, 2, 4) (pt, eta, phi, mass) from (px, py, pz, m), reordered leading-pt first;
* ``jet_nsubjettiness`` (N, 2, 3); ``mjj`` (N,); ``weights`` (N,) ones.

The extra signal-region QCD sample (``events_anomalydetection_qcd_extra_inneronly_features.h5``)
is the class ``extra_qcd``; the official features of the R&D file itself are kept as extras
``features/background.h5``, ``features/signal.h5`` (and ``features/signal_qqq.h5``).

Black boxes (:func:`convert_blackbox`): a raw 2100-column file plus its master key (one integer
per line: 0 background, 1 signal, 2 second signal in BB3) -> ``<name>/background``,
``<name>/signal``[, ``<name>/signal2``]; without a key everything goes to ``<name>/data``.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

CONVERTER_VERSION = 1
N_PARTICLES = 700
N_JETS = 2
MAX_CONSTITUENTS = 279
RADIUS = 1.0
CHUNK = 5_000
FEATURE_CHUNK = 200_000
KEY = "df"
FEATURE_COLUMNS = ["pxj1", "pyj1", "pzj1", "mj1", "tau1j1", "tau2j1", "tau3j1",
                   "pxj2", "pyj2", "pzj2", "mj2", "tau1j2", "tau2j2", "tau3j2"]
LABEL_CLASSES = {0: "background", 1: "signal"}
RAW_EVENTS = ("events_anomalydetection_v2.h5", "events_anomalydetection.h5")
QQQ_EVENTS = "events_anomalydetection_Z_XY_qqq.h5"
FEATURES = {
    "events_anomalydetection_v2.features.h5": ("extra", {0: "features/background", 1: "features/signal"}),
    "events_anomalydetection.features.h5": ("extra", {0: "features/background", 1: "features/signal"}),
    "events_anomalydetection_Z_XY_qqq.features.h5": ("extra", "features/signal_qqq"),
    "events_anomalydetection_qcd_extra_inneronly_features.h5": ("class", "extra_qcd"),
}
BLACKBOX = re.compile(r"events_LHCO2020_(BlackBox\d+|backgroundMC_Pythia)\.h5$")
CLUSTERING = (f"anti-kT R={RADIUS} (FastJet, E-scheme) on massless particles; {N_JETS} leading jets; "
              f"constituents pt-ordered, up to {MAX_CONSTITUENTS}; tau_N beta=1 R=1 exclusive-kT axes")


def _format_error(msg: str) -> Exception:
    from benchmark.sources import FormatError

    return FormatError(msg)


# -- raw event files ---------------------------------------------------------------------------------
class RawEvents:
    """Row-sliced reader of a fixed-format LHCO event file (h5py + hdf5plugin; pandas fallback)."""

    def __init__(self, path: Path) -> None:
        import h5py
        import hdf5plugin  # noqa: F401  (registers the blosc filter)

        self.path = Path(path)
        self._pandas = False
        try:
            with h5py.File(self.path, "r") as f:
                if f"{KEY}/block0_values" in f:
                    ds = f[f"{KEY}/block0_values"]
                    if ds.ndim != 2:
                        raise _format_error(f"{self.path}: {KEY}/block0_values has shape {ds.shape}, expected 2-D")
                    self.n_rows, self.n_cols = (int(x) for x in ds.shape)
                    if f"{KEY}/block1_values" in f:
                        raise _format_error(f"{self.path}: more than one value block in {KEY!r}; "
                                            f"expected a single float64 block (fixed format)")
                else:
                    self._pandas = True
        except OSError as exc:
            raise _format_error(f"{self.path}: not a readable HDF5 file ({exc})") from exc
        if self._pandas:
            import pandas as pd

            with pd.HDFStore(self.path, mode="r") as store:
                keys = store.keys()
                if not keys:
                    raise _format_error(f"{self.path}: no pandas keys; expected key {KEY!r}")
                self.key = KEY if f"/{KEY}" in keys else keys[0].lstrip("/")
                storer = store.get_storer(self.key)
                self.n_rows = int(getattr(storer, "nrows", None) or storer.shape[0])
                self.n_cols = len(pd.read_hdf(self.path, key=self.key, start=0, stop=1).columns)
        if self.n_cols not in (3 * N_PARTICLES, 3 * N_PARTICLES + 1):
            raise _format_error(
                f"{self.path}: {self.n_cols} columns, expected {3 * N_PARTICLES} (700 x pT, eta, phi) "
                f"or {3 * N_PARTICLES + 1} (+ label)"
            )

    @property
    def labelled(self) -> bool:
        return self.n_cols == 3 * N_PARTICLES + 1

    def read(self, start: int, stop: int) -> np.ndarray:
        if self._pandas:
            import pandas as pd

            return pd.read_hdf(self.path, key=self.key, start=start, stop=stop).to_numpy(np.float64)
        import h5py
        import hdf5plugin  # noqa: F401

        with h5py.File(self.path, "r") as f:
            return np.asarray(f[f"{KEY}/block0_values"][start:stop], dtype=np.float64)


def cluster_rows(path: Path, rows: np.ndarray, row0: int) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Canonical arrays of raw rows (N, 2100[+1]) and clustering statistics."""
    from benchmark.clustering import cluster_padded, dijet_mass
    from benchmark.features.nsubjettiness import nsubjettiness

    particles = rows[:, : 3 * N_PARTICLES].reshape(len(rows), N_PARTICLES, 3)
    mask = particles[..., 0] > 0
    bad = (~np.isfinite(particles).all(axis=-1) & mask).any(axis=1) | (particles[..., 0] < 0).any(axis=1)
    if bad.any():
        raise _format_error(f"{path}: row {row0 + int(np.argmax(bad))}: non-finite or negative particle pT/eta/phi")
    cj = cluster_padded(particles, mask, radius=RADIUS, n_jets=N_JETS, max_constituents=MAX_CONSTITUENTS,
                        massless=True)
    n = len(rows)
    taus = nsubjettiness(cj.constituents.reshape(n * N_JETS, MAX_CONSTITUENTS, 4),
                         cj.constituents_mask.reshape(n * N_JETS, MAX_CONSTITUENTS), n_max=3, beta=1.0, R=1.0)
    arrays = {
        "constituents": cj.constituents,
        "constituents_mask": cj.constituents_mask,
        "jets": cj.jets,
        "jet_nsubjettiness": taus.reshape(n, N_JETS, 3),
        "mjj": dijet_mass(cj.jets),
        "weights": np.ones(n, dtype=np.float64),
    }
    stats = {"truncated_jets": int((cj.n_constituents > MAX_CONSTITUENTS).sum()),
             "events_with_fewer_than_2_jets": int((cj.n_jets < N_JETS).sum()),
             "max_constituents_seen": int(cj.n_constituents.max(initial=0))}
    return arrays, stats


def _labels(path: Path, rows: np.ndarray, row0: int) -> np.ndarray:
    label = rows[:, 3 * N_PARTICLES]
    bad = ~np.isin(label, (0.0, 1.0))
    if bad.any():
        i = int(np.argmax(bad))
        raise _format_error(f"{path}: row {row0 + i}, column {3 * N_PARTICLES} (label): {label[i].item()!r}, expected 0 or 1")
    return label.astype(np.int64)


def _split(arrays: Mapping[str, np.ndarray], labels: np.ndarray, classes: Mapping[int, str]) -> dict[str, dict[str, np.ndarray]]:
    return {cls: {k: v[labels == lab] for k, v in arrays.items()} for lab, cls in classes.items()}


def convert_raw(path: Path, conv: Any, classes: Mapping[int, str] | str, *, chunk_size: int = CHUNK,
                progress: bool = False, keys: np.ndarray | None = None) -> dict[str, int]:
    """Cluster a raw event file chunk by chunk into ``conv``; classes by label, key or fixed name.

    ``keys`` (N,) overrides the label column (black-box master keys).
    """
    from tqdm.auto import tqdm

    reader = RawEvents(path)
    if keys is not None and len(keys) != reader.n_rows:
        raise _format_error(f"{path}: {reader.n_rows} events but the master key has {len(keys)} lines")
    if isinstance(classes, Mapping) and keys is None and not reader.labelled:
        raise _format_error(f"{path}: has no label column ({reader.n_cols} columns) but labels are needed")
    with tqdm(total=reader.n_rows, unit="event", desc=path.name, disable=not progress, leave=False) as bar:
        for start in range(0, reader.n_rows, chunk_size):
            stop = min(start + chunk_size, reader.n_rows)

            def make(start: int = start, stop: int = stop) -> dict[str, dict[str, np.ndarray]]:
                rows = reader.read(start, stop)
                arrays, stats = cluster_rows(path, rows, start)
                if isinstance(classes, str):
                    return {classes: arrays}, stats
                labels = keys[start:stop] if keys is not None else _labels(path, rows, start)
                return _split(arrays, labels, classes), stats

            conv.chunk(f"{path.name}:{start:010d}-{stop:010d}", make)
            bar.update(stop - start)
    return dict(conv.stats)


# -- feature files -----------------------------------------------------------------------------------
def feature_columns(path: Path, columns: Sequence[Any]) -> bool:
    """Check the column names (integer labels are taken by position); True if a label column is there."""
    cols = list(columns)
    if all(isinstance(c, (int, np.integer)) for c in cols):
        names = FEATURE_COLUMNS + ["label"]
        cols = names[: len(cols)] if len(cols) <= len(names) else cols
    cols = [str(c) for c in cols]
    if len(cols) not in (len(FEATURE_COLUMNS), len(FEATURE_COLUMNS) + 1):
        raise _format_error(f"{path}: {len(cols)} columns, expected {len(FEATURE_COLUMNS)} features "
                            f"({', '.join(FEATURE_COLUMNS)}) [+ label]")
    for i, want in enumerate(FEATURE_COLUMNS):
        if cols[i] != want:
            raise _format_error(f"{path}: column {i} is {cols[i]!r}, expected {want!r}")
    return len(cols) == len(FEATURE_COLUMNS) + 1


def features_to_arrays(path: Path, values: np.ndarray, row0: int) -> dict[str, np.ndarray]:
    """Features-only canonical arrays from the 14 feature columns (rows of ``values``)."""
    from benchmark.clustering import dijet_mass, to_ptetaphie

    v = np.asarray(values[:, : len(FEATURE_COLUMNS)], dtype=np.float64)
    bad = ~np.isfinite(v).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        col = FEATURE_COLUMNS[int(np.argmax(~np.isfinite(v[i])))]
        raise _format_error(f"{path}: row {row0 + i}, column {col}: non-finite value")
    n = len(v)
    j = v.reshape(n, 2, 7)  # px, py, pz, m, tau1, tau2, tau3 per jet
    px, py, pz, m = j[..., 0], j[..., 1], j[..., 2], j[..., 3]
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    jets = np.empty((n, 2, 4), dtype=np.float64)
    jets[..., :3] = to_ptetaphie(px, py, pz, e)[..., :3]
    jets[..., 3] = m
    taus = j[..., 4:7].copy()
    swap = jets[:, 1, 0] > jets[:, 0, 0]
    jets[swap] = jets[swap][:, ::-1]
    taus[swap] = taus[swap][:, ::-1]
    return {"jets": jets, "jet_nsubjettiness": taus, "mjj": dijet_mass(jets), "weights": np.ones(n)}


def _feature_rows(path: Path) -> tuple[int, bool]:
    import pandas as pd

    try:
        with pd.HDFStore(path, mode="r") as store:
            if f"/{KEY}" not in store.keys():
                raise _format_error(f"{path}: no key {KEY!r} (keys: {store.keys()})")
            storer = store.get_storer(KEY)
            n = int(getattr(storer, "nrows", None) or storer.shape[0])
    except OSError as exc:
        raise _format_error(f"{path}: not a readable HDF5 file ({exc})") from exc
    head = pd.read_hdf(path, key=KEY, start=0, stop=1)
    return n, feature_columns(path, head.columns)


def convert_features(path: Path, conv: Any, classes: Mapping[int, str] | str, *,
                     chunk_size: int = FEATURE_CHUNK) -> dict[str, int]:
    import pandas as pd

    n, labelled = _feature_rows(path)
    if isinstance(classes, Mapping) and not labelled:
        raise _format_error(f"{path}: no label column, but labels are needed to split it into classes")
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)

        def make(start: int = start, stop: int = stop) -> dict[str, dict[str, np.ndarray]]:
            values = pd.read_hdf(path, key=KEY, start=start, stop=stop).to_numpy(np.float64)
            arrays = features_to_arrays(path, values, start)
            if isinstance(classes, str):
                return {classes: arrays}
            label = values[:, len(FEATURE_COLUMNS)]
            bad = ~np.isin(label, (0.0, 1.0))
            if bad.any():
                i = int(np.argmax(bad))
                raise _format_error(f"{path}: row {start + i}, column label: {label[i].item()!r}, expected 0 or 1")
            return _split(arrays, label.astype(np.int64), classes)

        conv.chunk(f"{path.name}:{start:010d}-{stop:010d}", make)
    return {}


# -- black boxes ------------------------------------------------------------------------------------
def read_masterkey(path: Path) -> np.ndarray:
    """Integer truth per event (0 background, 1 signal, 2 second signal) from a master-key file."""
    values = []
    with open(path) as handle:
        for lineno, line in enumerate(handle, 1):
            text = line.strip()
            if not text:
                continue
            try:
                value = float(text)
            except ValueError:
                raise _format_error(f"{path}, line {lineno}: {text[:40]!r} is not a number") from None
            if value not in (0.0, 1.0, 2.0):
                raise _format_error(f"{path}, line {lineno}: {text!r}, expected 0, 1 or 2")
            values.append(int(value))
    return np.asarray(values, dtype=np.int64)


def convert_blackbox(h5: Path, masterkey: Path | None, out_dir: Path, *, name: str | None = None,
                     dataset: str = "lhco", version: str | None = None, chunk_size: int = CHUNK,
                     progress: bool = False, as_extras: bool = False) -> Any:
    """Convert one black box (with its master key, if given) into ``<name>/<class>.h5`` files."""
    from benchmark.sources import ChunkedConversion, ConversionResult, base_meta, input_signature, stage_outputs

    h5 = Path(h5)
    if name is None:
        m = BLACKBOX.search(h5.name)
        name = m.group(1).lower() if m else h5.stem
    inputs = [h5] + ([Path(masterkey)] if masterkey else [])
    tag = {"converter": "lhco-blackbox", "version": CONVERTER_VERSION, "inputs": input_signature(inputs),
           "chunk_size": chunk_size}
    conv = ChunkedConversion(out_dir, f"lhco-{name}", namespace=f"{dataset}/real", tag=tag)
    result = ConversionResult()
    done = conv.finished()
    if done is None:
        if masterkey is not None:
            keys = read_masterkey(Path(masterkey))
            classes: Mapping[int, str] | str = {0: f"{name}/background", 1: f"{name}/signal"}
            if (keys == 2).any():
                classes = {**classes, 2: f"{name}/signal2"}
        else:
            keys, classes = None, f"{name}/data"
        stats = convert_raw(h5, conv, classes, chunk_size=chunk_size, progress=progress, keys=keys)

        def meta(cls: str) -> dict[str, Any]:
            return base_meta(dataset, cls, converter="lhco", converter_version=CONVERTER_VERSION, inputs=inputs,
                             version=version, clustering=CLUSTERING, blackbox=name)

        outputs = conv.finish(meta)
        counts = {c: conv.next_start[c] for c in outputs}
        result.notes[name] = stats
    else:
        outputs, counts = stage_outputs(conv, done)
    if as_extras:
        result.extras, result.extra_counts = outputs, counts
    else:
        result.classes, result.counts = outputs, counts
    return result


# -- converter entry point --------------------------------------------------------------------------
def _stages(files: Mapping[str, Path]) -> Iterator[tuple[str, str, Path, Any]]:
    """(kind, stage name, path, classes) for each file this converter knows."""
    raw = next((n for n in RAW_EVENTS if n in files), None)
    if raw is not None:
        yield "raw", "lhco-rnd", Path(files[raw]), LABEL_CLASSES
    if QQQ_EVENTS in files:
        yield "raw", "lhco-qqq", Path(files[QQQ_EVENTS]), "signal_qqq"
    for name, (where, classes) in FEATURES.items():
        if name in files:
            yield f"features-{where}", f"lhco-{Path(name).stem}", Path(files[name]), classes


def convert(files: Mapping[str, Path], out_dir: Path, *, dataset: str = "lhco", version: str | None = None,
            classes: Sequence[str] | None = None, progress: bool = False, chunk_size: int = CHUNK,
            feature_chunk_size: int = FEATURE_CHUNK) -> Any:
    """Convert the LHCO files given (raw R&D, 3-prong, feature files, black boxes) into class files."""
    from benchmark.sources import ChunkedConversion, ConversionResult, base_meta, input_signature, stage_outputs

    files = {n: Path(p) for n, p in files.items()}
    result = ConversionResult()
    known = set(RAW_EVENTS) | {QQQ_EVENTS} | set(FEATURES)
    for kind, stage, path, cls_map in _stages(files):
        size = chunk_size if kind == "raw" else feature_chunk_size
        tag = {"converter": stage, "version": CONVERTER_VERSION, "inputs": input_signature([path]), "chunk_size": size}
        conv = ChunkedConversion(out_dir, stage, namespace=f"{dataset}/real", tag=tag)
        done = conv.finished()
        if done is not None:
            outputs, counts = stage_outputs(conv, done)
            if kind == "raw":
                result.notes[stage] = done.get("stats", {})
        else:
            if kind == "raw":
                result.notes[stage] = convert_raw(path, conv, cls_map, chunk_size=size, progress=progress)
            else:
                convert_features(path, conv, cls_map, chunk_size=size)
            layout = "clustered" if kind == "raw" else "features-only (jets, jet_nsubjettiness, mjj)"

            def meta(cls: str, path: Path = path, layout: str = layout, kind: str = kind) -> dict[str, Any]:
                extra = {"clustering": CLUSTERING} if kind == "raw" else {}
                return base_meta(dataset, cls, converter="lhco", converter_version=CONVERTER_VERSION,
                                 inputs=[path], version=version, layout=layout, **extra)

            outputs = conv.finish(meta)
            counts = {c: conv.next_start[c] for c in outputs}
        if kind == "features-extra":
            result.extras.update(outputs)
            result.extra_counts.update(counts)
        else:
            result.classes.update(outputs)
            result.counts.update(counts)
    # black boxes (optional): events_LHCO2020_BlackBox1.h5 [+ events_LHCO2020_BlackBox1.masterkey]
    for name, path in sorted(files.items()):
        m = BLACKBOX.search(name)
        if not m:
            continue
        known.add(name)
        key = files.get(name[:-3] + ".masterkey")
        if key is not None:
            known.add(key.name)
        sub = convert_blackbox(path, key, out_dir, name=m.group(1).lower(), dataset=dataset, version=version,
                               chunk_size=chunk_size, progress=progress, as_extras=True)
        result.update(sub)
    ignored = sorted(n for n in files if n not in known and not n.endswith(".masterkey"))
    if ignored:
        result.warnings.append(f"LHCO files not converted (unknown layout): {ignored}")
    if not result.classes and not result.extras:
        raise _format_error(f"none of {sorted(files)} is an LHCO file this converter knows "
                            f"({', '.join(sorted(known))})")
    return result


# -- fixture writers (exact upstream layouts) -------------------------------------------------------
def _fake_event(rng: np.random.Generator, signal: bool) -> np.ndarray:
    """(700, 3) zero-padded, unsorted massless particles of a dijet event."""
    out = np.zeros((N_PARTICLES, 3))
    parts = []
    phi0 = rng.uniform(-np.pi, np.pi)
    for k, (phi, eta) in enumerate(((phi0, rng.normal(0, 0.8)), (phi0 + np.pi, rng.normal(0, 0.8)))):
        prongs = 2 if signal else 1
        centres = np.array([[eta + rng.normal(0, 0.2), phi + rng.normal(0, 0.2)] for _ in range(prongs)])
        n = int(rng.integers(20, 60))
        which = rng.integers(0, prongs, n)
        pt = rng.exponential(1300.0 / n, n) + 0.1
        parts.append(np.stack([pt, centres[which, 0] + rng.normal(0, 0.05, n),
                               centres[which, 1] + rng.normal(0, 0.05, n)], axis=1))
    soft = int(rng.integers(10, 40))
    parts.append(np.stack([rng.exponential(2.0, soft) + 0.1, rng.uniform(-4, 4, soft),
                           rng.uniform(-np.pi, np.pi, soft)], axis=1))
    all_p = np.concatenate(parts)
    all_p[:, 2] = (all_p[:, 2] + np.pi) % (2 * np.pi) - np.pi
    rng.shuffle(all_p)
    out[: len(all_p)] = all_p[:N_PARTICLES]
    return out


def write_raw_fixture(path: Path, n: int = 50, *, seed: int = 0, signal_fraction: float = 0.2,
                      labelled: bool = True) -> tuple[Path, np.ndarray]:
    """Write a raw event file the way the organisers did (fixed, key ``df``, blosc 5); returns labels."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < signal_fraction).astype(np.int64)
    rows = np.stack([_fake_event(rng, bool(lab)).reshape(-1) for lab in labels])
    if labelled:
        rows = np.concatenate([rows, labels[:, None].astype(np.float64)], axis=1)
    frame = pd.DataFrame(rows)  # integer column labels 0..2100, as upstream
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_hdf(path, key=KEY, mode="w", complevel=5, complib="blosc")
    return path, labels


def write_features_fixture(path: Path, n: int = 100, *, seed: int = 0, labelled: bool = True) -> Path:
    """Write a features file in the upstream layout (fixed, key ``df``, 14 named columns [+ label])."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols = {}
    for j, scale in ((1, 1500.0), (2, 1200.0)):
        phi = rng.uniform(-np.pi, np.pi, n) + (np.pi if j == 2 else 0.0)
        pt = rng.normal(scale, 100.0, n)
        cols[f"pxj{j}"] = pt * np.cos(phi)
        cols[f"pyj{j}"] = pt * np.sin(phi)
        cols[f"pzj{j}"] = rng.normal(0, 800.0, n)
        cols[f"mj{j}"] = rng.uniform(20, 600, n)
        t1 = rng.uniform(0.1, 0.6, n)
        cols[f"tau1j{j}"], cols[f"tau2j{j}"], cols[f"tau3j{j}"] = t1, t1 * rng.uniform(0.2, 0.9, n), t1 * rng.uniform(0.1, 0.5, n)
    frame = pd.DataFrame({c: cols[c] for c in FEATURE_COLUMNS})
    if labelled:
        frame["label"] = (rng.random(n) < 0.1).astype(np.float64)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_hdf(path, key=KEY, mode="w")
    return path
