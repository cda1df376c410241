"""Real datasets: explicit download (:mod:`.download`) and conversion into canonical event files.

``fetch_dataset(name)`` is what ``lhcad fetch NAME`` runs. It brings the files of the dataset's
``real`` source (``datasets.yaml``) into ``<data_root>/<name>/real/raw/`` and converts them with
the converter of the source's ``format``:

==================  ==============================  =========================================
format              module                          classes
==================  ==============================  =========================================
``toptagging``      :mod:`.toptagging`              ``qcd``, ``top``
``lhco``            :mod:`.lhco`                    ``background``, ``signal``, ``signal_qqq``,
                                                    ``extra_qcd`` (features only)
``darkmachines``    :mod:`.darkmachines`            ``chan1/background``, ``chan1/<signal>``, ...
``darkjets``        :mod:`.darkjets`                ``qcd``, ``aachen``, ``heidelberg`` (probed)
``darkshower-text`` :mod:`.darkjets`                ``zprime``
==================  ==============================  =========================================

On-disk layout of one dataset (``<data_root>/<name>/real/``)::

    raw/<file>                    the upstream files, verified (``.<file>.verified.json`` records)
    raw/manifest.json             what was fetched, from where, checksums, verified or not
    <class>.h5                    one canonical EventSet file per class ("/" in a class = sub-folder)
    features/<class>.h5           extra outputs that are not classes (e.g. LHCO official features)
    summary.json                  counts per class, checksums of raw and converted files, versions
    .chunks/<stage>/...           resumable per-chunk outputs while converting (removed when done)
    .chunks/<stage>.done.json     a finished stage (its outputs are reused while inputs are unchanged)

Conversion streams the inputs chunk by chunk; each chunk's per-class output is written atomically
with a ``done.json`` marker, so an interrupted or failed conversion resumes where it stopped and
never loses what it already converted. Chunk outputs are merged with
:func:`benchmark.events.merge_event_files` (bounded memory).
"""
from __future__ import annotations

import importlib
import json
import logging
import os
import re
import shutil
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.events import FORMAT_VERSION, EventSet, make_event_ids, merge_event_files
from benchmark.results import package_versions
from benchmark.store import data_root, file_checksum, file_lock, write_json
from benchmark.sources.download import (
    ENV_MIRROR,
    ChecksumError,
    DownloadError,
    FetchedFile,
    MissingDataError,
    RemoteFile,
    UnverifiedFileWarning,
    fetch_file,
    site_mirror_urls,
    zenodo_record,
    zenodo_record_id,
)

__all__ = [
    "fetch_dataset", "missing_data_message", "class_path", "real_classes_present", "FORMATS",
    "ConversionResult", "ChunkedConversion", "FormatError", "DownloadError", "ChecksumError",
    "MissingDataError", "UnverifiedFileWarning", "convert_files",
]

log = logging.getLogger("lhcad.sources")

#: source ``format`` of datasets.yaml -> (module, function) converting raw files to class files
FORMATS: dict[str, tuple[str, str]] = {
    "toptagging": ("benchmark.sources.toptagging", "convert"),
    "lhco": ("benchmark.sources.lhco", "convert"),
    "darkmachines": ("benchmark.sources.darkmachines", "convert"),
    "darkjets": ("benchmark.sources.darkjets", "convert"),
    "darkshower-text": ("benchmark.sources.darkjets", "convert_zprime"),
}
SUMMARY = "summary.json"
MANIFEST = "manifest.json"


class FormatError(ValueError):
    """An input file does not have the expected layout; the message names file and line/column/row."""


# -- paths and messages -----------------------------------------------------------------------------
def _dataset_root(dataset: str, data_dir: Path | None) -> Path:
    return Path(data_dir or data_root()) / dataset / "real"


def class_path(dataset: str, cls: str, data_dir: Path | None = None) -> Path:
    """Where the canonical real file of ``dataset:cls`` lives (``chan1/background`` -> sub-folder)."""
    return _dataset_root(dataset, data_dir) / f"{cls}.h5"


def real_classes_present(dataset: str, data_dir: Path | None = None) -> dict[str, Path]:
    """Classes whose converted real file exists (read from ``summary.json``; {} when not fetched)."""
    root = _dataset_root(dataset, data_dir)
    try:
        summary = json.loads((root / SUMMARY).read_text())
    except (OSError, ValueError):
        return {}
    out = {}
    for cls, info in summary.get("classes", {}).items():
        path = root / info["path"]
        if path.exists():
            out[cls] = path
    return out


