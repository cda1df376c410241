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
