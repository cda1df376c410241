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
      log_directory: logs/dask   # batch job logs (default: the batch system's, e.g. slurm-<id>.out in the cwd)
      worker_start_timeout: 600  # seconds to wait for the first worker (default: wait as long as the queue)

``env``, ``gpus`` and ``worker_start_timeout`` are lhcad's; every other key goes to dask-jobqueue.
``gpus`` also makes each worker advertise the Dask resource ``GPU=<gpus>``; a ``needs_gpu`` job
asks for ``GPU=1``. The batch system hands each batch job its own GPUs (its own
``CUDA_VISIBLE_DEVICES``); with ``gpus: 1`` every GPU job has a device to itself. With more GPUs
per batch job, concurrent jobs on that worker share its devices: lhcad does not split a Dask
worker's GPUs per job (the local executor does), so use ``gpus: 1`` per batch job.
The Dask workers run ``sys.executable`` of the submitting process (dask-jobqueue's ``python``
default), so the batch nodes must see the same virtualenv path, and they must reach the scheduler
on the submitting host (``interface``/``scheduler_options`` select its network).
"""
from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any

from benchmark.executors import ExecutorOptions
from benchmark.runner import Job, RunSummary

CLUSTERS = {"slurm": "SLURMCluster", "htcondor": "HTCondorCluster", "pbs": "PBSCluster"}
DEFAULTS: dict[str, Any] = {"cores": 1, "memory": "8GB", "walltime": "02:00:00", "processes": 1}
# HTCondor has no walltime keyword in dask-jobqueue (a site puts e.g. "+MaxRuntime" in
# job_extra_directives) and requires a disk request.
SYSTEM_DEFAULTS: dict[str, dict[str, Any]] = {
    "slurm": DEFAULTS, "pbs": DEFAULTS,
    "htcondor": {"cores": 1, "memory": "8GB", "disk": "10GB", "processes": 1},
}


def read_cluster_config(path: Path | None, system: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(dask-jobqueue keyword arguments, lhcad options)`` from the ``system`` section of the file."""
    import yaml

    raw: dict[str, Any] = {}
    if path is not None:
        text = yaml.safe_load(Path(path).read_text()) or {}
        raw = dict(text.get(system, text if system not in text and "cores" in text else {}))
    cfg = {**SYSTEM_DEFAULTS.get(system, DEFAULTS), **raw}
    env = cfg.pop("env", {}) or {}
    gpus = cfg.pop("gpus", None)
    timeout = cfg.pop("worker_start_timeout", None)
    lhcad = {"worker_start_timeout": float(timeout) if timeout else None}
    if gpus:  # workers advertise their GPUs, so needs_gpu jobs (resources GPU=1) go only to them
        cfg["worker_extra_args"] = [*(cfg.get("worker_extra_args") or []), "--resources", f"GPU={int(gpus)}"]
    prologue = list(cfg.pop("job_script_prologue", []) or [])
    prologue += [f"export {k}={shlex.quote(str(v))}" for k, v in env.items()]
    if prologue:
        cfg["job_script_prologue"] = prologue
    given = cfg.pop("job_extra_directives", None) or []
    if system == "htcondor":
        # HTCondor directives are a mapping; "key = value" strings are accepted too
        directives: dict[str, Any] = {}
        items = given.items() if isinstance(given, dict) else (str(x).partition("=")[::2] for x in given)
        for k, v in items:
            directives[str(k).strip()] = v.strip() if isinstance(v, str) else v
        if gpus:
            directives["request_gpus"] = str(gpus)
        if directives:
            cfg["job_extra_directives"] = directives
        return cfg, lhcad
    extra = [f"{k}={v}" for k, v in given.items()] if isinstance(given, dict) else list(given)
    if gpus:
        extra.append(f"--gres=gpu:{gpus}" if system == "slurm" else f"-l ngpus={gpus}")
    if extra:
        cfg["job_extra_directives"] = extra
    return cfg, lhcad


def load_cluster_config(path: Path | None, system: str) -> dict[str, Any]:
    """The ``system`` section of the config file (or the defaults), as dask-jobqueue keyword arguments."""
    return read_cluster_config(path, system)[0]


def _job_states(cluster: Any, system: str) -> str:
    """What the batch system says about the cluster's jobs (for a timeout message); never hangs."""
    ids = [str(job.job_id) for job in list(cluster.workers.values()) if getattr(job, "job_id", None)]
    if not ids:
        return "no batch job was submitted"
    cmd = {"slurm": ["squeue", "-h", "-o", "%i %T %r", "-j", ",".join(ids)],
           "pbs": ["qstat", *ids], "htcondor": ["condor_q", *ids]}[system]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=15)
        said = (out.stdout + out.stderr).strip() or "(nothing: the jobs have left the queue)"
    except (OSError, subprocess.TimeoutExpired) as exc:
        said = f"({type(exc).__name__}: {exc})"
    return f"jobs {', '.join(ids)}; `{' '.join(cmd)}` says: {said[:500]}"


class BatchExecutor:
    """Keep ``workers`` batch jobs running through dask-jobqueue, then run like the dask executor."""

    def __init__(self, options: ExecutorOptions, *, system: str, config_path: Path | None) -> None:
        self.options, self.system, self.config_path = options, system, config_path

    def cluster_kwargs(self) -> dict[str, Any]:
        return load_cluster_config(self.config_path, self.system)

    def wait_for_first_worker(self, cluster: Any, timeout: float, logs: str | None = None) -> None:
        """Raise (naming the batch jobs' states) unless a worker joins within ``timeout`` seconds."""
        from distributed import Client

        client = Client(cluster, timeout=min(60.0, timeout))
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError as exc:
            raise RuntimeError(f"no Dask worker joined within {timeout:g} s of submitting {self.system} batch jobs "
                               f"({_job_states(cluster, self.system)}); job logs: {logs or 'the batch system default'}"
                               ) from exc
        finally:
            client.close()

    def run(self, jobs: list[Job]) -> RunSummary:
        import dask_jobqueue

        from benchmark.executors.dask import DaskExecutor

        cluster_cls = getattr(dask_jobqueue, CLUSTERS[self.system])
        kwargs, lhcad = read_cluster_config(self.config_path, self.system)
        cluster = cluster_cls(**kwargs)
        try:
            # adapt with a fixed size, not scale(): a batch job that ends (preemption, walltime, node
            # failure) is replaced, so the tasks it held are retried instead of waiting for ever
            n = max(1, self.options.workers)
            cluster.adapt(minimum_jobs=n, maximum_jobs=n)
            if lhcad["worker_start_timeout"]:
                self.wait_for_first_worker(cluster, lhcad["worker_start_timeout"], kwargs.get("log_directory"))
            return DaskExecutor(self.options, cluster=cluster).run(jobs)
        finally:
            cluster.close()
