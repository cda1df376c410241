"""One class per protocol: how a task's classes become data, how a scorer is fitted, what extra
numbers the result carries.

A protocol owns three things, so that a new protocol is one file here:

* ``build``: the splits (training events, context extras, the labelled test set) of one job;
* ``fit_and_score``: the fit sequence (one fit, or several as in the density-ratio protocol);
* ``extra_metrics``: numbers beyond the ROC metrics (e.g. the density-ratio-vs-supervised gap).

The registry validates task protocols against :data:`benchmark.registry.PROTOCOLS`; a test keeps
that tuple and this table in step.
"""
from __future__ import annotations

from benchmark.protocols.base import Protocol
from benchmark.protocols.density_ratio import DensityRatio
from benchmark.protocols.resonant import Resonant
from benchmark.protocols.supervised import Supervised
from benchmark.protocols.unsupervised import Unsupervised

PROTOCOL_CLASSES: dict[str, Protocol] = {p.name: p for p in (Unsupervised(), Resonant(), DensityRatio(), Supervised())}


def get_protocol(name: str) -> Protocol:
    """The protocol object of a task's ``protocol:`` name."""
    try:
        return PROTOCOL_CLASSES[name]
    except KeyError:
        raise KeyError(f"unknown protocol {name!r}; known: {sorted(PROTOCOL_CLASSES)}") from None


__all__ = ["Protocol", "PROTOCOL_CLASSES", "get_protocol"]
