"""Numbers as a physicist reads them: each value rounded to the precision of its error.

One rule for every human-facing table (Markdown, CSV, HTML); JSON keeps full precision.

* **With an error** (the Particle Data Group convention, PDG "Introduction", rounding rule): the
  three highest-order digits of the error decide how many significant digits it keeps -- 100 to
  354: two; 355 to 949: one; 950 to 999: rounded up to 1000 and kept with two -- and the value is
  rounded to the same decimal place: ``0.4900 ± 0.0115`` -> ``0.490 ± 0.012``,
  ``1 ± 0.000341`` -> ``1.00000 ± 0.00034``, ``0.5 ± 0.0097`` -> ``0.500 ± 0.010``.
* **Without an error** (or with an error of zero): :data:`DEFAULT_SIGNIFICANT` significant digits;
  integers are shown whole.
* **Magnitudes** outside ``[1e-4, 1e6)`` switch to a shared power of ten: ``(1.23 ± 0.05)e6``.
* **Infinities**: an infinite value with a known sample size is a lower bound, ``> 1000`` (the
  sample cannot resolve anything finer); without one it is ``∞``. NaN and None are ``n/a``.

Rounding is half-up (away from zero) on the shortest decimal form of the float, so ``0.0115``
rounds to ``0.012`` as written, not as its binary approximation 0.011499... would.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

__all__ = [
    "DEFAULT_SIGNIFICANT",
    "NOT_AVAILABLE",
    "error_decimal_place",
    "round_to_error",
    "format_value",
    "format_measurement",
    "format_lower_bound",
    "format_band",
]

#: Significant digits of a value shown without an error.
DEFAULT_SIGNIFICANT = 3
#: Text of an undefined number (NaN, None); tables explain it in a footnote.
NOT_AVAILABLE = "n/a"
INFINITY = "∞"
PLUS_MINUS = "±"
# Fixed-point notation for magnitudes in [_FIXED_LOW, _FIXED_HIGH), a shared power of ten outside.
_FIXED_LOW = 1e-4
_FIXED_HIGH = 1e6
# Enough digits for any float64 rounded at any decimal place within the fixed/scientific ranges.
_CONTEXT = Context(prec=400)


def _decimal(x: float) -> Decimal:
    """The shortest decimal that round-trips to ``x`` (``repr``), as a Decimal."""
    return Decimal(repr(float(x)))


def _is_missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def error_decimal_place(error: float) -> int:
    """Power of ten of the last digit kept for ``error`` (> 0, finite) by the PDG rule.

    ``0.0115`` -> -3 (two digits, ``0.012``); ``0.0456`` -> -2 (one digit, ``0.05``); ``0.0097``
    -> -3 (rounded up to ``0.010``, two digits).
    """
    err = float(error)
    if not (err > 0 and math.isfinite(err)):
        raise ValueError(f"error must be positive and finite, got {error!r}")
    d = _decimal(err)
    lead = d.adjusted()  # power of ten of the leading digit
    with localcontext(_CONTEXT):
        three = int(d.scaleb(2 - lead).to_integral_value(rounding=ROUND_HALF_UP))
    if three >= 1000:  # e.g. 0.09996: three digits round to 1000 -> 0.10, two digits
        return lead
    if three <= 354:
        return lead - 1
    if three <= 949:
        return lead
    return lead  # 950-999: round up to 1000 and keep two digits, i.e. the same decimal place


def _quantize(d: Decimal, place: int, rounding: str = ROUND_HALF_UP) -> Decimal:
    with localcontext(_CONTEXT):
        q = d.quantize(Decimal(1).scaleb(place), rounding=rounding)
    return q.copy_abs() if q == 0 else q  # never "-0.00"


def _text(d: Decimal) -> str:
    return format(d, "f")


def round_to_error(value: float, error: float) -> tuple[str, str]:
    """``value`` and ``error`` (> 0, finite) as decimal strings rounded by the PDG rule.

    Both end at the same decimal place, fixed-point; see :func:`format_measurement` for the
    notation with a shared power of ten.
    """
    place = error_decimal_place(error)
    return _text(_quantize(_decimal(value), place)), _text(_quantize(_decimal(error), place))


def _exponent(*xs: float) -> int:
    """Shared power of ten for numbers outside the fixed-point range (0 when inside it)."""
    big = max(abs(x) for x in xs)
    if big == 0 or _FIXED_LOW <= big < _FIXED_HIGH:
        return 0
    return _decimal(big).adjusted()


def _significant(x: float, digits: int, rounding: str = ROUND_HALF_UP) -> str:
    """``x`` (finite) with ``digits`` significant digits, in the module's notation."""
    if x == 0:
        return "0"
    d = _decimal(x)
    exp = _exponent(x)
    if exp:
        mant = _quantize(d.scaleb(-exp), -(digits - 1), rounding)
        if abs(mant) >= 10:  # 9.996e6 -> 10.0e6 -> 1.00e7
            exp += 1
            mant = _quantize(d.scaleb(-exp), -(digits - 1), rounding)
        return f"{_text(mant)}e{exp}"
    return _text(_quantize(d, d.adjusted() - digits + 1, rounding))


def _infinite(x: float) -> str:
    return INFINITY if x > 0 else f"-{INFINITY}"


