"""Result and leaderboard JSON is strict JSON and round-trips non-finite numbers."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmark.store import read_json, write_json


def _reject_constant(name: str):
    raise ValueError(f"non-standard JSON constant {name}")


def test_non_finite_numbers_are_strict_json_and_round_trip(tmp_path):
    payload = {"rejection": {"median": np.float64(np.inf), "lo": 12.5, "hi": float("inf")},
               "neg": -math.inf, "undefined": np.nan, "curve": np.array([1.0, np.inf]),
               "name": "top/qcd-vs-top"}
    path = tmp_path / "r.json"
    write_json(path, payload)
    strict = json.loads(path.read_text(), parse_constant=_reject_constant)  # any JSON reader
    assert strict["rejection"]["hi"] == "inf" and strict["neg"] == "-inf" and strict["undefined"] == "nan"
    back = read_json(path)
    assert back["rejection"] == {"median": math.inf, "lo": 12.5, "hi": math.inf}
    assert back["neg"] == -math.inf and math.isnan(back["undefined"])
    assert back["curve"] == [1.0, math.inf] and back["name"] == "top/qcd-vs-top"


def test_old_files_with_bare_infinity_still_read(tmp_path):
    path = tmp_path / "old.json"
    path.write_text('{"hi": Infinity, "x": NaN}')
    back = read_json(path)
    assert back["hi"] == math.inf and math.isnan(back["x"])


def test_published_leaderboard_is_strict_json():
    repo_board = Path(__file__).resolve().parents[1] / "leaderboard"
    for path in sorted(repo_board.glob("*.json")):
        try:
            json.loads(path.read_text(), parse_constant=_reject_constant)
        except ValueError as exc:
            pytest.fail(f"{path.name} is not strict JSON ({exc}); rebuild with `lhcad leaderboard`")
