"""Run a job's scorer in a sandboxed child process that sees only its inputs.

How a job travels (``execute_job(job, isolation=Limits(...))``):

1. the parent (the worker) builds the :class:`~benchmark.tasks.TaskData`, writes the *scorer views*
   only (training events, unlabelled test events in a fresh random order, sideband, and the
   training labels of the supervised protocol), the representations the scorer declared with
   ``features_needed`` (:mod:`benchmark.precomputed`), and a small ``spec.json`` into a fresh
   private temp dir ``lhcad-job-<pid>-<host>-*``; no test label, no event id, no path to a class file is
   written there;
2. it starts ``python -m benchmark.isolation launch`` in that dir with a scrubbed environment
   (no ``LHCAD_*``; ``HOME``/``TMPDIR``/cwd = the private dir) and puts it under a limit on memory
   really used (:class:`MemoryGuard`: a cgroup v2 ``memory.max`` where one can be created, else a
   resident-set watchdog; an address-space limit would break CUDA, which reserves far more virtual
   memory than it uses). Where the kernel permits, the launcher enters new user/mount/network/PID
   namespaces (``unshare`` via ctypes): no network device but loopback, and a new root filesystem
   holding only an *allowlist* (the interpreter and its libraries, lhcad, the scorer's own files,
   shared libraries, a few ``/etc`` files and ``/dev`` nodes, a fresh ``/proc``, and the private
   dir) entered with ``pivot_root``: earlier results, the data cache, home and temp folders are
   not there at all. Then it *execs* a fresh interpreter (``python -m benchmark.isolation child DIR``);
3. the child installs an audit hook refusing internet sockets (always, also where the network
   namespace applied, so that an attempt is *named*), loads the views, fits, scores and writes
   ``scores.npy`` and ``out.json`` (timings, scorer metadata) back; stdout/stderr go to ``log.txt``;
4. the parent waits at most the wall-time limit (then kills the whole process group), reads the
   scores back, validates them and evaluates them against the labels it alone holds. The private
   dir is removed on every exit path (also Ctrl-C and SIGTERM); one left by a SIGKILLed worker
   (its pid is in the name) is removed by the next job's start (:func:`sweep_stale_job_dirs`).

Any failure becomes :class:`ScorerFailure` with a ``cause`` (``timeout``, ``memory``, ``crash``,
``bad_output``, ``network``, ``error``) and the tail of the child's log.
"""
from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

DEFAULT_TIME_LIMIT_S = 2 * 3600.0
DEFAULT_MEMORY_MB = 8192
LOG_TAIL_LINES = 40
#: private job folders are ``<tempdir>/lhcad-job-<owner pid>-<host tag>-<random>`` (:func:`job_dir_prefix`)
JOB_DIR_PREFIX = "lhcad-job-"
#: how often the resident-set watchdog samples the child's process tree
WATCHDOG_INTERVAL_S = 0.2

# Linux clone flags and mount flags (sched.h / mount.h)
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217}

#: /etc files an interpreter and its libraries read (loader cache, users, name service, time zone)
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "hosts", "nsswitch.conf",
             "localtime", "host.conf", "gai.conf", "ssl", "alternatives")
#: shared libraries and programs (never data): system library and binary folders, CUDA installs
SYSTEM_GLOBS = ("/lib", "/lib32", "/lib64", "/libx32", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libx32",
                "/usr/libexec", "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/lib", "/usr/local/lib64",
                "/usr/local/cuda*", "/usr/share/zoneinfo", "/sys")
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty", "nvidia*", "nvidia-caps", "dri")


@dataclass(frozen=True)
class Limits:
    """Per-job sandbox limits. ``memory_mb=None`` sets no memory limit."""

    time_s: float = DEFAULT_TIME_LIMIT_S
    memory_mb: int | None = DEFAULT_MEMORY_MB
    namespaces: bool = True  # try unshare(); False: audit hook + scrubbed environment only
    override_time_s: float | None = None  # e.g. --time-limit: wins over a task's own limits
    override_memory_mb: int | None = None  # e.g. --memory-limit

    def for_task(self, task: Any) -> "Limits":
        """The limits for one job: overrides, else the task's ``limits: {time_s, memory_mb}``
        (datasets.yaml), else these defaults."""
        own = getattr(task, "limits", None) or {}
        return replace(self, time_s=self.override_time_s or own.get("time_s", self.time_s),
                       memory_mb=self.override_memory_mb or own.get("memory_mb", self.memory_mb))


