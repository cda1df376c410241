"""Shared test fixtures: an isolated data cache per test session and the real-sample folder."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REAL_SAMPLES = Path(os.environ.get("LHCAD_REAL_SAMPLES", Path(__file__).resolve().parents[1] / ".." / "shared" / "real-samples")).resolve()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test writes its data cache under a temporary folder, never the user's cache."""
    root = tmp_path_factory.mktemp("lhcad-data")
    monkeypatch.setenv("LHCAD_DATA", str(root))
    yield root


@pytest.fixture
def real_samples() -> Path:
    """The folder of small real dataset files (../shared/real-samples); skip when absent."""
    if not REAL_SAMPLES.is_dir():
        pytest.skip(f"real samples folder {REAL_SAMPLES} is absent")
    return REAL_SAMPLES


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # torch missing or broken: no GPU tests
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


SYNTH_REGISTRY = """
schema: 1
datasets:
  synth:
    title: synthetic jets for harness tests
    kind: jets
    arrays: [constituents, constituents_mask, jets, weights]
    classes:
      bkg: {role: background}
      sig: {role: signal}
      sig2: {role: signal}
    sources:
      generated: {recipe: none, version: t1}
  synthres:
    title: synthetic dijet events with a resonance
    kind: dijet
    arrays: [jets, mjj, weights]
    classes:
      background: {role: background}
      signal: {role: signal}
    sources:
      generated: {recipe: none, version: t1}
tasks:
  synth/unsup:
    version: 1
    dataset: synth
    protocol: unsupervised
    background: [synth:bkg]
    signal: [synth:sig]
    sizes: {train: 600, test: 400}
    representation: jets
    metrics: [auc, max_sic]
    reported: {mass: {auc: 0.9, source: "made-up reference for the table test"}}
  synth/multi:
    version: 1
    dataset: synth
    protocol: unsupervised
    background: [synth:bkg]
    signal: ["synth:sig*"]
    sizes: {train: 0.5, test: 0.3}
    representation: jets
    metrics: [auc]
  synth/ti:
    version: 1
    dataset: synth
    protocol: unsupervised
    background: [synth:bkg]
    signal: [synth:sig, synth:sig2]
    sizes: {train: 600, test: 600}
    representation: jets
    channel: c1
    metrics: [auc, rejection@eps_s=0.8, si_all, total_improvement]
    reported: {deepset: {ti_median: 3.5, source: "made-up reference for the Dark Machines page test"}}
  synth/sup:
    version: 1
    dataset: synth
    protocol: supervised
    background: [synth:bkg]
    signal: [synth:sig]
    sizes: {train: 400, test: 400}
    representation: jets
    metrics: [auc]
  synth/ratio:
    version: 1
    dataset: synth
    protocol: density_ratio
    background: [synth:bkg]
    signal: [synth:sig]
    sizes: {train: 400, test: 400}
    representation: jets
    metrics: [auc, density_ratio_gap]
    reported: {flow: {auc: 0.8, auc_supervised: 0.85, source: "made-up reference for the density-ratio page test"}}
  synthres/rnd:
    version: 1
    dataset: synthres
    protocol: resonant
    background: [synthres:background]
    signal: [synthres:signal]
    sizes: {train: 100000, test: 600}
    resonant:
      signal_region: [3300.0, 3700.0]
      sidebands: [[2300.0, 3300.0], [3700.0, 5000.0]]
      injections: [0, 200, 400]
      default_injection: 200
      test_signal: 200
      test_background: 400
    representation: highlevel
    metrics: [auc, max_sic]
    reported: {mass: {max_sic: 2.0, source: "made-up reference for the resonant page test"}}
suites:
  tiny:
    description: harness test suite
    source: generated
    tasks: [synth/unsup, synthres/rnd]
    seeds: 2
"""


def _synth_jets(rng, n, mass_mu, namespace):
    import numpy as np

    from benchmark.events import EventSet, make_event_ids

    mass = rng.normal(mass_mu, 15.0, n).clip(1, None)
    pt = rng.uniform(550, 650, n)
    jets = np.stack([pt, rng.normal(0, 1, n), rng.uniform(-3.1, 3.1, n), mass], -1)[:, None, :]
    cons = np.zeros((n, 1, 8, 4), np.float32)
    mult = rng.integers(2, 9, n)
    mask = np.arange(8)[None, :] < mult[:, None]
    cons[:, 0, :, 0] = np.where(mask, rng.exponential(50, (n, 8)), 0)
    cons[:, 0, :, 0] = -np.sort(-cons[:, 0, :, 0], axis=1)
    return EventSet({"jets": jets, "constituents": cons, "constituents_mask": mask[:, None, :],
                     "weights": np.ones(n)}, make_event_ids(namespace, n))


@pytest.fixture
def synth_registry(tmp_path, monkeypatch, _isolated_cache):
    """A registry of synthetic datasets with their class files in the isolated cache."""
    import numpy as np

    from benchmark.events import EventSet, make_event_ids

    reg = tmp_path / "datasets.yaml"
    reg.write_text(SYNTH_REGISTRY)
    monkeypatch.setenv("LHCAD_REGISTRY", str(reg))
    rng = np.random.default_rng(0)
    root = _isolated_cache
    for cls, mu in (("bkg", 40.0), ("sig", 90.0), ("sig2", 60.0)):
        _synth_jets(rng, 2000, mu, f"synth/{cls}").save(root / "synth" / "generated" / f"{cls}.h5")
    for cls, n in (("background", 6000), ("signal", 1500)):
        if cls == "background":
            mjj = 2300 + rng.exponential(900, n)
            m1 = rng.normal(60, 30, n).clip(5, None)
        else:
            mjj = rng.normal(3500, 120, n)
            m1 = rng.normal(500, 20, n)
        jets = np.zeros((n, 2, 4))
        jets[:, 0, 3], jets[:, 1, 3] = m1, rng.normal(60, 30, n).clip(5, None)
        jets[:, :, 0] = mjj[:, None] / 2
        EventSet({"jets": jets, "mjj": mjj, "weights": np.ones(n)},
                 make_event_ids(f"synthres/{cls}", n)).save(root / "synthres" / "generated" / f"{cls}.h5")
    return reg


@pytest.fixture
def torch_one_thread():
    """One torch thread: on a shared 2-core machine OpenMP spinning makes tiny models 10x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
