"""Pythia 8 event loop: seeded chunks, worker processes, resumable output.

How a generated class is produced (:func:`generate_dataset`):

* The requested number of rows (jets, or events for LHCO) is cut into chunks of ``chunk_size``.
  Chunk ``k`` of class ``c`` gets its own Pythia seed and detector random stream, derived by
  SHA-256 from (recipe name, seed, class, k) (:func:`chunk_seeds`), so a chunk's content depends
  only on the recipe, the seed, the class, ``k``, its size and the software versions -- never on
  the number of workers or on which chunks were made before. A chunk of n rows is a prefix of the
  chunk of m > n rows with the same seed: events are drawn in fixed batches of
  ``recipe.batch_events`` with one detector stream per batch, and the chunk stops at n rows.
* Each chunk is written atomically to ``out_dir/.parts/<class>/chunk_<k>.h5`` with its own
  metadata; a later run reuses every chunk whose metadata matches (same recipe version, seed,
  size, settings, detector, versions) and only generates the missing ones -- an interrupted run
  resumes where it stopped. The chunk files are kept after the merge, so asking later for more
  events of the same recipe and seed only generates the new chunks.
* Constituents are stored rounded to ``recipe.storage_bits`` (default :data:`STORAGE_BITS`:
  12 significant bits for pT and E,
  multiples of 2**-12 for eta and phi): far below the detector resolution, and three times
  smaller files. Jets, masses, N-subjettiness and mjj are computed before the rounding.
* When all chunks of a class exist they are merged (:func:`benchmark.events.merge_event_files`)
  into ``out_dir/<class>.h5`` whose ``meta`` records recipe, settings, selection, seed, chunk
  size, software versions, detector parameters, cross section and selection efficiency.

Events come from ``Pythia.nextBatch`` (the Awkward-array interface, translated in C++), final
state particles go through :func:`benchmark.generate.detector.apply_detector`, jets are clustered
with :func:`benchmark.clustering.cluster_flat`; no Python loop runs over particles.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import queue as queue_mod
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.generate.detector import apply_detector
from benchmark.generate.recipes import QUIET, RECIPE_FORMAT, ProcessSpec, Recipe, get_recipe

PYTHIA_SEED_MAX = 900_000_000  # Pythia's Random:seed upper limit
NEXT_BATCH_ERROR_FACTOR = 5.0  # nextBatch gives up after this many attempts per requested event
EXTRA_HINT = "pip install 'lhcad[generate]'"


def require_pythia() -> Any:
    """Import and return the ``pythia8mc`` module, or raise an ImportError saying how to get it."""
    try:
        return importlib.import_module("pythia8mc")
    except ImportError as exc:
        raise ImportError(
            "event generation needs Pythia 8's Python bindings (the 'pythia8mc' package), which "
            f"are not installed; install the 'generate' extra: {EXTRA_HINT} "
            "(or pip install pythia8mc==8.317.2)"
        ) from exc


def software_versions() -> dict[str, str]:
    """Versions that fix the generated events bit for bit (recorded in every file)."""
    from importlib import metadata

    out = {}
    for dist in ("pythia8mc", "fastjet", "awkward", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "missing"
    return out


# -- seeds -----------------------------------------------------------------------------------------
def chunk_seeds(recipe: str, seed: int, cls: str, index: int) -> tuple[int, int]:
    """(Pythia ``Random:seed``, 128-bit numpy entropy) of chunk ``index`` of class ``cls``."""
    digest = hashlib.sha256(f"lhcad.generate/{recipe}/{int(seed)}/{cls}/{int(index)}".encode()).digest()
    pythia_seed = int.from_bytes(digest[:8], "little") % PYTHIA_SEED_MAX + 1
    entropy = int.from_bytes(digest[8:24], "little")
    return pythia_seed, entropy


def chunk_sizes(n_rows: int, chunk_size: int) -> list[int]:
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    if n_rows < 0:
        raise ValueError(f"number of events must be non-negative, got {n_rows}")
    full, rest = divmod(n_rows, chunk_size)
    return [chunk_size] * full + ([rest] if rest else [])


# -- Pythia setup ----------------------------------------------------------------------------------
def make_pythia(recipe: Recipe, cls: str, pythia_seed: int) -> Any:
    """An initialised Pythia for ``recipe``/``cls`` with the given seed (errors are explicit)."""
    pythia8mc = require_pythia()
    py = pythia8mc.Pythia("", False)
    settings = [*QUIET, *recipe.settings(cls), "Random:setSeed = on", f"Random:seed = {pythia_seed}"]
    for line in map(expand_data_path, settings):
        if not py.readString(line):
            raise ValueError(f"recipe {recipe.name!r} class {cls!r}: Pythia rejected the setting {line!r}")
    if not py.init():
        raise RuntimeError(
            f"Pythia init() failed for recipe {recipe.name!r} class {cls!r} "
            f"(settings: {recipe.settings(cls)}); for a Hidden Valley Z' check that it keeps "
            "Standard Model couplings so that it can be produced"
        )
    return py


#: settings may name files shipped in ``benchmark/generate/data`` (SLHA spectra) as ``@data/<file>``;
#: the recipe (and its fingerprint) keeps the machine-independent form
DATA_MARKER = "@data/"
DATA_DIR = Path(__file__).resolve().parent / "data"


def expand_data_path(line: str) -> str:
    return line.replace(DATA_MARKER, f"{DATA_DIR}/")


class _ChargeTable:
    """Electric charge by PDG id, looked up once per id from Pythia's particle data."""

    def __init__(self, particle_data: Any) -> None:
        self._pd = particle_data
        self._cache: dict[int, float] = {}

    def __call__(self, pid: np.ndarray) -> np.ndarray:
        uniq, inverse = np.unique(pid, return_inverse=True)
        values = np.empty(len(uniq), dtype=np.float64)
        for i, code in enumerate(uniq.tolist()):
            if code not in self._cache:
                self._cache[code] = float(self._pd.charge(int(code)))
            values[i] = self._cache[code]
        return values[inverse]