def missing_data_message(dataset: str, source: str = "real") -> str:
    """What a user has to run to get ``dataset``'s ``source`` data (downloads are never implicit)."""
    if source == "generated":
        where = Path(data_root()) / dataset / "generated"
        return (f"the generated look-alike of dataset {dataset!r} is not in the cache ({where}); "
                f"make it with:  lhcad generate {dataset}")
    where = _dataset_root(dataset, None)
    names = ""
    try:
        from benchmark.registry import load_registry

        src = load_registry().dataset(dataset).source("real")
        if src.files:
            names = " (" + ", ".join(f.name for f in src.files) + ")"
        elif src.zenodo:
            names = f" (the files of Zenodo record {src.zenodo})"
    except Exception:  # the message must never fail
        pass
    return (
        f"the real data of dataset {dataset!r} is not in the cache ({where}). Downloads are explicit: run\n"
        f"    lhcad fetch {dataset}\n"
        f"to download{names}, verify and convert it; add `--mirror URL` (or set ${ENV_MIRROR}) for a site "
        f"mirror, or `--from DIR` if you already have the files."
    )


# -- conversion machinery ---------------------------------------------------------------------------
@dataclass
class ConversionResult:
    """What a converter wrote: class files, extra (non-class) files, counts, notes and warnings."""

    classes: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    extras: dict[str, Path] = field(default_factory=dict)
    extra_counts: dict[str, int] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def update(self, other: ConversionResult) -> None:
        self.classes.update(other.classes)
        self.counts.update(other.counts)
        self.extras.update(other.extras)
        self.extra_counts.update(other.extra_counts)
        self.notes.update(other.notes)
        self.warnings.extend(other.warnings)


def input_signature(paths: Sequence[Path]) -> list[list[Any]]:
    """Cheap identity of input files (name, size, mtime) for deciding whether chunks are reusable."""
    out = []
    for p in paths:
        st = Path(p).stat()
        out.append([Path(p).name, st.st_size, st.st_mtime_ns])
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "__", name)


class ChunkedConversion:
    """Resumable, chunked conversion of one *stage* (typically one input file) into class files.

    Call :meth:`chunk` for every chunk in a fixed order; a chunk whose ``done.json`` marker exists is
    not recomputed. Event ids are ``make_event_ids(f"{namespace}/{cls}", n, start)`` with ``start``
    the running count of the class over the chunks before, so they do not depend on chunking
    history. :meth:`finish` merges the chunk files into ``<out_dir>/<class>.h5`` and removes them.
    """

    def __init__(self, out_dir: Path, stage: str, *, namespace: str, tag: Mapping[str, Any]) -> None:
        self.out_dir = Path(out_dir)
        self.stage = stage
        self.namespace = namespace
        self.tag = json.loads(json.dumps(dict(tag), default=str))
        self.work = self.out_dir / ".chunks" / _safe(stage)
        self.marker = self.out_dir / ".chunks" / f"{_safe(stage)}.done.json"
        self.next_start: dict[str, int] = defaultdict(int)
        self.parts: dict[str, list[Path]] = defaultdict(list)
        self.reused = 0
        self.computed = 0
        #: statistics returned by ``make`` (summed; keys starting with ``max_`` take the maximum)
        self.stats: dict[str, int] = {}
        state = self.work / "state.json"
        try:
            have = json.loads(state.read_text())
        except (OSError, ValueError):
            have = None
        if have != self.tag:
            if self.work.exists():
                log.info("%s: inputs changed since the last attempt; discarding its chunks", stage)
                shutil.rmtree(self.work)
            write_json(state, self.tag)

    # stage-level reuse
    def finished(self) -> dict[str, Any] | None:
        """The record of this stage when it already finished with the same inputs and outputs exist."""
        try:
            rec = json.loads(self.marker.read_text())
        except (OSError, ValueError):
            return None
        if rec.get("tag") != self.tag:
            return None
        if not all((self.out_dir / rel).exists() for rel in rec.get("outputs", {}).values()):
            return None
        return rec

    def _add_stats(self, stats: Mapping[str, Any]) -> None:
        for k, v in stats.items():
            self.stats[k] = max(self.stats.get(k, 0), v) if k.startswith("max_") else self.stats.get(k, 0) + v

    def chunk(self, key: str, make: Callable[[], Any], meta: Mapping[str, Any] | None = None) -> dict[str, int]:
        """Counts per class of chunk ``key``.

        ``make()`` computes ``{class: {array: values}}`` (or a pair of that and a dict of integer
        statistics) when the chunk is not done yet.
        """
        folder = self.work / _safe(key)
        done = folder / "done.json"
        try:
            rec = json.loads(done.read_text())
        except (OSError, ValueError):
            rec = None
        if rec is not None and all((folder / f).exists() for f in rec["files"].values()):
            counts = {c: int(n) for c, n in rec["counts"].items()}
            self._add_stats(rec.get("stats", {}))
            for cls, n in counts.items():
                self.parts[cls].append(folder / rec["files"][cls])
                self.next_start[cls] += n
            self.reused += 1
            return counts
        produced = make()
        stats: dict[str, Any] = {}
        if isinstance(produced, tuple):
            produced, stats = produced
        counts, files = {}, {}
        for cls, arrays in produced.items():
            arrays = dict(arrays)
            n = len(next(iter(arrays.values()))) if arrays else 0
            ids = make_event_ids(f"{self.namespace}/{cls}", n, self.next_start[cls])
            fname = _safe(cls) + ".h5"
            EventSet(arrays, ids, meta or {}).save(folder / fname, compression="lzf")
            counts[cls], files[cls] = n, fname
        write_json(done, {"key": key, "counts": counts, "files": files, "stats": dict(stats)})
        self._add_stats(stats)
        for cls, n in counts.items():
            self.parts[cls].append(folder / files[cls])
            self.next_start[cls] += n
        self.computed += 1
        return counts

    def finish(self, meta_for: Callable[[str], Mapping[str, Any]], *, prefix: str = "") -> dict[str, Path]:
        """Merge the chunks of every class into ``<out_dir>/<prefix><class>.h5``; record the stage."""
        outputs: dict[str, Path] = {}
        counts: dict[str, int] = {}
        for cls, parts in self.parts.items():
            nonempty = [p for p in parts if EventSet.count(p) > 0] or parts[:1]
            out = self.out_dir / f"{prefix}{cls}.h5"
            merge_event_files(nonempty, out, meta=dict(meta_for(cls)))
            outputs[cls] = out
            counts[cls] = self.next_start[cls]
        write_json(self.marker, {
            "stage": self.stage, "tag": self.tag, "counts": counts, "stats": self.stats,
            "outputs": {c: str(p.relative_to(self.out_dir)) for c, p in outputs.items()},
        })
        shutil.rmtree(self.work, ignore_errors=True)
        return outputs


