"""CSV records from database text, a column at a time (the CSV writer's fast path).

The records are put together by :meth:`TextFields.join`, which the writer also uses for
rows of Python values once it has their fields (``csv_export.py``). A
:class:`~src.core.text_batch.TextBatch` holds each column as the database wrote it;
the CsvExporter's forms (csv_export.py) are mostly that text already: integers,
numeric digits, ISO dates and text. So a column becomes fields with whole-column
operations, and the records are put together with one join:

* integers, numeric: the text (NaN, Infinity read the same);
* booleans: ``true`` / ``false``;
* dates: the text when every value is a plain ``YYYY-MM-DD``;
* timestamps: whole seconds with a ``T`` for the space, others parsed and written by
  ``datetime.isoformat`` (timestamptz in the task's zone, with its offset), the steps
  mapped over the column;
* floats: :func:`~src.core.cell_text.number_text`, the rule every text output shares
  (``number_texts``: its steps mapped over the column);
* text: unescaped;
* anything else, and any column with a value the above cannot take (``infinity``, a
  BC date), per value through the writer's ``csv_value``.

Quoting is the csv module's minimal quoting (``QUOTE_MINIMAL``): a field with the
delimiter, a quote or a line break is quoted, its quotes doubled; a record of one empty
field is ``""``. NULL is an empty field.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from operator import methodcaller
from typing import Any

from src.core.cell_text import SIGNIFICANT_DIGITS, number_texts
from src.core.text_batch import NULL, TextBatch, TextKind, unescape

#: (value) -> the field of a value, by the writer's rules.
ValueField = Callable[[Any], Any]

_BOOLEANS = {"t": "true", "f": "false", NULL: ""}
_RECORD_END = "\r\n"


class TextFields:
    """CSV records of text batches for one writer (its zone, delimiter and value rule)."""

    def __init__(self, zone: Any, delimiter: str, value_field: ValueField) -> None:
        self.zone = zone
        self.delimiter = delimiter
        self.value_field = value_field
        self._special = (delimiter, '"', "\r", "\n")
        # the fields of the machine kinds hold letters, digits and "+-.:" only
        self._never_quoted = not (delimiter.isalnum() or delimiter in "+-.:")
        self._to_zone = methodcaller("astimezone", zone)

    def records(self, batch: TextBatch) -> str:
        """The batch as CSV records, each ending in CRLF."""
        if len(batch) == 0:
            return ""
        columns: list[list[str]] = []
        unquoted: list[int] = []
        for i in range(batch.width):
            fields, plain = self.column(batch, i)
            columns.append(fields)
            if plain:
                unquoted.append(i)
        return self.join(columns, unquoted)

    def join(self, fields: list[list[str]], unquoted: Collection[int] = ()) -> str:
        """Columns of fields (unquoted, of equal length, at least one column) as CSV
        records, each ending in CRLF: quoted as the csv module quotes, one join;
        ``unquoted``: the columns known to hold no field that needs quotes."""
        n, width = len(fields[0]), len(fields)
        if n == 0:
            return ""
        columns = [c if i in unquoted else self._quoted(c) for i, c in enumerate(fields)]
        if width == 1:  # as the csv module: a record of one empty field is ""
            return _RECORD_END.join([f or '""' for f in columns[0]]) + _RECORD_END
        records = map(self.delimiter.join, zip(*columns, strict=True))
        return _RECORD_END.join(records) + _RECORD_END

    def column(self, batch: TextBatch, i: int) -> tuple[list[str], bool]:
        """The fields of column ``i`` (unquoted), and whether none of them needs quotes
        (False: not known)."""
        fields = batch.fields[i]
        kind = batch.kind_of(i)
        if kind is TextKind.TEXT:
            joined = "".join(fields)
            nulls = fields.count(NULL)
            if joined.count("\\") > nulls:  # a NULL's is its only backslash
                return ["" if f == NULL else unescape(f) for f in fields], False
            # no escapes: no line break in any value, and a NULL's text needs no quotes
            plain = self.delimiter not in joined and '"' not in joined
            return (["" if f == NULL else f for f in fields] if nulls else fields), plain
        plain = self._never_quoted and kind is not TextKind.OTHER
        if kind is TextKind.INTEGER or kind is TextKind.DECIMAL:
            return ([f if f != NULL else "" for f in fields] if NULL in fields else fields), plain
        if kind is TextKind.BOOLEAN:
            return list(map(_BOOLEANS.__getitem__, fields)), plain
        if kind is TextKind.FLOAT:
            cells = self._non_null(fields, _floats)
        elif kind is TextKind.DATE:
            cells = self._non_null(fields, _plain_dates)
        elif kind is TextKind.TIMESTAMP:
            cells = self._non_null(fields, _timestamps)
        elif kind is TextKind.TIMESTAMPTZ:
            cells = self._non_null(fields, self._timestamptz)
        else:
            cells = None
        if cells is not None:
            return cells, plain
        value_field = self.value_field
        return ["" if v is None else str(value_field(v)) for v in batch.column(i)], plain

    def _non_null(
        self, fields: list[str], convert: Callable[[list[str]], list[str] | None]
    ) -> list[str] | None:
        """``convert`` applied to the fields that are not NULL (NULL: an empty field);
        None when ``convert`` says the column is not for it (None or ValueError)."""
        if NULL not in fields:
            try:
                return convert(fields)
            except ValueError:
                return None
        values = [f for f in fields if f != NULL]
        try:
            converted = convert(values)
        except ValueError:
            return None
        if converted is None:
            return None
        done = iter(converted)
        return ["" if f == NULL else next(done) for f in fields]

    def _timestamptz(self, values: list[str]) -> list[str]:
        moments = map(self._to_zone, map(datetime.fromisoformat, values))
        return list(map(datetime.isoformat, moments))

    def _quoted(self, fields: list[str]) -> list[str]:
        joined = "".join(fields)
        if not any(c in joined for c in self._special):
            return fields
        special = self._special
        return [
            '"' + f.replace('"', '""') + '"' if any(c in f for c in special) else f for f in fields
        ]


def _plain_dates(values: list[str]) -> list[str] | None:
    """The dates as they are when every one is a plain ``YYYY-MM-DD`` (date.isoformat)."""
    if not values:
        return values
    lengths = set(map(len, values))
    if lengths != {10} or min(values) < "0" or max(values) >= ":":
        return None
    return values


def _floats(values: list[str]) -> list[str]:
    # A double's text from the database is its shortest exact form: with at most 15
    # characters, no exponent and no NaN / Infinity it has at most 15 digits, which is
    # what number_text's 15 significant digits give (bar "-0", which it writes "0").
    joined = "\x00".join(values)
    if (
        max(map(len, values), default=0) <= SIGNIFICANT_DIGITS
        and not ("e" in joined or "N" in joined or "I" in joined)
        and "\x00-0\x00" not in f"\x00{joined}\x00"
    ):
        return values
    return number_texts(list(map(float, values)))


def _timestamps(values: list[str]) -> list[str]:
    if values and set(map(len, values)) == {19} and min(values) >= "0" and max(values) < ":":
        # whole seconds: isoformat's text is the database's with a "T"
        return "\x00".join(values).replace(" ", "T").split("\x00")
    return list(map(datetime.isoformat, map(datetime.fromisoformat, values)))
