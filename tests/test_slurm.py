"""dask-jobqueue executors: config parsing always; a real single-node SLURM run when one is up.

`.ci/run` brings up a one-node SLURM (slurm-wlm + munge, `.ci/start-slurm`) before the tests; when
it could not, `test_small_suite_through_slurm` skips and quotes the start script's verdict (the
daemon's own error line). Every call to a SLURM command has a timeout, so a half-up SLURM makes the
test skip or fail with a reason, never hang.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from benchmark.executors.batch import load_cluster_config, read_cluster_config

REPO = Path(__file__).resolve().parents[1]
STATUS_FILE = Path(os.environ.get("LHCAD_SLURM_STATUS", "/tmp/lhcad-ci-slurm.status"))


def test_cluster_config_example_parses():
    cfg = load_cluster_config(REPO / "cluster.example.yaml", "slurm")
    assert cfg["cores"] == 4 and cfg["queue"] == "gpu" and "--gres=gpu:1" in cfg["job_extra_directives"]
    assert "export LHCAD_DATA=/scratch/lhcad-data" in cfg["job_script_prologue"]
    condor = load_cluster_config(REPO / "cluster.example.yaml", "htcondor")
    assert condor["job_extra_directives"]["request_gpus"] == "1"
    assert "walltime" not in condor  # dask-jobqueue's HTCondorCluster has no walltime keyword
    pytest.importorskip("dask_jobqueue")
    from dask_jobqueue import HTCondorCluster, PBSCluster, SLURMCluster

    def script(cls, **kwargs) -> str:
        with cls(**kwargs, scheduler_options={"dashboard_address": ":0"}) as cluster:
            return cluster.job_script()

    slurm = script(SLURMCluster, **{**cfg, "job_script_prologue": []})
    assert "#SBATCH --gres=gpu:1" in slurm and "#SBATCH -p gpu" in slurm
    htcondor = script(HTCondorCluster, **condor)
    assert "request_gpus = 1" in htcondor and "LHCAD_DATA=/scratch/lhcad-data" in htcondor
    pbs = script(PBSCluster, **load_cluster_config(REPO / "cluster.example.yaml", "pbs"))
    assert "#PBS -l ngpus=1" in pbs and "#PBS -q workq" in pbs


def test_cluster_config_lhcad_keys(tmp_path):
    path = tmp_path / "cluster.yaml"
    path.write_text(json.dumps({
        "slurm": {"env": {"A": "two words"}, "worker_start_timeout": 30, "log_directory": "logs"},
        "htcondor": {"job_extra_directives": {"+MaxRuntime": 3600}, "gpus": 2}}))
    kwargs, lhcad = read_cluster_config(path, "slurm")
    assert lhcad == {"worker_start_timeout": 30.0}
    assert "worker_start_timeout" not in kwargs and "env" not in kwargs
    assert kwargs["job_script_prologue"] == ["export A='two words'"] and kwargs["log_directory"] == "logs"
    condor = load_cluster_config(path, "htcondor")
    assert condor["job_extra_directives"] == {"+MaxRuntime": 3600, "request_gpus": "2"}
    assert condor["disk"]  # HTCondorCluster refuses to start without a disk request


def test_worker_start_timeout_names_the_jobs():
    """No worker within the timeout: an error that says so (instead of waiting forever)."""
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    from benchmark.executors import ExecutorOptions
    from benchmark.executors.batch import BatchExecutor

    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster:
        ex = BatchExecutor(ExecutorOptions(), system="slurm", config_path=None)
        t0 = time.perf_counter()
        with pytest.raises(RuntimeError, match=r"no Dask worker joined within 1 s .*no batch job was submitted"):
            ex.wait_for_first_worker(cluster, 1.0, "somewhere")
        assert time.perf_counter() - t0 < 30


def _cmd(args: list[str], timeout: float = 20) -> tuple[int | None, str]:
    """(exit status, stdout+stderr) of a SLURM command; (None, why) when it could not run in time."""
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, f"`{' '.join(args)}` did not answer within {timeout:g} s"
    except OSError as exc:
        return None, f"`{' '.join(args)}` could not run: {exc}"
    return out.returncode, (out.stdout + out.stderr).strip()


def _start_verdict() -> str:
    if STATUS_FILE.is_file():
        return f" (when it ran, .ci/start-slurm said: {STATUS_FILE.read_text().strip()[:500]})"
    return " (.ci/start-slurm has not run on this machine: run it as root to bring up a one-node SLURM)"


def _slurm_unavailable() -> str | None:
    """Why no usable SLURM is up here (None when one is); every probe is time-limited."""
    if not shutil.which("sinfo"):
        return "slurm is not installed (no sinfo on PATH)" + _start_verdict()
    rc, out = _cmd(["scontrol", "ping"])
    if rc is None or "UP" not in out:
        return f"slurmctld is not reachable: `scontrol ping` says {out[:300]!r}" + _slurmd_error() + _start_verdict()
    rc, out = _cmd(["sinfo", "-h", "-o", "%t"])
    if rc is None or not any(s.strip() in ("idle", "mix", "alloc", "comp") for s in out.split()):
        return (f"no usable slurm node (sinfo states: {out.split() if rc is not None else out})" + _slurmd_error()
                + _start_verdict())
    return None


def _trivial_job_fails(tmp_path: Path, within: float = 60) -> str | None:
    """Why a one-second batch job does not run to completion (None when it does)."""
    out = tmp_path / "probe.out"
    rc, said = _cmd(["sbatch", "--parsable", "-J", "lhcad-probe", "-t", "1", "-o", str(out), "--wrap", "echo ok"])
    if rc != 0:
        return f"sbatch refused a trivial job: {said[:300]}"
    job = said.split(";")[0].strip()
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        rc, state = _cmd(["squeue", "-h", "-j", job, "-o", "%T %r"])
        if rc is not None and (not state or "Invalid job id" in state):  # left the queue
            if out.is_file() and out.read_text().strip() == "ok":
                return None
            _, info = _cmd(["scontrol", "show", "job", job])
            return f"trivial batch job {job} left the queue without output ({info[:300]!r})" + _slurmd_error()
        _, nodes = _cmd(["sinfo", "-h", "-o", "%t"])
        if nodes and all(n.startswith(("down", "drain", "fail")) for n in nodes.split()):
            _cmd(["scancel", job])
            return (f"the slurm node went {nodes.split()} while trivial batch job {job} waited (squeue: {state!r})"
                    + _slurmd_error())
        time.sleep(0.5)
    _cmd(["scancel", job])
    return f"trivial batch job {job} did not finish within {within:g} s (squeue: {state!r})" + _slurmd_error()


NOISE = ("pmix", "MPI: ", "backup state save", "state file", "CANCELLED AT")  # harmless on Debian's slurm


def _slurmd_error() -> str:
    """The daemons' last fatal (else error) line, for a skip message."""
    for word in ("fatal", "error"):
        for log in (Path("/var/log/slurm/slurmd.log"), Path("/var/log/slurm/slurmctld.log")):
            try:
                lines = [x for x in log.read_text(errors="replace").splitlines()
                         if word in x.lower() and not any(n.lower() in x.lower() for n in NOISE)]
            except OSError:
                continue
            if lines:
                return f"; last {word} in {log}: {lines[-1][:300]}"
    return ""


