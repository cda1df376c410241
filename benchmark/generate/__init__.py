"""Offline generation of look-alike datasets: Pythia 8 + parametric detector + FastJet.

``generate_dataset(name, events)`` runs the recipe named in ``datasets.yaml`` for a dataset
(:data:`RECIPES`: ``top``, ``darkjets``, ``zprime``, ``lhco``) and writes one canonical event file
per class; ``validate_dataset`` draws comparison plots; ``fidelity_report`` measures a look-alike
against the real samples (per-variable quantiles, KS and its statistical floor). Each recipe runs the
detector its real dataset used (:data:`DETECTORS`). Pythia comes from the optional extra
``pip install 'lhcad[generate]'`` (:func:`require_pythia` says so when it is missing); everything
else here (recipes, detector, plots) imports without it.
"""
from __future__ import annotations

from benchmark.generate.detector import ATLAS, CMS_RND, DETECTORS, DetectorParams, apply_detector, get_detector
from benchmark.generate.fidelity import fidelity_report
from benchmark.generate.pythia import (
    chunk_seeds,
    chunk_sizes,
    generate_chunk,
    generate_dataset,
    require_pythia,
    software_versions,
)
from benchmark.generate.recipes import RECIPES, ProcessSpec, Recipe, Selection, get_recipe
from benchmark.generate.validate import validate_dataset

__all__ = [
    "ATLAS", "CMS_RND", "DETECTORS", "get_detector", "DetectorParams", "apply_detector", "fidelity_report", "RECIPES", "Recipe", "ProcessSpec", "Selection",
    "get_recipe", "generate_dataset", "generate_chunk", "validate_dataset", "require_pythia",
    "chunk_seeds", "chunk_sizes", "software_versions",
]
