"""A batch of rows as the database wrote them in text, column by column.

PostgreSQL's ``COPY ... TO STDOUT`` hands over each row as one line of text (values
separated by tabs, ``\\N`` for NULL, backslash escapes for tabs, line breaks and
backslashes). Turning every value into a Python object costs more than writing it: a
:class:`TextBatch` keeps the text, split into columns, and says per column what kind of
value it holds (:class:`TextKind`), so a writer can turn a whole column into its
output at once (``src/services/export/xlsx_text.py``, ``csv_text.py``).

It is still a ``Sequence`` of rows: whoever indexes or iterates it gets the Python
values the database driver would have given (decoded by the source's per-column
decoders, a column at a time, once), so every consumer of rows works unchanged.
:func:`column_values` reads one column of any batch without building rows.

The text contract (what a writer may rely on): a field is the value's text form as
PostgreSQL writes it with ``DateStyle`` ISO; ``TIMESTAMPTZ`` fields are written in
:attr:`TextForm.zone`; NULL is exactly ``\\N`` and nothing else is, because the only
escapes are ``\\\\``, ``\\b``, ``\\f``, ``\\n``, ``\\r``, ``\\t`` and ``\\v``; a field
never holds a raw tab, line break or NUL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, overload
from zoneinfo import ZoneInfo

from src.core.result import Row

#: The field of a NULL.
NULL = "\\N"
_ESCAPE = re.compile(r"\\(.)")
_UNESCAPED = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


class TextKind(StrEnum):
    """What a column's text holds, as far as a writer needs to know."""

    #: digits with an optional minus sign (smallint, integer, bigint)
    INTEGER = "integer"
    #: exact decimal digits (numeric), or NaN / Infinity / -Infinity
    DECIMAL = "decimal"
    #: a double or real in its shortest exact form (``1e+15``), or NaN / Infinity
    FLOAT = "float"
    #: ``t`` / ``f``
    BOOLEAN = "boolean"
    #: ``YYYY-MM-DD`` (or ``infinity``, a BC date)
    DATE = "date"
    #: ``YYYY-MM-DD HH:MM:SS[.ffffff]``
    TIMESTAMP = "timestamp"
    #: ``YYYY-MM-DD HH:MM:SS[.ffffff]+HH[:MM[:SS]]``, in :attr:`TextForm.zone`
    TIMESTAMPTZ = "timestamptz"
    #: text that is the value itself once unescaped (text, varchar, enums, ...)
    TEXT = "text"
    #: anything else: only its decoder knows (time, interval, json, arrays, ...)
    OTHER = "other"


#: Kinds whose text never holds a backslash (digits, signs, points, letters, dashes).
_UNESCAPED_KINDS = frozenset({"integer", "decimal", "float", "boolean", "date"})

#: Turns a field (unescaped, never NULL) into the Python value a driver would give.
Decoder = Callable[[str], Any]


def _out_of_range(text: str) -> ValueError:
    """The error psycopg2 gives for a date Python cannot hold (BC, or past year 9999)."""
    sign = "-" if text.endswith(" BC") else ""
    return ValueError(f"year {sign}{int(text.partition('-')[0])} is out of range")


def _calendar(parse: Callable[[str], Any], latest: Any, earliest: Any) -> Decoder:
    """A DATE's or TIMESTAMP[TZ]'s text read as psycopg2 reads it: ISO text by ``parse``,
    ``infinity`` / ``-infinity`` as ``latest`` / ``earliest``; a BC date or a year past
    9999 (five digits) is psycopg2's error."""

    def decode(text: str) -> Any:
        if text[4] == "-" and not text.endswith(" BC"):
            return parse(text)
        if text == "infinity":
            return latest
        if text == "-infinity":
            return earliest
        raise _out_of_range(text)

    return decode


#: The decoders of the kinds whose text alone says the value: what psycopg2's default
#: casters make of it (``test_copy_rows.py::test_rows_read_the_same_as_through_a_cursor``
#: holds them to it, infinities and out-of-range years included). Plain functions, so a
#: result of only these kinds can be read in another process (``export/side.py``); an
#: OTHER column needs the driver's caster.
TEXT_DECODERS: Mapping[TextKind, Decoder] = {
    TextKind.INTEGER: int,
    TextKind.DECIMAL: Decimal,
    TextKind.FLOAT: float,
    TextKind.BOOLEAN: "t".__eq__,
    TextKind.DATE: _calendar(date.fromisoformat, date.max, date.min),
    TextKind.TIMESTAMP: _calendar(datetime.fromisoformat, datetime.max, datetime.min),
    # the offset read as datetime.timezone, as psycopg2's default tzinfo_factory gives it
    TextKind.TIMESTAMPTZ: _calendar(
        datetime.fromisoformat, datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC)
    ),
    TextKind.TEXT: str,
}


def unescape(field: str) -> str:
    """A field's text without COPY's backslash escapes (the field must not be NULL)."""
    if "\\" not in field:
        return field
    return _ESCAPE.sub(lambda m: _UNESCAPED.get(m.group(1), m.group(1)), field)


