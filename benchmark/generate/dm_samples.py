"""One Dark Machines channel, generated: its SM processes mixed into ``<channel>/background``, its signals.

``generate_channel("chan1", events=N)`` runs the ``darkmachines`` recipe through the ordinary
generator (:func:`benchmark.generate.pythia.generate_dataset`: seeded chunks, workers, resume)
in two steps:

1. a pilot of ``pilot`` rows per background process measures each process's selected cross
   section sigma_p * eff_p (Pythia's sigmaGen times the fraction of generated events passing the
   channel cuts);
2. every process is generated up to ``ceil(N * f_p)`` rows, f_p = sigma_p eff_p / sum, and the
   first rows of each are mixed, in an order fixed by the seed, into ``<channel>/background``
   with its natural composition (like the real file, whose events are unweighted). Every
   background event weighs ``L * sum_p sigma_p eff_p / N`` (events expected in the channel's
   luminosity L per generated event), so the sum of the weights is the expected yield.

Each signal class is generated with ``signal_events`` rows and weighted ``sigma * eff / N`` pb
like the real signal files (sigma after cuts divided by the number of lines).
Process files stay in the output folder (``<channel>/<process>.h5``); asking again with the same
seed reuses every finished chunk.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.generate.dm_recipes import BACKGROUND_PROCESSES, DARKMACHINES, LUMINOSITY_FB, SIGNALS, channel_classes

DATASET = "darkmachines"


def _read_meta(path: Path) -> dict[str, Any]:
    import h5py

    with h5py.File(path, "r") as f:
        return json.loads(f.attrs.get("meta", "{}"))


def selected_sigma_pb(meta: Mapping[str, Any]) -> float:
    """sigma * eff (pb) of a generated class from its merged meta."""
    value = meta.get("sigma_selected_pb")
    if value is None:
        raise ValueError(f"class {meta.get('class')!r} has no selected cross section in its meta")
    return float(value)


def mixture_counts(sigmas_pb: Mapping[str, float], n_total: int) -> dict[str, int]:
    """Rows per process so that the mixture of ``n_total`` rows follows the cross sections.

    Largest-remainder rounding keeps the total exact and each count within one of its share.
    """
    total = sum(sigmas_pb.values())
    if total <= 0:
        raise ValueError(f"no background process passes the channel cuts (selected cross sections {dict(sigmas_pb)})")
    shares = {p: n_total * s / total for p, s in sigmas_pb.items()}
    counts = {p: int(math.floor(v)) for p, v in shares.items()}
    rest = n_total - sum(counts.values())
    for p in sorted(shares, key=lambda p: (counts[p] - shares[p], p))[:rest]:
        counts[p] += 1
    return counts


def mixture_order(counts: Mapping[str, int], seed: int, channel: str) -> tuple[np.ndarray, np.ndarray]:
    """(process index, row within the process) of each background row, in the seeded mixed order."""
    procs = list(counts)
    proc = np.concatenate([np.full(counts[p], i) for i, p in enumerate(procs)]).astype(np.int64)
    row = np.concatenate([np.arange(counts[p]) for p in procs]).astype(np.int64)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), *map(ord, f"{channel}/background")]))
    perm = rng.permutation(len(proc))
    return proc[perm], row[perm]


def mix_background(channel: str, process_files: Mapping[str, Path], counts: Mapping[str, int], seed: int,
                   out: Path) -> Path:
    """Write ``<channel>/background`` from the first ``counts[p]`` rows of each process file."""
    from benchmark.events import EventSet, make_event_ids
    from benchmark.sources.darkmachines import process_code

    metas = {p: _read_meta(path) for p, path in process_files.items()}
    sets = {p: EventSet.load(path) for p, path in process_files.items()}
    for p, n in counts.items():
        if len(sets[p]) < n:
            raise ValueError(f"{process_files[p]} holds {len(sets[p])} rows, the mixture needs {n}")
    procs = list(counts)
    proc, row = mixture_order(counts, seed, channel)
    n = len(proc)
    names = ("objects", "objects_mask", "met", "process_code")
    arrays = {k: np.concatenate([sets[p][k][: counts[p]] for p in procs]) for k in names}
    offsets = np.cumsum([0, *[counts[p] for p in procs]])
    take = offsets[proc] + row
    arrays = {k: v[take] for k, v in arrays.items()}
    sigmas = {p: selected_sigma_pb(metas[p]) for p in procs}
    lumi = LUMINOSITY_FB[channel]
    expected = lumi * 1e3 * sum(sigmas.values())  # pb -> fb
    arrays["weights"] = np.full(n, expected / n if n else 0.0)
    first = next(iter(metas.values()))
    meta = {
        "dataset": DATASET, "class": f"{channel}/background", "source": "generated",
        "source_version": first.get("source_version"), "recipe": DARKMACHINES.name,
        "recipe_version": DARKMACHINES.version, "seed": int(seed), "channel": channel, "role": "background",
        "luminosity_fb": lumi, "units": "GeV", "versions": first.get("versions"),
        "chunk_size": first.get("chunk_size"),
        "mixture": {"processes": {p: {"class": f"{channel}/{p}", "rows": int(counts[p]),
                                      "sigma_selected_pb": sigmas[p],
                                      "recipe_fingerprint": metas[p].get("recipe_fingerprint"),
                                      "n_generated": metas[p].get("n_generated"),
                                      "efficiency": metas[p].get("efficiency")} for p in procs},
                    "order": "benchmark.generate.dm_samples.mixture_order(counts, seed, channel)",
                    # the order of counts that mixture_order used (the meta's dicts are stored sorted by name)
                    "process_order": procs},
        "expected_events": expected,
        "process_names": {str(process_code(p)): p for p in procs},
        "process_counts": {p: int(counts[p]) for p in procs},
        "n_events": n,
        "event_id_namespace": f"{DATASET}/generated/{channel}/background",
    }
    ids = make_event_ids(meta["event_id_namespace"], n)
    EventSet(arrays, ids, meta).save(out)
    return out


def finalise_signal(path: Path) -> Path:
    """Give a generated signal class the real files' weights: sigma after cuts (pb) / N, per event."""
    from benchmark.events import EventSet

    es = EventSet.load(path)
    sigma = selected_sigma_pb(es.meta)
    n = len(es)
    meta = {**es.meta, "role": "signal", "signal": es.meta["class"].split("/", 1)[1], "units": "GeV",
            "channel": es.meta["class"].split("/", 1)[0], "weight_pb_per_event": sigma / n if n else 0.0}
    EventSet(dict(es.arrays, weights=np.full(n, sigma / n if n else 0.0)), es.event_id, meta).save(path)
    return path


