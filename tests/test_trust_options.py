"""Issue 16 item 6: every numeric option is validated up front, with a message naming it."""
from __future__ import annotations

import pytest

from benchmark.cli import main

RUN = ["run", "--scorer", "random", "--task", "synth/unsup"]


@pytest.mark.parametrize("option, value, rule", [
    ("--time-limit", "0", "must be > 0"), ("--time-limit", "-3", "must be > 0"),
    ("--memory-limit", "-5", "must be > 0"), ("--workers", "0", "must be > 0"),
    ("--seeds", "0", "must be > 0"), ("--bootstrap", "-1", "must be >= 0"),
    ("--retries", "-1", "must be >= 0"), ("--train-size", "0", "must be > 0"),
    ("--test-size", "-10", "must be > 0"), ("--injections", "-5", "must be >= 0"),
    ("--time-limit", "nan", "must be > 0"), ("--workers", "two", "expected a whole number"),
])
def test_run_options_are_validated(synth_registry, capsys, option, value, rule):
    with pytest.raises(SystemExit) as stop:
        main([*RUN, option, value])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: {rule}" in err, err
    assert "no scorer supports" not in err


@pytest.mark.parametrize("argv", [
    ["export", "--task", "synth/unsup", "--out", "x.h5", "--train-size", "0"],
    ["evaluate", "--task", "synth/unsup", "--scores", "s.csv", "--test-size", "0"],
    ["evaluate", "--task", "synth/unsup", "--scores", "s.csv", "--seed", "-1"],
    ["generate", "top", "--events", "0"],
    ["generate", "top", "--workers", "0"],
])
def test_other_commands_validate_sizes_and_counts(synth_registry, capsys, argv):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and "must be" in capsys.readouterr().err


def test_repeated_list_options_accumulate():
    """`--scorer A --scorer B` runs both (argparse's default would keep only B, silently)."""
    from benchmark.cli import build_parser

    args = build_parser().parse_args(["run", "--task", "t/a", "--task", "t/b", "--scorer", "x", "y",
                                      "--scorer", "z", "--seed-list", "0", "--seed-list", "3",
                                      "--injections", "0", "--injections", "500"])
    assert args.task == ["t/a", "t/b"] and args.scorer == ["x", "y", "z"]
    assert args.seed_list == [0, 3] and args.injections == [0, 500]
