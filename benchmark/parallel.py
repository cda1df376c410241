"""How many CPUs this process may use, and running work over a list split among threads.

Shared by the feature code (threads over jet chunks: the numba kernels and BLAS release the GIL)
and the runner (default worker count), so both respect the CPU affinity a batch system sets.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask on Linux, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def run_in_threads(work: Callable[[Sequence[T]], None], items: Sequence[T], n_threads: int | None = None) -> None:
    """``work(part)`` for ``n_threads`` interleaved parts of ``items`` (default: the available CPUs).

    Interleaving (items t, t + n, ...) balances work when ``items`` are ordered by cost; one
    thread calls ``work(items)`` directly. Exceptions from any part propagate.
    """
    n = max(1, min(int(n_threads or available_cpus()), len(items)))
    if n == 1:
        work(items)
        return
    # The first item runs alone first: it compiles the numba kernels ``work`` calls, which numba
    # cannot do from several threads at once (a fresh process, e.g. a sandboxed job with an empty
    # cache, failed with ``KeyError: (float64,)`` inside numba's lowering).
    work(items[:1])
    rest = items[1:]
    n = min(n, len(rest))
    if n == 0:
        return
    with ThreadPoolExecutor(n) as pool:
        for future in [pool.submit(work, rest[t::n]) for t in range(n)]:
            future.result()
