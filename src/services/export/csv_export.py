"""CSV export: UTF-8, RFC 4180 quoting, CRLF line ends, a header row.

(The module is ``csv_export`` so that it does not shadow the standard ``csv`` module.)

Values: None -> empty field; bool -> ``true`` / ``false``; Decimal -> its exact digits
(never exponent notation); float -> as Excel's General format shows it, at most 15
significant digits (``290001.56``, ``162``; ``src/core/cell_text.py::number_text``, the
rule every text output shares), so no binary noise (``290001.55999999994``); date, time and
datetime -> ISO 8601 (``2026-01-02``, ``2026-01-02T03:04:05``); an aware datetime is
converted to the run's zone and keeps its offset (``2026-01-02T03:04:05+01:00``);
bytes -> ``0x`` + hex; dict / list (json columns) -> JSON; anything else -> ``str``.

A task's ``columns`` give the header its labels and leave hidden columns out; values keep
the machine-readable forms above (a CSV is read by programs, which a ``€1,234.50`` would
stop), and there is no totals row (a program would count it as data). The option
``formatted: true`` asks for the text a person reads instead: every value as the PDF
shows it (the columns' formats and the task's locale: ``1.234,50 €``), for a CSV that
people open; pick a ``delimiter`` other than the locale's decimal comma (``;``).

Options (``bom``: a UTF-8 byte order mark, which Excel needs to read UTF-8 when a file
is opened by double-click; ``delimiter``: e.g. ``;`` where the comma is the decimal
separator) are declared, with their defaults and checks, in ``src/core/export_options.py``.

The PostgreSQL fast path: when CSV is a task's only export and its connection is
PostgreSQL through psycopg2, rows do not come through this writer; the server writes
the file with ``COPY`` (``src/services/query/copy.py``, ~6x faster). The file has the
same shape and options (UTF-8, BOM, delimiter, quoting, CRLF, header), but values in
PostgreSQL's own text forms where they differ from the list above: booleans ``t`` /
``f``, timestamps with a space and a short offset (``2026-01-02 03:04:05+01``),
floats without a trailing ``.0``, empty strings as ``""``; copy.py lists them all.
Integers, numeric, dates, text and NULL are the same on both paths.

Rows from PostgreSQL arrive as text (``TextBatch``) and are written a column at a time
(``csv_text.py``) in the forms above, the same as rows of Python values. Rows of Python
values (MariaDB, SQLite, SQL Server, PostgreSQL when COPY does not apply) are converted a
column at a time too (each type's values together, floats by ``number_texts``) and joined
into records by the same code as text batches (``TextFields.join``): the csv module's
quoting, byte for byte, without its per-field dispatch.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from src.core.cell_text import number_text, number_texts, scalar_text
from src.core.errors import ExportError
from src.core.result import Column, Row
from src.core.text_batch import TextBatch
from src.services.export.base import (
    AtomicFile,
    ExportContext,
    Exporter,
    ExportFile,
    io_error,
)
from src.services.export.csv_text import TextFields

# Types the csv module already writes as wanted (None -> "").
_NONE = type(None)
_PASS_THROUGH = frozenset({str, int, _NONE})


def csv_value(value: Any, zone: ZoneInfo) -> Any:
    """A value as text for CSV (see the module docstring)."""
    scalar = scalar_text(value)
    if scalar is not None:
        return scalar
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(zone)
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if type(value) in _PASS_THROUGH:
        return value
    return str(value)


def _converters(zone: ZoneInfo) -> dict[type, Callable[[Any], Any]]:
    """Fast paths by exact type for the common column types; others go to csv_value."""

    def aware_or_naive(value: datetime) -> str:
        if value.tzinfo is not None:
            value = value.astimezone(zone)
        return value.isoformat()

    def decimal(value: Decimal) -> str:
        return format(value, "f") if value.is_finite() else str(value)

    return {
        bool: lambda v: "true" if v else "false",
        float: number_text,
        Decimal: decimal,
        datetime: aware_or_naive,
        date: date.isoformat,
        time: time.isoformat,
    }


class CsvRecords:
    """Batches as the CSV writer's records (text, each record ending in CRLF), by a
    writer's rules: the task's columns (hidden ones left out), delimiter, formatted
    values. The writer writes them; a run may also make some in its own process for a
    writer in a second one (``writers.py``), with the same rules."""

    def __init__(
        self, columns: Sequence[Column], context: ExportContext, delimiter: str, formatted: bool
    ) -> None:
        self.formatted = formatted
        self.zone = context.zone
        self.delimiter = delimiter
        #: The task's columns applied: the header's labels, hidden columns left out
        self.layout = context.layout(columns)
        self._conv = _converters(context.zone)
        self._text_fields = TextFields(context.zone, delimiter, self._slow)

    def header(self) -> str:
        return self._by_csv_module([self.layout.labels])

    def text(self, rows: Sequence[Row]) -> str:
        """The records of a batch."""
        passing, conv, slow = _PASS_THROUGH, self._conv, self._slow
        rows = self.layout.project(rows)
        if self.formatted:  # the text a person reads: rows of str (a text batch decoded)
            text, zone = self.layout.text, self.zone
            rows = [[text(i, v, zone) for i, v in enumerate(row)] for row in rows]
        if isinstance(rows, TextBatch):
            return self._text_fields.records(rows)
        if rows and len(rows[0]):  # a column at a time, as from text
            return self._text_fields.join(list(map(self._fields, zip(*rows, strict=True))))
        return self._by_csv_module(
            [[v if type(v) in passing else conv.get(type(v), slow)(v) for v in row]
             for row in rows]
        )  # fmt: skip

    def _by_csv_module(self, rows: Sequence[Sequence[Any]]) -> str:
        out = io.StringIO(newline="")
        csv.writer(out, delimiter=self.delimiter, lineterminator="\r\n").writerows(rows)
        return out.getvalue()

    def _fields(self, values: Sequence[Any]) -> list[str]:
        """One column of Python values as CSV fields (unquoted), a column at a time: the
        values of each type converted together by that type's rule (floats by
        ``number_texts``, the same texts as ``number_text`` one by one), then put back in
        order when the column holds more than one type (NULLs are a type here: ``""``)."""
        types = set(map(type, values))
        if len(types) == 1:
            return self._of_type(type(values[0]), values)
        converted = {
            kind: iter(self._of_type(kind, [v for v in values if type(v) is kind]))
            for kind in types
        }
        return [next(converted[type(v)]) for v in values]

    def _of_type(self, kind: type, values: Sequence[Any]) -> list[str]:
        """Values all of type ``kind`` as CSV fields."""
        if kind is str:
            return list(values)
        if kind is _NONE:
            return [""] * len(values)
        if kind is int:
            return list(map(str, values))
        if kind is float:
            return number_texts(values)
        convert = self._conv.get(kind)
        if convert is not None:
            return list(map(convert, values))
        return [str(self._slow(v)) for v in values]

    def _slow(self, value: Any) -> Any:
        return csv_value(value, self.zone)


class CsvWriter:
    def __init__(self, path: Path, records: CsvRecords, bom: bool) -> None:
        self.path = path
        #: How a batch becomes records (this writer's rules)
        self.records = records
        self.rows_total = 0
        self._done = False
        self._file = AtomicFile(path)
        self._text = io.TextIOWrapper(
            self._file.file, encoding="utf-8-sig" if bom else "utf-8", newline="",
            write_through=True,
        )  # fmt: skip
        try:
            self._text.write(self.records.header())
        except OSError as exc:
            self._fail(exc)

    def write_batch(self, rows: Sequence[Row]) -> None:
        self.write_records(self.records.text(rows), len(rows))

    def write_records(self, text: str, count: int) -> None:
        """``count`` rows already made records (by :attr:`records`' rules)."""
        if self._done:
            raise ExportError(f"{self.path}: write after close/abort", permanent=True)
        try:
            self._text.write(text)
        except OSError as exc:
            self._fail(exc)
        self.rows_total += count

    def close(self) -> ExportFile:
        if self._done:
            raise ExportError(f"{self.path}: already closed or aborted", permanent=True)
        try:
            self._text.flush()
        except OSError as exc:
            self._fail(exc)
        self._text.detach()  # the AtomicFile closes the binary file
        self._done = True
        size = self._file.commit()
        return ExportFile("csv", self.path, size, self.rows_total, self.rows_total)

    def abort(self) -> None:
        self._done = True
        self._file.discard()

    def _fail(self, exc: OSError) -> None:
        self.abort()
        raise io_error(self.path, exc) from exc


class CsvExporter(Exporter):
    name = "csv"
    extension = "csv"

    def open(
        self,
        path: Path,
        columns: Sequence[Column],
        context: ExportContext,
        options: Mapping[str, Any] | None = None,
    ) -> CsvWriter:
        checked = self.check_options(options or {})
        return CsvWriter(path, self.records(columns, context, checked), checked["bom"])

    def records(
        self,
        columns: Sequence[Column],
        context: ExportContext,
        options: Mapping[str, Any] | None = None,
    ) -> CsvRecords:
        """How a writer opened with these ``options`` makes a batch's records (for a run
        that makes some of them for a writer in another process: ``writers.py``)."""
        checked = self.check_options(options or {})
        return CsvRecords(columns, context, checked["delimiter"], checked["formatted"])
