"""The kernels' compile helper: disk cache where possible, plain compilation where not."""
from __future__ import annotations

from unittest import mock

import numba.core.caching as caching

from benchmark.features.jit import compiled


def test_no_writable_cache_location_still_compiles():
    with mock.patch.object(caching.CacheImpl, "_locator_classes", []):
        @compiled()
        def add_one(a):
            return a + 1

    assert add_one(1) == 2
    assert add_one._cache.__class__.__name__ == "NullCache"


def test_cache_used_where_writable():
    @compiled()
    def twice(a):
        return 2 * a

    assert twice(2) == 4
    assert twice._cache.__class__.__name__ == "FunctionCache"
