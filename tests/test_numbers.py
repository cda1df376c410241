"""Tests of benchmark.numbers: the PDG rounding rule and the notation of every human-facing table."""
from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark import numbers as N

# ------------------------------------------------------------------------------------------
# the PDG rule
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, error, text",
    [
        # the three highest-order digits of the error decide: 100-354 -> two significant digits
        (0.4900, 0.0115, "0.490 ± 0.012"),
        (1.0, 0.000341, "1.00000 ± 0.00034"),
        (0.827, 0.0100, "0.827 ± 0.010"),
        (0.827, 0.0354, "0.827 ± 0.035"),
        # 355-949 -> one significant digit
        (0.827, 0.0355, "0.83 ± 0.04"),
        (0.827, 0.0949, "0.83 ± 0.09"),
        (0.5, 0.0456, "0.50 ± 0.05"),
        # 950-999 -> rounded up to 1000, two significant digits
        (0.5, 0.0097, "0.500 ± 0.010"),
        (0.5, 0.0999, "0.50 ± 0.10"),
        (0.5, 0.09996, "0.50 ± 0.10"),  # three digits round to 1000 themselves
        # PDG's own examples
        (1.0, 0.827, "1.0 ± 0.8"),
        (1.0, 0.957, "1.0 ± 1.0"),
        (1.0, 0.123, "1.00 ± 0.12"),
        # values to the error's decimal place, whatever their size
        (12345.0, 678.0, "12300 ± 700"),
        (250.4, 12.3, "250 ± 12"),
        (3.0, 120.0, "0 ± 120"),
        # negative values, and a value that rounds to zero loses its sign
        (-0.49, 0.0115, "-0.490 ± 0.012"),
        (-0.0004, 0.0123, "0.000 ± 0.012"),
        # half-up on the written decimal, not on the binary approximation
        (0.0125, 0.0115, "0.013 ± 0.012"),
        # a negative error is a magnitude
        (0.49, -0.0115, "0.490 ± 0.012"),
    ],
)
def test_pdg_rule(value, error, text):
    assert N.format_measurement(value, error) == text


def test_round_to_error_and_decimal_place():
    assert N.error_decimal_place(0.0115) == -3
    assert N.error_decimal_place(0.0456) == -2
    assert N.error_decimal_place(0.0097) == -3
    assert N.error_decimal_place(678.0) == 2
    assert N.round_to_error(0.49, 0.0115) == ("0.490", "0.012")
    assert N.round_to_error(1, 0.000341) == ("1.00000", "0.00034")
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="error must be positive and finite"):
            N.error_decimal_place(bad)


def test_huge_and_tiny_magnitudes_share_a_power_of_ten():
    assert N.format_measurement(1.234e8, 5.6e6) == "(1.23 ± 0.06)e8"
    assert N.format_measurement(1.234e8, 1.2e6) == "(1.234 ± 0.012)e8"
    assert N.format_measurement(1.2e-7, 3.4e-8) == "(1.20 ± 0.34)e-7"
    assert N.format_measurement(0.0, 1.0e-7) == "(0.0 ± 1.0)e-7"
    # inside [1e-4, 1e6) plain decimals
    assert N.format_measurement(999000.0, 1200.0) == "999000 ± 1200"
    assert N.format_measurement(0.00045, 0.00012) == "0.00045 ± 0.00012"


def test_errors_that_are_zero_nan_or_infinite():
    assert N.format_measurement(0.9, 0.0) == "0.900 ± 0"
    assert N.format_measurement(0.9, math.nan) == "0.900"
    assert N.format_measurement(0.9, None) == "0.900"
    assert N.format_measurement(0.9, math.inf) == "0.900 ± ∞"
    assert N.format_measurement(math.nan, 0.1) == "n/a"
    assert N.format_measurement(None, 0.1) == "n/a"


def test_asymmetric_errors():
    # the smaller error sets the decimal place; an open side is +inf
    assert N.format_measurement(25.0, error_low=10.2, error_high=math.inf) == "25 −10/+∞"
    assert N.format_measurement(0.5, error_low=0.0115, error_high=0.0456) == "0.500 −0.012/+0.046"
    assert N.format_measurement(0.5, error_low=0.02, error_high=0.02) == "0.500 ± 0.020"
    assert N.format_measurement(7.0, error_low=0.0, error_high=math.inf) == "7.00 −0/+∞"
    with pytest.raises(ValueError, match="both error_low and error_high"):
        N.format_measurement(1.0, error_low=0.1)


# ------------------------------------------------------------------------------------------
# values without an error, bounds, infinities
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, text",
    [
        (0.123456, "0.123"),
        (0.5, "0.500"),
        (1234.5, "1230"),
        (999.6, "1000"),
        (-2.71828, "-2.72"),
        (1.234e7, "1.23e7"),
        (9.996e6, "1.00e7"),
        (2.5e-6, "2.50e-6"),
        (0.0, "0"),
        (-0.0, "0"),
        (42, "42"),
        (np.int64(12345678), "12345678"),
        (np.float32(0.25), "0.250"),
        (True, "yes"),
        (np.bool_(False), "no"),
        (math.inf, "∞"),
        (-math.inf, "-∞"),
        (math.nan, "n/a"),
        (None, "n/a"),
    ],
)
def test_values_without_error(value, text):
    assert N.format_value(value) == text