class ScorerFailure(RuntimeError):
    """A sandboxed scorer failed; ``cause`` names why, ``log_tail`` is the end of its output."""

    def __init__(self, cause: str, message: str, log_tail: str = "") -> None:
        super().__init__(f"[{cause}] {message}" + (f"\n--- last log lines ---\n{log_tail}" if log_tail else ""))
        self.cause, self.detail, self.log_tail = cause, message, log_tail


# -- parent side: memory really used ---------------------------------------------------------------
def _own_cgroup_v2() -> Path | None:
    """This process's cgroup v2 folder when memory can be delegated below it, else None."""
    root = Path("/sys/fs/cgroup")
    try:
        if not (root / "cgroup.controllers").exists():
            return None  # cgroup v1 or hybrid: no unified hierarchy to create a child in
        rel = next((line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines()
                    if line.startswith("0::")), None)
        if rel is None:
            return None
        here = root / rel.lstrip("/")
        if "memory" not in (here / "cgroup.subtree_control").read_text().split():
            (here / "cgroup.subtree_control").write_text("+memory")  # EBUSY where processes live here
        return here if os.access(here, os.W_OK) else None
    except OSError:
        return None


class MemoryGuard:
    """Kills the child when the memory it really uses (not address space it reserves) passes the limit.

    CUDA reserves tens of GB of virtual address space it never touches, so ``RLIMIT_AS`` cannot be
    used. Preferred: a cgroup v2 child group with ``memory.max`` (the kernel counts and kills);
    else a watchdog thread that sums the resident set of the child's process tree every
    :data:`WATCHDOG_INTERVAL_S` seconds and kills its process group when over.
    """

    def __init__(self, limit_mb: int | None, name: str) -> None:
        self.limit_mb, self.name = limit_mb, name
        self.mechanism = "none" if not limit_mb else "rss-watchdog"
        self.exceeded_mb: float | None = None
        self.peak_mb = 0.0
        self.notes: list[str] = []
        self.cgroup: Path | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def attach(self, pid: int) -> None:
        """Put process ``pid`` (the launcher, before it has read its config) under the limit."""
        if not self.limit_mb:
            return
        parent = _own_cgroup_v2()
        if parent is not None:
            group = parent / self.name
            try:
                group.mkdir()
                (group / "memory.max").write_text(str(int(self.limit_mb) * 2**20))
                with contextlib.suppress(OSError):
                    (group / "memory.swap.max").write_text("0")
                with contextlib.suppress(OSError):
                    (group / "memory.oom.group").write_text("1")
                (group / "cgroup.procs").write_text(str(pid))
                self.cgroup, self.mechanism = group, "cgroup-v2 memory.max"
                return
            except OSError as exc:
                self.notes.append(f"cgroup v2 under {parent} unusable ({exc}); resident-set watchdog instead")
                with contextlib.suppress(OSError):
                    group.rmdir()
        self._thread = threading.Thread(target=self._watch, args=(pid,), daemon=True, name="lhcad-rss-watchdog")
        self._thread.start()

    def _watch(self, pid: int) -> None:
        import psutil

        assert self.limit_mb
        limit = self.limit_mb * 2**20
        try:
            root = psutil.Process(pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.wait(WATCHDOG_INTERVAL_S):
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            rss = 0
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    rss += proc.memory_info().rss
            self.peak_mb = max(self.peak_mb, rss / 2**20)
            if rss > limit:
                self.exceeded_mb = rss / 2**20
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                return

    def finish(self) -> None:
        """Stop watching; read the cgroup's verdict and remove it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.cgroup is None:
            return
        with contextlib.suppress(OSError, ValueError):
            events = dict(line.split() for line in (self.cgroup / "memory.events").read_text().splitlines())
            peak_file = self.cgroup / "memory.peak"
            self.peak_mb = int(peak_file.read_text()) / 2**20 if peak_file.exists() else self.peak_mb
            if int(events.get("oom_kill", 0)) > 0:
                self.exceeded_mb = max(self.peak_mb, float(self.limit_mb or 0))
        for _ in range(50):  # the group empties a moment after its last process is reaped
            try:
                self.cgroup.rmdir()
                break
            except OSError:
                time.sleep(0.02)

    def failure(self, tail: str) -> ScorerFailure:
        return ScorerFailure(
            "memory", f"scorer used {self.exceeded_mb:.0f} MB of memory, over its limit of {self.limit_mb} MB "
            f"(enforced by {self.mechanism}); raise it with `lhcad run --memory-limit MB` or the task's "
            f"`limits: {{memory_mb: ...}}` in datasets.yaml", tail)

    def record(self) -> dict[str, Any]:
        return {"memory_limit_mb": self.limit_mb, "memory_mechanism": self.mechanism,
                **({"memory_notes": self.notes} if self.notes else {})}


# -- parent side: temporary job folders ------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def job_dir_prefix(pid: int) -> str:
    """``lhcad-job-<pid>-<host tag>-``: the owner's pid and host, so that a later run on the same
    host can tell a dead owner's folder (and never judges a pid of another host on a shared /tmp)."""
    import socket
    import zlib

    return f"{JOB_DIR_PREFIX}{pid}-{zlib.crc32(socket.gethostname().encode()):08x}-"


def sweep_stale_job_dirs(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove this host's ``lhcad-job-<pid>-*`` folders whose owner process is gone (a SIGKILLed
    worker left copies of input events behind); folders of live processes are left alone.
    Returns what was removed."""
    host = job_dir_prefix(0).rsplit("-", 2)[1]
    removed = []
    for path in Path(root or tempfile.gettempdir()).glob(f"{JOB_DIR_PREFIX}*-{host}-*"):
        owner = path.name[len(JOB_DIR_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and path.is_dir() and not _pid_alive(int(owner)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


class _Terminated(BaseException):
    """SIGTERM arrived while a job ran; raised so that cleanup runs, then the signal is re-sent."""


@contextlib.contextmanager
def _sigterm_cleans_up() -> Iterator[None]:
    """While a job runs in the main thread, SIGTERM unwinds it (finally blocks run: the child is
    killed, its folder removed), then the process dies of SIGTERM as it would have."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, previous)
        os.kill(os.getpid(), signal.SIGTERM)
        raise SystemExit(128 + signal.SIGTERM) from None  # only reached where SIGTERM is ignored
    finally:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, previous)


