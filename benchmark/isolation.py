"""Run a job's scorer in a sandboxed child process that sees only its inputs.

How a job travels (``execute_job(job, isolation=Limits(...))``):

1. the parent (the worker) builds the :class:`~benchmark.tasks.TaskData`, writes the *scorer views*
   only (training events, unlabelled test events, sideband, and the training labels of the
   supervised protocol) plus a small ``spec.json`` into a fresh private temp dir; no test label,
   no event id, no path to a class file is written there;
2. it starts ``python -m benchmark.isolation launch`` in that dir with a scrubbed environment
   (no ``LHCAD_*``; ``HOME``/``TMPDIR``/cwd = the private dir). The launcher reads the list of
   paths to hide from its stdin, and where the kernel permits enters new user/mount/network/PID
   namespaces (``unshare`` via ctypes): no network device but loopback, a tmpfs over the data
   cache and the results folder, a fresh ``/proc`` (so ``/proc/<parent>/environ`` cannot name the
   cache); then it sets ``RLIMIT_AS`` and *execs* a fresh interpreter
   (``python -m benchmark.isolation child DIR``) that never saw those paths;
3. the child installs an audit hook refusing internet sockets (always, also where the network
   namespace applied, so that an attempt is *named*), loads the views, fits, scores and writes
   ``scores.npy`` and ``out.json`` (timings, scorer metadata) back; stdout/stderr go to ``log.txt``;
4. the parent waits at most the wall-time limit (then kills the whole process group), reads the
   scores back, validates them and evaluates them against the labels it alone holds.

Any failure becomes :class:`ScorerFailure` with a ``cause`` (``timeout``, ``memory``, ``crash``,
``bad_output``, ``network``, ``error``) and the tail of the child's log.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

DEFAULT_TIME_LIMIT_S = 2 * 3600.0
DEFAULT_MEMORY_MB = 8192
#: ``lhcad run``'s default results folder (relative to the working directory)
DEFAULT_RESULTS_DIR = "results"
LOG_TAIL_LINES = 40

# Linux clone flags and mount flags (sched.h / mount.h)
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Limits:
    """Per-job sandbox limits. ``memory_mb=None`` sets no address-space limit."""

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


# -- parent side -----------------------------------------------------------------------------------
def _hidden_paths(job: Any) -> list[str]:
    from benchmark.data import SAMPLES_DIR
    from benchmark.store import data_root

    # The shipped samples are class files too (<dataset>/<class>.h5): hidden like the cache.
    paths = {str(Path(data_root()).resolve()), str(Path(job.results_dir).resolve()), str(SAMPLES_DIR.resolve())}
    # Scores files hold labels in test-set order: the CLI's default results folder is hidden too,
    # whichever folder this run writes to (a results folder elsewhere is the user's to keep apart).
    paths.add(str(Path(DEFAULT_RESULTS_DIR).resolve()))
    if os.environ.get("LHCAD_REGISTRY"):
        paths.add(str(Path(os.environ["LHCAD_REGISTRY"]).resolve().parent))
    return sorted(p for p in paths if Path(p).is_dir())


def _needed_paths(job: Any) -> list[str]:
    """What the child must still see: the interpreter, every import path, lhcad and the scorer's file."""
    import benchmark

    paths = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)),
             str(Path(benchmark.__file__).resolve().parents[1]), os.getcwd(),
             *(p for p in sys.path if p and os.path.isdir(p)),
             *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))}
    if job.scorer.endswith(".py") or ".py:" in job.scorer:
        paths.add(str(Path(job.scorer.partition(".py")[0] + ".py").resolve().parent))
    return sorted({str(Path(p).resolve()) for p in paths})


def _covers(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip(os.sep) + os.sep)