@pytest.fixture
def slurm(tmp_path):
    """Skip (saying why) unless a SLURM here runs a trivial batch job."""
    reason = _slurm_unavailable() or _trivial_job_fails(tmp_path)
    if reason:
        pytest.skip(reason)


def _cluster_config(tmp_path: Path, job_name: str, **env: str) -> Path:
    cfg = tmp_path / "cluster.yaml"
    cfg.write_text(json.dumps({"slurm": {"cores": 1, "memory": "2GB", "walltime": "00:10:00", "job_name": job_name,
                                         "log_directory": str(tmp_path / "slurm-logs"), "worker_start_timeout": 120,
                                         "scheduler_options": {"dashboard_address": ":0"},
                                         "env": {"LHCAD_DATA": os.environ["LHCAD_DATA"],
                                                 "LHCAD_REGISTRY": os.environ["LHCAD_REGISTRY"], **env}}}))
    return cfg


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_small_suite_through_slurm(slurm, synth_registry, tmp_path):
    from benchmark.executors import ExecutorOptions, run_with
    from benchmark.runner import jobs_for_suite

    logs = tmp_path / "slurm-logs"
    cfg = _cluster_config(tmp_path, "lhcad-test")
    jobs = jobs_for_suite("tiny", ["tests.scorers.probes:MassScorer"], results_dir=tmp_path / "res", n_boot=0)
    s = run_with("slurm", jobs, ExecutorOptions(workers=1, progress=False), cluster_config=cfg)
    worker_logs = "".join(p.read_text(errors="replace") for p in sorted(logs.glob("lhcad-test-*")))
    assert len(s.done) == 4 and not s.failed, (s.failed, worker_logs[-3000:])
    # the Dask worker ran inside the SLURM batch job (its log is the job's stderr) and joined our scheduler
    assert "Registered to:" in worker_logs, worker_logs[-3000:]
    assert all(Path(j.results_dir).is_dir() for j in jobs) and len(list((tmp_path / "res").rglob("seed*.json"))) == 4


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_preempted_batch_job_is_replaced(slurm, synth_registry, tmp_path, monkeypatch):
    """scancel the batch job while it runs a job: a new batch job takes over and every job finishes."""
    import threading

    from benchmark.executors import ExecutorOptions, run_with
    from benchmark.runner import jobs_for_suite

    monkeypatch.setenv("LHCAD_TEST_SLEEP", "3")
    name = f"lhcad-preempt-{os.getpid()}"
    cfg = _cluster_config(tmp_path, name, LHCAD_TEST_SLEEP="3")
    res = tmp_path / "res"
    jobs = jobs_for_suite("tiny", ["tests.scorers.misbehaving:SlowMass"], results_dir=res, n_boot=0)
    cancelled: list[str] = []

    def preempt() -> None:  # once the first result is written the worker is busy with the next job
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and not list(res.rglob("seed*.json")):
            time.sleep(0.2)
        time.sleep(1.0)
        rc, ids = _cmd(["squeue", "-h", "-n", name, "-t", "RUNNING", "-o", "%i"])
        if rc == 0 and ids:
            _cmd(["scancel", "-n", name])
            cancelled.extend(ids.split())

    thread = threading.Thread(target=preempt, daemon=True)
    thread.start()
    s = run_with("slurm", jobs, ExecutorOptions(workers=1, retries=2, progress=False), cluster_config=cfg)
    thread.join(timeout=10)
    assert cancelled, "no running batch job to cancel"
    assert len(s.done) == 4 and not s.failed, s.failed
    assert len(list((tmp_path / "slurm-logs").glob(f"{name}-*.err"))) >= 2  # a second batch job took over
