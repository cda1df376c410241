"""Jet and event representations computed from canonical :class:`~benchmark.events.EventSet` arrays.

(Registry filled in below; see :func:`available`.)
"""
from __future__ import annotations
