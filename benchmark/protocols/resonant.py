"""Resonant (weakly supervised bump hunt, LHC Olympics): fit on signal-region data with the
sideband data and the signal-region bounds in the context; test on held-out SR background and
SR signal never used for injection.

Extra metric: ``max_sic_paper``, the max SIC as the full-phase-space study computes it
(LHCO_diffusion ``plot_sic.py``: SIC = eps_S/sqrt(eps_B), set to 1 wherever eps_B < 1e-4), beside
the harness's ``max_sic`` (low-statistics rule: at least 10 background events pass), so a scan can
be compared with the paper's Fig. 7 and with the harness's own convention side by side.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from benchmark.protocols.base import Protocol

#: eps_B below which the paper's SIC is replaced by 1 (arXiv:2310.06897, LHCO_diffusion plot_sic.py).
PAPER_SIC_EPS_B_FLOOR = 1e-4


def max_sic_paper(y: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None,
                  eps_b_floor: float = PAPER_SIC_EPS_B_FLOOR) -> float:
    """max over ROC points of eps_S/sqrt(eps_B), with SIC := 1 where eps_B < ``eps_b_floor``.

    The origin of the ROC (nothing passes, eps_B = 0) counts as such a point, as in sklearn's
    ``roc_curve`` that the paper used, so the value is never below 1.
    """
    from benchmark import metrics as M

    roc = M.roc_curve(y, scores, weights)
    fpr, tpr = np.asarray(roc.fpr, float), np.asarray(roc.tpr, float)
    sic = np.ones(len(fpr) + 1)
    ok = fpr >= eps_b_floor
    sic[1:][ok] = tpr[ok] / np.sqrt(fpr[ok])
    return float(sic.max())


class Resonant(Protocol):
    """Extras (only to scorers that ask): ``background_template`` (independent SR background: the
    idealized detector and the supervised reference) and ``signal_train`` (SR signal events that are
    not test events: the supervised reference's labelled signal)."""

    name = "resonant"
    context_extras = ("background_template", "signal_train")

    def build(self, task: Any, source: str, seed: int, classes: dict, splits_rule: dict,
              sizes: Mapping[str, float], injection: int | None) -> Any:
        from benchmark.data import load_class
        from benchmark.tasks import resonant_split

        ref = task.resonant.background_template
        template = load_class(ref.dataset, ref.name, source) if ref is not None else None
        data = resonant_split(task, source, seed, classes, sizes, injection, template)
        if ref is not None:
            data.provenance["background_template"] = str(ref)
        return data

    def extra_metrics(self, y: np.ndarray, weights: np.ndarray | None, scores: np.ndarray,
                      extra_scores: Mapping[str, np.ndarray]) -> dict[str, Any]:
        return {"max_sic_paper": max_sic_paper(y, scores, weights)}