def stage_outputs(conv: ChunkedConversion, rec: Mapping[str, Any]) -> tuple[dict[str, Path], dict[str, int]]:
    return ({c: conv.out_dir / rel for c, rel in rec["outputs"].items()},
            {c: int(n) for c, n in rec["counts"].items()})


def base_meta(dataset: str, cls: str, *, converter: str, converter_version: int, inputs: Sequence[Path],
              version: str | None = None, **extra: Any) -> dict[str, Any]:
    """Metadata stored in every converted class file."""
    meta = {
        "dataset": dataset, "source": "real", "class": cls, "version": version,
        "converter": converter, "converter_version": converter_version,
        "inputs": [Path(p).name for p in inputs],
    }
    meta.update(extra)
    return meta


# -- fetch + convert ---------------------------------------------------------------------------------
def _remote_files(dataset: str, src: Any, *, mirror: str | None, offline: bool, from_dir: Path | None,
                  raw: Path) -> tuple[list[RemoteFile], list[str]]:
    """The files to fetch, with URLs in the order to try and expected sizes/checksums."""
    notes: list[str] = []
    records = {rid for rid in [src.zenodo, *(zenodo_record_id(f.url) for f in src.files)] if rid}
    api: dict[str, dict[str, Any]] = {}
    if not offline:
        for rid in sorted(records):
            try:
                api.update(zenodo_record(rid))
            except DownloadError as exc:
                notes.append(f"Zenodo records API not available for record {rid}: {exc}")
                log.warning("%s", notes[-1])
    specs = list(src.files)
    if not specs:
        specs = _unlisted_files(src, api, raw=raw, from_dir=from_dir, offline=offline)
    loose = _loose_files(src, specs, from_dir)
    if loose:
        notes.append(f"took {len(loose)} loose {src.format} files from {from_dir} instead of "
                     f"{', '.join(f.name for f in specs)} (no published checksums; sha256 recorded)")
        log.info("%s", notes[-1])
        return [RemoteFile(name=f.name) for f in loose], notes
    out = []
    for f in specs:
        info = api.get(f.name, {})
        pinned = bool(f.md5 or f.sha256)
        md5 = f.md5 or info.get("md5")
        if f.md5 and info.get("md5") and f.md5.lower() != info["md5"]:
            notes.append(f"{f.name}: md5 pinned in datasets.yaml ({f.md5}) differs from Zenodo's "
                         f"({info['md5']}); using the pinned one")
            warnings.warn(notes[-1], stacklevel=3)
        urls = [*site_mirror_urls(mirror, dataset, f.name), f.url,
                *(m.format(name=f.name, dataset=dataset) for m in src.mirrors), info.get("url")]
        source = "registry" if pinned else ("zenodo" if info.get("md5") else None)
        out.append(RemoteFile(
            name=f.name, urls=tuple(dict.fromkeys(u for u in urls if u)),
            size=f.size if f.size is not None else info.get("size"),
            md5=md5, sha256=f.sha256, checksum_source=source,
        ))
    return out, notes


