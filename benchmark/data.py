"""Where a dataset class's canonical events live, for each source, and loading them.

Lookup order for ``generated``: the cache (``lhcad generate`` output, any size) and then the
small samples shipped inside the package, so a fresh clone runs with no download and no
generation. ``real`` data only ever comes from the cache, after an explicit ``lhcad fetch``.
"""
from __future__ import annotations

from pathlib import Path

from benchmark.events import EventSet
from benchmark.registry import Registry, load_registry
from benchmark.store import data_root, file_checksum

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"


class DataMissingError(FileNotFoundError):
    """The events a task needs are not on disk; the message says which command makes them."""


def class_path(dataset: str, cls: str, source: str, *, root: Path | None = None) -> Path:
    """Path of the canonical file of ``dataset:cls`` for ``source`` (raises if absent)."""
    reg = load_registry()
    spec = reg.dataset(dataset)
    spec.class_spec(cls)
    spec.source(source)
    cache = (root or data_root()) / dataset / source / f"{cls}.h5"
    if cache.exists():
        return cache
    if source == "generated":
        shipped = SAMPLES_DIR / dataset / f"{cls}.h5"
        if shipped.exists():
            return shipped
        raise DataMissingError(
            f"no generated events for {dataset}:{cls} (looked in {cache} and {shipped}); "
            f"run `lhcad generate {dataset}`"
        )
    raise DataMissingError(
        f"the real {dataset} data are not in the cache ({cache} is missing); "
        f"run `lhcad fetch {dataset}` (with internet, or `--from DIR` / `--mirror URL`)"
    )


def load_class(dataset: str, cls: str, source: str, *, root: Path | None = None) -> EventSet:
    """All events of one class, with ``meta`` recording where they came from."""
    path = class_path(dataset, cls, source, root=root)
    events = EventSet.load(path)
    events.meta.update({"dataset": dataset, "class": cls, "source": source, "path": str(path)})
    return events


def class_checksums(refs: list[tuple[str, str]], source: str, registry: Registry | None = None) -> dict[str, str]:
    """sha256 of each class file a job read, keyed ``dataset:class`` (provenance of results)."""
    out = {}
    for dataset, cls in refs:
        path = class_path(dataset, cls, source)
        out[f"{dataset}:{cls}"] = file_checksum(path)
    return out


def available_sources(dataset: str) -> dict[str, bool]:
    """Which sources of ``dataset`` have every class on disk right now."""
    spec = load_registry().dataset(dataset)
    status = {}
    for source in spec.sources:
        try:
            for cls in spec.sources[source].classes or spec.classes:  # a source may hold a few classes
                class_path(dataset, cls, source)
            status[source] = True
        except DataMissingError:
            status[source] = False
    return status
