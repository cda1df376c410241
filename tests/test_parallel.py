"""run_in_threads covers every item exactly once and compiles kernels before fanning out."""
from __future__ import annotations

import threading

from benchmark.parallel import run_in_threads


def test_every_item_once_and_the_first_alone_on_the_calling_thread():
    seen: list[tuple[int, str]] = []
    lock = threading.Lock()

    def work(part):
        with lock:
            seen.extend((item, threading.current_thread().name) for item in part)

    run_in_threads(work, list(range(11)), n_threads=2)
    assert sorted(i for i, _ in seen) == list(range(11))
    assert seen[0] == (0, threading.current_thread().name)
    run_in_threads(work, [42], n_threads=4)
    assert seen[-1][0] == 42
