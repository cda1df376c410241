"""Dark-jet samples: Zenodo 12801842 (QCD / Aachen / Heidelberg) and the Z' dark-shower text file.

**Zenodo 12801842** ("What's anomalous in LHC jets?", QCD and Aachen samples). Its file names and
layout are not documented anywhere we could check, so every file is *probed* first
(:func:`probe_file`): the expected layout is the top-tagging one (pandas HDF5, columns ``E_0,
PX_0, PY_0, PZ_0, ...``, 200 constituents). Files in that layout are converted like the top
dataset (``constituents`` (N, 1, 200, 4), ``constituents_mask``, ``jets`` from the summed
constituents, ``weights``), the class taken from the file name (``qcd``/``bkg``/``background`` ->
``qcd``, ``aachen``, ``heidelberg``/``hb``). Anything else stops the conversion with a
:class:`~benchmark.sources.FormatError` whose message is the probe report: each file's type,
keys, shapes, dtypes and columns -- enough to write the converter for the real layout.

**Z' dark-shower jets** (``events100k.txt`` of arXiv:2306.03933), one jet per line::

    <entry> <jet index> J <pT> <eta> <phi> <mass> <btag> <tau1> <tau2> <tau3> <tau4> <tau5> P <pT> <eta> <phi> P ...

constituents are Delphes tracks and towers (pT, eta, phi), not pt-sorted. Converted to the class
``zprime``: ``constituents`` (N, 1, 200, 4) float32 (pt, eta, phi, E = pt cosh eta), pt-ordered,
the 200 hardest kept (as the top-tagging jets it is compared with), ``constituents_mask``,
``jets`` (N, 1, 4) of the summed stored constituents (the same definition as for ``top``; the
Delphes jet record of the line is kept in the summary statistics only), ``weights`` ones.
"""
from __future__ import annotations

import re
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.sources.toptagging import CONSTITUENT_COLUMNS, N_CONSTITUENTS, convert_table, jets_from_constituents

CONVERTER_VERSION = 1
CHUNK = 20_000
ZPRIME_CHUNK = 20_000
CLASS_TOKENS = {
    "qcd": "qcd", "bkg": "qcd", "background": "qcd",
    "aachen": "aachen",
    "heidelberg": "heidelberg", "hb": "heidelberg",
}


def _format_error(msg: str) -> Exception:
    from benchmark.sources import FormatError

    return FormatError(msg)


# -- probing -----------------------------------------------------------------------------------------
@dataclass
class Probe:
    """What a file turned out to be."""

    path: Path
    kind: str  # "pandas-hdf5", "hdf5", "npz", "npy", "tar", "zip", "text", "binary", "unreadable"
    key: str | None = None
    n_rows: int | None = None
    columns: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    @property
    def top_like(self) -> bool:
        return self.kind == "pandas-hdf5" and self.columns[: len(CONSTITUENT_COLUMNS)] == CONSTITUENT_COLUMNS

    def report(self) -> str:
        head = f"{self.path.name} ({self.path.stat().st_size:,} bytes): {self.kind}"
        if self.key is not None:
            head += f", key {self.key!r}"
        if self.n_rows is not None:
            head += f", {self.n_rows:,} rows"
        if self.columns:
            shown = ", ".join(self.columns[:12]) + (f", ... ({len(self.columns)} columns)" if len(self.columns) > 12 else "")
            head += f"; columns: {shown}"
        return "\n    ".join([head, *self.details[:40]])


