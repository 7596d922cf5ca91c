"""Sheet cells from database text, a column at a time (the xlsx writer's fast path).

A :class:`~src.core.text_batch.TextBatch` holds each column as the database wrote it.
Most of that text is already what a cell needs (an integer's digits, a numeric's exact
decimal digits, plain text), so a column becomes cells with a few whole-column string
operations instead of a Python call per value; dates and times become Excel serials
through small caches (a report's dates repeat). Whatever is not plainly one of those
(NULL aside) goes to the per-value rules of ``xlsx_cells.py`` through the writer's
``value_cell``, so both paths write the same cells:

* integers of up to 15 characters; longer ones per value (16+ digits are text);
* numeric and double digits; a column holding NaN or Infinity per value (text cells);
  a double's integral text gets ``.0`` (``100`` -> ``100.0``), as Python writes it, so
  it reads back as a float;
* booleans, dates and values of other types (time, interval, json...) by their text,
  each distinct text rendered once per column;
* timestamps (and timestamptz, written by the database in the task's zone) as serial
  days computed like ``Cells.datetime_``; whole seconds as the day's number and the time
  of day's fraction to 18 decimals (the same double once read: ``_fraction`` says why);
  a date before 1900-03-01, a BC date or ``infinity`` per value;
* text without ``& < >``, backslash escapes, characters XML cannot carry, a leading or
  trailing space, a formula's first character or more than Excel's 32,767 characters;
  the others per value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, timedelta
from itertools import repeat
from operator import add, floordiv, itemgetter, methodcaller, sub, truediv
from typing import Any

from src.core.text_batch import NULL, TextBatch, TextKind, unescape
from src.services.export.xlsx_cells import (
    EPOCH_DATE,
    EPOCH_DATETIME,
    EXCEL_MAX_CELL_CHARS,
    FORMULA_START,
    MIN_DATE,
)
from src.services.export.xlsx_package import S_DATETIME

#: Per column: (index, value) -> the cell of that value, by the writer's rules.
ValueCell = Callable[[int, Any], str]

EMPTY = "<c/>"
#: Distinct texts remembered per column; past this a cache starts again.
CACHE_SIZE = 100_000
#: Text longer than this is not cached (it may be cut, which the writer counts per cell).
CACHE_TEXT = 64
_MICROSECOND = timedelta(microseconds=1)
_DAY_US = timedelta(days=1) // _MICROSECOND
#: The first timestamp text that becomes a serial; a text after "9..." is no timestamp.
_FIRST_SERIAL = MIN_DATE.isoformat()
_WALL_CLOCK = methodcaller("replace", tzinfo=None)
_DAY_TEXT, _CLOCK_TEXT = itemgetter(slice(0, 10)), itemgetter(slice(11, 19))
# NUL joins a column's fields: PostgreSQL text cannot hold it, and COPY escapes tabs and
# line breaks, so it never appears in a field.
_SEP = "\x00"
# A printable field holds no character XML cannot carry and no white space but " ".
_FIRST_NOT_PLAIN = (*FORMULA_START, " ")
_NOT_PLAIN_FIRST = re.compile(_SEP + "[" + re.escape("".join(_FIRST_NOT_PLAIN)) + "]")
_NUMBERS = (TextKind.INTEGER, TextKind.DECIMAL, TextKind.FLOAT)
_NEXT_ROW = '</row><row r="'
_TEXT_OPEN, _TEXT_CLOSE = '<c t="inlineStr"><is><t>', "</t></is></c>"


class TextCells:
    """Cell XML for the columns of text batches; one instance per writer (its caches)."""

    def __init__(
        self,
        zone: Any,
        styles: Sequence[int | None],
        value_cell: ValueCell,
        by_value: Sequence[bool] = (),
    ) -> None:
        self.zone = zone
        #: Per shown column: the style of its number format, None for the cell's own
        self.styles = list(styles)
        self.value_cell = value_cell
        #: Per shown column: whether its cells depend on the value, not only its type (a
        #: boolean format's words, for 0 / 1 too): each distinct text through value_cell
        self.by_value = list(by_value) or [False] * len(self.styles)
        self._caches: dict[int, dict[str, str]] = {}
        #: ``YYYY-MM-DD`` -> its serial day, ``HH:MM:SS`` -> its fraction of a day
        self._days: dict[str, str] = {}
        self._clocks: dict[str, str] = {}

    def sheet_rows(self, batch: TextBatch, first: int) -> str:
        """The ``<row>`` elements of a batch, numbered from ``first``."""
        n, width = len(batch), batch.width
        if n == 0:
            return ""
        # Put together by slice assignment and one join, not a call per row: each row is
        # '</row><row r="', its number, '">' (the first without '</row>'), its cells.
        stride = width + 3
        parts: list[str] = [""] * (n * stride + 1)
        parts[:-1:stride] = [_NEXT_ROW] * n
        parts[0] = _NEXT_ROW.removeprefix("</row>")
        parts[1:-1:stride] = map(str, range(first, first + n))
        parts[2:-1:stride] = ['">'] * n
        for i in range(width):
            parts[i + 3 : -1 : stride] = self.column(batch, i)
        parts[-1] = "</row>"
        return "".join(parts)

    def column(self, batch: TextBatch, i: int) -> list[str]:
        """The cells of column ``i`` of ``batch``."""
        fields = batch.fields[i]
        kind = batch.kind_of(i)
        style = self.styles[i]
        if self.by_value[i]:
            return self._by_text(batch, i)
        if kind in _NUMBERS:
            # an integer of 16+ characters may be past Excel's 15 digits: per value
            short = kind is not TextKind.INTEGER or max(map(len, fields), default=0) <= 15
            cells = self._numbers(fields, style, floats=kind is TextKind.FLOAT) if short else None
            if cells is not None:
                return cells
        elif kind is TextKind.TEXT:
            return self._text(batch, i)
        elif kind is TextKind.TIMESTAMP or (
            kind is TextKind.TIMESTAMPTZ and batch.form.zone == self.zone
        ):
            return self._timestamps(batch, i, S_DATETIME if style is None else style)
        elif kind is not TextKind.TIMESTAMPTZ:  # BOOLEAN, DATE, OTHER
            return self._by_text(batch, i)
        return self._per_value(batch, i)

    # -- the kinds

    def _numbers(
        self, fields: list[str], style: int | None, floats: bool = False
    ) -> list[str] | None:
        open_ = "<c><v>" if style is None else f'<c s="{style}"><v>'
        if floats:  # 100 -> 100.0, as Python writes a float (it reads back as one)
            fields = [f if "." in f or "e" in f or f == NULL else f + ".0" for f in fields]
        text = open_ + ("</v></c>" + _SEP + open_).join(fields) + "</v></c>"
        if NULL in fields:
            text = text.replace(open_ + NULL + "</v></c>", EMPTY)
        if "N" in text or "I" in text:  # NaN, Infinity: text cells, per value
            return None
        return text.split(_SEP) if fields else []

    def _text(self, batch: TextBatch, i: int) -> list[str]:
        fields = batch.fields[i]
        joined = _SEP.join(fields)
        if _plain_column(fields, joined):
            text = _TEXT_OPEN + joined.replace(_SEP, _TEXT_CLOSE + _SEP + _TEXT_OPEN) + _TEXT_CLOSE
            if NULL in fields:  # a cell starts only where a field does: no false match
                text = text.replace(_TEXT_OPEN + NULL + _TEXT_CLOSE, EMPTY)
            return text.split(_SEP) if fields else []
        value_cell = self.value_cell
        return [
            EMPTY
            if f == NULL
            else _TEXT_OPEN + f + _TEXT_CLOSE
            if _plain(f)
            else value_cell(i, unescape(f))
            for f in fields
        ]

    def _by_text(self, batch: TextBatch, i: int) -> list[str]:
        """Each distinct text rendered once (booleans, dates, times, intervals...)."""
        cache = self._caches.setdefault(i, {NULL: EMPTY})
        if len(cache) > CACHE_SIZE:
            cache.clear()
            cache[NULL] = EMPTY
        cells: list[Any] = list(map(cache.get, batch.fields[i]))
        if None in cells:
            for n, (cell, field) in enumerate(zip(cells, batch.fields[i], strict=True)):
                if cell is None:
                    cell = cells[n] = self.value_cell(i, batch.value(i, field))
                    if len(field) <= CACHE_TEXT:
                        cache[field] = cell
        return cells

    def _timestamps(self, batch: TextBatch, i: int, style: int) -> list[str]:
        """Serial days as ``Cells.datetime_`` computes them, the operations mapped over
        the column; a column with a value that is not a plain timestamp from 1900-03-01
        on (``infinity``, a BC date) per value."""
        fields = batch.fields[i]
        values = [f for f in fields if f != NULL] if NULL in fields else fields
        plain = bool(values) and min(values) >= _FIRST_SERIAL and max(values) < ":"
        if not plain or any(map(str.endswith, values, repeat("BC"))):
            return self._per_value(batch, i)
        try:
            if batch.kind_of(i) is TextKind.TIMESTAMP and set(map(len, values)) == {19}:
                serials = self._whole_seconds(values)
            else:
                serials = self._serials(values, batch.kind_of(i) is TextKind.TIMESTAMPTZ)
        except ValueError:  # a year past 9999
            return self._per_value(batch, i)
        open_ = f'<c s="{style}"><v>'
        text = open_ + ("</v></c>" + _SEP + open_).join(serials) + "</v></c>"
        cells = text.split(_SEP)
        if values is fields:
            return cells
        rendered = iter(cells)
        return [EMPTY if f == NULL else next(rendered) for f in fields]

    @staticmethod
    def _serials(values: list[str], zoned: bool) -> Iterator[str]:
        """Serial days as ``Cells.datetime_`` computes them: each step mapped over the
        column (a timestamptz written in the zone: its wall clock)."""
        moments = list(map(datetime.fromisoformat, values))
        if zoned:
            moments = list(map(_WALL_CLOCK, moments))
        # (moment - epoch) / 1 day is microseconds / 86,400,000,000: the same division
        micros = map(floordiv, map(sub, moments, repeat(EPOCH_DATETIME)), repeat(_MICROSECOND))
        return map(repr, map(truediv, micros, repeat(_DAY_US)))

    def _whole_seconds(self, values: list[str]) -> Iterator[str]:
        """Serial days of whole-second timestamps, written without a division: the day's
        number and the time of day's fraction, each from a cache (see _fraction)."""
        if len(self._days) > CACHE_SIZE or len(self._clocks) > CACHE_SIZE:
            self._days.clear()
            self._clocks.clear()
        days = list(map(self._days.get, map(_DAY_TEXT, values)))
        if None in days:
            for day in set(map(_DAY_TEXT, values)).difference(self._days):
                self._days[day] = str((date.fromisoformat(day) - EPOCH_DATE).days)
            days = list(map(self._days.__getitem__, map(_DAY_TEXT, values)))
        clocks = list(map(self._clocks.get, map(_CLOCK_TEXT, values)))
        if None in clocks:
            for clock in set(map(_CLOCK_TEXT, values)).difference(self._clocks):
                self._clocks[clock] = _fraction(clock)
            clocks = list(map(self._clocks.__getitem__, map(_CLOCK_TEXT, values)))
        return map(add, days, clocks)

    def _per_value(self, batch: TextBatch, i: int) -> list[str]:
        value_cell = self.value_cell
        return [value_cell(i, v) for v in batch.column(i)]


