"""Generation speed per recipe and class: rows (selected jets/events) and generated events per second.

One worker runs one chunk in-process, so these are per-worker rates; ``workers=N`` scales them by
about N. Counts are tiny so that CI (``--benchmark-disable``, one run) stays fast; run
``pytest tests/test_bench_generate.py --benchmark-enable`` with ``LHCAD_BENCH_ROWS=200`` for
meaningful numbers. Nothing is asserted about timing.
"""
from __future__ import annotations

import os

import pytest

from benchmark.generate import RECIPES

ROWS = int(os.environ.get("LHCAD_BENCH_ROWS", "3"))
CASES = [(name, cls) for name in sorted(RECIPES) for cls in RECIPES[name].classes]


@pytest.mark.parametrize("recipe,cls", CASES)
def test_generation_rate(benchmark, recipe, cls):
    pytest.importorskip("pythia8mc")
    from benchmark.generate import generate_chunk

    result = benchmark.pedantic(generate_chunk, args=(recipe, cls, 0, ROWS, 1), rounds=1, iterations=1)
    assert len(result.arrays["weights"]) == ROWS
    benchmark.extra_info.update({
        "recipe": recipe, "class": cls, "rows": ROWS, "workers": 1,
        "generated_events": result.n_generated,
        "selection_efficiency": result.n_passed / result.n_generated,
        "rows_per_s_per_worker": ROWS / result.seconds,
        "generated_events_per_s_per_worker": result.n_generated / result.seconds,
        "generated_events_per_s_per_worker_excl_init":
            result.n_generated / max(result.seconds - result.init_seconds, 1e-9),
        "seconds_incl_init": result.seconds,
        "init_seconds": result.init_seconds,
    })
