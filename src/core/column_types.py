"""Dates the database does not type: ISO text made real dates, column by column.

SQLite keeps a ``DATE`` or ``TIMESTAMP`` column as text and its driver says nothing of
a column's type, so without help ``order_date`` reaches the xlsx as a text cell. A run
passes its batches through :class:`ColumnTyper`, which makes ``date`` / ``datetime``
values of such text:

* **recognised**: a column whose type the driver does not give (``Column.type_name`` is
  None: SQLite) and whose every non-NULL value in the first batch is an ISO date
  (``2026-01-31``) is a date column; ISO date-times (``2026-01-31 09:30:00``, ``T``,
  fractions, ``Z`` or ``+01:00`` allowed), possibly mixed with dates, a date-time one;
* **declared**: the task's ``types`` (``{"order_date": "date"}``) names a column's type
  on any database; ``text`` keeps a column from ever being recognised.

A value of a date column that is not such a date (``n/a``, ``2026-02-30``) is never
forced: it, and every later value of that column, stays as the database gave it, and
the run says so in a note. Values that are already dates (PostgreSQL, MariaDB) and
NULLs pass through untouched. A date-time with an offset becomes an aware datetime
(the exports show it in the task's zone); one without stays as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from src.core.errors import ValidationError
from src.core.result import Column, Row
from src.core.text_batch import column_values, may_hold_text
from src.core.vocabulary import ColumnType

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?"
)


def parse_date(text: str) -> date | None:
    """``2026-01-31`` as a date; None for anything else (including ``2026-02-30``)."""
    if not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_datetime(text: str) -> datetime | None:
    """An ISO date-time (or a date, at midnight) as a datetime; None for anything else."""
    if _DATE.fullmatch(text):
        day = parse_date(text)
        return None if day is None else datetime(day.year, day.month, day.day)
    if not _DATETIME.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def read_types(raw: Any) -> tuple[dict[str, ColumnType], list[ValidationError]]:
    """A task's ``types`` (column name -> date, datetime or text) checked: the types, and
    every problem with its field path."""
    if raw is None or raw == {}:
        return {}, []
    if not isinstance(raw, Mapping):
        return {}, [
            ValidationError("types", f'{raw!r} is not an object like {{"order_date": "date"}}')
        ]
    types: dict[str, ColumnType] = {}
    errors = []
    for column, kind in raw.items():
        if not isinstance(column, str) or not column:
            errors.append(ValidationError("types", f"{column!r} is not a column name"))
        elif kind not in ColumnType.values():
            known = ", ".join(ColumnType.values())
            errors.append(
                ValidationError(f"types.{column}", f"{kind!r} is not a column type; known: {known}")
            )
        else:
            types[column] = ColumnType(kind)
    return types, errors


_PARSERS = {ColumnType.DATE: parse_date, ColumnType.DATETIME: parse_datetime}


def recognise(values: Iterable[Any]) -> ColumnType | None:
    """The type of a column of these first values: DATE, DATETIME, or None (leave it)."""
    kind: ColumnType | None = None
    for value in values:
        if value is None:
            continue
        if not isinstance(value, str):
            return None
        if parse_date(value) is not None:
            kind = kind or ColumnType.DATE
        elif parse_datetime(value) is not None:
            kind = ColumnType.DATETIME
        else:
            return None
    return kind


class ColumnTyper:
    """Turns ISO text into dates in the columns that hold them (see the module docstring)."""

    def __init__(self, columns: Sequence[Column], declared: Mapping[str, str] | None = None):
        self.columns = list(columns)
        self.declared = dict(declared or {})
        #: Sentences for the run record: unknown declared columns, columns that fell back.
        self.notes: list[str] = []
        names = {c.name for c in self.columns}
        for name in self.declared:
            if self.columns and name not in names:
                self.notes.append(
                    f"types names the column {name!r}, which the result does not have "
                    f"(its columns: {', '.join(sorted(names)) or 'none'})"
                )
        #: Column index -> the type its text values are turned into.
        self.kinds: dict[int, ColumnType] = {}
        self._rows_seen = 0

    def batches(self, batches: Iterable[Sequence[Row]]) -> Iterator[Sequence[Row]]:
        """The batches with dates typed; decided on the first non-empty batch."""
        decided = False
        for batch in batches:
            if not decided and batch:
                self._decide(batch)
                decided = True
            if self.kinds:
                batch = self._convert(batch)
            self._rows_seen += len(batch)
            yield batch

    def _decide(self, batch: Sequence[Row]) -> None:
        for i, column in enumerate(self.columns):
            declared = self.declared.get(column.name)
            if declared is not None:
                if declared != ColumnType.TEXT:
                    self.kinds[i] = ColumnType(declared)
            elif column.type_name is None:
                kind = recognise(column_values(batch, i))
                if kind is not None:
                    self.kinds[i] = kind

    def _convert(self, batch: Sequence[Row]) -> Sequence[Row]:
        # A column the database wrote as a date, a number... holds no text to type: a
        # text batch is only turned into rows when a typed column may hold text.
        kinds = [(i, kind) for i, kind in self.kinds.items() if may_hold_text(batch, i)]
        if not kinds:
            return batch
        out: list[Row] = []
        for n, row in enumerate(batch):
            values = list(row)
            for i, kind in kinds:
                value = values[i]
                if not isinstance(value, str) or i not in self.kinds:
                    continue
                typed = _PARSERS[kind](value)
                if typed is None:
                    self._fall_back(i, kind, value, self._rows_seen + n + 1)
                else:
                    values[i] = typed
            out.append(values)
        return out

    def _fall_back(self, index: int, kind: ColumnType, value: str, row_number: int) -> None:
        del self.kinds[index]
        shown = value if len(value) <= 40 else value[:39] + "…"
        self.notes.append(
            f"column {self.columns[index].name!r}: row {row_number:,} holds {shown!r}, not a "
            f"{'date' if kind is ColumnType.DATE else 'date-time'}; that value and the rest of "
            "the column are shown as text"
        )