#: formats whose converter also reads the loose files people download one by one (glob of their
#: names), so ``lhcad fetch DATASET --from DIR`` takes those when DIR lacks the registered archive
LOOSE_FILES: dict[str, str] = {"darkmachines": "*.csv"}


def _loose_files(src: Any, specs: Sequence[Any], from_dir: Path | None) -> list[Any]:
    """Loose files in ``from_dir`` standing in for the registered ones (none if any is there)."""
    from benchmark.registry import FileSpec
    from benchmark.sources.download import _find_in

    pattern = LOOSE_FILES.get(src.format or "")
    if from_dir is None or pattern is None or not Path(from_dir).is_dir():
        return []
    if any(_find_in(Path(from_dir), f.name) is not None for f in specs):
        return []
    found: dict[str, Path] = {}
    for path in sorted(Path(from_dir).rglob(pattern)):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.name in found:
            raise DownloadError(f"--from {from_dir}: two files named {path.name} ({found[path.name]} and {path}); "
                                "keep one")
        found[path.name] = path
    return [FileSpec(name=name) for name in found]


def _unlisted_files(src: Any, api: Mapping[str, Mapping[str, Any]], *, raw: Path, from_dir: Path | None,
                    offline: bool) -> list[Any]:
    """File list of a source that lists none in datasets.yaml (read from Zenodo, or from before)."""
    from benchmark.registry import FileSpec

    if api:
        return [FileSpec(name=n, url=i.get("url")) for n, i in sorted(api.items())]
    try:
        manifest = json.loads((raw / MANIFEST).read_text())
        return [FileSpec(name=n) for n in sorted(manifest["files"])]
    except (OSError, ValueError, KeyError):
        pass
    if from_dir is not None and Path(from_dir).is_dir():
        return [FileSpec(name=p.name) for p in sorted(Path(from_dir).iterdir())
                if p.is_file() and not p.name.startswith(".")]
    why = "offline mode" if offline else "the Zenodo records API could not be reached"
    raise DownloadError(
        f"datasets.yaml lists no files for this source and {why}; cannot tell what to fetch "
        f"(pass --from DIR with the files, or retry online)"
    )


def _converter(fmt: str) -> Callable[..., ConversionResult]:
    if fmt not in FORMATS:
        raise KeyError(f"no converter for source format {fmt!r}; known: {', '.join(sorted(FORMATS))}")
    module, func = FORMATS[fmt]
    return getattr(importlib.import_module(module), func)


def convert_files(fmt: str, files: Mapping[str, Path], out_dir: Path, *, dataset: str,
                  version: str | None = None, classes: Sequence[str] | None = None,
                  progress: bool = False, **kwargs: Any) -> ConversionResult:
    """Run the converter of ``fmt`` on raw ``files`` (name -> path) into ``out_dir``."""
    return _converter(fmt)(dict(files), Path(out_dir), dataset=dataset, version=version,
                           classes=classes, progress=progress, **kwargs)


#: libraries whose versions a conversion summary records
CONVERTER_PACKAGES = ("lhcad", "numpy", "h5py", "pandas", "tables", "fastjet", "awkward", "hdf5plugin")


def _converter_version(fmt: str) -> int:
    module = importlib.import_module(FORMATS[fmt][0])
    return int(getattr(module, "CONVERTER_VERSION", 1))


