"""Generation speed per recipe and class: rows (selected jets/events) and generated events per second.

One worker runs one chunk in-process, so these are per-worker rates; ``workers=N`` scales them by
about N. Counts are tiny so that CI (``--benchmark-disable``, one run) stays fast; run
``pytest tests/test_bench_generate.py --benchmark-enable`` with ``LHCAD_BENCH_ROWS=200`` for
meaningful numbers. Nothing is asserted about timing. Classes that re-draw the jet-response tail
(``resmear`` K, Dark Machines multijets) count every draw in the efficiency; the re-smearing
benchmark puts their expected rows per second beside one draw per event (the reference).
"""
from __future__ import annotations

import os

import pytest

from benchmark.generate import RECIPES
from benchmark.generate.dm_recipes import RESMEARED_CLASSES

ROWS = int(os.environ.get("LHCAD_BENCH_ROWS", "3"))
CASES = [(name, cls) for name in sorted(RECIPES) for cls in RECIPES[name].classes]


@pytest.mark.parametrize("recipe,cls", CASES)
def test_generation_rate(benchmark, recipe, cls):
    pytest.importorskip("pythia8mc")
    from benchmark.generate import generate_chunk

    result = benchmark.pedantic(generate_chunk, args=(recipe, cls, 0, ROWS, 1), rounds=1, iterations=1)
    assert len(result.arrays["weights"]) == ROWS
    resmear = RECIPES[recipe].classes[cls].resmear
    benchmark.extra_info.update({
        "recipe": recipe, "class": cls, "rows": ROWS, "workers": 1, "resmear": resmear,
        "generated_events": result.n_generated,
        "selection_efficiency": result.n_passed / (result.n_generated * resmear),
        "rows_per_s_per_worker": ROWS / result.seconds,
        "generated_events_per_s_per_worker": result.n_generated / result.seconds,
        "generated_events_per_s_per_worker_excl_init":
            result.n_generated / max(result.seconds - result.init_seconds, 1e-9),
        "seconds_incl_init": result.seconds,
        "init_seconds": result.init_seconds,
    })


def test_generation_cases_cover_every_dark_machines_process():
    """Every background process and signal of every channel has a generation-rate case."""
    from benchmark.generate.dm_recipes import BACKGROUND_PROCESSES, channel_classes

    for channel in BACKGROUND_PROCESSES:
        assert {("darkmachines", c) for c in channel_classes(channel)} <= set(CASES), channel
    assert ("darkmachines", "chan1/gam_jets") in CASES and ("darkmachines", "chan1/ttbarHiggs") in CASES


@pytest.mark.parametrize("cls", RESMEARED_CLASSES)
def test_multijet_resmear_rate(benchmark, cls):
    """Dark Machines re-smeared classes (chan1 multijets, photon + jets): rows/s with K tail draws per
    event beside one draw (reference).

    The same Pythia batches go through ``process_batch`` with the recipe's K and with K = 1. The
    reference's expected rows are (passing draws / K) per event, measured on the K draws, because
    one draw per event passes too rarely (about 3e-4 of the multijets, 4e-5 of the photon + jet
    events) to count in seconds.
    """
    pytest.importorskip("pythia8mc")
    import dataclasses
    import time

    import numpy as np

    from benchmark.generate.pythia import _ChargeTable, chunk_seeds, make_pythia, process_batch

    recipe = RECIPES["darkmachines"]
    k = recipe.classes[cls].resmear
    single = dataclasses.replace(recipe, classes={cls: dataclasses.replace(recipe.classes[cls], resmear=1)})
    py = make_pythia(recipe, cls, chunk_seeds(recipe.name, 1, cls, 0)[0])
    charge = _ChargeTable(py.particleData)
    t0 = time.perf_counter()
    batches = [py.nextBatch(recipe.batch_events, 5.0) for _ in range(max(ROWS, 2))]
    pythia_s = time.perf_counter() - t0
    n_events = sum(len(b) for b in batches)

    def run(r):
        return sum(len(process_batch(b, r, cls, np.random.default_rng(i), charge)["weights"])
                   for i, b in enumerate(batches))

    t0 = time.perf_counter()
    run(single)
    ref_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = benchmark.pedantic(run, args=(recipe,), rounds=1, iterations=1)
    ours_s = time.perf_counter() - t0
    expected_ref_rows = rows / k
    benchmark.extra_info.update({
        "class": cls, "resmear": k, "events": n_events, "rows": rows, "seconds": ours_s,
        "reference": "one tail draw per event", "reference_seconds": ref_s,
        "reference_expected_rows": expected_ref_rows,
        "rows_per_s": rows / ours_s, "reference_rows_per_s": expected_ref_rows / ref_s,
        "pythia_seconds": pythia_s,
        # whole pipeline (Pythia + detector + selection), the number that decides generation time
        "rows_per_s_per_worker": rows / (pythia_s + ours_s),
        "reference_rows_per_s_per_worker": expected_ref_rows / (pythia_s + ref_s),
        "ratio_rows_per_s": ((rows / (pythia_s + ours_s)) / (expected_ref_rows / (pythia_s + ref_s))) if rows else None,
    })
