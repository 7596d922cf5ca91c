"""How a value reads as text in a report: one rule, for every text output.

The PDF table, the email preview (plain text and HTML) and ``run --dry-run`` show
cells through :func:`cell_text`; the CSV writes numbers through :func:`number_text`
(its other values keep their machine-readable ISO forms). So ``SUM(total)`` reads
``290001.56`` everywhere, never ``290001.55999999994``; only the xlsx keeps the float
itself, since a spreadsheet cell holds the number and shows it the same way.

Numbers follow Excel's General format, which people compare the files against:

* a float shows at most 15 significant digits, without trailing zeros or a trailing
  ``.0``: ``290001.56``, ``162``, ``209.94``, ``0.1``. Fifteen is what Excel keeps
  and what a double holds exactly in decimal (DBL_DIG), so the binary noise of the
  16th and 17th digits (``0.1 + 0.2`` is ``0.30000000000000004``) is never shown;
* a sum of many cents can carry its rounding noise up into the 15th digit
  (``SUM(total)`` of the demo gives ``60603.460000000094``, ``60603.4600000001`` at 15
  digits, which Excel hides only because a default-width cell shows 11 characters).
  So when all 15 digits are used and the value is within 1E-14 of itself (relative)
  of a 13-digit decimal, that decimal is shown: ``60603.46``. A value that really has
  14-15 digits (``142857.142857143``, ``0.333333333333333``) keeps them, and so does a
  whole number (``999999999999999``);
* from 1E+15 up, and below 1E-4, in exponent form as Excel writes it (``1E+20``,
  ``1.5E-07``); ``-0.0`` shows ``0``; NaN and infinities as ``nan``, ``inf``, ``-inf``;
* int and Decimal show all their digits (they are exact: a 16-digit id or a
  ``numeric(30, 10)`` sum stays as the database gave it; Decimal never in exponent form).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from itertools import compress, repeat
from operator import itemgetter, le, lt, mul, sub
from typing import Any
from zoneinfo import ZoneInfo

#: Significant digits a float shows: Excel's General format, and a double's exact decimal digits.
SIGNIFICANT_DIGITS = 15
#: Bytes shown as hex in a cell; longer values show their size.
BYTES_SHOWN = 32

_CONTROL = re.compile("[\x00-\x1f\x7f]+")
_NUMBER_TYPES = frozenset({int, float, Decimal})
_FLOAT_FORMAT = f".{SIGNIFICANT_DIGITS}g"
#: Digits tried when all 15 are used, and how close (relative) they must come: the noise
#: of summing cents (~1E-15) passes; a 14th and 15th digit of real data do not.
_SHORT_FORMAT, _NOISE = ".13g", 1e-14
#: The last two characters of a 15-digit text that may be that close to a 13-digit
#: decimal, so the only ones worth the check: within 1E-14 (relative) of a 13-digit
#: decimal is within ~10.6 units of the 15th digit of a multiple of 100 of them, so its
#: last two digits are 00-10 or 90-99 (12 and 88 leave room for the check's own
#: rounding). A point among the last two, or an exponent, and the check runs anyway.
#: (A text whose 15th digit would be 0 is shorter: the format drops trailing zeros.)
_NOISE_TAILS = frozenset(
    [f"{n:02d}" for n in (*range(13), *range(88, 100))] + [f".{d}" for d in range(10)]
)
_TAIL = itemgetter(slice(-2, None))


def number_text(value: float) -> str:
    """A float as Excel's General format shows it (see the module docstring)."""
    if not math.isfinite(value):
        return str(value)
    text = format(value, _FLOAT_FORMAT)
    if (
        len(text) > SIGNIFICANT_DIGITS
        and (text[-2:] in _NOISE_TAILS or "e" in text)
        and _all_digits_used(text)
        and not value.is_integer()
    ):
        short = format(value, _SHORT_FORMAT)
        if abs(float(short) - value) <= abs(value) * _NOISE:
            text = short
    if "e" in text:  # 1e+20 -> 1E+20, 1.5e-07 -> 1.5E-07, as Excel writes them
        return text.upper()
    return "0" if text == "-0" else text


