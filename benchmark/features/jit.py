"""numba compilation for the feature kernels, with a disk cache wherever one can be written.

Compiling the kernels takes a second or two per process; numba's cache keeps the machine code
next to the source (or in the user cache directory). Where neither is writable (a read-only
install under a sandbox, say) numba refuses ``cache=True`` at decoration time, so the kernels
are compiled per process instead of making the import fail.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba


def compiled(**options: Any) -> Callable[[Callable], Callable]:
    """``numba.njit(nogil=True, cache=True, **options)``, without the cache where none is usable."""

    def decorate(fn: Callable) -> Callable:
        try:
            return numba.njit(nogil=True, cache=True, **options)(fn)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            return numba.njit(nogil=True, **options)(fn)

    return decorate