def probe_file(path: Path) -> Probe:
    """Identify a file's layout without reading its data (HDF5/pandas, npz, npy, tar, zip, text)."""
    path = Path(path)
    with open(path, "rb") as handle:
        magic = handle.read(8)
    if magic == b"\x89HDF\r\n\x1a\n":
        return _probe_hdf5(path)
    if magic[:4] == b"PK\x03\x04":
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                details = [f"array {k!r}: shape {z[k].shape}, dtype {z[k].dtype}" for k in list(z.files)[:40]]
            return Probe(path, "npz", details=details)
        with zipfile.ZipFile(path) as z:
            return Probe(path, "zip", details=[f"member {n}" for n in z.namelist()[:40]])
    if magic[:6] == b"\x93NUMPY":
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
        return Probe(path, "npy", n_rows=int(arr.shape[0]) if arr.ndim else None,
                     details=[f"shape {arr.shape}, dtype {arr.dtype}"])
    try:
        if tarfile.is_tarfile(path):
            with tarfile.open(path, "r:*") as tf:
                names = [f"member {m.name} ({m.size:,} bytes)" for m in islice(tf, 40)]
            return Probe(path, "tar", details=names)
    except (OSError, tarfile.TarError):
        pass
    with open(path, "rb") as handle:
        start = handle.read(400)
    try:
        text = start.decode("utf-8")
        return Probe(path, "text", details=[f"starts with: {text.splitlines()[0][:200]!r}" if text else "empty"])
    except UnicodeDecodeError:
        return Probe(path, "binary", details=[f"first bytes: {start[:16]!r}"])


def _probe_hdf5(path: Path) -> Probe:
    import h5py
    import hdf5plugin  # noqa: F401

    details: list[str] = []
    pandas_keys: list[str] = []
    try:
        with h5py.File(path, "r") as f:
            def visit(name: str, obj: Any) -> None:
                if len(details) >= 40:
                    return
                if isinstance(obj, h5py.Dataset):
                    dt = obj.dtype
                    desc = str(dt) if dt.names is None else "compound(" + ", ".join(
                        f"{n}: {dt.fields[n][0]}" for n in dt.names) + ")"
                    details.append(f"dataset /{name}: shape {obj.shape}, dtype {desc}")
                elif "pandas_type" in obj.attrs:
                    pandas_keys.append(name)
            f.visititems(visit)
            for name, obj in f.items():
                if "pandas_type" in obj.attrs and name not in pandas_keys:
                    pandas_keys.append(name)
    except OSError as exc:
        return Probe(path, "unreadable", details=[f"h5py cannot open it: {exc}"])
    if pandas_keys:
        import pandas as pd

        key = pandas_keys[0]
        try:
            head = pd.read_hdf(path, key=key, start=0, stop=1)
            with pd.HDFStore(path, mode="r") as store:
                storer = store.get_storer(key)
                n = int(getattr(storer, "nrows", None) or storer.shape[0])
            extra = [f"other pandas keys: {pandas_keys[1:]}"] if len(pandas_keys) > 1 else []
            return Probe(path, "pandas-hdf5", key=key, n_rows=n, columns=[str(c) for c in head.columns],
                         details=extra + details)
        except Exception as exc:  # pandas cannot read it: report the raw structure
            details.insert(0, f"pandas key {key!r} unreadable: {exc}")
    return Probe(path, "hdf5", details=details)


def class_from_name(name: str) -> str | None:
    """Dataset class named by a file name's tokens (``qcd``, ``aachen``, ``heidelberg``), or None."""
    tokens = set(re.split(r"[^a-z0-9]+", name.lower()))
    found = {CLASS_TOKENS[t] for t in tokens if t in CLASS_TOKENS}
    return found.pop() if len(found) == 1 else None


def probe_report(probes: Sequence[Probe], problem: str) -> str:
    body = "\n  ".join(p.report() for p in probes)
    return (f"dark-jet files (Zenodo 12801842): {problem}\n"
            f"expected: pandas HDF5 files in the top-tagging layout (columns E_0, PX_0, PY_0, PZ_0, ... for "
            f"200 constituents) named after their class (qcd, aachen, heidelberg). Found:\n  {body}\n"
            f"The raw files are kept in the cache; a converter for this layout has to be added to "
            f"benchmark/sources/darkjets.py.")


