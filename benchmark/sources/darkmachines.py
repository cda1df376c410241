"""Dark Machines unsupervised challenge (hackathon ``training_files.tar``) -> canonical class files.

Upstream: a tar with ``training_files/<chan>/<file>.csv`` for the channels chan1, chan2a, chan2b and
chan3: one background file ``background_<chan>_<lumi>.csv`` (``<lumi>`` = integrated luminosity in
fb^-1) and one file per signal ``<signal>_<chan>.csv``. Each line is one event::

    eventID;processID;weight;MET;METphi;type,E,pT,eta,phi;type,E,pT,eta,phi;...;

with energies and momenta in MeV, object types ``j b e- e+ m- m+ g`` (``mu-``/``mu+``/``a``
accepted as aliases), a trailing ``;``.

Canonical output, one file per (channel, process file), class ``<chan>/background`` or
``<chan>/<signal>`` (e.g. ``chan1/monojet_Zp2000.0_DM_50.0.h5``):

* ``objects`` (N, 20, 5) float32 (type code of :data:`benchmark.events.OBJECT_TYPES`, E, pt, eta,
  phi) in GeV, in file order (jets and b-jets by pt, then electrons, muons, photons), zero-padded;
* ``objects_mask`` (N, 20) bool; ``met`` (N, 2) float64 (MET in GeV, MET phi);
* ``weights`` (N,) float64 as in the file (1 for background, sigma / N for a signal);
* ``process_code`` (N,) int32 = ``crc32(processID) & 0x7fffffff``, a stable code whose names are in
  the file's meta ``process_names``. It names the *physics process* (``ttbar``, ``w_jets``, the
  signal name, ...) and therefore reveals the class: it is provenance, never a scorer input.

The class file meta carries ``channel``, ``luminosity_fb`` (background) or ``signal``, the units,
and per-process event counts. Events with more than 20 objects keep the first 20 (counted in the
summary). A malformed line raises :class:`~benchmark.sources.FormatError` naming the file and line
(``errors="skip"`` skips such lines and lists them instead); converted chunks are kept, so a rerun
resumes after the last complete chunk.
"""
from __future__ import annotations

import io
import re
import tarfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import IO, Any

import numpy as np

from benchmark.events import OBJECT_TYPES

CONVERTER_VERSION = 1
N_OBJECTS = 20
CHUNK = 50_000
MEV = 1e-3  # MeV -> GeV
CHANNELS = ("chan1", "chan2a", "chan2b", "chan3")
TYPE_CODES = {**OBJECT_TYPES, "mu-": OBJECT_TYPES["m-"], "mu+": OBJECT_TYPES["m+"], "a": OBJECT_TYPES["g"]}
_BACKGROUND = re.compile(r"^background_(chan\w+?)_([0-9]+(?:\.[0-9]*)?)(?:_[A-Za-z]\w*)?\.csv$")
_SIGNAL = re.compile(r"^(.+)_(chan1|chan2a|chan2b|chan3)(?:_[A-Za-z]\w*)?\.csv$")


def _format_error(msg: str) -> Exception:
    from benchmark.sources import FormatError

    return FormatError(msg)