def test_significant_digits_are_configurable():
    assert N.format_value(math.pi, digits=5) == "3.1416"
    assert N.format_value(math.pi, digits=1) == "3"


def test_lower_bounds_round_down():
    assert N.format_lower_bound(1000) == "> 1000"
    assert N.format_lower_bound(23456.9) == "> 23456"  # an effective count is rounded down
    assert N.format_lower_bound(12_345_678.9) == "> 1.23e7"
    assert N.format_lower_bound(19_999_999.0) == "> 1.99e7"  # never rounded up past the count
    for bad in (math.inf, math.nan, -1.0):
        with pytest.raises(ValueError, match="lower bound needs a finite count"):
            N.format_lower_bound(bad)
    assert N.format_measurement(math.inf, bound_count=24000) == "> 24000"
    assert N.format_measurement(math.inf) == "∞"
    assert N.format_measurement(math.inf, bound_count=math.nan) == "∞"
    assert N.format_measurement(-math.inf, bound_count=100) == "-∞"


# ------------------------------------------------------------------------------------------
# leaderboard bands
# ------------------------------------------------------------------------------------------


def test_format_band():
    # half the 16-84 % band is the error
    assert N.format_band({"median": 0.49, "lo": 0.47, "hi": 0.51}) == "0.490 ± 0.020"
    assert N.format_band({"median": 0.49, "lo": 0.4, "hi": 0.5}) == "0.49 ± 0.05"
    assert N.format_band({"median": 0.49, "lo": None, "hi": None}) == "0.490"
    assert N.format_band({"median": 0.9, "lo": 0.9, "hi": 0.9, "n": 1}) == "0.900 ± 0"
    assert N.format_band({"median": None}) == "n/a"
    assert N.format_band({"median": math.nan, "lo": math.nan, "hi": math.nan}) == "n/a"
    assert N.format_band({}) == "n/a"
    # an infinite median (rejection with no background passing in most seeds) is a lower bound
    band = {"median": math.inf, "lo": 800.0, "hi": math.inf}
    assert N.format_band(band, bound_count=1000) == "> 1000"
    assert N.format_band(band) == "∞"
    # a band open above: the finite side keeps its error
    assert N.format_band({"median": 25.0, "lo": 14.8, "hi": math.inf}) == "25 −10/+∞"
    # counts: a large-magnitude band shares a power of ten
    assert N.format_band({"median": 2.5e6, "lo": 2.4e6, "hi": 2.6e6}) == "(2.50 ± 0.10)e6"


# ------------------------------------------------------------------------------------------
# the leaderboard's use of the rule: cells, bounds, footnotes
# ------------------------------------------------------------------------------------------


def _entry(metrics_per_seed):
    from benchmark.leaderboard import Entry

    e = Entry("t", "generated", "s", None)
    e.records = [{"job": {"seed": i}, "metrics": m} for i, m in enumerate(metrics_per_seed)]
    return e


def test_leaderboard_cells_use_the_rule_and_bound_infinite_rejections():
    from benchmark.leaderboard import background_count, fmt

    e = _entry([{"rejection@eps_s=0.3": math.inf, "n_background": 1000, "n_background_effective": 812.4},
                {"rejection@eps_s=0.3": math.inf, "n_background": 1000, "n_background_effective": 815.0},
                {"rejection@eps_s=0.3": 400.0, "n_background": 1000, "n_background_effective": 820.0}])
    assert background_count(e) == 815.0  # the effective count the metric had, median over seeds
    assert fmt(e.summary("rejection@eps_s=0.3"), background_count(e)) == "> 815"
    # records from before n_background_effective existed: the plain count
    old = _entry([{"rejection@eps_s=0.3": math.inf, "n_background": 1000}])
    assert background_count(old) == 1000.0
    assert background_count(_entry([{}])) is None
    assert fmt({"median": 0.49, "lo": 0.47, "hi": 0.51}) == "0.490 ± 0.020"


def test_table_footnotes_explain_unresolved_and_bounded_cells():
    from benchmark.leaderboard import _markdown, table_notes

    header = ["scorer", "auc", "eps_s@eps_b=0.0001", "rejection@eps_s=0.3", "si_all", "max_sic"]
    rows = [["a", "0.500", "n/a", "> 5000", "n/a", "12.3 ± 0.4"],
            ["b", "0.90 ± 0.02", "0.110 ± 0.012", "250 ± 12", "1.10 ± 0.05", "n/a"]]
    notes = table_notes(header, rows)
    assert len(notes) == 4
    assert "eps_B = 0.0001" in notes[0] and "10000 events" in notes[0]
    assert notes[1].startswith("`> N` in `rejection@eps_s=0.3`")
    assert "0.01, 0.001, 0.0001" in notes[2]
    assert "low-statistics rule" in notes[3]
    assert table_notes(header, [rows[1][:3] + ["250 ± 12", "1.1", "2.0"]]) == []
    md = _markdown(header, rows)
    assert "| 0.500 " in md  # the table keeps the rounded text (no re-parsing into 0.5)
    assert md.endswith(notes[-1]) and notes[0] in md


def test_site_footnotes_are_escaped_html():
    from benchmark.site import _notes

    html_notes = _notes(["scorer", "max_sic"], [["a<b", "n/a"]])
    assert html_notes.startswith('<p class="note"><small>n/a in <code>max_sic</code>:')
    assert "`" not in html_notes
    assert _notes(["scorer", "auc"], [["a", "0.90 ± 0.02"]]) == ""
