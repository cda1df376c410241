"""Issue 16 item 7: Ctrl-C during `lhcad run` stops the queue, abandons the job in flight without
leaving partial files as results, says what finished and exits 130 without a traceback."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SLOW = '''
import time
import numpy as np
from benchmark.contract import BaseScorer, ScorerInfo

class SlowAfterFirst(BaseScorer):
    """Seed 0 is quick; every other seed takes a minute (the job in flight when Ctrl-C comes)."""
    info = ScorerInfo(name="slow", version="1", protocols=("unsupervised",), representation="jets")

    def fit(self, train, *, context):
        if context.seed != 0:
            (context.workdir / "partial.tmp").write_text("half done")
            time.sleep(60)
        return self

    def score(self, events):
        return events["jets"][:, 0, 3]
'''


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_stops_the_queue_and_exits_130(synth_registry, tmp_path, workers):
    scorer = tmp_path / "slow.py"
    scorer.write_text(SLOW)
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "benchmark.cli", "run", "--task", "synth/unsup", "--scorer", str(scorer),
           "--seeds", "5", "--bootstrap", "0", "--no-progress", "--no-isolation", "--workers", str(workers),
           "--results", str(results)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=tmp_path)
    folder = results / "synth/unsup/slow/generated"
    deadline = time.monotonic() + 120
    while not (folder / "seed0.json").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the first job never finished"
        time.sleep(0.2)
    time.sleep(1.5)  # the next job is in flight (sleeping in fit)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 130, err
    assert time.monotonic() - t0 < 30, "Ctrl-C must not wait for the queued or running jobs"
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "interrupted" in err and "finished: synth/unsup x slow [generated] seed=0" in err
    assert "not started:" in err and "abandoned:" in err
    assert sorted(p.name for p in folder.iterdir()) == ["seed0.json", "seed0.scores.h5"], list(folder.iterdir())
