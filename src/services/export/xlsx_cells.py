"""How one Python value becomes one xlsx cell (``<c>``): the type rules of the export.

* int, float, Decimal -> numbers. Integers of 16 digits or more are written as text,
  because Excel keeps only 15 significant digits and would silently change them;
  NaN and infinities (which a sheet cannot hold) are written as text too.
* date -> a date (``yyyy-mm-dd``), datetime -> a date-time (``yyyy-mm-dd hh:mm:ss``),
  time -> a time (``hh:mm:ss``). Excel has no time zones: an aware datetime is
  converted to the run's zone and written without its zone. Dates before
  1900-03-01 (outside Excel's date range) are written as ISO text.
* bool -> a boolean; None -> an empty cell.
* bytes -> ``0x`` + hex (up to 64 bytes), else ``<N bytes>``.
* dict / list (json columns) -> JSON text; anything else (UUID, timedelta, ...) -> ``str``.
* Text that Excel would read as a formula (``=``, ``+``, ``-``, ``@``) stays text (a
  string cell, marked with a quote prefix). Control characters XML cannot carry are
  removed; text longer than Excel's 32,767 characters per cell is cut (counted in
  ``Cells.cut_cells`` for the file's note).

``xlsx_text.py`` writes whole columns of database text the same way, and hands every
value it cannot write as fast here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from src.services.export.xlsx_package import ILLEGAL_XML, S_DATE, S_DATETIME, S_QUOTED, S_TIME

#: Characters per cell in Excel.
EXCEL_MAX_CELL_CHARS = 32_767
#: Integers from here (in size) are written as text: Excel keeps 15 significant digits.
MAX_EXACT_INT = 10**15
#: Excel's day 0; the first day from which its serials count right (its 1900 leap-year bug).
EPOCH_DATE = date(1899, 12, 30)
EPOCH_DATETIME = datetime(1899, 12, 30)
MIN_DATE = date(1900, 3, 1)
#: The first character of text Excel would read as a formula.
FORMULA_START = ("=", "+", "-", "@")


class Cells:
    """Turns Python values into ``<c>`` elements; one instance per writer (zone, counters)."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.cut_cells = 0
        conv: dict[type, Callable[[Any], str]] = {
            str: self.text,
            int: self.integer,
            float: self.floating,
            Decimal: self.decimal,
            bool: self.boolean,
            type(None): self.empty,
            datetime: self.datetime_,
            date: self.date_,
            time: self.time_,
            bytes: self.binary,
            bytearray: self.binary,
            memoryview: self.binary,
            dict: self.json_,
            list: self.json_,
        }
        self.conv = conv

    def cell(self, value: Any) -> str:
        fn = self.conv.get(type(value))
        if fn is None:
            fn = self._for_subclass(value)
        return fn(value)

    def _for_subclass(self, value: Any) -> Callable[[Any], str]:
        for kind in (bool, int, float, Decimal, str, datetime, date, time, dict, list):
            if isinstance(value, kind):
                return self.conv[kind]
        return self.other

    def text(self, value: str) -> str:
        if len(value) > EXCEL_MAX_CELL_CHARS:
            value = value[: EXCEL_MAX_CELL_CHARS - 1] + "…"
            self.cut_cells += 1
        value = escape(ILLEGAL_XML.sub("", value))
        space = ' xml:space="preserve"' if value[:1].isspace() or value[-1:].isspace() else ""
        style = f' s="{S_QUOTED}"' if value[:1] in FORMULA_START else ""
        return f'<c t="inlineStr"{style}><is><t{space}>{value}</t></is></c>'

    @staticmethod
    def empty(_value: None) -> str:
        return "<c/>"

    def integer(self, value: int) -> str:
        if -MAX_EXACT_INT < value < MAX_EXACT_INT:
            return f"<c><v>{value}</v></c>"
        return self.text(str(value))

    def floating(self, value: float) -> str:
        if math.isfinite(value):
            return f"<c><v>{value!r}</v></c>"
        return self.text(str(value))

    def decimal(self, value: Decimal) -> str:
        if value.is_finite():
            return f"<c><v>{value}</v></c>"
        return self.text(str(value))

    @staticmethod
    def boolean(value: bool) -> str:
        return f'<c t="b"><v>{int(value)}</v></c>'

    def datetime_(self, value: datetime) -> str:
        if value.tzinfo is not None:
            value = value.astimezone(self.zone).replace(tzinfo=None)
        if value.date() < MIN_DATE:
            return self.text(value.isoformat(sep=" "))
        serial = (value - EPOCH_DATETIME) / timedelta(days=1)
        return f'<c s="{S_DATETIME}"><v>{serial!r}</v></c>'

    def date_(self, value: date) -> str:
        if value < MIN_DATE:
            return self.text(value.isoformat())
        return f'<c s="{S_DATE}"><v>{(value - EPOCH_DATE).days}</v></c>'

    @staticmethod
    def time_(value: time) -> str:
        seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
        return f'<c s="{S_TIME}"><v>{seconds / 86400!r}</v></c>'

    def binary(self, value: bytes | bytearray | memoryview) -> str:
        data = bytes(value)
        return self.text("0x" + data.hex() if len(data) <= 64 else f"<{len(data)} bytes>")

    def json_(self, value: Any) -> str:
        return self.text(json.dumps(value, ensure_ascii=False, default=str))

    def other(self, value: Any) -> str:
        return self.text(str(value))
