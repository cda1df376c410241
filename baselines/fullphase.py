"""Full-phase-space CATHODE (Buhmann, Ewen, Kasieczka, Mikuni, Nachman, Shih, "Full Phase Space
Resonant Anomaly Detection", arXiv:2310.06897) with its two point-cloud generators.

1. A generator of the two leading jets and all their constituents given mjj
   (:class:`baselines.fullphase_generator.PointCloudDijetGenerator`; ``generator``:
   ``flow-matching``, EPiC-FM, or ``diffusion``, the paper's other model, on the same EPiC
   networks) is trained on the sideband data, minus a held-out share (``quality_fraction``) for
   the quality check.
2. Generator quality (the paper's Sec. IV check): the same classifier architecture, trained on
   half of the held-out sideband events against as many generated at their masses, judged on
   the other half; AUC 0.5 means the classifier cannot tell generated from real. Recorded under
   ``training.generator_quality`` in the result JSON with its null spread.
3. ``oversample`` x as many SR events as there are SR data are generated at mjj from a KDE of the
   SR data's mjj (the paper: 200k generated vs 100k data, i.e. 2), and the permutation-invariant
   transformer classifier (:class:`baselines.nn.dijet_classifier.DijetClassifier`) of SR data (1)
   vs generated (0) is the anomaly score (mean logit over ``n_models`` runs).

``paper`` preset: generator sizes of EPiC-FM (methods.md c.3; the paper's epochs are GPU-days: the
particle model runs >= 500 epochs), ODE midpoint 250 steps, 279 particles per jet, classifier of
c.4 (4 + 4 blocks of 2 heads, width 64, dropout 0.1, lr 1e-4 cosine, batch 64, <= 300 epochs,
patience 20 as in the paper's text, 20 % validation). Differences from the reference: AdamW
instead of Adamax for the classifier, the jet vector uses Delta phi and mjj-scaled pT and mass (the
diffusion model's transforms) instead of absolute (pT, eta, phi, m), no learning-rate warm-up.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from baselines.dijet import DijetCloud
from baselines.fullphase_generator import GENERATOR_DEFAULTS, PointCloudDijetGenerator, timed_sample
from baselines.nn.training import TrainConfig
from baselines.weak_supervision import NetworkEnsemble, prefixed
from benchmark.contract import BaseScorer, FitContext, ScorerInfo
from benchmark.events import EventSet

CLASSIFIER_DEFAULTS: dict[str, Any] = {
    "n_models": 1, "clf_dim": 64, "clf_heads": 2, "clf_particle_blocks": 4, "clf_jet_blocks": 4, "clf_ff_dim": 128,
    "clf_dropout": 0.1, "clf_epochs": 300, "clf_batch_size": 64, "clf_lr": 1e-4, "clf_weight_decay": 0.0,
    "clf_schedule": "cosine", "clf_patience": 20, "clf_val_fraction": 0.2, "clf_n_best_epochs": 1,
}
DEFAULTS: dict[str, Any] = {**GENERATOR_DEFAULTS, **CLASSIFIER_DEFAULTS, "oversample": 2.0,
                            "quality_fraction": 0.2, "quality_max_events": 20000}
PRESETS: dict[str, dict[str, Any]] = {
    # smoke trains for a few hundred steps: an EMA of decay 0.999 (time constant 1000 steps) would
    # keep mostly the initial weights, so it is off there
    "smoke": {"max_particles": 24, "ode_steps": 8, "diffusion_steps": 8, "jet_blocks": [[32, 32], [32, 32]], "jet_epochs": 4,
              "jet_batch_size": 256, "jet_lr": 3e-3, "jet_ema_decay": 0.0, "part_ema_decay": 0.0, "part_layers": 2, "part_local_dim": 24, "part_global_dim": 8,
              "part_hidden": 24, "part_time_dim": 8, "part_epochs": 2, "part_batch_size": 512, "part_lr": 3e-3,
              "clf_dim": 16, "clf_particle_blocks": 1, "clf_jet_blocks": 1, "clf_ff_dim": 32, "clf_epochs": 2,
              "clf_batch_size": 256, "clf_lr": 1e-3, "clf_patience": 0, "oversample": 1.0, "quality_fraction": 0.1,
              "quality_max_events": 1000},
    "paper": {"max_particles": 279, "ode_steps": 250, "diffusion_steps": 512, "jet_epochs": 1000, "part_epochs": 500, "clf_epochs": 300,
              "clf_batch_size": 64, "clf_lr": 1e-4, "clf_patience": 20, "oversample": 2.0, "quality_fraction": 0.2,
              "n_models": 1},
}


def _classifier(params: dict[str, Any]) -> NetworkEnsemble:
    from baselines.nn.dijet_classifier import DijetClassifier, classifier_logit

    c = prefixed(params, "clf_")
    make = lambda: DijetClassifier(5, 3, dim=int(c["dim"]), heads=int(c["heads"]),  # noqa: E731
                                   particle_blocks=int(c["particle_blocks"]), jet_blocks=int(c["jet_blocks"]),
                                   ff_dim=int(c["ff_dim"]), dropout=float(c["dropout"]))
    return NetworkEnsemble(make, classifier_logit, TrainConfig.from_params(c), n_models=int(params["n_models"]),
                           n_best_epochs=int(c["n_best_epochs"]), batch_size=1024)


def _balanced(n_data: int, n_ref: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels (data 1, reference 0) and weights giving both classes equal total weight."""
    y = np.concatenate([np.ones(n_data), np.zeros(n_ref)])
    n = n_data + n_ref
    return y, np.where(y == 1, n / (2 * n_data), n / (2 * n_ref))