def convert(files: Mapping[str, Path], out_dir: Path, *, dataset: str = "darkjets", version: str | None = None,
            classes: Sequence[str] | None = None, progress: bool = False, chunk_size: int = CHUNK) -> Any:
    """Probe the files and convert those in the expected (top-tagging-like) layout."""
    from benchmark.sources import ChunkedConversion, ConversionResult, base_meta, input_signature, stage_outputs

    paths = [Path(p) for _, p in sorted(files.items())]
    probes = [probe_file(p) for p in paths]
    usable = [p for p in probes if p.top_like]
    others = [p for p in probes if not p.top_like]
    if not usable:
        raise _format_error(probe_report(probes, "no file has the expected layout"))
    unnamed = [p for p in usable if class_from_name(p.path.name) is None]
    if unnamed:
        raise _format_error(probe_report(probes, "cannot tell the class of " + ", ".join(p.path.name for p in unnamed)))
    by_class: dict[str, list[Probe]] = {}
    for p in usable:
        by_class.setdefault(class_from_name(p.path.name) or "", []).append(p)
    result = ConversionResult()
    if others:
        result.warnings.append("files not in the top-tagging layout were not converted:\n  "
                               + "\n  ".join(p.report() for p in others))
    result.notes["probe"] = [p.report() for p in probes]
    for cls, group in sorted(by_class.items()):
        group_paths = [p.path for p in group]
        tag = {"converter": "darkjets", "version": CONVERTER_VERSION, "inputs": input_signature(group_paths),
               "chunk_size": chunk_size}
        conv = ChunkedConversion(out_dir, f"darkjets-{cls}", namespace=f"{dataset}/real", tag=tag)
        done = conv.finished()
        if done is not None:
            outputs, counts = stage_outputs(conv, done)
        else:
            for p in group:
                convert_table(p.path, conv, cls, chunk_size=chunk_size, with_split=False, key=p.key or "table",
                              progress=progress)

            def meta(c: str, group_paths: list[Path] = group_paths) -> dict[str, Any]:
                return base_meta(dataset, c, converter="darkjets", converter_version=CONVERTER_VERSION,
                                 inputs=group_paths, version=version, jets="sum of the stored constituents")

            outputs = conv.finish(meta)
            counts = {c: conv.next_start[c] for c in outputs}
        result.classes.update(outputs)
        result.counts.update(counts)
    return result


# -- Z' dark-shower text format ----------------------------------------------------------------------
def parse_zprime_lines(lines: Sequence[str], source: str, first_line: int = 1, *,
                       n_constituents: int = N_CONSTITUENTS) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Parse jet lines of the Z' text format into canonical arrays (see the module docstring)."""
    kept: list[np.ndarray] = []
    stats = {"truncated_jets": 0, "max_constituents_seen": 0, "blank_lines": 0}
    for i, line in enumerate(lines):
        lineno = first_line + i
        tokens = line.split()
        if not tokens:
            stats["blank_lines"] += 1
            continue
        problem = None
        if len(tokens) < 13 or tokens[2] != "J":
            problem = "expected '<entry> <jet> J' and 10 jet values (pT eta phi mass btag tau1..tau5)"
        else:
            rest = tokens[13:]
            if len(rest) % 4 or any(t != "P" for t in rest[0::4]):
                problem = "constituents must be groups 'P <pT> <eta> <phi>'"
            else:
                try:
                    int(tokens[0]), int(tokens[1])
                    [float(t) for t in tokens[3:13]]
                    parts = np.array([rest[1::4], rest[2::4], rest[3::4]], dtype=np.float64).T.reshape(-1, 3)
                except ValueError:
                    problem = "a value is not a number"
                else:
                    if not np.isfinite(parts).all():
                        problem = "non-finite constituent value"
        if problem:
            raise _format_error(f"{source}, line {lineno}: {problem}: {line.strip()[:120]!r}")
        order = np.argsort(-parts[:, 0], kind="stable")
        parts = parts[order]
        stats["max_constituents_seen"] = max(stats["max_constituents_seen"], len(parts))
        if len(parts) > n_constituents:
            stats["truncated_jets"] += 1
            parts = parts[:n_constituents]
        kept.append(parts)
    n = len(kept)
    kin = np.zeros((n, n_constituents, 4), dtype=np.float64)
    for j, parts in enumerate(kept):
        k = len(parts)
        kin[j, :k, :3] = parts
        kin[j, :k, 3] = parts[:, 0] * np.cosh(parts[:, 1])
    mask = kin[..., 0] > 0
    pt, eta, phi, e = (kin[..., i] for i in range(4))
    jets = jets_from_constituents(e, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), mask)
    arrays = {
        "constituents": kin.astype(np.float32)[:, None],
        "constituents_mask": mask[:, None],
        "jets": jets[:, None],
        "weights": np.ones(n, dtype=np.float64),
    }
    return arrays, stats


