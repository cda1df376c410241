"""Every `lhcad ...` command of README.md's code blocks runs, as written, on a fresh clone.

The commands are taken from the fenced code blocks in README order (a line may chain several with
``&&``; only the ``lhcad`` parts run, comments dropped) and run in a fresh ``git clone`` of this
checkout's HEAD, with its own package first on ``PYTHONPATH``, an empty data cache (the shipped
samples only) and no network needed.

Skipped, and why:

* ``lhcad fetch ...`` and anything with ``--source real``: need the network (real datasets);
* ``--executor slurm|htcondor|pbs|dask`` / ``--scheduler``: need a cluster;
* ``--suite full``: every task at its registered (real) size;
* ``lhcad generate ...``: Pythia generation of 200,000 events per class takes hours on 2 cores
  (generation itself is covered by tests/test_generate_*.py);
* ``lhcad run --suite quick ...`` (the main job): about 80 sandboxed jobs, far over this test's
  budget on 2 cores; :func:`test_quick_suite_plans_and_builds_on_the_shipped_samples` covers what
  broke on a fresh clone (sizes and data of every quick-suite task, every scorer at its preset).

One input the README leaves to the reader is made here: ``scores.csv`` for ``lhcad evaluate``,
from the ``events.h5`` that the README's ``lhcad export`` line wrote just before.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SKIP = [
    (re.compile(r"^lhcad fetch\b"), "needs the network"),
    (re.compile(r"--source real\b"), "needs the real datasets (network)"),
    (re.compile(r"--executor (slurm|htcondor|pbs|dask)\b|--scheduler\b"), "needs a cluster"),
    (re.compile(r"--suite full\b"), "registered (real-data) sizes"),
    (re.compile(r"^lhcad generate\b"), "hours of Pythia generation"),
    (re.compile(r"--suite quick\b"), "the main job: ~80 jobs, covered by the quick-suite test below"),
]


def readme_commands(text: str) -> list[str]:
    """The ``lhcad ...`` commands of the fenced code blocks, in order, comments stripped."""
    commands = []
    for block in re.findall(r"```(?:bash|sh|console)?\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            for part in line.split("&&"):
                part = part.split(" #")[0].strip()
                if part.startswith("lhcad "):
                    commands.append(part)
    return commands


def skip_reason(command: str) -> str | None:
    return next((why for pattern, why in SKIP if pattern.search(command)), None)


def _write_scores(folder: Path) -> None:
    import h5py

    with h5py.File(folder / "events.h5") as f:
        ids, pt = f["test/event_id"][:].tolist(), f["test/jets"][:, 0, 3].tolist()
    (folder / "scores.csv").write_text("event_id,score\n" + "".join(f"{i},{m}\n" for i, m in zip(ids, pt)))


def test_readme_lists_the_commands_it_should():
    commands = readme_commands(README.read_text())
    assert "lhcad list tasks" in commands and any(c.startswith("lhcad evaluate") for c in commands)
    assert [c for c in commands if skip_reason(c) is None], "nothing left to run"


@pytest.mark.slow
def test_every_readme_command_runs_on_a_fresh_clone(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = {**os.environ, "PYTHONPATH": str(clone), "LHCAD_DATA": str(tmp_path / "cache")}
    env.pop("LHCAD_REGISTRY", None)
    lhcad = [sys.executable, "-c", "import sys; from benchmark.cli import main; sys.exit(main())"]
    ran, skipped = [], []
    for command in readme_commands(README.read_text()):
        why = skip_reason(command)
        if why:
            skipped.append(f"{command}  ({why})")
            continue
        if command.startswith("lhcad evaluate"):
            _write_scores(clone)
        argv = shlex.split(command)[1:]
        done = subprocess.run([*lhcad, *argv, *(["--no-progress"] if argv[0] == "run" else [])], cwd=clone,
                              env=env, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, f"README command failed: {command}\n{done.stderr[-3000:]}"
        assert "Traceback" not in done.stderr, f"{command}\n{done.stderr[-3000:]}"
        ran.append(command)
    assert len(ran) >= 8, ran
    print("ran:", *ran, "skipped:", *skipped, sep="\n  ")
    tables = (clone / "leaderboard/top__qcd-vs-top.md").read_text()
    assert "hlf-gmm" in tables and "train/test" in tables


def test_quick_suite_plans_and_builds_on_the_shipped_samples(tmp_path, monkeypatch):
    """What the main job needs from a fresh clone: every quick-suite task passes its size check at
    the suite's sizes and builds its data from the shipped samples, each scorer at its preset."""
    from benchmark.registry import load_registry
    from benchmark.runner import jobs_for_suite
    from benchmark.tasks import build_task_data

    monkeypatch.delenv("LHCAD_REGISTRY", raising=False)
    jobs = jobs_for_suite("quick", results_dir=tmp_path, n_boot=0)
    suite = load_registry().suite("quick")
    assert {j.task for j in jobs} == set(suite.tasks) and len({j.seed for j in jobs}) == suite.seeds
    for task in suite.tasks:
        job = next(j for j in jobs if j.task == task)
        data = build_task_data(load_registry().task(task, source=job.source), job.source, 0, injection=job.injection, sizes=job.sizes)
        assert len(data.train) > 0 and len(data.test) >= 100