def process_code(name: str) -> int:
    """Stable non-negative int32 code of a process name."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def classify(filename: str) -> tuple[str, dict[str, Any]] | None:
    """Class name and facts from a file name (``background_chan1_7.79.csv`` -> ``chan1/background``)."""
    base = Path(filename).name
    m = _BACKGROUND.match(base)
    if m:
        return f"{m.group(1)}/background", {"channel": m.group(1), "luminosity_fb": float(m.group(2)),
                                            "role": "background"}
    m = _SIGNAL.match(base)
    if m and not base.startswith("background_"):
        return f"{m.group(2)}/{m.group(1)}", {"channel": m.group(2), "signal": m.group(1), "role": "signal"}
    return None


# -- parsing -----------------------------------------------------------------------------------------
def parse_lines(lines: Sequence[str], source: str, first_line: int = 1, *, n_objects: int = N_OBJECTS,
                errors: str = "raise") -> tuple[dict[str, np.ndarray], dict[str, int], list[int]]:
    """Parse CSV lines into canonical arrays; returns (arrays, statistics, skipped line numbers).

    ``first_line`` is the 1-based line number of ``lines[0]`` in ``source`` (for error messages).
    """
    types = TYPE_CODES
    weights: list[float] = []
    met: list[tuple[float, float]] = []
    procs: list[str] = []
    counts: list[int] = []
    flat: list[tuple[Any, ...]] = []
    skipped: list[int] = []
    blank = truncated = 0
    for i, line in enumerate(lines):
        lineno = first_line + i
        text = line.strip()
        if not text:
            blank += 1
            continue
        fields = text.split(";")
        if fields[-1] == "":
            fields.pop()
        try:
            if len(fields) < 5:
                raise ValueError(f"{len(fields)} ';'-separated fields, expected at least 5 "
                                 f"(eventID;processID;weight;MET;METphi)")
            try:
                w, m, mphi = float(fields[2]), float(fields[3]), float(fields[4])
            except ValueError:
                raise ValueError(f"weight/MET/METphi {fields[2:5]!r} are not numbers") from None
            objs = []
            for j, obj in enumerate(fields[5:]):
                p = obj.split(",")
                if len(p) != 5:
                    raise ValueError(f"object {j + 1} {obj!r} has {len(p)} ','-separated values, expected 5 "
                                     f"(type,E,pT,eta,phi)")
                code = types.get(p[0])
                if code is None:
                    raise ValueError(f"object {j + 1} has unknown type {p[0]!r} (known: {', '.join(OBJECT_TYPES)})")
                try:
                    objs.append((code, float(p[1]), float(p[2]), float(p[3]), float(p[4])))
                except ValueError:
                    raise ValueError(f"object {j + 1} {obj!r} has a value that is not a number") from None
            if not all(np.isfinite((w, m, mphi))) or not all(np.isfinite(o[1:]).all() for o in objs):
                raise ValueError("non-finite value")
        except ValueError as exc:
            if errors == "skip":
                skipped.append(lineno)
                continue
            raise _format_error(f"{source}, line {lineno}: {exc}: {text[:120]!r}") from None
        if len(objs) > n_objects:
            truncated += 1
            objs = objs[:n_objects]
        weights.append(w)
        met.append((m * MEV, mphi))
        procs.append(fields[1])
        counts.append(len(objs))
        flat.extend(objs)
    n = len(weights)
    objects = np.zeros((n, n_objects, 5), dtype=np.float32)
    mask = np.zeros((n, n_objects), dtype=bool)
    if flat:
        values = np.asarray(flat, dtype=np.float64)
        values[:, 1:3] *= MEV
        c = np.asarray(counts)
        rows = np.repeat(np.arange(n), c)
        cols = np.arange(len(values)) - np.repeat(np.cumsum(c) - c, c)
        objects[rows, cols] = values
        mask[rows, cols] = True
    names, inverse = np.unique(np.asarray(procs, dtype=object).astype(str), return_inverse=True) if procs else ([], [])
    codes = np.asarray([process_code(str(x)) for x in names], dtype=np.int32)
    arrays = {
        "objects": objects,
        "objects_mask": mask,
        "met": np.asarray(met, dtype=np.float64).reshape(n, 2),
        "weights": np.asarray(weights, dtype=np.float64),
        "process_code": codes[np.asarray(inverse, dtype=np.int64)] if n else np.zeros(0, np.int32),
    }
    stats = {"blank_lines": blank, "truncated_events": truncated, "skipped_lines": len(skipped),
             "max_objects_seen": int(max(counts, default=0))}
    for name, k in zip(names, np.bincount(np.asarray(inverse, dtype=np.int64), minlength=len(names)) if n else []):
        stats[f"process:{name}"] = int(k)
    return arrays, stats, skipped


# -- inputs: tar members, CSV files, folders --------------------------------------------------------
def iter_inputs(paths: Iterable[Path]) -> Iterator[tuple[str, Path, str, int]]:
    """(display name, container path, member name or "", size) of every CSV in tars, folders, files."""
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for csv in sorted(path.rglob("*.csv")):
                yield str(csv), csv, "", csv.stat().st_size
        elif path.suffix == ".csv":
            yield str(path), path, "", path.stat().st_size
        elif tarfile.is_tarfile(path):
            with tarfile.open(path, "r:*") as tf:
                for member in tf:
                    if member.isfile() and member.name.endswith(".csv") and not Path(member.name).name.startswith("._"):
                        yield f"{path.name}:{member.name}", path, member.name, member.size
        else:
            raise _format_error(f"{path}: neither a CSV file, a folder nor a tar archive")


@contextmanager
def open_text(container: Path, member: str) -> Iterator[IO[str]]:
    if not member:
        with open(container, encoding="utf-8", newline=None) as handle:
            yield handle
        return
    with tarfile.open(container, "r:*") as tf:
        raw = tf.extractfile(member)
        if raw is None:
            raise _format_error(f"{container}: member {member} cannot be read")
        with io.TextIOWrapper(raw, encoding="utf-8", newline=None) as handle:
            yield handle


def convert_stream(handle: IO[str], source: str, conv: Any, cls: str, *, chunk_size: int = CHUNK,
                   errors: str = "raise", skipped: list[int] | None = None) -> None:
    """Parse an open CSV stream into ``conv`` chunk by chunk (done chunks are read past, not parsed)."""
    index = 0
    first = 1
    while True:
        lines = list(islice(handle, chunk_size))
        if not lines:
            break

        def make(lines: list[str] = lines, first: int = first) -> Any:
            arrays, stats, bad = parse_lines(lines, source, first, errors=errors)
            if skipped is not None:
                skipped.extend(bad)
            return {cls: arrays}, stats

        conv.chunk(f"{index:08d}", make)
        index += 1
        first += len(lines)


# -- converter entry point --------------------------------------------------------------------------
def convert(files: Mapping[str, Path], out_dir: Path, *, dataset: str = "darkmachines", version: str | None = None,
            classes: Sequence[str] | None = None, progress: bool = False, chunk_size: int = CHUNK,
            errors: str = "raise") -> Any:
    """Convert a ``training_files.tar`` (or CSV files / folders of them) into per-class files."""
    from tqdm.auto import tqdm

    from benchmark.sources import ChunkedConversion, ConversionResult, base_meta, input_signature, stage_outputs

    paths = [Path(p) for p in files.values()]
    result = ConversionResult()
    inputs = list(iter_inputs(paths))
    if not inputs:
        raise _format_error(f"no Dark Machines CSV files in {[str(p) for p in paths]}")
    seen: dict[str, str] = {}
    skipped_all: dict[str, list[int]] = {}
    for display, container, member, size in tqdm(inputs, desc="darkmachines", unit="file", disable=not progress):
        found = classify(member or container.name)
        if found is None:
            result.warnings.append(f"{display}: file name is neither background_<chan>_<lumi>.csv nor "
                                   f"<signal>_<chan>.csv; not converted")
            continue
        cls, facts = found
        if cls in seen:
            raise _format_error(f"{display} and {seen[cls]} both give class {cls}")
        seen[cls] = display
        tag = {"converter": "darkmachines", "version": CONVERTER_VERSION, "inputs": input_signature([container]),
               "member": member, "member_size": size, "chunk_size": chunk_size, "errors": errors}
        conv = ChunkedConversion(out_dir, f"darkmachines-{cls}", namespace=f"{dataset}/real", tag=tag)
        done = conv.finished()
        if done is not None:
            outputs, counts = stage_outputs(conv, done)
            stats = done.get("stats", {})
        else:
            skipped: list[int] = []
            with open_text(container, member) as handle:
                convert_stream(handle, display, conv, cls, chunk_size=chunk_size, errors=errors, skipped=skipped)
            if not conv.parts:
                raise _format_error(f"{display}: no events")
            stats = dict(conv.stats)
            procs = {k.split(":", 1)[1]: v for k, v in stats.items() if k.startswith("process:")}

            def meta(c: str, facts: dict[str, Any] = facts, procs: dict[str, int] = procs,
                     display: str = display, skipped: list[int] = skipped) -> dict[str, Any]:
                return base_meta(
                    dataset, c, converter="darkmachines", converter_version=CONVERTER_VERSION,
                    inputs=[container], version=version, member=member or None, units="GeV",
                    objects="type code, E, pt, eta, phi; codes " + str(OBJECT_TYPES),
                    process_names={str(process_code(p)): p for p in procs}, process_counts=procs,
                    skipped_lines=skipped[:1000], **facts,
                )

            outputs = conv.finish(meta)
            counts = {c: conv.next_start[c] for c in outputs}
            if skipped:
                skipped_all[display] = skipped
        result.classes.update(outputs)
        result.counts.update(counts)
        result.notes[cls] = {k: v for k, v in stats.items() if not k.startswith("process:")}
        result.notes[cls].update(facts)
        if stats.get("truncated_events"):
            result.warnings.append(f"{cls}: {stats['truncated_events']} events had more than {N_OBJECTS} objects "
                                   f"(kept the first {N_OBJECTS})")
    for display, bad in skipped_all.items():
        result.warnings.append(f"{display}: skipped {len(bad)} malformed lines (first: {bad[:10]})")
    return result


# -- fixture writer ---------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    """C++ default float formatting (6 significant digits), as in the upstream files."""
    return f"{x:.6g}"


def fake_lines(n: int, *, process: str | Sequence[str] = "ttbar", weight: float = 1.0, seed: int = 0) -> list[str]:
    """``n`` plausible event lines in the upstream format (MeV, trailing ';')."""
    rng = np.random.default_rng(seed)
    procs = [process] if isinstance(process, str) else list(process)
    out = []
    for i in range(n):
        fields = [str(int(rng.integers(1, 10**8))), procs[i % len(procs)], _fmt(weight),
                  _fmt(rng.uniform(200e3, 900e3)), _fmt(rng.uniform(-np.pi, np.pi))]
        k = int(rng.integers(4, 10))
        pts = np.sort(rng.exponential(150e3, k) + 20e3)[::-1]
        for j, pt in enumerate(pts):
            kind = "j" if j < k - 2 else str(rng.choice(["b", "e-", "m+", "g"]))
            eta = rng.uniform(-2.5, 2.5)
            fields.append(",".join([kind, _fmt(pt * np.cosh(eta)), _fmt(pt), _fmt(eta), _fmt(rng.uniform(-np.pi, np.pi))]))
        out.append(";".join(fields) + ";\n")
    return out


def write_fixture(path: Path, spec: Mapping[str, int] | None = None, *, seed: int = 0) -> Path:
    """Write a ``training_files.tar`` with ``training_files/<chan>/<file>.csv`` members.

    ``spec`` maps member file names (e.g. ``background_chan1_7.79.csv``) to line counts.
    """
    spec = spec or {"background_chan1_7.79.csv": 200, "monojet_Zp2000.0_DM_50.0_chan1.csv": 50,
                    "background_chan2a_309.6.csv": 80, "pp23mt_50_chan2a.csv": 30}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tf:
        for k, (name, n) in enumerate(spec.items()):
            cls, facts = classify(name) or (name, {})
            if facts.get("role") == "background":
                lines = fake_lines(n, process=["njets", "ttbar", "w_jets", "z_jets"], seed=seed + k)
            else:
                lines = fake_lines(n, process=facts.get("signal", "sig"), weight=1.2345e-5, seed=seed + k)
            data = "".join(lines).encode()
            info = tarfile.TarInfo(f"training_files/{facts.get('channel', 'chan1')}/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path
