"""Batch executors (``slurm``, ``htcondor``, ``pbs``): dask-jobqueue clusters configured from a file.

The cluster config (YAML; see ``cluster.example.yaml``) names the resources of one batch job
(each batch job hosts one Dask worker that runs lhcad jobs one after another)::

    slurm:
      cores: 4            # per batch job
      memory: 16GB
      walltime: "04:00:00"
      queue: gpu          # partition / queue
      gpus: 1             # adds --gres=gpu:1 (slurm) / request_gpus (htcondor) / ngpus (pbs)
      processes: 1
      job_extra_directives: ["--account=myproj"]
      job_script_prologue: ["source ~/venvs/lhcad/bin/activate"]
      env: {LHCAD_DATA: /scratch/lhcad}
      local_directory: /tmp
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.executors import ExecutorOptions
from benchmark.runner import Job, RunSummary

CLUSTERS = {"slurm": "SLURMCluster", "htcondor": "HTCondorCluster", "pbs": "PBSCluster"}
DEFAULTS: dict[str, Any] = {"cores": 1, "memory": "8GB", "walltime": "02:00:00", "processes": 1}


def load_cluster_config(path: Path | None, system: str) -> dict[str, Any]:
    """The ``system`` section of the config file (or the defaults), as dask-jobqueue keyword arguments."""
    import yaml

    raw: dict[str, Any] = {}
    if path is not None:
        text = yaml.safe_load(Path(path).read_text()) or {}
        raw = dict(text.get(system, text if system not in text and "cores" in text else {}))
    cfg = {**DEFAULTS, **raw}
    env = cfg.pop("env", {}) or {}
    gpus = cfg.pop("gpus", None)
    prologue = list(cfg.pop("job_script_prologue", []) or [])
    prologue += [f"export {k}={v}" for k, v in env.items()]
    if prologue:
        cfg["job_script_prologue"] = prologue
    extra = list(cfg.pop("job_extra_directives", []) or [])
    if gpus:
        if system == "slurm":
            extra.append(f"--gres=gpu:{gpus}")
        elif system == "pbs":
            extra.append(f"-l ngpus={gpus}")
        elif system == "htcondor":
            cfg.setdefault("job_extra_directives", {})
    if system == "htcondor":
        directives = dict(cfg.pop("job_extra_directives", {}) or {})
        if gpus:
            directives["request_gpus"] = str(gpus)
        for item in extra:
            k, _, v = str(item).partition("=")
            directives[k.strip()] = v.strip()
        cfg["job_extra_directives"] = directives
    elif extra:
        cfg["job_extra_directives"] = extra
    return cfg


class BatchExecutor:
    """Start ``workers`` batch jobs through dask-jobqueue, then run like the dask executor."""

    def __init__(self, options: ExecutorOptions, *, system: str, config_path: Path | None) -> None:
        self.options, self.system, self.config_path = options, system, config_path

    def cluster_kwargs(self) -> dict[str, Any]:
        return load_cluster_config(self.config_path, self.system)

    def run(self, jobs: list[Job]) -> RunSummary:
        import dask_jobqueue

        from benchmark.executors.dask import DaskExecutor

        cluster_cls = getattr(dask_jobqueue, CLUSTERS[self.system])
        cluster = cluster_cls(**self.cluster_kwargs())
        try:
            cluster.scale(jobs=max(1, self.options.workers))
            return DaskExecutor(self.options, cluster=cluster).run(jobs)
        finally:
            cluster.close()