# -- parent side: what the child may see -----------------------------------------------------------
def _module_location(module: str) -> str | None:
    """The folder of ``module``'s top-level package (or its file), found as the child would find it."""
    import importlib.util

    top = module.split(".")[0]
    saved = list(sys.path)
    try:
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # the child imports module:Class specs relative to the cwd
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    finally:
        sys.path[:] = saved
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return str(Path(list(spec.submodule_search_locations)[0]).resolve())
    return str(Path(spec.origin).resolve()) if spec.origin and os.path.exists(spec.origin) else None


def _scorer_paths(scorer: str) -> list[str]:
    """The scorer's own files: its file's folder, or its module's top-level package."""
    from benchmark.contract import resolve_scorer

    if scorer.endswith(".py") or ".py:" in scorer:
        return [str(Path(scorer.partition(".py")[0] + ".py").resolve().parent)]
    module = getattr(resolve_scorer(scorer), "__module__", None)
    location = _module_location(module) if module else None
    return [location] if location else []


def allowlist(job: Any, private: Path) -> list[dict[str, Any]]:
    """Everything the child's root filesystem holds, as ``{"path", "writable"}`` (outer paths first).

    The interpreter (``sys.prefix``, ``sys.base_prefix``, the executable's folder), the import
    paths of installed packages, lhcad's own packages, the scorer's files, system libraries and
    programs, a few ``/etc`` files, and the private dir (the only writable place). Source folders
    on the import path (the working directory, a checkout holding lhcad) are *not* taken whole, only
    the packages the child imports from them, so a ``results/`` beside them stays out.
    """
    import benchmark

    lhcad_root = str(Path(benchmark.__file__).resolve().parents[1])
    source_roots = {lhcad_root, str(Path.cwd().resolve())}
    paths = {sys.prefix, sys.base_prefix, os.path.dirname(sys.executable),
             os.path.dirname(os.path.realpath(sys.executable))}
    for entry in [*sys.path, *os.environ.get("PYTHONPATH", "").split(os.pathsep)]:
        if entry and os.path.exists(entry) and str(Path(entry).resolve()) not in source_roots \
                and str(Path(entry).resolve()) != "/":
            paths.add(entry)
    packages = {str(Path(benchmark.__file__).resolve().parent), *(_scorer_paths(job.scorer))}
    baselines = _module_location("baselines")
    if baselines:
        packages.add(baselines)
    for pattern in SYSTEM_GLOBS:
        paths.update(glob.glob(pattern))
    paths.update(f"/etc/{name}" for name in ETC_FILES if os.path.exists(f"/etc/{name}"))
    entries: dict[str, bool] = {}
    for path in (*paths, *packages):
        entries.setdefault(os.path.abspath(path), False)
        real = os.path.realpath(path)  # a symlink (/lib -> usr/lib) needs its target too
        entries.setdefault(real, False)
    # Read-only everywhere but the private dir: nothing the scorer writes reaches code or caches the
    # worker later loads (numba's cache index is a pickle), so numba caches in the private dir.
    entries[str(private.resolve())] = True
    out = [{"path": p, "writable": w} for p, w in sorted(entries.items(), key=lambda kv: (len(kv[0]), kv[0]))
           if os.path.lexists(p)]
    # class files shipped inside the lhcad package: covered by an empty folder
    from benchmark.data import SAMPLES_DIR

    samples = str(SAMPLES_DIR.resolve())
    if any(samples.startswith(e["path"].rstrip("/") + "/") for e in out):
        out.append({"path": samples, "writable": False, "hidden": True})
    return out