@dataclass(frozen=True)
class TextForm:
    """How the fields of one result are written: a kind and a decoder per column, and
    the zone its TIMESTAMPTZ fields are in. Shared by every batch of the result."""

    kinds: tuple[TextKind, ...]
    decoders: tuple[Decoder, ...]
    zone: ZoneInfo

    def decode(self, index: int, fields: Sequence[str]) -> list[Any]:
        """The Python values of ``fields`` of the column ``index``."""
        kind, decode = self.kinds[index], self.decoders[index]
        if kind is TextKind.TEXT:
            return [None if f == NULL else unescape(f) for f in fields]
        if kind in _UNESCAPED_KINDS:  # no escapes in their text: the decoder mapped over it
            if NULL not in fields:
                return list(map(decode, fields))
            return [None if f == NULL else decode(f) for f in fields]
        return [None if f == NULL else decode(unescape(f)) for f in fields]

    def value(self, index: int, field: str) -> Any:
        """The Python value of one field of the column ``index``."""
        if field == NULL:
            return None
        if self.kinds[index] is TextKind.TEXT:
            return unescape(field)
        return self.decoders[index](unescape(field))


class TextBatch(Sequence[Row]):
    """Rows kept as text fields, one list per column (see the module docstring)."""

    def __init__(
        self,
        fields: Sequence[list[str]],
        length: int,
        form: TextForm,
        sources: Sequence[int] | None = None,
        decoded: dict[int, list[Any]] | None = None,
    ) -> None:
        self._fields: list[list[str]] | None = list(fields)
        self.length = length
        self.form = form
        # Index of each column in the result the batch came from: selections share
        # decoded columns with their parent, so a column is decoded once per batch.
        self._sources = list(sources) if sources is not None else list(range(len(fields)))
        self._decoded: dict[int, list[Any]] = decoded if decoded is not None else {}
        #: The COPY text the batch was split from (None for a selection or a slice): the
        #: cheapest form to hand to another process (``export/side.py``)
        self.lines: str | None = None

    @classmethod
    def from_lines(
        cls, text: str, length: int, form: TextForm, decoded: dict[int, list[Any]] | None = None
    ) -> TextBatch:
        """A batch of ``length`` lines of COPY text (each ending in a line break);
        ``decoded``: values of some columns already read, by column index. The text is
        split into fields when they are first read: a batch only handed on to another
        process (``export/side.py``) is never split here."""
        width = len(form.kinds)
        batch = cls([], length, form, range(width), decoded)
        batch._fields = [[] for _ in range(width)] if length == 0 or width == 0 else None
        batch.lines = text
        return batch

    @property
    def fields(self) -> list[list[str]]:
        """Per column: the text fields, escaped as COPY wrote them."""
        if self._fields is None:
            assert self.lines is not None
            flat = self.lines[:-1].replace("\n", "\t").split("\t")
            width = len(self._sources)
            if len(flat) != self.length * width:
                raise ValueError(
                    f"{self.length} rows of {width} columns expected, got {len(flat)} fields"
                )
            self._fields = [flat[i::width] for i in range(width)]
        return self._fields

    @property
    def width(self) -> int:
        """The number of columns."""
        return len(self._sources)

    @property
    def kinds(self) -> list[TextKind]:
        return [self.form.kinds[s] for s in self._sources]

    def column(self, index: int) -> list[Any]:
        """The Python values of one column (decoded once, then kept)."""
        source = self._sources[index]
        values = self._decoded.get(source)
        if values is None:
            values = self._decoded[source] = self.form.decode(source, self.fields[index])
        return values

    def select(self, indexes: Sequence[int]) -> TextBatch:
        """The batch with only these columns, in this order."""
        return TextBatch(
            [self.fields[i] for i in indexes], self.length, self.form,
            [self._sources[i] for i in indexes], self._decoded,
        )  # fmt: skip

    def between(self, start: int, stop: int) -> TextBatch:
        """Rows ``start`` to ``stop`` as a batch of their own (still text)."""
        stop = min(stop, self.length)
        start = min(start, stop)
        if (start, stop) == (0, self.length):
            return self
        return TextBatch(
            [f[start:stop] for f in self.fields], stop - start, self.form, self._sources
        )

    def kind_of(self, index: int) -> TextKind:
        return self.form.kinds[self._sources[index]]

    def value(self, index: int, field: str) -> Any:
        """One field of column ``index`` decoded (as :meth:`column` would decode it)."""
        return self.form.value(self._sources[index], field)

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self.length)
            if step != 1:
                return list(self)[index]
            return list(self.between(start, stop))
        if index < 0:
            index += self.length
        if not 0 <= index < self.length:
            raise IndexError("row index out of range")
        return tuple(self.column(i)[index] for i in range(self.width))

    def __iter__(self) -> Iterator[Row]:
        if not self.width:
            return iter([()] * self.length)
        return zip(*[self.column(i) for i in range(self.width)], strict=True)


def column_values(rows: Sequence[Row], index: int) -> Sequence[Any]:
    """The values of column ``index`` of a batch (a TextBatch decodes just that column)."""
    if isinstance(rows, TextBatch):
        return rows.column(index)
    return [row[index] for row in rows]


def may_hold_text(rows: Sequence[Row], index: int) -> bool:
    """Whether column ``index`` of a batch may hold str values (any column of a list of
    rows may; a TextBatch's only when its text is the value, or its kind is unknown)."""
    if isinstance(rows, TextBatch):
        return rows.kind_of(index) in (TextKind.TEXT, TextKind.OTHER)
    return True
