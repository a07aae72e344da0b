"""Strict number parsing for uploaded cells.

Python's ``int()`` and ``float()`` are too lenient for uploads: they accept ``"1_000"``,
Arabic-Indic digits (``"١٢٣"``), ``"NaN"``, ``"inf"``, ``"1e309"`` and surrounding Unicode
spaces. Every numeric cell therefore goes through an ASCII-only regular expression first.

Documented forms
----------------
* Leading and trailing ASCII spaces/tabs are removed (spreadsheets pad cells); nothing else is.
* Whole numbers (counts, priority): ``[0-9]{1,9}`` — no sign, no decimal mark, no thousands
  separator. ``"1.000"`` and ``"1,000"`` are rejected rather than guessed.
* Decimal numbers (coordinates): ``-?[0-9]{1,3}([.,][0-9]{1,12})?`` — an optional minus, one to
  three integer digits, and at most ONE decimal mark which may be a dot or a comma. A cell with
  both a dot and a comma, or with two marks, is rejected (we never guess thousands separators).

Decimal comma rule
------------------
A comma inside a number cell is the decimal separator when it is the only separator character in
the cell, in every file: in a ``;``-separated CSV ``-6,2001`` is simply a cell, and in a
``,``-separated CSV the cell must be quoted (``"-6,2001"``) to be one cell at all. An unquoted
``-6,2001`` in a ``,``-separated file splits the row into one cell too many, which the reader
reports as a row error ("extra_cells"); the value is never truncated to ``-6``.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

_INT = re.compile(r"[0-9]{1,9}", re.ASCII)
_DECIMAL = re.compile(r"(-?)([0-9]{1,3})(?:[.,]([0-9]{1,12}))?", re.ASCII)
_ASCII_BLANKS = " \t"


class NumberError(ValueError):
    """A cell is not a number in a documented form; ``code`` names the problem."""

    def __init__(self, code: str, **params: object) -> None:
        self.code = code
        self.params = params
        super().__init__(code)


def parse_int(value: object, *, low: int, high: int) -> int:
    """Parse a whole number in ``[low, high]`` from a cell (text, or an XLSX number).

    Raises
    ------
    NumberError
        ``not_integer`` if the form is not documented, ``out_of_range`` if outside the bounds.
    """
    if isinstance(value, bool):
        raise NumberError("not_integer", value=str(value))
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise NumberError("not_integer", value=repr(value))
        if abs(value) > 2**53:
            raise NumberError("out_of_range", value=repr(value), low=low, high=high)
        number = int(value)
    elif isinstance(value, str):
        text = value.strip(_ASCII_BLANKS)
        if not _INT.fullmatch(text):
            raise NumberError("not_integer", value=_clip(value))
        number = int(text)
    else:
        raise NumberError("not_integer", value=_clip(str(value)))
    if not low <= number <= high:
        raise NumberError("out_of_range", value=number, low=low, high=high)
    return number


def parse_decimal(value: object) -> float:
    """Parse a coordinate-like decimal from a cell (text, or an XLSX number).

    The result is always finite. Bounds are checked by the caller, which knows whether a swap of
    latitude and longitude explains the values.

    Raises
    ------
    NumberError
        ``not_decimal`` for any undocumented form, NaN or infinity.
    """
    if isinstance(value, bool):
        raise NumberError("not_decimal", value=str(value))
    if isinstance(value, (int, float)):
        number = float(value) if abs(value) < 1e6 else math.inf
        if not math.isfinite(number):
            raise NumberError("not_decimal", value=_clip(repr(value)))
        return number
    if not isinstance(value, str):
        raise NumberError("not_decimal", value=_clip(str(value)))
    text = value.strip(_ASCII_BLANKS)
    match = _DECIMAL.fullmatch(text)
    if not match:
        raise NumberError("not_decimal", value=_clip(value))
    sign, whole, fraction = match.groups()
    # Decimal keeps "-6,2001" exact before the single rounding to float.
    return float(Decimal(f"{sign}{whole}.{fraction or '0'}"))


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
