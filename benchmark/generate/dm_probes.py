"""Probes behind the generation cuts of the Dark Machines multijet classes.

A multijet class's ``PhaseSpace:pTHatMin`` and its number of jet-response-tail draws per event
(``resmear``) are choices that must not bias the selected sample. :func:`probe_multijets` measures
what they rest on, for any channel:

* it generates QCD 2 -> 2 with a *lower* pTHat cut and ``PhaseSpace:bias2Selection`` (pTHat^4,
  reference = the cut), so that the few events near the cut that could still pass are sampled
  and their weights undo the bias;
* each event is measured once (:func:`benchmark.generate.darkmachines.measure`) and its tail
  drawn ``draws`` times: the fraction of passing draws is the event's pass probability with one
  draw, i.e. what the class does with ``resmear = 1``, with far less noise than one draw;
* each event is also reconstructed with no tail at all
  (:func:`~benchmark.generate.darkmachines.passes_without_tail`): a re-smeared class must leave
  those events out (they would repeat in every draw).

:func:`pass_profile` sums the weighted pass probabilities in pTHat bins: the selected cross
section below a candidate cut is what that cut would lose, and the untailed share is what a
re-smeared class would lose. The numbers quoted in :mod:`benchmark.generate.dm_recipes` for
chan3 come from ``probe_multijets("chan3", pthat_min=100, seconds=420, draws=20)``.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import numpy as np


def pass_profile(pthat: np.ndarray, weight: np.ndarray, p_pass: np.ndarray, untailed: np.ndarray,
                 sigma_pb: float, edges: Sequence[float]) -> list[dict[str, Any]]:
    """Selected cross section (pb) per pTHat bin ``[edges[i], edges[i+1])``, with its untailed part.

    ``weight`` are the generator's event weights (any normalisation: they are scaled so that they
    sum to ``sigma_pb``, the generated cross section), ``p_pass`` each event's pass probability with
    one tail draw, ``untailed`` whether it passes without any tail. Errors are the weighted-sum
    statistical errors sqrt(sum (w p)^2).
    """
    pthat, weight, p_pass = (np.asarray(a, dtype=np.float64) for a in (pthat, weight, p_pass))
    untailed = np.asarray(untailed, dtype=bool)
    if weight.sum() <= 0:
        raise ValueError("the probe holds no events with positive weight")
    w = weight / weight.sum() * float(sigma_pb)
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (pthat >= lo) & (pthat < hi)
        wp = w[m] * p_pass[m]
        out.append({"pthat": (float(lo), float(hi)), "events": int(m.sum()),
                    "events_passing": int((p_pass[m] > 0).sum()), "events_untailed": int(untailed[m].sum()),
                    "sigma_pb": float(w[m].sum()), "sigma_pass_pb": float(wp.sum()),
                    "sigma_pass_err_pb": float(np.sqrt(np.sum(wp ** 2))),
                    "sigma_untailed_pb": float(wp[untailed[m]].sum())})
    return out


def probe_multijets(channel: str, pthat_min: float = 100.0, *, seconds: float = 60.0, draws: int = 20,
                    seed: int = 777, batch: int = 50) -> dict[str, Any]:
    """Per-event arrays of a biased multijet probe for ``channel`` (see the module docstring).

    Uses the recipe's ``<channel>/njets`` settings with ``pthat_min`` in place of its cut; runs for
    about ``seconds``. Returns ``pthat``, ``weight``, ``p_pass``, ``untailed`` arrays, the generated
    cross section ``sigma_pb`` and ``events_per_second``.
    """
    import awkward as ak

    from benchmark.generate import darkmachines as dm
    from benchmark.generate.dm_recipes import DARKMACHINES
    from benchmark.generate.pythia import NEXT_BATCH_ERROR_FACTOR, _ChargeTable, make_pythia

    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    cls = f"{channel}/njets"
    spec = DARKMACHINES.classes[cls]
    probe = (*[s for s in spec.settings if not s.startswith("PhaseSpace:pTHatMin")],
             f"PhaseSpace:pTHatMin = {pthat_min:g}", "PhaseSpace:bias2Selection = on",
             "PhaseSpace:bias2SelectionPow = 4.", f"PhaseSpace:bias2SelectionRef = {pthat_min:g}")
    # the recipe's class with the probe's cut and bias: Pythia is set up exactly as the generator does
    recipe = dataclasses.replace(DARKMACHINES, classes={cls: dataclasses.replace(spec, settings=probe)})
    py = make_pythia(recipe, cls, seed)
    charge_of = _ChargeTable(py.particleData)
    rng = np.random.default_rng(seed)
    det, params = DARKMACHINES.detector, dm.OBJECTS
    cols: dict[str, list[np.ndarray]] = {"pthat": [], "weight": [], "p_pass": [], "untailed": []}
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        b = py.nextBatch(batch, NEXT_BATCH_ERROR_FACTOR)
        meas = dm.measure(b.prt, rng, charge_of, det, params)
        n_pass = np.zeros(len(b))
        for _ in range(draws):
            rec = dm.finish(meas, rng, det, params)
            n_pass += dm.channel_mask(rec.objects, rec.objects_mask, rec.met, channel)
        w = b.info.weights
        cols["pthat"].append(np.sqrt(ak.to_numpy(b.info.pT2Hat)))
        cols["weight"].append(ak.to_numpy(w[:, 0] if w.ndim == 2 else w).astype(np.float64))
        cols["p_pass"].append(n_pass / draws)
        cols["untailed"].append(dm.passes_without_tail(meas, det, params, channel))
    seconds_run = time.perf_counter() - t0
    out: dict[str, Any] = {k: np.concatenate(v) for k, v in cols.items()}
    out.update(sigma_pb=float(py.infoPython().sigmaGen()) * 1e9, draws=draws, pthat_min=pthat_min,
               events_per_second=len(out["pthat"]) / seconds_run)
    return out


__all__ = ["pass_profile", "probe_multijets"]
