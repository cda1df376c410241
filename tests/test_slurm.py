"""dask-jobqueue executors: config parsing always; a real single-node SLURM run when one is up."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from benchmark.executors.batch import load_cluster_config

REPO = Path(__file__).resolve().parents[1]


def test_cluster_config_example_parses():
    cfg = load_cluster_config(REPO / "cluster.example.yaml", "slurm")
    assert cfg["cores"] == 4 and cfg["queue"] == "gpu" and "--gres=gpu:1" in cfg["job_extra_directives"]
    assert "export LHCAD_DATA=/scratch/lhcad-data" in cfg["job_script_prologue"]
    condor = load_cluster_config(REPO / "cluster.example.yaml", "htcondor")
    assert condor["job_extra_directives"]["request_gpus"] == "1"
    pytest.importorskip("dask_jobqueue")
    from dask_jobqueue import SLURMCluster

    script = SLURMCluster(**{**cfg, "job_script_prologue": []}).job_script()
    assert "#SBATCH --gres=gpu:1" in script and "#SBATCH -p gpu" in script


def _slurm_unavailable() -> str | None:
    if not shutil.which("sinfo"):
        return "slurm is not installed (no sinfo on PATH; .ci/run does not start a SLURM here)"
    out = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=20)
    if "UP" not in out.stdout:
        return f"slurmctld is not reachable: `scontrol ping` says {(out.stdout + out.stderr).strip()[:300]!r}"
    out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20)
    if not any(s.strip() in ("idle", "mix", "alloc") for s in out.stdout.split()):
        return f"no usable slurm node (sinfo states: {out.stdout.split()})"
    return None


@pytest.mark.slow
def test_small_suite_through_slurm(synth_registry, tmp_path):
    reason = _slurm_unavailable()
    if reason:
        pytest.skip(reason)
    import os

    from benchmark.executors import ExecutorOptions, run_with
    from benchmark.runner import jobs_for_suite

    cfg = tmp_path / "cluster.yaml"
    cfg.write_text(json.dumps({"slurm": {"cores": 1, "memory": "2GB", "walltime": "00:20:00",
                                         "env": {"LHCAD_DATA": os.environ["LHCAD_DATA"],
                                                 "LHCAD_REGISTRY": os.environ["LHCAD_REGISTRY"]}}}))
    jobs = jobs_for_suite("tiny", ["tests.scorers.probes:MassScorer"], results_dir=tmp_path / "res", n_boot=0)
    s = run_with("slurm", jobs, ExecutorOptions(workers=1, progress=False), cluster_config=cfg)
    assert len(s.done) == 4 and not s.failed