def generate_channel(channel: str, events: int, *, signal_events: int | None = None, out_dir: Path | None = None,
                     workers: int = 1, seed: int | None = None, chunk_size: int = 50, pilot: int = 50,
                     progress: bool = True) -> dict[str, Path]:
    """Generate ``channel``: a background mixture of ``events`` rows and ``signal_events`` per signal.

    ``chunk_size`` 50 (the shipped sample's) keeps chunks small: about 3600 generated ttbar events
    each at chan1's 1.4 % efficiency. Every event regenerates bit for bit from the recipe and seed
    (:func:`regenerate_rows`); the mixture's composition follows the cross sections measured on the
    chunks made, so another number of chunks can shift a process's count by one.
    """
    from benchmark.generate.pythia import _resolve, generate_dataset
    from benchmark.store import dataset_dir

    if events < 1:
        raise ValueError(f"events must be positive, got {events}")
    bkg_classes = channel_classes(channel, "background")
    sig_classes = channel_classes(channel, "signal")
    recipe, seed, _, _ = _resolve(DATASET, seed)
    out_dir = Path(out_dir) if out_dir is not None else dataset_dir(DATASET, "generated")
    (out_dir / channel).mkdir(parents=True, exist_ok=True)
    common = {"out_dir": out_dir, "workers": workers, "seed": seed, "chunk_size": chunk_size, "progress": progress}
    pilot_rows = {c: min(pilot, events) for c in bkg_classes}
    files = generate_dataset(DATASET, pilot_rows, **common)
    sigmas = {c.split("/", 1)[1]: selected_sigma_pb(_read_meta(files[c])) for c in bkg_classes}
    counts = mixture_counts(sigmas, events)

    def whole_chunks(n: int) -> int:  # full chunks only, so that a later, larger request reuses them all
        return -(-n // chunk_size) * chunk_size

    need = {f"{channel}/{p}": max(whole_chunks(n), pilot_rows[f"{channel}/{p}"]) for p, n in counts.items()}
    files = generate_dataset(DATASET, need, **common)
    # the cross sections of the full samples fix the final composition (counts never exceed the rows made)
    sigmas = {c.split("/", 1)[1]: selected_sigma_pb(_read_meta(files[c])) for c in bkg_classes}
    counts = mixture_counts(sigmas, events)
    short = {p: n for p, n in counts.items() if n > need[f"{channel}/{p}"]}
    if short:
        more = {f"{channel}/{p}": whole_chunks(n) for p, n in short.items()}
        files.update(generate_dataset(DATASET, {**need, **more}, **common))
    out: dict[str, Path] = {}
    out[f"{channel}/background"] = mix_background(
        channel, {c.split("/", 1)[1]: files[c] for c in bkg_classes}, counts, seed,
        out_dir / channel / "background.h5")
    n_sig = signal_events if signal_events is not None else events
    sig_files = generate_dataset(DATASET, {c: n_sig for c in sig_classes}, **common)
    for cls, path in sig_files.items():
        out[cls] = finalise_signal(path)
    return out


def _recipe_order(channel: str, procs: Mapping[str, Any]) -> list[str]:
    """The mixing order of a background written before its meta recorded one: the recipe's process order."""
    known = [p for p in BACKGROUND_PROCESSES[channel] if p in procs]
    if len(known) != len(procs):
        raise ValueError(f"{channel} background mixes {sorted(procs)}, the recipe lists {BACKGROUND_PROCESSES[channel]}: "
                         "its mixing order is unknown")
    return known


def regenerate_rows(meta: Mapping[str, Any], cls: str, n_rows: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(row positions, arrays) that regenerating a written class from its recipe and seed must match.

    A signal's first ``n_rows`` rows are chunk 0's (weights as finalised). For the background
    mixture, the first ``n_rows`` rows of every process (chunk 0 of its class) are regenerated and
    the positions where the mixture put them are returned.
    """
    from benchmark.generate.pythia import generate_chunk

    seed = int(meta["seed"])
    if "mixture" not in meta:
        res = generate_chunk(DARKMACHINES, cls, 0, n_rows, seed)
        arrays = dict(res.arrays, weights=np.full(len(res.arrays["weights"]), meta["weight_pb_per_event"]))
        return np.arange(n_rows), arrays
    channel = meta["channel"]
    procs = meta["mixture"]["processes"]
    order = meta["mixture"].get("process_order") or _recipe_order(channel, procs)
    counts = {p: int(procs[p]["rows"]) for p in order}
    proc, row = mixture_order(counts, seed, channel)
    positions, pieces = [], []
    for i, p in enumerate(counts):
        k = min(n_rows, counts[p])
        if not k:
            continue
        res = generate_chunk(DARKMACHINES, f"{channel}/{p}", 0, k, seed)
        where = np.flatnonzero((proc == i) & (row < k))
        positions.append(where)
        pieces.append({name: arr[row[where]] for name, arr in res.arrays.items()})
    arrays = {name: np.concatenate([pc[name] for pc in pieces]) for name in pieces[0]}
    arrays["weights"] = np.full(len(arrays["weights"]), meta["expected_events"] / meta["n_events"])
    return np.concatenate(positions), arrays


__all__ = ["SIGNALS", "regenerate_rows", "generate_channel", "mix_background", "mixture_counts", "mixture_order", "finalise_signal",
           "selected_sigma_pb"]
