"""Strict numeric parsing (SECURITY rows 20-23)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach.importing.numbers import NumberError, parse_decimal, parse_int


@pytest.mark.parametrize(
    "text",
    [
        "1_000",
        "١٢٣",
        "0x1A",
        "1e3",
        "1e309",
        "NaN",
        "nan",
        "inf",
        "-inf",
        "Infinity",
        "+12",
        "-5",
        "12.0",
        "1.000",
        "1,000",
        "1 000",
        "1\u00a0000",
        "\u200b12",
        "１２",
        "",
        "NULL",
        "N/A",
        "12abc",
        "9999999999",
    ],
)
def test_parse_int_rejects_undocumented_forms(text):
    """Whole numbers accept only ASCII digits; every lenient int()/float() form is refused
    (SECURITY row 22)."""
    with pytest.raises(NumberError):
        parse_int(text, low=0, high=100_000)


@pytest.mark.parametrize(("text", "expected"), [("0", 0), ("12", 12), (" 12 ", 12), ("\t7", 7)])
def test_parse_int_accepts_documented_forms(text, expected):
    """Digits with optional surrounding ASCII spaces or tabs parse exactly (SECURITY row 22)."""
    assert parse_int(text, low=0, high=100_000) == expected


@given(st.integers())
def test_parse_int_accepts_iff_within_cap(value):
    """Any integer (also > int64) is accepted iff 0 <= v <= 100000, as text or as an XLSX number
    (SECURITY row 23)."""
    accepted = 0 <= value <= 100_000
    for cell in (str(value), value):
        if accepted:
            assert parse_int(cell, low=0, high=100_000) == value
        else:
            with pytest.raises(NumberError):
                parse_int(cell, low=0, high=100_000)


@pytest.mark.parametrize(
    ("cell", "ok"),
    [(12.0, True), (12.5, False), (math.nan, False), (math.inf, False), (True, False)],
)
def test_parse_int_xlsx_values(cell, ok):
    """XLSX numbers must be finite and integral; booleans are not numbers (SECURITY row 22)."""
    if ok:
        assert parse_int(cell, low=0, high=100) == 12
    else:
        with pytest.raises(NumberError):
            parse_int(cell, low=0, high=100)


def test_parse_int_reports_out_of_range_code():
    """A well-formed number outside the bounds reports ``out_of_range`` with the bounds
    (SECURITY row 23)."""
    with pytest.raises(NumberError) as info:
        parse_int("6", low=1, high=5)
    assert info.value.code == "out_of_range"
    assert info.value.params["high"] == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-6.2001", -6.2001),
        ("-6,2001", -6.2001),
        ("106.8", 106.8),
        ("106,8", 106.8),
        (" 3.5742 ", 3.5742),
        ("98", 98.0),
        ("-0,5", -0.5),
    ],
)
def test_parse_decimal_accepts_dot_or_single_comma(text, expected):
    """A single dot or a single comma is the decimal mark; the value is exact, never truncated
    (SECURITY row 20)."""
    assert parse_decimal(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1e309",
        "NaN",
        "inf",
        "-inf",
        "1_0.5",
        "١٢٣",
        "0x1A",
        "+3.5",
        "1.234,5",
        "1,234.5",
        "1,2,3",
        "1.2.3",
        "3.",
        ".5",
        "NULL",
        "N/A",
        "-",
        "1234.5",
        "3,5742\u00a0",
        "",
    ],
)
def test_parse_decimal_rejects_undocumented_forms(text):
    """Scientific notation, NaN/inf, mixed or repeated marks and non-ASCII digits are refused
    (SECURITY rows 21 and 22)."""
    with pytest.raises(NumberError):
        parse_decimal(text)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_parse_decimal_xlsx_floats_are_finite(value):
    """XLSX floats come back unchanged when finite and moderate, else are rejected
    (SECURITY row 21)."""
    if math.isfinite(value) and abs(value) < 1e6:
        assert parse_decimal(value) == value
    else:
        with pytest.raises(NumberError):
            parse_decimal(value)