def _inputs(scaler: Any, clouds: list[DijetCloud]) -> dict[str, np.ndarray]:
    return scaler.classifier_inputs(DijetCloud.concatenate(clouds))


def generator_quality(generator: Any, real: DijetCloud, params: dict[str, Any], context: FitContext,
                      started: float | None = None) -> dict[str, Any]:
    """Classifier of real held-out sideband events vs generated ones at the same mjj: held-out AUC
    (0.5: indistinguishable), its null spread (Hanley-McNeil at 0.5) and the counts."""
    from benchmark import metrics as M

    fake, sample_s = timed_sample(generator, len(real), real.mjj)
    half = len(real) // 2
    if half < 2:
        raise ValueError(f"the generator-quality check needs at least 4 held-out sideband events, got {len(real)}")
    train_idx, test_idx = np.arange(half), np.arange(half, len(real))
    y, w = _balanced(half, half)
    clf = _classifier({**params, "n_models": 1})
    runs = clf.fit(_inputs(generator.scaler, [real.take(train_idx), fake.take(train_idx)]), y, w, context,
                   "fullphase-quality", started)
    s = clf.score(_inputs(generator.scaler, [real.take(test_idx), fake.take(test_idx)]))
    n1 = len(test_idx)
    auc = float(M.auc(np.concatenate([np.ones(n1), np.zeros(n1)]), s))
    return {"auc": auc, "null_sigma": float(np.sqrt((2 * n1 + 1) / (12.0 * n1 * n1))), "n_train_per_class": half,
            "n_test_per_class": n1, "sampling_s": sample_s, "classifier": runs}


class CathodeFullPhase(BaseScorer):
    """Full-phase-space CATHODE with the EPiC flow-matching (EPiC-FM) or the diffusion generator."""

    info = ScorerInfo(
        name="cathode-fullphase", version="1.1", protocols=("resonant",), representation="constituents",
        defaults=DEFAULTS, presets=PRESETS,
        paper="Buhmann et al., 'Full Phase Space Resonant Anomaly Detection', arXiv:2310.06897 (EPiC-FM and diffusion)",
        description="Point-cloud generator (EPiC flow matching or diffusion: generator=) of both jets and their "
                    "constituents given mjj, trained in the sidebands, sampled in the SR; transformer classifier of "
                    "SR data vs generated events.",
    )

    def fit(self, train: EventSet, *, context: FitContext) -> "CathodeFullPhase":
        started = time.monotonic()
        if context.sideband is None or context.signal_region is None:
            raise ValueError("cathode-fullphase needs the sideband data and the signal region (resonant protocol)")
        p = self.params
        P = int(p["max_particles"])
        sb = DijetCloud.from_events(context.sideband, P)
        order = context.rng.permutation(len(sb))
        n_quality = min(int(round(float(p["quality_fraction"]) * len(sb))), int(p["quality_max_events"]))
        self.generator = PointCloudDijetGenerator(p)
        record: dict[str, Any] = self.generator.fit(sb.take(np.sort(order[n_quality:])), context, started)
        if n_quality:
            record["generator_quality"] = generator_quality(self.generator, sb.take(np.sort(order[:n_quality])), p,
                                                            context, started)
        self.generator.set_condition_density(train["mjj"], context.signal_region, context.seed)
        data = DijetCloud.from_events(train, P)
        n_samples = max(2, int(round(float(p["oversample"]) * len(data))))
        samples, sample_s = timed_sample(self.generator, n_samples)
        y, w = _balanced(len(data), n_samples)
        self._clf = _classifier(p)
        runs = self._clf.fit(_inputs(self.generator.scaler, [data, samples]), y, w, context, "cathode-fullphase",
                             started)
        jet, part = record["jet_model"], record["particle_model"]
        record.update({
            "n_parameters": int(jet["n_parameters"] + part["n_parameters"] + runs[0]["n_parameters"]),
            "epochs_run": int(part["epochs_run"]), "device": part["device"],
            "n_sideband": len(sb), "n_quality": n_quality, "n_signal_region": len(data), "n_samples": n_samples,
            "sampling_s": sample_s, "sampling_events_per_s": n_samples / max(sample_s, 1e-9),
            "classifier": {"n_models": len(runs), "runs": runs}, "wall_time_s": time.monotonic() - started,
        })
        self.training_record = record
        return self

    def sample(self, n: int, condition: np.ndarray | None = None) -> EventSet:
        """``n`` background-like events (jets, constituents, mjj) from the sideband-trained generator;
        mjj from the SR KDE unless ``condition`` (n masses, GeV) is given."""
        rng = np.random.default_rng(int(self.generator.kde.rng.integers(2**31)) if self.generator.kde else 0)
        return self.generator.sample(n, condition).to_events(rng)

    def score(self, events: EventSet) -> np.ndarray:
        cloud = DijetCloud.from_events(events, int(self.params["max_particles"]))
        return self._clf.score(self.generator.scaler.classifier_inputs(cloud))
