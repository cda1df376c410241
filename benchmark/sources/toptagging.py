"""Top Quark Tagging Reference Dataset (Zenodo 2603256) -> canonical ``top`` class files.

Upstream layout (``train.h5``, ``val.h5``, ``test.h5``): pandas HDFStore *table* format, key
``table``, 806 columns ``E_0, PX_0, PY_0, PZ_0, ..., E_199, PX_199, PY_199, PZ_199, truthE,
truthPX, truthPY, truthPZ, ttv, is_signal_new`` (804 float32 + 2 int64). Constituents are
pt-ordered and zero-padded; ``ttv`` is 0 train, 1 test, 2 validation; ``is_signal_new`` 1 = top.

Canonical output, one file per class (``qcd.h5``, ``top.h5``), rows in file order train, val, test:

* ``constituents`` (N, 1, 200, 4) float32 (pt, eta, phi, E), order as stored;
* ``constituents_mask`` (N, 1, 200) = E > 0;
* ``jets`` (N, 1, 4) float64 (pt, eta, phi, mass) of the sum of the constituents;
* ``weights`` (N,) ones; ``split`` (N,) int8 from ``ttv`` (0 -> train 0, 1 -> test 2, 2 -> val 1).

The same table reader serves top-tagging-like files of other datasets (:mod:`.darkjets`).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.clustering import mass_from_p4, to_ptetaphie
from benchmark.events import SPLITS

CONVERTER_VERSION = 1
N_CONSTITUENTS = 200
KEY = "table"
FILES = ("train.h5", "val.h5", "test.h5")
CHUNK = 20_000
CONSTITUENT_COLUMNS = [f"{k}_{i}" for i in range(N_CONSTITUENTS) for k in ("E", "PX", "PY", "PZ")]
TRUTH_COLUMNS = ["truthE", "truthPX", "truthPY", "truthPZ"]
COLUMNS = [*CONSTITUENT_COLUMNS, *TRUTH_COLUMNS, "ttv", "is_signal_new"]
#: ttv code of the files -> canonical split code
TTV_TO_SPLIT = {0: SPLITS["train"], 1: SPLITS["test"], 2: SPLITS["val"]}
CLASS_OF_LABEL = {0: "qcd", 1: "top"}


def _format_error(msg: str) -> Exception:
    from benchmark.sources import FormatError

    return FormatError(msg)


# -- reading -----------------------------------------------------------------------------------------
def table_rows(path: Path, key: str = KEY) -> int:
    """Number of rows of a pandas table (or fixed) store without reading it."""
    import pandas as pd

    try:
        with pd.HDFStore(path, mode="r") as store:
            if f"/{key}" not in store.keys():
                raise _format_error(f"{path}: no key {key!r} (keys: {store.keys()}); expected the "
                                    f"top-tagging table format")
            storer = store.get_storer(key)
            nrows = getattr(storer, "nrows", None)
            if nrows is None:
                nrows = storer.shape[0]
            return int(nrows)
    except OSError as exc:
        raise _format_error(f"{path}: not a readable HDF5/pandas file ({exc})") from exc


def read_rows(path: Path, start: int, stop: int, key: str = KEY) -> Any:
    import pandas as pd

    return pd.read_hdf(path, key=key, start=start, stop=stop)


def check_columns(path: Path, columns: Sequence[Any], *, need_labels: bool = True) -> None:
    """Raise a :class:`FormatError` naming the file and the first unexpected column."""
    cols = [str(c) for c in columns]
    want = COLUMNS if need_labels else CONSTITUENT_COLUMNS
    for i, expected in enumerate(want):
        if i >= len(cols):
            raise _format_error(f"{path}: has {len(cols)} columns, expected {len(want)}; column {i} "
                                f"({expected!r}) is missing")
        if cols[i] != expected:
            raise _format_error(f"{path}: column {i} is {cols[i]!r}, expected {expected!r} "
                                f"(top-tagging layout: E_i, PX_i, PY_i, PZ_i for i < 200, truth, ttv, is_signal_new)")
    if need_labels and len(cols) != len(want):
        raise _format_error(f"{path}: has {len(cols)} columns, expected {len(want)} "
                            f"(extra column {len(want)}: {cols[len(want)]!r})")


def jets_from_constituents(e: np.ndarray, px: np.ndarray, py: np.ndarray, pz: np.ndarray,
                           mask: np.ndarray) -> np.ndarray:
    """(N, 4) float64 (pt, eta, phi, mass) of the sum of the masked constituents of (N, P) arrays."""
    sums = [np.where(mask, a, 0.0).astype(np.float64).sum(axis=1) for a in (px, py, pz, e)]
    jets = np.empty((len(e), 4), dtype=np.float64)
    jets[:, :3] = to_ptetaphie(*sums)[:, :3]
    jets[:, 3] = mass_from_p4(*sums)
    return jets


def frame_to_arrays(path: Path, frame: Any, row0: int, *, with_split: bool = True,
                    with_labels: bool = True) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Canonical arrays of a chunk of the table, and the labels (``is_signal_new``) if present."""
    values = frame[CONSTITUENT_COLUMNS].to_numpy(dtype=np.float32, copy=False)
    p4 = values.reshape(len(values), N_CONSTITUENTS, 4)  # (E, px, py, pz)
    bad = ~np.isfinite(p4).all(axis=(1, 2))
    if bad.any():
        raise _format_error(f"{path}: row {row0 + int(np.argmax(bad))}: non-finite constituent values")
    e, px, py, pz = (p4[..., i].astype(np.float64) for i in range(4))
    mask = e > 0
    kin = to_ptetaphie(px, py, pz, e)
    kin[~mask] = 0.0
    arrays: dict[str, np.ndarray] = {
        "constituents": kin.astype(np.float32)[:, None],
        "constituents_mask": mask[:, None],
        "jets": jets_from_constituents(e, px, py, pz, mask)[:, None],
        "weights": np.ones(len(values), dtype=np.float64),
    }
    labels = None
    if with_labels:
        if "is_signal_new" not in frame.columns:
            raise _format_error(f"{path}: no column 'is_signal_new' to take the class from")
        labels = frame["is_signal_new"].to_numpy()
        bad_label = ~np.isin(labels, (0, 1))
        if bad_label.any():
            i = int(np.argmax(bad_label))
            raise _format_error(f"{path}: row {row0 + i}: is_signal_new = {labels[i].item()!r}, expected 0 or 1")
        labels = labels.astype(np.int64)
    if with_split and "ttv" in frame.columns:
        ttv = frame["ttv"].to_numpy()
        bad_ttv = ~np.isin(ttv, list(TTV_TO_SPLIT))
        if bad_ttv.any():
            i = int(np.argmax(bad_ttv))
            raise _format_error(f"{path}: row {row0 + i}: ttv = {ttv[i].item()!r}, expected 0 (train), 1 (test) or 2 (val)")
        lut = np.zeros(3, dtype=np.int8)
        for k, v in TTV_TO_SPLIT.items():
            lut[k] = v
        arrays["split"] = lut[ttv.astype(np.int64)]
    return arrays, labels