def _fraction(clock: str) -> str:
    """``HH:MM:SS`` as the fraction of a day, to 18 decimals (no trailing zeros).

    Why the day's number and these digits read as the same number as
    ``Cells.datetime_``'s division: the division gives the double nearest to the serial
    (day + seconds / 86,400). Written to 18 decimals the serial is off by at most 5E-19,
    and it lies at least 5.2E-18 from any point halfway between two doubles: from 61
    (1900-03-01) on, such a point is an odd multiple of 2^-48 or of a larger power of
    two, and 86,400 = 2^7 * 675, so the distance is a nonzero multiple of
    2^7 / (86,400 * 2^48). A reader rounding the text to the nearest double (Python,
    LibreOffice, Excel) gets that same double.
    """
    seconds = (int(clock[:2]) * 60 + int(clock[3:5])) * 60 + int(clock[6:8])
    if not seconds:
        return ""
    digits = (seconds * 10**18 * 2 + 86_400) // (2 * 86_400)  # rounded half up
    return ("." + str(digits).rjust(18, "0")).rstrip("0")


def _plain_column(fields: list[str], joined: str) -> bool:
    """Whether every field of a text column (``joined`` by NUL) goes into its cell as it
    is: no ``& < >``, no escape (every backslash starts a NULL), only printable characters
    (none that XML cannot carry, no white space but " "), no formula's first character or
    space first, no space last, none longer than a cell holds."""
    if "&" in joined or "<" in joined or ">" in joined:
        return False
    if "\\" in joined and joined.count("\\") != fields.count(NULL):
        return False
    if len(joined) > EXCEL_MAX_CELL_CHARS and max(map(len, fields)) > EXCEL_MAX_CELL_CHARS:
        return False
    if not joined.replace(_SEP, " ").isprintable():
        return False
    return not (
        fields[0].startswith(_FIRST_NOT_PLAIN)
        or fields[-1].endswith(" ")
        or _NOT_PLAIN_FIRST.search(joined)
        or " " + _SEP in joined
    )


def _plain(field: str) -> bool:
    """:func:`_plain_column` for one field (not NULL)."""
    return (
        len(field) <= EXCEL_MAX_CELL_CHARS
        and field.isprintable()
        and not ("&" in field or "<" in field or ">" in field or "\\" in field)
        and not field.startswith(_FIRST_NOT_PLAIN)
        and not field.endswith(" ")
    )