def write_summary(out_dir: Path, *, dataset: str, src: Any, fetched: Mapping[str, FetchedFile],
                  result: ConversionResult, notes: Sequence[str] = ()) -> dict[str, Any]:
    """``summary.json``: counts per class, checksums of raw and converted files, versions."""

    def describe(paths: Mapping[str, Path], counts: Mapping[str, int]) -> dict[str, Any]:
        return {name: {"path": str(Path(p).relative_to(out_dir)), "count": int(counts.get(name, EventSet.count(p))),
                       "sha256": file_checksum(p), "size": Path(p).stat().st_size}
                for name, p in sorted(paths.items())}

    summary = {
        "dataset": dataset,
        "source": "real",
        "version": src.version,
        "format": src.format,
        "converter_version": _converter_version(src.format),
        "event_format": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "raw": {name: {k: v for k, v in f.to_json().items() if k not in ("path", "name")}
                for name, f in sorted(fetched.items())},
        "classes": describe(result.classes, result.counts),
        "extras": describe(result.extras, result.extra_counts),
        "notes": result.notes,
        "warnings": [*notes, *result.warnings],
        "libraries": package_versions(CONVERTER_PACKAGES),
    }
    write_json(out_dir / SUMMARY, summary)
    return summary


def _up_to_date(out_dir: Path, fetched: Mapping[str, FetchedFile], fmt: str) -> dict[str, Path] | None:
    try:
        summary = json.loads((out_dir / SUMMARY).read_text())
    except (OSError, ValueError):
        return None
    if summary.get("converter_version") != _converter_version(fmt) or summary.get("event_format") != FORMAT_VERSION:
        return None
    raw = summary.get("raw", {})
    if set(raw) != set(fetched) or any(raw[n].get("sha256") != f.sha256 for n, f in fetched.items()):
        return None
    out = {}
    for cls, info in summary.get("classes", {}).items():
        path = out_dir / info["path"]
        if not path.exists() or path.stat().st_size != info.get("size"):
            return None
        out[cls] = path
    return out


def fetch_dataset(
    dataset: str,
    *,
    data_dir: Path | None = None,
    mirror: str | None = None,
    from_dir: Path | None = None,
    offline: bool = False,
    progress: bool = True,
    convert: bool = True,
) -> dict[str, Path]:
    """Download (or take from ``from_dir``), verify and convert the real files of ``dataset``.

    Returns ``{class: path of its canonical file}``. With ``convert=False`` nothing is converted and
    the raw files are returned as ``{"raw/<file>": path}``. ``mirror`` (else ``$LHCAD_MIRROR``) is a
    site mirror tried before the upstream URLs. ``offline`` never uses the network: it converts
    what is in the cache (or in ``from_dir``) and fails with a clear message otherwise. Running it
    again is cheap: verified raw files and an up-to-date conversion are reused.
    """
    from benchmark.registry import load_registry

    spec = load_registry().dataset(dataset)
    src = spec.source("real")
    mirror = mirror if mirror is not None else (os.environ.get(ENV_MIRROR) or None)
    out_dir = _dataset_root(dataset, data_dir)
    raw = out_dir / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    from_dir = Path(from_dir) if from_dir is not None else None

    remotes, notes = _remote_files(dataset, src, mirror=mirror, offline=offline, from_dir=from_dir, raw=raw)
    hint = f"lhcad fetch {dataset}"
    session = None
    if not offline:
        from benchmark.sources.download import _session

        session = _session()
    fetched: dict[str, FetchedFile] = {}
    for remote in remotes:
        fetched[remote.name] = fetch_file(remote, raw / remote.name, from_dir=from_dir, offline=offline,
                                          progress=progress, session=session, fetch_hint=hint)
    write_json(raw / MANIFEST, {
        "dataset": dataset, "version": src.version,
        "files": {n: {k: v for k, v in f.to_json().items() if k not in ("path", "name")} for n, f in fetched.items()},
    })
    if not convert:
        return {f"raw/{n}": f.path for n, f in fetched.items()}
    if src.format is None:
        raise KeyError(f"dataset {dataset!r}: its real source names no format, so it cannot be converted")
    # one conversion per dataset at a time: a second concurrent run waits, then finds it done
    with file_lock(out_dir / ".convert"):
        reuse = _up_to_date(out_dir, fetched, src.format)
        if reuse is not None:
            log.info("%s: converted files are up to date", dataset)
            return reuse
        result = convert_files(src.format, {n: f.path for n, f in fetched.items()}, out_dir, dataset=dataset,
                               version=src.version, classes=list(spec.classes), progress=progress)
        unknown = sorted(set(result.classes) - set(spec.classes))
        if unknown:
            result.warnings.append(f"classes not in datasets.yaml (kept as converted): {unknown}")
        missing = sorted(set(spec.classes) - set(result.classes))
        if missing:
            result.warnings.append(f"classes of datasets.yaml not provided by these files: {missing}")
        for w in result.warnings:
            log.warning("%s: %s", dataset, w)
        write_summary(out_dir, dataset=dataset, src=src, fetched=fetched, result=result, notes=notes)
    return dict(result.classes)