def _child_env(private: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
            "NUMBA_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "VIRTUAL_ENV")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    # importable scorer modules given as module:Class are found relative to the caller's cwd
    extra = [os.getcwd(), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env.update(HOME=str(private), TMPDIR=str(private), PYTHONPATH=os.pathsep.join(extra),
               PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1", NUMBA_CACHE_DIR=str(private / "numba-cache"))
    return env


def _tail(path: Path, n: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _write_inputs(job: Any, data: Any, private: Path, device: str, time_budget_s: float | None = None) -> Any:
    """The scorer views (no labels, no ids, no paths, the test events in a fresh random order),
    the declared representations for them, and the job's public settings.

    Returns the test order written (scores come back in it and are unmapped by the caller)."""
    import pickle

    import numpy as np

    from benchmark.fitting import fresh_permutation, scorer_extras, scorer_roles
    from benchmark.precomputed import declared_features, precompute_views, save_features, scorer_arrays

    private.joinpath("in").mkdir()
    order = fresh_permutation(len(data.test))
    roles = scorer_roles(data, scorer_extras(job.scorer, dict(job.params)))  # extras only to scorers that ask
    roles["test"] = roles["test"].take(order)
    views = {role: data.scorer_view(events, role) for role, events in roles.items()}
    for name, view in views.items():
        view.save(private / "in" / f"{name}.h5")
    needed = declared_features(job.scorer, dict(job.params), scorer_arrays(data))
    if needed:
        save_features(private / "in", precompute_views(data, roles, needed, job.source))
    if data.train_labels is not None:  # the supervised protocol's own training labels, never test labels
        np.save(private / "in" / "train_labels.npy", np.asarray(data.train_labels))
    scorer = job.scorer
    if scorer.endswith(".py") or ".py:" in scorer:
        path, _, cls = scorer.partition(".py")
        scorer = str(Path(path + ".py").resolve()) + cls
    with open(private / "in" / "task.pkl", "wb") as handle:  # the task spec: names and sizes only
        pickle.dump(data.task, handle)
    spec = {"scorer": scorer, "params": dict(job.params), "seed": job.seed, "device": device,
            "source": job.source, "injection": job.injection, "preset": getattr(job, "preset", None),
            "time_budget_s": time_budget_s}
    (private / "in" / "spec.json").write_text(json.dumps(spec))
    return order


def score_in_child(job: Any, data: Any, limits: Limits, log: Callable[[str], None] | None = None,
                   device: str | None = None) -> tuple[Any, dict[str, Any], dict[str, Any], dict[str, float]]:
    """Fit and score ``job``'s scorer in a sandboxed child; returns (scores, extra, scorer meta, timings).

    ``device`` is the resolved device (default: ``job.device`` as given)."""
    sweep_stale_job_dirs()
    with _sigterm_cleans_up():
        private = Path(tempfile.mkdtemp(prefix=job_dir_prefix(os.getpid())))
        try:
            return _run_child(job, data, limits, private, log, device or job.device)
        finally:
            shutil.rmtree(private, ignore_errors=True)


def _run_child(job: Any, data: Any, limits: Limits, private: Path, log: Callable[[str], None] | None,
               device: str) -> tuple[Any, dict[str, Any], dict[str, Any], dict[str, float]]:
    import numpy as np

    from benchmark.contract import ScorerOutputError, validate_scores

    from benchmark.fitting import fit_budget

    order = _write_inputs(job, data, private, device, fit_budget(limits.time_s))
    config = {"allow": allowlist(job, private) if limits.namespaces else [], "namespaces": limits.namespaces}
    guard = MemoryGuard(limits.memory_mb, private.name)
    t0 = time.perf_counter()
    proc = None
    try:
        with open(private / "log.txt", "wb") as logf:
            proc = subprocess.Popen([sys.executable, "-m", "benchmark.isolation", "launch", str(private)],
                                    stdin=subprocess.PIPE, stdout=logf, stderr=subprocess.STDOUT, cwd=private,
                                    env=_child_env(private), start_new_session=True)
            guard.attach(proc.pid)  # before the launcher reads its config: nothing runs unlimited
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(config).encode())
            proc.stdin.close()
            try:
                proc.wait(timeout=limits.time_s)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        if proc is not None and proc.poll() is None:  # timeout, Ctrl-C, SIGTERM: the whole group goes
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        guard.finish()
    elapsed = time.perf_counter() - t0
    tail = _tail(private / "log.txt")
    if guard.exceeded_mb is not None:
        raise guard.failure(tail)
    if timed_out:
        raise ScorerFailure("timeout", f"scorer exceeded its wall-time limit of {limits.time_s:g} s", tail)
    if (private / "network_attempts.txt").exists():
        what = (private / "network_attempts.txt").read_text().splitlines()[0]
        raise ScorerFailure("network", f"scorer tried to use the network ({what}); the sandbox has none", tail)
    out = json.loads((private / "out.json").read_text()) if (private / "out.json").exists() else None
    exit_info = json.loads((private / "exit.json").read_text()) if (private / "exit.json").exists() else {}
    if out is None or out.get("status") != "ok":
        if out is not None:
            raise ScorerFailure(out.get("cause", "error"), out.get("error", "scorer failed"), tail)
        code = exit_info.get("code", proc.returncode)
        sig = exit_info.get("signal") or (-proc.returncode if proc.returncode < 0 else None) \
            or (code - 128 if 128 < code < 128 + 65 else None)  # relayed through the launcher
        cause = "memory" if "MemoryError" in tail or "bad_alloc" in tail else "crash"
        if sig:
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            raise ScorerFailure(cause, f"scorer process died with signal {name}", tail)
        raise ScorerFailure(cause, f"scorer process exited with status {code} without writing scores", tail)
    n = len(data.test)

    def read(name: str, scorer: str) -> Any:
        scores = validate_scores(np.load(private / name, allow_pickle=False), n, scorer=scorer)
        unmapped = np.empty_like(scores)
        unmapped[order] = scores  # back to the task's test order, which the labels follow
        return unmapped

    try:
        scores = read("scores.npy", job.scorer_label)
        extra = {"score_supervised": read("score_supervised.npy", "supervised")} \
            if (private / "score_supervised.npy").exists() else {}
    except ScorerOutputError as exc:
        raise ScorerFailure("bad_output", str(exc), tail) from None
    meta = out["scorer"]
    isolation_info = json.loads((private / "isolation.json").read_text()) \
        if (private / "isolation.json").exists() else {}
    meta["isolation"] = {"mode": "child", "time_limit_s": limits.time_s, **guard.record(),
                         "memory_peak_mb": round(guard.peak_mb, 1),
                         "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), **isolation_info}
    timings = dict(out.get("timings", {}))
    timings["child_wall"] = elapsed
    if log:
        log(f"isolated scorer finished in {elapsed:.1f} s ({isolation_info.get('network', '?')})")
    return scores, extra, meta, timings


# -- launcher (namespaces, new root, exec) -----------------------------------------------------------
def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def die_with_parent(libc: Any = None) -> None:
    """Ask the kernel to kill this process when its parent dies (Linux ``PR_SET_PDEATHSIG``): a
    killed ``lhcad run`` takes its pool workers and sandboxed scorers with it. No-op elsewhere."""
    try:
        (libc or _libc()).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:  # pragma: no cover - non-Linux
        pass


def _unshare(libc: Any) -> tuple[int, list[str]]:
    """Enter as many namespaces as the kernel allows; returns the flags that applied and notes."""
    import ctypes

    notes = []
    base = CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID
    attempts = [base, CLONE_NEWNET | CLONE_NEWNS, CLONE_NEWNET] if os.geteuid() == 0 else []
    attempts += [CLONE_NEWUSER | base, CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS, CLONE_NEWUSER | CLONE_NEWNET]
    uid, gid = os.getuid(), os.getgid()
    for flags in attempts:
        if libc.unshare(flags) == 0:
            if flags & CLONE_NEWUSER:
                try:
                    Path("/proc/self/setgroups").write_text("deny")
                    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
                    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
                except OSError as exc:
                    notes.append(f"uid map: {exc}")
            return flags, notes
        notes.append(f"unshare({flags:#x}): {os.strerror(ctypes.get_errno())}")
    return 0, notes


def _mount(libc: Any, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> str | None:
    import ctypes

    enc = (lambda s: None if s is None else s.encode())
    if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        return os.strerror(ctypes.get_errno())
    return None


def _bind(libc: Any, source: str, target: str, *, writable: bool) -> str | None:
    """Bind ``source`` (file or folder, with its submounts) at ``target``; read-only unless ``writable``."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            open(target, "a").close()
    err = _mount(libc, source, target, None, MS_BIND | MS_REC)
    if err or writable:
        return err
    # keep the flags the kernel locks in a user namespace (nosuid, nodev, noexec), add read-only
    locked = os.statvfs(target).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(libc, None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | locked)
    return None


def _enter_new_root(libc: Any, private: Path, allow: list[dict[str, Any]], fresh_proc: bool) -> list[str]:
    """Build a root holding only the allowlist on a tmpfs inside the private dir and ``pivot_root``
    into it (the old root is detached, so nothing else is reachable). Returns notes; raises
    OSError when the new root cannot be entered (the caller then stays on the old root and says so)."""
    import ctypes
    import platform

    new = str(private / ".root")
    os.makedirs(new, exist_ok=True)
    err = _mount(libc, "tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    if err:
        raise OSError(f"tmpfs for the new root: {err}")
    notes: list[str] = []
    for entry in allow:
        path = entry["path"]
        target = new + path
        if entry.get("hidden"):
            err = _mount(libc, "tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "size=4k")
            if err:
                raise OSError(f"cannot cover {path}: {err}")
            continue
        if os.path.lexists(target) and not os.path.isdir(target) and not os.path.isfile(target):
            continue  # a symlink already placed
        if os.path.islink(path):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if not os.path.lexists(target):
                os.symlink(os.readlink(path), target)
            continue
        if any(path != e["path"] and path.startswith(e["path"].rstrip("/") + "/") and e["writable"] == entry["writable"]
               for e in allow):
            continue  # inside an outer bind that already has the same access
        err = _bind(libc, path, target, writable=entry["writable"])
        if err:
            notes.append(f"bind {path}: {err}")
    dev = new + "/dev"
    os.makedirs(dev, exist_ok=True)
    _mount(libc, "tmpfs", dev, "tmpfs", MS_NOSUID, "mode=0755,size=64k")
    for pattern in DEV_NODES:
        for node in glob.glob(f"/dev/{pattern}"):
            if _bind(libc, node, dev + node[4:], writable=True):
                notes.append(f"bind {node} failed")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")
    os.makedirs(dev + "/shm")
    _mount(libc, "tmpfs", dev + "/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    os.makedirs(new + "/proc", exist_ok=True)
    if fresh_proc:  # this process is pid 1 of a new pid namespace: its /proc shows only the sandbox
        err = _mount(libc, "proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        if err:
            notes.append(f"fresh /proc: {err}")
    else:  # the host /proc would lead back to the old root (/proc/<pid>/root): none at all
        notes.append("no /proc: no pid namespace for a fresh one")
    for folder in ("/tmp", "/var/tmp"):  # empty and private: programs that insist on these still run
        if not os.path.exists(new + folder):
            os.makedirs(new + folder)
            _mount(libc, "tmpfs", new + folder, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    os.chdir(new)
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None or libc.syscall(number, b".", b".") != 0:
        raise OSError(f"pivot_root: {os.strerror(ctypes.get_errno()) if number else 'unknown architecture'}")
    if libc.umount2(b".", MNT_DETACH) != 0:
        raise OSError(f"detach the old root: {os.strerror(ctypes.get_errno())}")
    os.chdir("/")
    os.chdir(private)
    return notes


def _relay(pid: int, private: Path | None) -> None:
    """Wait for ``pid`` and exit like it did (recording a fatal signal for the parent)."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:  # pragma: no cover
            continue
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if private is not None:
            (private / "exit.json").write_text(json.dumps({"signal": sig}))
        os._exit(128 + sig)
    code = os.WEXITSTATUS(status)
    if private is not None:
        (private / "exit.json").write_text(json.dumps({"code": code}))
    os._exit(code)


def launch(private: Path) -> None:
    config = json.loads(sys.stdin.read() or "{}")
    libc = _libc()
    die_with_parent(libc)
    info: dict[str, Any] = {"namespaces": [], "notes": []}
    flags, notes = _unshare(libc) if config.get("namespaces", True) else (0, ["namespaces disabled"])
    info["notes"] += notes
    info["namespaces"] = [n for f, n in ((CLONE_NEWUSER, "user"), (CLONE_NEWNS, "mount"), (CLONE_NEWNET, "net"),
                                         (CLONE_NEWPID, "pid")) if flags & f]
    if flags & CLONE_NEWPID:  # the next child is pid 1 of the new namespace; it forks the scorer once more
        pid = os.fork()
        if pid:
            _relay(pid, private)
        die_with_parent(libc)
    info["filesystem"] = "whole (no mount namespace): only the scrubbed environment keeps paths out"
    if flags & CLONE_NEWNS:
        err = _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
        try:
            if err:
                raise OSError(f"make / private: {err}")
            info["notes"] += _enter_new_root(libc, private, config.get("allow", []), bool(flags & CLONE_NEWPID))
            info["filesystem"] = "allowlist"
            info["allowlist"] = [e["path"] + (" (rw)" if e["writable"] else "") for e in config.get("allow", [])
                                 if not e.get("hidden")]
            info["covered"] = [e["path"] for e in config.get("allow", []) if e.get("hidden")]
            info["fresh_proc"] = bool(flags & CLONE_NEWPID)
        except OSError as exc:
            info["notes"].append(f"new root not entered ({exc}); the filesystem stays visible")
            os.chdir(private)
    info["network"] = "netns+audit-hook" if flags & CLONE_NEWNET else "audit-hook"
    (private / "isolation.json").write_text(json.dumps(info))
    del config
    pid = os.fork()
    if pid:
        _relay(pid, private if not flags & CLONE_NEWPID else None)
    die_with_parent(libc)
    os.execv(sys.executable, [sys.executable, "-m", "benchmark.isolation", "child", str(private)])


# -- child (the scorer's process) --------------------------------------------------------------------
class NetworkBlocked(PermissionError):
    pass


def _block_network(private: Path) -> None:
    import socket

    allowed = {getattr(socket, "AF_UNIX", 1)}
    record = private / "network_attempts.txt"

    def hook(event: str, args: tuple) -> None:
        if not event.startswith("socket."):
            return
        if event == "socket.__new__":
            family = args[1] if len(args) > 1 else -1
            if family in allowed:
                return
        elif event in ("socket.connect", "socket.bind", "socket.sendto") and args and \
                getattr(args[0], "family", None) in allowed:
            return
        elif event not in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
                           "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"):
            return
        with open(record, "a") as handle:
            handle.write(f"{event} {args[1:3] if event == 'socket.__new__' else args[1:2]!r}\n")
        raise NetworkBlocked(f"network access is not allowed in the lhcad sandbox ({event})")

    sys.addaudithook(hook)


def child(private: Path) -> int:
    import pickle
    import traceback

    _block_network(private)
    out: dict[str, Any] = {"status": "error"}
    try:
        import numpy as np

        from benchmark.events import EventSet
        from benchmark.fitting import score_job
        from benchmark.precomputed import load_features, prefill
        from benchmark.tasks import TaskData

        spec = json.loads((private / "in" / "spec.json").read_text())
        with open(private / "in" / "task.pkl", "rb") as handle:
            task = pickle.load(handle)
        views = {p.stem: EventSet.load(p) for p in (private / "in").glob("*.h5")}
        prefill(views, load_features(private / "in"))  # representations the worker computed once
        labels = private / "in" / "train_labels.npy"
        data = TaskData(task, spec["source"], spec["seed"], spec["injection"], views["train"], views["test"],
                        None, sideband=views.get("sideband"),  # type: ignore[arg-type]
                        train_labels=np.load(labels) if labels.exists() else None,
                        signal_train=views.get("signal_train"),
                        background_template=views.get("background_template"))
        work = private / "work"
        work.mkdir(exist_ok=True)
        timings: dict[str, float] = {}
        log = lambda msg: print(msg, flush=True)  # noqa: E731
        scores, extra, meta = score_job(data, spec["scorer"], spec["params"], seed=spec["seed"],
                                        device=spec["device"], workdir=work, log=log, timings=timings,
                                        preset=spec.get("preset"), time_budget_s=spec.get("time_budget_s"))
        np.save(private / "scores.npy", np.asarray(scores, dtype=np.float64))
        if "score_supervised" in extra:
            np.save(private / "score_supervised.npy", np.asarray(extra["score_supervised"], dtype=np.float64))
        out = {"status": "ok", "timings": timings, "scorer": meta}
        code = 0
    except NetworkBlocked as exc:
        out = {"status": "error", "cause": "network", "error": str(exc)}
        traceback.print_exc()
        code = 1
    except MemoryError as exc:
        out = {"status": "error", "cause": "memory", "error": f"scorer exceeded its memory limit (MemoryError: {exc})"}
        traceback.print_exc()
        code = 1
    except BaseException as exc:  # noqa: BLE001 - everything is reported to the parent
        cause = "bad_output" if type(exc).__name__ == "ScorerOutputError" else "error"
        out = {"status": "error", "cause": cause, "error": f"{type(exc).__name__}: {exc}"}
        traceback.print_exc()
        code = 1
    try:
        (private / "out.json").write_text(json.dumps(out, default=str))
    except Exception:  # pragma: no cover
        traceback.print_exc()
    sys.stdout.flush()
    return code


def main(argv: list[str]) -> int:
    mode, private = argv[0], Path(argv[1])
    if mode == "launch":
        launch(private)
        return 0  # not reached
    if mode == "child":
        return child(private)
    raise SystemExit(f"usage: python -m benchmark.isolation launch|child DIR (got {mode!r})")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