def split_by_class(arrays: Mapping[str, np.ndarray], labels: np.ndarray | None,
                   class_of: Mapping[int, str] | str) -> dict[str, dict[str, np.ndarray]]:
    """``{class: arrays}``: by label (``class_of`` a mapping) or all rows to one class (a string)."""
    if isinstance(class_of, str):
        return {class_of: dict(arrays)}
    if labels is None:
        raise ValueError("labels needed to split rows into classes")
    return {cls: {k: v[labels == lab] for k, v in arrays.items()} for lab, cls in class_of.items()}


def convert_table(path: Path, conv: Any, class_of: Mapping[int, str] | str, *, chunk_size: int = CHUNK,
                  with_split: bool = True, key: str = KEY, progress: bool = False,
                  on_chunk: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Stream one top-tagging table file through :class:`~benchmark.sources.ChunkedConversion`."""
    from tqdm.auto import tqdm

    n = table_rows(path, key)
    head = read_rows(path, 0, min(n, 1), key)
    check_columns(path, head.columns, need_labels=not isinstance(class_of, str) or with_split)
    totals: dict[str, int] = {}
    with tqdm(total=n, unit="jet", desc=Path(path).name, disable=not progress, leave=False) as bar:
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)

            def make(start: int = start, stop: int = stop) -> dict[str, dict[str, np.ndarray]]:
                frame = read_rows(path, start, stop, key)
                arrays, labels = frame_to_arrays(path, frame, start, with_split=with_split,
                                                 with_labels=not isinstance(class_of, str))
                return split_by_class(arrays, labels, class_of)

            for cls, c in conv.chunk(f"{Path(path).name}:{start:010d}-{stop:010d}", make).items():
                totals[cls] = totals.get(cls, 0) + c
            if on_chunk is not None:
                on_chunk(start, stop)
            bar.update(stop - start)
    return totals


# -- converter entry point --------------------------------------------------------------------------
def convert(files: Mapping[str, Path], out_dir: Path, *, dataset: str = "top", version: str | None = None,
            classes: Sequence[str] | None = None, progress: bool = False, chunk_size: int = CHUNK) -> Any:
    """Convert ``train.h5``/``val.h5``/``test.h5`` (those given) into ``qcd.h5`` and ``top.h5``."""
    from benchmark.sources import ChunkedConversion, ConversionResult, base_meta, input_signature, stage_outputs

    order = [n for n in FILES if n in files] + sorted(n for n in files if n not in FILES)
    if not order:
        raise _format_error(f"no top-tagging files given (expected {', '.join(FILES)})")
    paths = [Path(files[n]) for n in order]
    tag = {"converter": "toptagging", "version": CONVERTER_VERSION, "inputs": input_signature(paths),
           "chunk_size": chunk_size}
    conv = ChunkedConversion(out_dir, "toptagging", namespace=f"{dataset}/real", tag=tag)
    result = ConversionResult()
    done = conv.finished()
    if done is not None:
        result.classes, result.counts = stage_outputs(conv, done)
        result.notes["reused"] = True
        return result
    per_file: dict[str, dict[str, int]] = {}
    for name, path in zip(order, paths):
        per_file[name] = convert_table(path, conv, CLASS_OF_LABEL, chunk_size=chunk_size, progress=progress)

    def meta(cls: str) -> dict[str, Any]:
        return base_meta(dataset, cls, converter="toptagging", converter_version=CONVERTER_VERSION,
                         inputs=paths, version=version, splits="ttv: 0 train, 1 test, 2 val -> split 0/2/1",
                         jets="sum of the stored constituents")

    result.classes = conv.finish(meta)
    result.counts = {c: conv.next_start[c] for c in result.classes}
    result.notes["per_file"] = per_file
    result.notes["chunks"] = {"computed": conv.computed, "reused": conv.reused}
    return result


# -- fixture writer (exact upstream layout, for tests and offline demos) ----------------------------
def write_fixture(path: Path, n: int = 100, *, seed: int = 0, ttv: int = 0, signal_fraction: float = 0.5,
                  max_constituents: int = 80) -> Path:
    """Write a small file in the exact top-tagging layout (806 columns, table format, key ``table``).

    Jets are random but physical: massless-ish constituents near (eta, phi) = (0.5, 1.0) with
    pt-ordered, zero-padded (E, px, py, pz); top jets have three prongs.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    label = (rng.random(n) < signal_fraction).astype(np.int64)
    data = np.zeros((n, N_CONSTITUENTS, 4), dtype=np.float32)
    for i in range(n):
        k = int(rng.integers(10, max_constituents + 1))
        prongs = 3 if label[i] else 1
        centre = rng.normal([0.5, 1.0], 0.05, size=(prongs, 2))
        which = rng.integers(0, prongs, size=k)
        eta = centre[which, 0] + rng.normal(0, 0.1, k)
        phi = centre[which, 1] + rng.normal(0, 0.1, k)
        pt = np.sort(rng.exponential(20.0, k) + 0.5)[::-1]
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        e = np.sqrt(px**2 + py**2 + pz**2 + 0.01)
        data[i, :k] = np.stack([e, px, py, pz], axis=1)
    frame = pd.DataFrame(data.reshape(n, -1), columns=CONSTITUENT_COLUMNS)
    truth = np.zeros((n, 4), dtype=np.float32)
    truth[label == 1] = rng.normal(600, 50, size=(int(label.sum()), 4)).astype(np.float32)
    for j, c in enumerate(TRUTH_COLUMNS):
        frame[c] = truth[:, j]
    frame["ttv"] = np.full(n, ttv, dtype=np.int64)
    frame["is_signal_new"] = label
    frame.index = np.arange(n, dtype=np.int64)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_hdf(path, key=KEY, mode="w", format="table")
    return path