def format_value(value: Any, digits: int = DEFAULT_SIGNIFICANT) -> str:
    """A number without an error: integers whole, floats to ``digits`` significant digits.

    ``n/a`` for None/NaN, ``∞``/``-∞`` for infinities, booleans as ``yes``/``no``.
    """
    kind = getattr(getattr(value, "dtype", None), "kind", "")  # numpy scalars
    if isinstance(value, bool) or kind == "b":
        return "yes" if value else "no"
    if _is_missing(value):
        return NOT_AVAILABLE
    if isinstance(value, int) or kind in ("i", "u"):
        return str(int(value))
    x = float(value)
    if math.isnan(x):
        return NOT_AVAILABLE
    if math.isinf(x):
        return _infinite(x)
    return _significant(x, digits)


def format_lower_bound(count: float) -> str:
    """``> N`` for an infinite value known only to exceed ``count`` (e.g. a rejection with no
    background event passing: it exceeds the number of test background events). Rounded down, so
    the bound stays true."""
    c = float(count)
    if not (c >= 0 and math.isfinite(c)):
        raise ValueError(f"a lower bound needs a finite count >= 0, got {count!r}")
    if c < _FIXED_HIGH:
        return f"> {math.floor(c)}"
    return f"> {_significant(c, DEFAULT_SIGNIFICANT, ROUND_FLOOR)}"


def format_measurement(
    value: Any,
    error: Any = None,
    *,
    error_low: Any = None,
    error_high: Any = None,
    bound_count: float | None = None,
) -> str:
    """``value ± error`` rounded by the PDG rule, or ``value −lo/+hi`` for unequal errors.

    ``error`` is symmetric; ``error_low``/``error_high`` (both given) an asymmetric pair, of
    which the smaller finite one sets the decimal place (an infinite side prints as ``+∞``).
    Without a usable error (None, NaN) the value gets :func:`format_value`; an error of zero
    prints the value that way followed by ``± 0``. An infinite value prints as
    ``> bound_count`` when that is given (:func:`format_lower_bound`), else as ``∞``.
    """
    if _is_missing(value) or math.isnan(float(value)):
        return NOT_AVAILABLE
    v = float(value)
    if math.isinf(v):
        if v > 0 and bound_count is not None and not _is_missing(bound_count) and math.isfinite(bound_count):
            return format_lower_bound(bound_count)
        return _infinite(v)
    if error_low is not None or error_high is not None:
        if error_low is None or error_high is None:
            raise ValueError("give both error_low and error_high, or neither")
        lo, hi = abs(float(error_low)), abs(float(error_high))
        if math.isnan(lo) or math.isnan(hi):
            return format_value(v)
        if lo == hi:
            error = lo
        else:
            return _asymmetric(v, lo, hi)
    if error is None or _is_missing(error) or math.isnan(float(error)):
        return format_value(v)
    err = abs(float(error))
    if math.isinf(err):
        return f"{format_value(v)} {PLUS_MINUS} {INFINITY}"
    if err == 0:
        return f"{format_value(v)} {PLUS_MINUS} 0"
    exp = _exponent(v, err)
    place = error_decimal_place(err) - exp
    val = _text(_quantize(_decimal(v).scaleb(-exp), place))
    unc = _text(_quantize(_decimal(err).scaleb(-exp), place))
    return f"({val} {PLUS_MINUS} {unc})e{exp}" if exp else f"{val} {PLUS_MINUS} {unc}"


def _asymmetric(v: float, lo: float, hi: float) -> str:
    """``value −lo/+hi``; the smaller positive finite error sets the decimal place."""
    finite = [e for e in (lo, hi) if math.isfinite(e) and e > 0]
    if not finite:
        down = INFINITY if math.isinf(lo) else "0"
        up = INFINITY if math.isinf(hi) else "0"
        return f"{format_value(v)} −{down}/+{up}"
    exp = _exponent(v, *finite)
    place = error_decimal_place(min(finite)) - exp

    def side(e: float) -> str:
        return INFINITY if math.isinf(e) else _text(_quantize(_decimal(e).scaleb(-exp), place))

    text = f"{_text(_quantize(_decimal(v).scaleb(-exp), place))} −{side(lo)}/+{side(hi)}"
    return f"({text})e{exp}" if exp else text


def format_band(band: Mapping[str, Any], *, bound_count: float | None = None) -> str:
    """A leaderboard cell from ``{"median", "lo", "hi"}`` (a seed band or bootstrap interval).

    The error is half the band, ``(hi - lo) / 2``, rounded by the PDG rule with the median; a band
    open on one side (an infinite edge) prints as ``median −(median - lo)/+∞``; no band: the
    median alone. An infinite median is ``> bound_count`` (the effective number of test
    background events, for rejections) when given.
    """
    med = band.get("median")
    if _is_missing(med) or math.isnan(float(med)):
        return NOT_AVAILABLE
    lo, hi = band.get("lo"), band.get("hi")
    if _is_missing(lo) or _is_missing(hi) or math.isinf(float(med)):
        return format_measurement(med, bound_count=bound_count)
    m, lo, hi = float(med), float(lo), float(hi)
    if math.isinf(lo) or math.isinf(hi):
        return format_measurement(m, error_low=m - lo, error_high=hi - m)
    return format_measurement(m, (hi - lo) / 2.0)