# -- per-batch processing --------------------------------------------------------------------------
def _flat(x: Any) -> np.ndarray:
    import awkward as ak

    return ak.to_numpy(ak.flatten(x))


def _eta_phi(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(np.divide(pz, pt, out=np.full_like(pz, np.sign(pz) * 1e9), where=pt > 0))
    return eta, np.arctan2(py, px)


def _pad_groups(event: np.ndarray, slot: np.ndarray, values: np.ndarray, n_events: int,
                n_slots: int, n_members: int) -> np.ndarray:
    """Scatter ``values`` (K, D) into (n_events, n_slots, n_members, D), NaN where empty."""
    out = np.full((n_events, n_slots, n_members, values.shape[1]), np.nan)
    if not len(event):
        return out
    order = np.lexsort((slot, event))
    ev, sl, val = event[order], slot[order], values[order]
    group = ev * n_slots + sl
    start = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    rank = np.arange(len(group)) - np.repeat(start, np.diff(np.r_[start, len(group)]))
    ok = (sl < n_slots) & (rank < n_members)
    out[ev[ok], sl[ok], rank[ok]] = val[ok]
    return out


def _truth(prt: Any, spec: ProcessSpec, n_events: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Truth anchors (B, A, 2) (eta, phi) and, for tops, their decay quarks (B, A, 3, 2)."""
    import awkward as ak

    status = abs(prt.status)
    aid = abs(prt.id)
    event_of = ak.broadcast_arrays(ak.local_index(prt.id, axis=0), prt.id)[0]
    if spec.match == "top":
        mom_id = prt.id[prt.mother1]
        amom = abs(mom_id)
        quark = (status == 23) & (aid <= 5) & ((amom == 6) | (amom == 24))
        q_sign = _flat(np.sign(mom_id[quark]))
        q_event = _flat(event_of[quark])
        q_eta, q_phi = _eta_phi(_flat(prt.p.px[quark]), _flat(prt.p.py[quark]), _flat(prt.p.pz[quark]))
        is_b = (status == 23) & (aid == 5) & (amom == 6)
        top_idx = prt.mother1[is_b]
        tops = prt[top_idx]
        t_event = _flat(event_of[is_b])
        t_sign = _flat(np.sign(tops.id))
        t_eta, t_phi = _eta_phi(_flat(tops.p.px), _flat(tops.p.py), _flat(tops.p.pz))
        slot_t = (t_sign < 0).astype(np.int64)
        slot_q = (q_sign < 0).astype(np.int64)
        anchors = _pad_groups(t_event, slot_t, np.stack([t_eta, t_phi], 1), n_events, 2, 1)[:, :, 0]
        members = _pad_groups(q_event, slot_q, np.stack([q_eta, q_phi], 1), n_events, 2, 3)
        return anchors, members
    if spec.match == "partons":
        flat_aid = _flat(aid)
        flat_status = _flat(status)
        keep = ((flat_status == 22) | (flat_status == 23)) & np.isin(flat_aid, np.asarray(spec.match_ids))
        ev = _flat(event_of)[keep]
        eta, phi = _eta_phi(_flat(prt.p.px)[keep], _flat(prt.p.py)[keep], _flat(prt.p.pz)[keep])
        slot = np.zeros(len(ev), dtype=np.int64)
        anchors = _pad_groups(ev, slot, np.stack([eta, phi], 1), n_events, 1, 4)[:, 0]
        return anchors, None
    raise ValueError(f"unknown truth match {spec.match!r}")


def _delta_r(eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    dphi = np.mod(phi1 - phi2 + np.pi, 2 * np.pi) - np.pi
    return np.hypot(eta1 - eta2, dphi)


def _matched(jets: np.ndarray, anchors: np.ndarray, members: np.ndarray | None, dr: float) -> np.ndarray:
    """(B, J) True where jet j of event b is truth-matched (NaN anchors never match)."""
    jeta, jphi = jets[..., 1][:, :, None], jets[..., 2][:, :, None]
    d_anchor = _delta_r(jeta, jphi, anchors[..., 0][:, None, :], anchors[..., 1][:, None, :])  # (B, J, A)
    ok = d_anchor < dr
    if members is not None:
        d_mem = _delta_r(jeta[..., None], jphi[..., None], members[..., 0][:, None], members[..., 1][:, None])
        present = np.isfinite(members[..., 0])[:, None]  # (B, 1, A, M)
        all_in = (present & (d_mem < dr)).sum(axis=-1) == members.shape[2]
        ok &= all_in
    return ok.any(axis=-1)


def process_batch(batch: Any, recipe: Recipe, cls: str, rng: np.random.Generator,
                  charge_of: Callable[[np.ndarray], np.ndarray]) -> dict[str, np.ndarray]:
    """Detector, clustering and selection of one ``nextBatch`` result -> canonical rows.

    The extra array ``"_event"`` gives the index in ``batch`` of the event each row comes from
    (diagnostics; :func:`generate_chunk` drops it).
    """
    import awkward as ak

    from benchmark.clustering import cluster_flat, dijet_mass

    spec = recipe.classes[cls]
    sel = recipe.selection
    if sel.mode == "objects":  # Dark Machines objects
        from benchmark.generate.darkmachines import object_rows

        return object_rows(batch, recipe, cls, rng, charge_of)
    prt = batch.prt
    n_events = len(prt)
    final = prt[prt.status > 0]
    counts = ak.to_numpy(ak.num(final.id)).astype(np.int64)
    pid = _flat(final.id).astype(np.int64)
    det = apply_detector(pid, charge_of(pid), _flat(final.p.px), _flat(final.p.py), _flat(final.p.pz),
                         _flat(final.p.e), _flat(final.m), counts, rng, recipe.detector)
    if sel.massless:  # the real file keeps (pT, eta, phi) only; its converter sets E = |p|
        det.e = np.sqrt(det.px ** 2 + det.py ** 2 + det.pz ** 2)
    n_cand = sel.n_candidates if sel.mode == "jets" else 2
    ptmin = sel.cluster_pt_min if sel.mode == "jets" else max(sel.cluster_pt_min, sel.jet_pt_min)
    cj = cluster_flat(det.px, det.py, det.pz, det.e, det.counts, radius=sel.radius, n_jets=n_cand,
                      max_constituents=sel.max_constituents, ptmin=ptmin)
    jets = cj.jets
    has = np.arange(n_cand)[None, :] < cj.n_jets[:, None]
    if sel.mode == "jets":
        pt, eta = jets[..., 0], jets[..., 1]
        ok = has & (pt > sel.jet_pt_min) & (pt < sel.jet_pt_max) & (np.abs(eta) < sel.jet_abs_eta_max)
        if spec.match:
            anchors, members = _truth(prt, spec, n_events)
            ok &= _matched(jets, anchors, members, sel.match_dr)
        ev, j = np.nonzero(ok)  # row-major: event order, then leading jet first
        return {
            "constituents": cj.constituents[ev, j][:, None].astype(np.float32),
            "constituents_mask": cj.constituents_mask[ev, j][:, None],
            "jets": jets[ev, j][:, None].astype(np.float64),
            "weights": np.ones(len(ev), dtype=np.float64),
            "_event": ev,
        }
    if sel.mode == "dijet":
        lead = (has & (jets[..., 0] > sel.lead_pt_min) & (np.abs(jets[..., 1]) < sel.lead_abs_eta_max)).any(axis=1)
        ok = lead & (cj.n_jets >= 2)
        mjj = dijet_mass(jets)
        if spec.mjj_window:
            ok &= (mjj > spec.mjj_window[0]) & (mjj < spec.mjj_window[1])
        ev = np.flatnonzero(ok)
        const = cj.constituents[ev].astype(np.float32)
        mask = cj.constituents_mask[ev]
        out = {"constituents": const, "constituents_mask": mask, "jets": jets[ev].astype(np.float64),
               "mjj": mjj[ev].astype(np.float64), "weights": np.ones(len(ev), dtype=np.float64),
               "_event": ev}
        if sel.nsubjettiness:
            from benchmark.features.nsubjettiness import nsubjettiness

            p = sel.max_constituents
            taus = nsubjettiness(const.reshape(-1, p, 4), mask.reshape(-1, p), n_max=3, beta=1.0, R=1.0)
            out["jet_nsubjettiness"] = taus.reshape(len(ev), 2, 3).astype(np.float64)
        return out
    raise ValueError(f"unknown selection mode {sel.mode!r}")


def empty_rows(recipe: Recipe) -> dict[str, np.ndarray]:
    sel = recipe.selection
    if sel.mode == "objects":
        from benchmark.generate.darkmachines import empty_object_rows

        return empty_object_rows()
    j, p = sel.n_jets, sel.max_constituents
    out = {"constituents": np.zeros((0, j, p, 4), np.float32), "constituents_mask": np.zeros((0, j, p), bool),
           "jets": np.zeros((0, j, 4)), "weights": np.zeros(0)}
    if sel.mode == "dijet":
        out["mjj"] = np.zeros(0)
        if sel.nsubjettiness:
            out["jet_nsubjettiness"] = np.zeros((0, j, 3))
    return out


# -- storage precision -----------------------------------------------------------------------------
#: stored precision of constituents: pT and E keep this many significant bits (relative rounding
#: error <= 2**-(bits+1) ~ 1.2e-4), eta and phi are rounded to multiples of 2**-bits (~2.4e-4 rad).
#: Both are far below the detector resolution; the rounded floats compress three times better.
STORAGE_BITS = 12


def quantize_constituents(constituents: np.ndarray, bits: int = STORAGE_BITS) -> np.ndarray:
    """Round (pt, eta, phi, E) float32 constituents to ``bits`` (default :data:`STORAGE_BITS`; zeros stay zero)."""
    x = np.asarray(constituents, dtype=np.float64)
    out = np.empty_like(x)
    scale = float(2**bits)
    for col in (0, 3):
        mant, expo = np.frexp(x[..., col])
        out[..., col] = np.ldexp(np.round(mant * scale) / scale, expo)
    out[..., 1] = np.round(x[..., 1] * scale) / scale
    out[..., 2] = np.clip(np.round(x[..., 2] * scale) / scale, -np.pi, np.pi)
    return out.astype(np.float32)


# -- one chunk -------------------------------------------------------------------------------------
@dataclass
class ChunkResult:
    """Rows of one chunk and its bookkeeping.

    ``n_passed`` counts every row that passed the selection in the generated batches (the last
    batch may give more than needed), so ``n_passed / n_generated`` is the selection efficiency;
    ``seconds`` includes ``init_seconds`` (Pythia set-up and ``init()``).
    """

    arrays: dict[str, np.ndarray]
    n_generated: int
    n_batches: int
    sigma_gen_mb: float
    sigma_err_mb: float
    seconds: float
    n_passed: int = 0
    init_seconds: float = 0.0


def generate_chunk(recipe: Recipe | str, cls: str, index: int, n_rows: int, seed: int,
                   progress: Callable[[int], None] | None = None) -> ChunkResult:
    """Rows ``0 .. n_rows-1`` of chunk ``index`` of class ``cls`` (deterministic, see module doc)."""
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    t0 = time.perf_counter()
    pythia_seed, entropy = chunk_seeds(recipe.name, seed, cls, index)
    py = make_pythia(recipe, cls, pythia_seed)
    init_seconds = time.perf_counter() - t0
    charge_of = _ChargeTable(py.particleData)
    pieces: list[dict[str, np.ndarray]] = []
    have = generated = batches = passed = 0
    limit = recipe.max_trials_per_row * max(n_rows, 1)
    while have < n_rows:
        batch = py.nextBatch(recipe.batch_events, NEXT_BATCH_ERROR_FACTOR)
        rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(batches,)))
        rows = process_batch(batch, recipe, cls, rng, charge_of)
        rows.pop("_event")
        batches += 1
        generated += len(batch)
        passed += len(rows["weights"])
        n_new = min(len(rows["weights"]), n_rows - have)
        if n_new:
            pieces.append({k: v[:n_new] for k, v in rows.items()})
            have += n_new
            if progress is not None:
                progress(n_new)
        if generated >= limit and have < n_rows:
            raise RuntimeError(
                f"recipe {recipe.name!r} class {cls!r}: only {have} of {n_rows} rows passed the "
                f"selection after {generated} generated events; the settings select almost nothing"
            )
    arrays = ({k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]} if pieces
              else empty_rows(recipe))
    if "constituents" in arrays:
        arrays["constituents"] = quantize_constituents(arrays["constituents"], recipe.storage_bits)
    info = py.infoPython()
    return ChunkResult(arrays, generated, batches, float(info.sigmaGen()), float(info.sigmaErr()),
                       time.perf_counter() - t0, passed, init_seconds)


# -- bookkeeping -----------------------------------------------------------------------------------
def recipe_fingerprint(recipe: Recipe, cls: str) -> str:
    """sha256 of everything in a recipe that changes the events of class ``cls``."""
    payload = {
        "format": RECIPE_FORMAT, "recipe": recipe.name, "version": recipe.version,
        "settings": recipe.settings(cls), "selection": recipe.selection.as_dict(),
        "process": {"match": recipe.classes[cls].match, "ids": list(recipe.classes[cls].match_ids),
                    "mjj": recipe.classes[cls].mjj_window},
        "detector": recipe.detector.as_dict(), "batch_events": recipe.batch_events,
    }
    if recipe.storage_bits != STORAGE_BITS:  # listed only when set, so older fingerprints stay valid
        payload["storage_bits"] = recipe.storage_bits
    if recipe.classes[cls].resmear != 1:  # likewise; rows: draws the tail made pass
        payload["process"]["resmear"] = recipe.classes[cls].resmear
        payload["process"]["resmear_rows"] = "tail-induced"
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def chunk_meta(recipe: Recipe, dataset: str, cls: str, index: int, n_rows: int, seed: int,
               chunk_size: int) -> dict[str, Any]:
    pythia_seed, _ = chunk_seeds(recipe.name, seed, cls, index)
    return {
        "dataset": dataset, "class": cls, "source": "generated", "recipe": recipe.name,
        "recipe_version": recipe.version, "recipe_fingerprint": recipe_fingerprint(recipe, cls),
        "seed": int(seed), "chunk": int(index), "chunk_size": int(chunk_size), "n_rows": int(n_rows),
        "pythia_seed": pythia_seed, "versions": software_versions(),
    }


IDENTITY_KEYS = ("dataset", "class", "recipe", "recipe_version", "recipe_fingerprint", "seed", "chunk",
                 "chunk_size", "n_rows", "pythia_seed", "versions")


def _chunk_is_done(path: Path, expected: Mapping[str, Any]) -> bool:
    if not path.exists():
        return False
    try:
        import h5py

        with h5py.File(path, "r") as f:
            meta = json.loads(f.attrs.get("meta", "{}"))
            n = int(f["event_id"].shape[0])
    except (OSError, ValueError, KeyError):
        return False
    return n == expected["n_rows"] and all(meta.get(k) == expected[k] for k in IDENTITY_KEYS)


@dataclass(frozen=True)
class _Task:
    dataset: str
    recipe: str
    cls: str
    index: int
    n_rows: int
    seed: int
    chunk_size: int
    path: str


_PROGRESS_QUEUE: Any = None


def _init_worker(progress_queue: Any) -> None:
    global _PROGRESS_QUEUE
    _PROGRESS_QUEUE = progress_queue


def _run_task(task: _Task, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Generate one chunk and write it; returns its bookkeeping (runs in workers too)."""
    from benchmark.events import EventSet, make_event_ids

    recipe = get_recipe(task.recipe)
    if progress is None and _PROGRESS_QUEUE is not None:
        q = _PROGRESS_QUEUE

        def progress(n: int) -> None:
            q.put(n)

    res = generate_chunk(recipe, task.cls, task.index, task.n_rows, task.seed, progress)
    meta = chunk_meta(recipe, task.dataset, task.cls, task.index, task.n_rows, task.seed, task.chunk_size)
    meta.update({"n_generated": res.n_generated, "n_batches": res.n_batches, "n_passed": res.n_passed,
                 "sigma_gen_mb": res.sigma_gen_mb, "sigma_err_mb": res.sigma_err_mb,
                 "seconds": round(res.seconds, 3)})
    ids = make_event_ids(f"{task.dataset}/generated/{task.cls}", task.n_rows, task.index * task.chunk_size)
    EventSet(res.arrays, ids, meta).save(task.path)
    return meta


# -- public entry point ----------------------------------------------------------------------------
def _resolve(dataset: str, seed: int | None) -> tuple[Recipe, int, str, Any]:
    from benchmark.registry import load_registry

    spec = load_registry().dataset(dataset)
    source = spec.source("generated")
    recipe = get_recipe(source.recipe or dataset)
    if recipe.dataset != dataset:
        raise ValueError(f"recipe {recipe.name!r} is for dataset {recipe.dataset!r}, not {dataset!r}")
    if seed is None:
        if source.seed is None:
            raise ValueError(f"datasets.yaml gives no seed for {dataset}'s generated source; pass seed=")
        seed = source.seed
    return recipe, int(seed), source.version, spec


def generate_dataset(
    dataset: str,
    events: int | Mapping[str, int],
    *,
    out_dir: Path | None = None,
    workers: int = 1,
    seed: int | None = None,
    chunk_size: int = 500,
    progress: bool = True,
    classes: Sequence[str] | None = None,
) -> dict[str, Path]:
    """Generate ``events`` rows per class of ``dataset`` with its recipe; returns class -> file.

    ``events`` is one count for every class or a mapping class -> count (the classes then default
    to its keys). Rows are jets for single-jet datasets and events for ``lhco``. Finished chunks of
    an earlier (interrupted) run with the same recipe, seed and chunk size are reused.
    """
    require_pythia()
    from benchmark.events import merge_event_files
    from benchmark.store import dataset_dir, file_lock

    recipe, seed, source_version, spec = _resolve(dataset, seed)
    if classes is None:
        classes = list(events) if isinstance(events, Mapping) else list(recipe.classes)
    for cls in classes:
        if cls not in recipe.classes:
            from benchmark.registry import unknown_name

            raise unknown_name(f"class of recipe {recipe.name!r}", cls, list(recipe.classes))
    if isinstance(events, Mapping) and set(classes) - set(events):
        raise ValueError(f"no event count for classes {sorted(set(classes) - set(events))} in {dict(events)}")
    counts = {cls: int(events[cls] if isinstance(events, Mapping) else events) for cls in classes}
    if any(n <= 0 for n in counts.values()):
        raise ValueError(f"event counts must be positive, got {counts}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out_dir = Path(out_dir) if out_dir is not None else dataset_dir(dataset, "generated")
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_registry_listing(recipe, spec)

    results: dict[str, Path] = {}
    with contextlib.ExitStack() as locks:
        for cls in classes:
            locks.enter_context(file_lock(out_dir / f"{cls}.h5"))
        tasks: list[_Task] = []
        plan: dict[str, list[_Task]] = {}
        for cls in classes:
            part_dir = out_dir / ".parts" / cls
            part_dir.mkdir(parents=True, exist_ok=True)
            plan[cls] = []
            for k, n in enumerate(chunk_sizes(counts[cls], chunk_size)):
                task = _Task(dataset, recipe.name, cls, k, n, seed, chunk_size, str(part_dir / f"chunk_{k:05d}.h5"))
                plan[cls].append(task)
                expected = chunk_meta(recipe, dataset, cls, k, n, seed, chunk_size)
                if not _chunk_is_done(Path(task.path), expected):
                    tasks.append(task)
        todo_rows = sum(t.n_rows for t in tasks)
        _run_tasks(tasks, workers, progress, todo_rows, dataset)
        for cls in classes:
            parts = [Path(t.path) for t in plan[cls]]
            metas = [_read_meta(p) for p in parts]
            meta = _merged_meta(recipe, dataset, cls, seed, chunk_size, source_version, metas)
            target = out_dir / f"{cls}.h5"
            merge_event_files(parts, target, meta)
            results[cls] = target
    return results


def _read_meta(path: Path) -> dict[str, Any]:
    import h5py

    with h5py.File(path, "r") as f:
        return json.loads(f.attrs.get("meta", "{}"))


def _merged_meta(recipe: Recipe, dataset: str, cls: str, seed: int, chunk_size: int, source_version: str,
                 metas: list[dict[str, Any]]) -> dict[str, Any]:
    n_rows = sum(m["n_rows"] for m in metas)
    n_gen = sum(m.get("n_generated", 0) for m in metas)
    n_passed = sum(m.get("n_passed", m["n_rows"]) for m in metas)
    sigma = (sum(m.get("sigma_gen_mb", 0.0) * m.get("n_generated", 0) for m in metas) / n_gen) if n_gen else 0.0
    spec = recipe.classes[cls]
    trials = n_gen * spec.resmear  # a re-smeared class draws each event's detector response K times
    return {
        "dataset": dataset, "class": cls, "source": "generated", "source_version": source_version,
        "recipe": recipe.name, "recipe_version": recipe.version,
        "recipe_fingerprint": recipe_fingerprint(recipe, cls), "recipe_format": RECIPE_FORMAT,
        "description": spec.description, "settings": recipe.settings(cls),
        "selection": recipe.selection_dict(), "detector": recipe.detector.as_dict(),
        "detector_name": recipe.detector_name, "storage_bits": recipe.storage_bits,
        "seed": seed, "chunk_size": chunk_size, "n_chunks": len(metas), "n_events": n_rows,
        "pythia_seeds": [m["pythia_seed"] for m in metas], "batch_events": recipe.batch_events,
        "versions": metas[0]["versions"] if metas else software_versions(),
        "n_generated": n_gen, "efficiency": (n_passed / trials) if n_gen else None,
        "sigma_gen_mb": sigma, "sigma_selected_pb": sigma * 1e9 * (n_passed / trials) if n_gen else None,
        **({"resmear": spec.resmear} if spec.resmear != 1 else {}),
        "event_id_namespace": f"{dataset}/generated/{cls}",
    }


def _run_tasks(tasks: list[_Task], workers: int, progress: bool, total: int, dataset: str) -> None:
    if not tasks:
        return
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"generate {dataset}", unit="ev", smoothing=0.05)
    update = bar.update if bar is not None else (lambda n: None)
    try:
        if workers == 1 or len(tasks) == 1:
            for task in tasks:
                _run_task(task, update)
            return
        import multiprocessing as mp
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx,
                                 initializer=_init_worker, initargs=(q,)) as pool:
            pending = {pool.submit(_run_task, t) for t in tasks}
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                _drain(q, update)
                for fut in finished:
                    fut.result()  # re-raise worker errors
            _drain(q, update)
    finally:
        if bar is not None:
            bar.close()


def _drain(q: Any, update: Callable[[int], Any]) -> None:
    while True:
        try:
            update(q.get_nowait())
        except queue_mod.Empty:
            return
        except (OSError, EOFError, ValueError):
            return


# -- shipped samples -------------------------------------------------------------------------------
SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"


def sample_manifest(samples_dir: Path = SAMPLES_DIR) -> dict[str, Any]:
    """Manifest of the shipped samples ``<dataset>/<class>.h5``: recipe, seed, versions, counts, sha256."""
    import h5py

    from benchmark.store import file_checksum

    datasets: dict[str, Any] = {}
    total = 0
    for path in sorted(Path(samples_dir).glob("*/**/*.h5")):  # <dataset>/<class>.h5, class may hold a '/'
        rel = path.relative_to(samples_dir)
        dataset, cls = rel.parts[0], rel.relative_to(rel.parts[0]).with_suffix("").as_posix()
        with h5py.File(path, "r") as f:
            meta = json.loads(f.attrs.get("meta", "{}"))
            n = int(f["event_id"].shape[0])
        size = path.stat().st_size
        total += size
        entry = datasets.setdefault(dataset, {
            "recipe": meta.get("recipe"), "recipe_version": meta.get("recipe_version"),
            "source_version": meta.get("source_version"), "seed": meta.get("seed"),
            "chunk_size": meta.get("chunk_size"), "versions": meta.get("versions"), "classes": {}})
        entry["classes"][cls] = {
            "file": rel.as_posix(), "n_events": n, "bytes": size,
            "sha256": file_checksum(path), "n_generated": meta.get("n_generated"),
            "efficiency": meta.get("efficiency"), "sigma_gen_mb": meta.get("sigma_gen_mb"),
            "recipe_fingerprint": meta.get("recipe_fingerprint"),
        }
    return {"format": 1, "total_bytes": total, "datasets": datasets}


def write_manifest(samples_dir: Path = SAMPLES_DIR) -> Path:
    from benchmark.store import write_json

    path = Path(samples_dir) / "MANIFEST.json"
    write_json(path, sample_manifest(samples_dir))
    return path


def _check_registry_listing(recipe: Recipe, spec: Any) -> None:
    """Warn when datasets.yaml's documented settings differ from what the recipe runs."""
    import warnings

    extra = spec.source("generated").extra
    listed = extra.get("settings")
    if listed is not None and list(listed) != recipe.settings_listing():
        warnings.warn(
            f"datasets.yaml lists settings for {spec.name!r} that differ from recipe {recipe.name!r}; "
            "the recipe in benchmark/generate/recipes.py is what runs", stacklevel=3)


__all__ = ["require_pythia", "generate_dataset", "generate_chunk", "chunk_seeds", "chunk_sizes",
           "software_versions", "make_pythia", "process_batch", "recipe_fingerprint"]