def number_texts(values: Sequence[float]) -> list[str]:
    """:func:`number_text` of each value: the same rule, its steps mapped over the column
    (the CSV writes a column of floats this way)."""
    texts = list(map(format, values, repeat(_FLOAT_FORMAT)))
    # All 15 digits used: the ones that may carry noise (a shorter text has no 15th digit)
    long = list(compress(range(len(texts)), map(lt, repeat(SIGNIFICANT_DIGITS), map(len, texts))))
    if long and "e" not in "".join(map(texts.__getitem__, long)):  # see _NOISE_TAILS
        tails = map(_TAIL, map(texts.__getitem__, long))
        long = list(compress(long, map(_NOISE_TAILS.__contains__, tails)))
    if long:
        numbers = list(map(values.__getitem__, long))
        shorts = list(map(format, numbers, repeat(_SHORT_FORMAT)))
        errors = map(abs, map(sub, map(float, shorts), numbers))
        limits = map(mul, map(abs, numbers), repeat(_NOISE))
        for k in compress(range(len(long)), map(le, errors, limits)):  # the close ones
            if _all_digits_used(texts[long[k]]) and not numbers[k].is_integer():
                texts[long[k]] = shorts[k]
    joined = "\x00".join(texts)  # one look at the whole column
    if "e" in joined or "\x00-0\x00" in f"\x00{joined}\x00":
        return [text.upper() if "e" in text else "0" if text == "-0" else text for text in texts]
    return texts


def _all_digits_used(text: str) -> bool:
    digits = text.partition("e")[0].lstrip("-").replace(".", "").lstrip("0")
    return len(digits) >= SIGNIFICANT_DIGITS


def is_number(value: Any) -> bool:
    """True for int, float and Decimal values (a bool is not a number here)."""
    return is_number_type(type(value))


def is_number_type(kind: type) -> bool:
    """True for int, float and Decimal and their subclasses, but bool: the values of
    such a type are numbers (a column's values are checked once per type this way)."""
    return kind in _NUMBER_TYPES or (issubclass(kind, int | float | Decimal) and kind is not bool)


def numeric_columns(rows: Sequence[Sequence[Any]], width: int) -> list[bool]:
    """Which columns to right-align: those with a number and nothing else but NULLs."""
    numeric = [False] * width
    mixed = [False] * width
    for row in rows:
        for i, value in enumerate(row[:width]):
            if value is None:
                continue
            if is_number(value):
                numeric[i] = True
            else:
                mixed[i] = True
    return [n and not m for n, m in zip(numeric, mixed, strict=True)]


def scalar_text(value: Any) -> str | None:
    """A boolean or a number (float, Decimal) as every text output writes it (the CSV
    too); None for any other value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number_text(value)
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else str(value)
    return None


def cell_text(value: Any, zone: ZoneInfo | None = None) -> str:
    """A value as one line of text for a table cell.

    NULL is empty; booleans ``true`` / ``false``; numbers as :func:`number_text` says;
    a date-time with a zone is shown in ``zone`` (the task's) without its offset, one
    without a zone as it is stored; dates and times in ISO form; bytes as ``0x`` + hex
    (up to 32 bytes, else their size); JSON values as JSON; line breaks and other
    control characters become spaces.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return _CONTROL.sub(" ", value)
    scalar = scalar_text(value)
    if scalar is not None:
        return scalar
    if isinstance(value, datetime):
        moment: datetime = value
        if moment.tzinfo is not None and zone is not None:
            moment = moment.astimezone(zone).replace(tzinfo=None)
        return moment.isoformat(sep=" ", timespec="auto" if moment.microsecond else "seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return "0x" + data.hex() if len(data) <= BYTES_SHOWN else f"<{len(data)} bytes>"
    if isinstance(value, dict | list):
        return _CONTROL.sub(" ", json.dumps(value, ensure_ascii=False, default=str))
    return _CONTROL.sub(" ", str(value))