def convert_zprime(files: Mapping[str, Path], out_dir: Path, *, dataset: str = "zprime", version: str | None = None,
                   classes: Sequence[str] | None = None, progress: bool = False, chunk_size: int = ZPRIME_CHUNK,
                   cls: str = "zprime") -> Any:
    """Convert the Z' text file(s) into the class ``zprime`` (chunked, resumable)."""
    from benchmark.sources import ChunkedConversion, ConversionResult, base_meta, input_signature, stage_outputs

    paths = [Path(p) for _, p in sorted(files.items())]
    if classes and cls not in classes and len(classes) == 1:
        cls = classes[0]
    tag = {"converter": "darkshower-text", "version": CONVERTER_VERSION, "inputs": input_signature(paths),
           "chunk_size": chunk_size}
    conv = ChunkedConversion(out_dir, f"darkshower-{cls}", namespace=f"{dataset}/real", tag=tag)
    result = ConversionResult()
    done = conv.finished()
    if done is not None:
        result.classes, result.counts = stage_outputs(conv, done)
        result.notes[cls] = done.get("stats", {})
        return result
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            index, first = 0, 1
            while lines := list(islice(handle, chunk_size)):
                def make(lines: list[str] = lines, first: int = first, path: Path = path) -> Any:
                    arrays, stats = parse_zprime_lines(lines, str(path), first)
                    return {cls: arrays}, stats

                conv.chunk(f"{path.name}:{index:08d}", make)
                index += 1
                first += len(lines)

    def meta(c: str) -> dict[str, Any]:
        return base_meta(dataset, c, converter="darkshower-text", converter_version=CONVERTER_VERSION,
                         inputs=paths, version=version, jets="sum of the stored constituents",
                         constituents="pt-ordered, 200 hardest, E = pt cosh(eta) (massless)")

    if not conv.parts:
        raise _format_error(f"{[str(p) for p in paths]}: no jets")
    result.classes = conv.finish(meta)
    result.counts = {c: conv.next_start[c] for c in result.classes}
    result.notes[cls] = dict(conv.stats)
    if conv.stats.get("truncated_jets"):
        result.warnings.append(f"{cls}: {conv.stats['truncated_jets']} jets had more than {N_CONSTITUENTS} "
                               f"constituents (kept the hardest {N_CONSTITUENTS})")
    return result


def write_zprime_fixture(path: Path, n: int = 50, *, seed: int = 0, max_constituents: int = 120) -> Path:
    """Write jets in the Z' text format (two jets per entry, unsorted constituents)."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        k = int(rng.integers(5, max_constituents + 1))
        eta0, phi0 = rng.normal(0, 1), rng.uniform(-np.pi, np.pi)
        pt = rng.exponential(15.0, k) + 0.5
        eta = eta0 + rng.normal(0, 0.2, k)
        phi = phi0 + rng.normal(0, 0.2, k)
        jet = [pt.sum(), eta0, phi0, rng.uniform(50, 200), 0, *sorted(rng.uniform(0.01, 0.5, 5), reverse=True)]
        head = f"{i // 2} {i % 2} J " + " ".join(f"{v:g}" for v in jet)
        body = "  ".join(f"P {a:g} {b:g} {c:g}" for a, b, c in zip(pt, eta, phi))
        lines.append(f"{head}  {body}\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return path