def _hide_plan(job: Any, private: Path) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Mounts for the child, in order, as ``{"path", "keep", "temp"}``: a tmpfs over ``path`` with the
    folders in ``keep`` bound back. The temp root goes first (other jobs' and sessions' files; the
    private dir is kept), then each hidden folder. What the child needs (interpreter, import paths,
    lhcad, the scorer's file) is always kept, so a checkout, virtualenv or scorer under /tmp or
    beside a registry still runs. Returns (plan, notes, folders left visible)."""
    needed = _needed_paths(job)
    plan: list[dict[str, Any]] = []
    notes: list[str] = []
    visible: list[str] = []
    tmp_root = str(private.parent.resolve())
    kept: list[str] = []
    if tmp_root in needed:
        notes.append(f"temp root {tmp_root} left visible: the scorer's process needs it whole")
    else:
        kept = sorted({str(private.resolve()), *(n for n in needed if _covers(tmp_root, n))})
        plan.append({"path": tmp_root, "keep": kept, "temp": True})
    for path in sorted(_hidden_paths(job), key=len):  # outer folders first
        if path in needed:
            notes.append(f"{path} left visible: the scorer's process needs it whole")
            visible.append(path)
        elif plan and _covers(tmp_root, path) and not any(_covers(k, path) for k in kept):
            continue  # gone with the temp root
        else:
            plan.append({"path": path, "keep": [n for n in needed if _covers(path, n) and n != path],
                         "temp": False})
    return plan, notes, visible


def _child_env(private: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
            "CUDA_VISIBLE_DEVICES", "VIRTUAL_ENV")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    # importable scorer modules given as module:Class are found relative to the caller's cwd
    extra = [os.getcwd(), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env.update(HOME=str(private), TMPDIR=str(private), PYTHONPATH=os.pathsep.join(extra),
               PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    return env


def _tail(path: Path, n: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _write_inputs(job: Any, data: Any, private: Path, time_budget_s: float | None = None) -> None:
    """The scorer views (no labels, no ids, no paths) and the job's public settings."""
    import pickle

    import numpy as np

    private.joinpath("in").mkdir()
    views = {"train": data.scorer_view(data.train, "train"), "test": data.scorer_view(data.test, "test")}
    if data.sideband is not None:
        views["sideband"] = data.scorer_view(data.sideband, "sideband")
    if data.signal_train is not None:
        views["signal_train"] = data.scorer_view(data.signal_train, "signal_train")
    if data.background_template is not None:
        views["background_template"] = data.scorer_view(data.background_template, "background_template")
    for name, view in views.items():
        view.save(private / "in" / f"{name}.h5")
    if data.train_labels is not None:  # the supervised protocol's own training labels, never test labels
        np.save(private / "in" / "train_labels.npy", np.asarray(data.train_labels))
    scorer = job.scorer
    if scorer.endswith(".py") or ".py:" in scorer:
        path, _, cls = scorer.partition(".py")
        scorer = str(Path(path + ".py").resolve()) + cls
    with open(private / "in" / "task.pkl", "wb") as handle:  # the task spec: names and sizes only
        pickle.dump(data.task, handle)
    spec = {"scorer": scorer, "params": dict(job.params), "seed": job.seed, "device": job.device,
            "source": job.source, "injection": job.injection, "preset": getattr(job, "preset", None),
            "time_budget_s": time_budget_s}
    (private / "in" / "spec.json").write_text(json.dumps(spec))


def score_in_child(job: Any, data: Any, limits: Limits, log: Callable[[str], None] | None = None
                   ) -> tuple[Any, dict[str, Any], dict[str, Any], dict[str, float]]:
    """Fit and score ``job``'s scorer in a sandboxed child; returns (scores, extra, scorer meta, timings)."""
    import numpy as np

    from benchmark.contract import ScorerOutputError, validate_scores

    private = Path(tempfile.mkdtemp(prefix="lhcad-job-"))
    try:
        plan, notes, visible = _hide_plan(job, private)
        for mount in plan:
            if not mount["temp"] and _covers(mount["path"], str(private.resolve())):
                raise RuntimeError(f"the sandbox dir {private} lies inside a hidden folder; set TMPDIR elsewhere")
        from benchmark.fitting import fit_budget

        _write_inputs(job, data, private, fit_budget(limits.time_s))
        config = {"mounts": plan if limits.namespaces else [], "memory_mb": limits.memory_mb,
                  "namespaces": limits.namespaces, "notes": notes, "left_visible": visible}
        t0 = time.perf_counter()
        with open(private / "log.txt", "wb") as logf:
            proc = subprocess.Popen([sys.executable, "-m", "benchmark.isolation", "launch", str(private)],
                                    stdin=subprocess.PIPE, stdout=logf, stderr=subprocess.STDOUT, cwd=private,
                                    env=_child_env(private), start_new_session=True)
            proc.stdin.write(json.dumps(config).encode())
            proc.stdin.close()
            try:
                proc.wait(timeout=limits.time_s)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        elapsed = time.perf_counter() - t0
        tail = _tail(private / "log.txt")
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
            if sig:
                name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
                cause = "memory" if "MemoryError" in tail or "bad_alloc" in tail else "crash"
                raise ScorerFailure(cause, f"scorer process died with signal {name}", tail)
            cause = "memory" if "MemoryError" in tail or "bad_alloc" in tail else "crash"
            raise ScorerFailure(cause, f"scorer process exited with status {code} without writing scores", tail)
        n = len(data.test)
        try:
            scores = validate_scores(np.load(private / "scores.npy", allow_pickle=False), n, scorer=job.scorer_label)
            extra = {}
            if (private / "score_supervised.npy").exists():
                extra["score_supervised"] = validate_scores(np.load(private / "score_supervised.npy"), n,
                                                            scorer="supervised")
        except ScorerOutputError as exc:
            raise ScorerFailure("bad_output", str(exc), tail) from None
        meta = out["scorer"]
        isolation_info = json.loads((private / "isolation.json").read_text()) \
            if (private / "isolation.json").exists() else {}
        meta["isolation"] = {"mode": "child", "time_limit_s": limits.time_s, "memory_limit_mb": limits.memory_mb,
                             **isolation_info}
        timings = dict(out.get("timings", {}))
        timings["child_wall"] = elapsed
        if log:
            log(f"isolated scorer finished in {elapsed:.1f} s ({isolation_info.get('network', '?')})")
        return scores, extra, meta, timings
    finally:
        shutil.rmtree(private, ignore_errors=True)


# -- launcher (namespaces, limits, exec) -------------------------------------------------------------
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


def _hide_except(libc: Any, path: str, keep: list[str], *, temp: bool) -> str | None:
    """Cover ``path`` with an empty tmpfs, then bind the folders in ``keep`` (inside it) back.

    The kept folders are opened before the mount, so the bind reaches the originals beneath it.
    A temp root stays writable for the scorer's own temporary files; other folders are read-only.
    """
    fds = [(k, os.open(k, os.O_RDONLY | os.O_DIRECTORY)) for k in keep if os.path.isdir(k)]
    try:
        err = _mount(libc, "tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | (0 if temp else MS_NOEXEC),
                     "mode=1777" if temp else "size=1m,mode=0755")
        if err:
            return err
        for folder, fd in fds:
            os.makedirs(folder, exist_ok=True)
            err = _mount(libc, f"/proc/self/fd/{fd}", folder, None, MS_BIND)
            if err:
                raise SystemExit(f"lhcad sandbox: cannot bind {folder} back over the hidden {path}: {err}")
        if not temp:
            _mount(libc, None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
        return None
    finally:
        for _, fd in fds:
            os.close(fd)


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
    import resource

    config = json.loads(sys.stdin.read() or "{}")
    libc = _libc()
    die_with_parent(libc)
    info: dict[str, Any] = {"namespaces": [], "notes": list(config.get("notes", []))}
    flags, notes = _unshare(libc) if config.get("namespaces", True) else (0, ["namespaces disabled"])
    info["notes"] += notes
    info["namespaces"] = [n for f, n in ((CLONE_NEWUSER, "user"), (CLONE_NEWNS, "mount"), (CLONE_NEWNET, "net"),
                                         (CLONE_NEWPID, "pid")) if flags & f]
    if flags & CLONE_NEWPID:  # the next child is pid 1 of the new namespace; it forks the scorer once more
        pid = os.fork()
        if pid:
            _relay(pid, private)
        die_with_parent(libc)
    hidden = []
    if flags & CLONE_NEWNS:
        err = _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
        if err:
            info["notes"].append(f"make / private: {err}")
        else:
            for mount in config.get("mounts", []):
                err = _hide_except(libc, mount["path"], mount["keep"], temp=mount["temp"])
                if err:
                    info["notes"].append(f"tmpfs over {mount['path']} failed: {err}")
                hidden.append(err is None)
                if mount["temp"] and err is None:
                    info["temp_root_hidden"] = True
            os.chdir(private)  # the cwd may have been covered
            if flags & CLONE_NEWPID:
                err = _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
                if err:
                    info["notes"].append(f"fresh /proc: {err}")
                else:
                    info["fresh_proc"] = True
    info["network"] = "netns+audit-hook" if flags & CLONE_NEWNET else "audit-hook"
    info["cache_hidden"] = "tmpfs" if hidden and all(hidden) else "scrubbed environment only"
    if config.get("left_visible"):
        info["cache_hidden"] += f" (left visible: {', '.join(config['left_visible'])})"
    if config.get("memory_mb"):
        limit = int(config["memory_mb"]) * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
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
        from benchmark.tasks import TaskData

        spec = json.loads((private / "in" / "spec.json").read_text())
        with open(private / "in" / "task.pkl", "rb") as handle:
            task = pickle.load(handle)
        views = {p.stem: EventSet.load(p) for p in (private / "in").glob("*.h5")}
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
