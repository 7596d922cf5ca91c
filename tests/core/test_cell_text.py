"""How a value reads as text in every text output (src/core/cell_text.py)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.core.cell_text import cell_text, number_text, number_texts, numeric_columns


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (290001.55999999994, "290001.56"),  # SUM(total) of the README's quick tour
        (60603.460000000094, "60603.46"),  # noise reaching the 15th digit
        (60603.459999999906, "60603.46"),
        (162.0, "162"),
        (209.94, "209.94"),
        (0.1, "0.1"),
        (0.1 + 0.2, "0.3"),
        (-0.0, "0"),
        (-60603.460000000094, "-60603.46"),
        (1e6 / 7, "142857.142857143"),  # real digits are kept, 15 of them
        (1 / 3, "0.333333333333333"),
        (999999999999999.0, "999999999999999"),  # a whole number is never shortened
        (1234567890123.45, "1234567890123.45"),
        (1e20, "1E+20"),
        (1.5e-7, "1.5E-07"),
        (0.000123456789012345, "0.000123456789012345"),
        (float("nan"), "nan"),
        (float("-inf"), "-inf"),
    ],
)
def test_floats_read_as_excel_shows_them(value: float, shown: str) -> None:
    assert number_text(value) == shown
    assert cell_text(value) == shown


def test_other_values() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert cell_text(None) == ""
    assert cell_text(True) == "true"
    assert cell_text(12345678901234567) == "12345678901234567"  # ints are exact
    assert cell_text(Decimal("0E-10")) == "0.0000000000"
    assert cell_text(datetime(2026, 7, 1, 10, tzinfo=UTC), berlin) == "2026-07-01 12:00:00"
    assert cell_text(datetime(2026, 7, 1, 10, 0, 0, 5000)) == "2026-07-01 10:00:00.005000"
    assert cell_text(date(2026, 1, 31)) == "2026-01-31"
    assert cell_text(b"\x00\xff") == "0x00ff"
    assert cell_text(b"x" * 40) == "<40 bytes>"
    assert cell_text("a\nb\tc") == "a b c"
    assert cell_text({"a": [1]}) == '{"a": [1]}'


def test_numeric_columns_hold_numbers_and_nulls_only() -> None:
    rows = [[1, "a", None, 2.5, True], [None, "b", None, "n/a", False], [Decimal(3), 1, None, 1, 0]]
    assert numeric_columns(rows, 5) == [True, False, False, False, False]


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.floats()
        | st.sampled_from(
            [0.1 + 0.2, 60603.460000000094, -0.0, 1e15, 290001.55999999994, 1 / 7, 1e-7]
        ),
        max_size=20,
    )
)
def test_number_texts_is_number_text_over_a_column(values: list[float]) -> None:
    assert number_texts(values) == [number_text(v) for v in values]


def _rule(value: float) -> str:
    """The module docstring's rule, step by step, without the shortcut that leaves most
    15-digit texts unchecked (``_NOISE_TAILS``): the oracle that shortcut must agree with."""
    if not math.isfinite(value):
        return str(value)
    text = format(value, ".15g")
    digits = text.partition("e")[0].lstrip("-").replace(".", "").lstrip("0")
    if len(text) > 15 and len(digits) >= 15 and not value.is_integer():
        short = format(value, ".13g")
        if abs(float(short) - value) <= abs(value) * 1e-14:
            text = short
    if "e" in text:
        return text.upper()
    return "0" if text == "-0" else text


@settings(max_examples=300, deadline=None)
@given(
    st.integers(10**12, 10**13 - 1),
    st.integers(-18, 18),
    st.booleans(),
)
def test_values_near_a_13_digit_decimal_read_as_the_rule_says(
    mantissa: int, exponent: int, negative: bool
) -> None:
    # Every double within ~70 steps either side of a 13-digit decimal: the band the noise
    # rule shortens (~45 steps at most) and past it, so the shortcut's edges are crossed
    base = float(f"{'-' if negative else ''}{mantissa}e{exponent}")
    values = [base]
    up = down = base
    for _ in range(70):
        up, down = math.nextafter(up, math.inf), math.nextafter(down, -math.inf)
        values += [up, down]
    assert [number_text(v) for v in values] == [_rule(v) for v in values]
    assert number_texts(values) == [_rule(v) for v in values]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.floats(), max_size=30))
def test_any_float_reads_as_the_rule_says(values: list[float]) -> None:
    assert number_texts(values) == [_rule(v) for v in values]
    assert [number_text(v) for v in values] == [_rule(v) for v in values]
