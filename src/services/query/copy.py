"""CSV straight from PostgreSQL: ``COPY (query) TO STDOUT`` written into the export file.

The fast path for a task whose only export is CSV, on a PostgreSQL connection through
psycopg2: the server formats every value in C and psycopg2's ``copy_expert`` hands
each row to our file, so no row becomes Python objects. At 1,000,000 rows this takes
~1.6x the time of ``psql \\copy``, against ~9x for the row-by-row path (see
docs/performance.md).

What the file looks like: the same shape as the CsvExporter's (UTF-8, optional BOM,
the task's delimiter, RFC 4180 quoting, CRLF after every record, a header row), but
each value in PostgreSQL's own text form. ``DateStyle`` ISO, ``IntervalStyle``
postgres, ``extra_float_digits`` 1 (exact floats), ``bytea_output`` hex and
``TimeZone`` = the task's zone are set for the COPY's transaction, so a server's
defaults cannot change the file. Where it differs from the CsvExporter:

* booleans ``t`` / ``f`` (CsvExporter: ``true`` / ``false``);
* timestamps ``2026-01-02 03:04:05`` with a space, fractions without trailing zeros
  (``...:05.5``); timestamptz in the task's zone with PostgreSQL's short offset
  ``2026-01-02 03:04:05+01`` (CsvExporter: ``2026-01-02T03:04:05+01:00``); times
  ``13:45:00.5`` (``13:45:00.500000``);
* floats without a trailing ``.0`` and with PostgreSQL's exponent rule
  (``10000000000``, ``1e+15``, ``NaN``, ``-Infinity``; CsvExporter:
  ``10000000000.0``, ``1000000000000000.0``, ``nan``, ``-inf``);
* intervals ``1 day 02:00:00`` (``1 day, 2:00:00``), bytea ``\\x01ff`` (``0x01ff``),
  arrays ``{1,2}`` (``[1, 2]``), json as stored;
* an empty string is ``""``, NULL an empty field (CsvExporter: both empty).

Integers, numeric (exact digits), dates, text and NULL are written the same.
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from src.core.result import Row
from src.services.query.sqltext import PreparedSql, split_sql

#: Output settings for the COPY's transaction (SET LOCAL: they end with it, so nothing
#: leaks to the pooled connection). Fixed here so a server's own defaults (a DBA's
#: ``DateStyle = 'SQL, DMY'``, ``extra_float_digits = 0``) cannot change the file.
OUTPUT_SETTINGS = {
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
}
# SQLSTATE invalid_parameter_value: the server does not know the task's zone name.
_PG_BAD_SETTING = "22023"


@dataclass(frozen=True)
class CopyResult:
    """A CSV file written by COPY: row count (from the server), header names, the first
    rows read back from the file (as text), and the file's size."""

    rows: int
    columns: list[str]
    preview: list[Row]
    size_bytes: int
    notes: list[str] = field(default_factory=list)


def copy_applies(dialect: Dialect, delimiter: str, zone: ZoneInfo) -> bool:
    """Whether COPY can write this file: psycopg2 on PostgreSQL, a one-byte delimiter
    (COPY's rule) and a zone with an IANA name to give the server."""
    return (
        dialect.name == "postgresql"
        and dialect.driver == "psycopg2"
        and len(delimiter.encode("utf-8")) == 1
        and zone.key is not None
    )


def _strip_statement_end(sql: str) -> str:
    """The statement without trailing comments, whitespace and semicolons, so that it can
    sit inside ``COPY ( ... )`` (``SELECT 1; -- done`` is a valid task query)."""
    pieces = list(split_sql(sql))
    while pieces:
        is_code, piece = pieces[-1]
        if is_code:
            stripped = piece.rstrip().rstrip(";").rstrip()
            if stripped:
                pieces[-1] = (True, stripped)
                break
        elif not piece.startswith(("--", "/*")):
            break  # a literal or quoted name ends the statement
        pieces.pop()
    return "".join(piece for _, piece in pieces)


def copy_statement(cursor: Any, dialect: Dialect, prepared: PreparedSql, delimiter: str) -> bytes:
    """``COPY (<query with values>) TO STDOUT WITH (FORMAT csv, HEADER true, ...)``.

    Why pasting the values into the text is as safe as the normal path: psycopg2 never
    sends bound parameters separately; for every ``cursor.execute(sql, params)`` it
    quotes each value with its adapters (``'O''Brien'``, ``'2026-01-02'::date``) and
    sends one text. ``mogrify`` is that same step, on the same connection (so with the
    same encoding and ``standard_conforming_strings``), and the SQL text is compiled
    by the same SQLAlchemy dialect as ``QueryService.execute`` does (``:name`` ->
    ``%(name)s``, ``%`` doubled), so the server sees the query exactly as it would there.
    """
    options: bytes = cursor.mogrify(
        "FORMAT csv, HEADER true, DELIMITER %s, ENCODING 'UTF8'", (delimiter,)
    )
    return copy_of(query_text(cursor, dialect, prepared), options)


def query_text(cursor: Any, dialect: Dialect, prepared: PreparedSql) -> bytes:
    """The task's query with its values, as psycopg2 would send it (see copy_statement),
    without the trailing semicolons and comments that cannot sit inside ``COPY ( ... )``."""
    compiled = sa.text(_strip_statement_end(prepared.text)).compile(dialect=dialect)
    query: bytes = cursor.mogrify(compiled.string, compiled.construct_params(prepared.params))
    return query


def copy_of(query: bytes, options: bytes) -> bytes:
    """``COPY (<query>) TO STDOUT WITH (<options>)``."""
    # The newline before ")" keeps a trailing "-- comment" from swallowing it.
    return b"COPY (\n" + query + b"\n) TO STDOUT WITH (" + options + b")"


def set_output_style(conn: Connection, zone: ZoneInfo) -> bool:
    """Fix the value formats for this transaction; False when the server does not know
    the zone's name (the transaction is then rolled back and the caller falls back)."""
    settings = {**OUTPUT_SETTINGS, "TimeZone": str(zone.key)}
    calls = ", ".join(f"set_config(:k{i}, :v{i}, true)" for i in range(len(settings)))
    binds: dict[str, str] = {}
    for i, (name, value) in enumerate(settings.items()):
        binds[f"k{i}"], binds[f"v{i}"] = name, value
    try:
        conn.execute(sa.text(f"SELECT {calls}"), binds)
    except sa.exc.DBAPIError as error:
        if getattr(error.orig, "pgcode", None) != _PG_BAD_SETTING:
            raise
        conn.rollback()
        return False
    return True


class CrlfWriter:
    """What ``copy_expert`` writes to: ends each record with CRLF (RFC 4180, like the
    CsvExporter) instead of COPY's LF, leaving line breaks inside quoted values alone.

    psycopg2 calls ``write`` once per row, but nothing here relies on it: the quote
    state is carried across calls (a ``""`` inside a quoted value toggles it twice).
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._write = raw.write
        self._quoted = False
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:
        try:
            if not self._quoted and b'"' not in data:
                self._write(data.replace(b"\n", b"\r\n"))
            else:
                self._write(self._translate(data))
        except OSError as exc:
            self.error = exc  # kept: psycopg2 may report it as its own error
            raise
        return len(data)

    def _translate(self, data: bytes) -> bytes:
        quoted = self._quoted
        out = []
        for i, piece in enumerate(data.split(b'"')):
            if i:
                quoted = not quoted
            out.append(piece if quoted else piece.replace(b"\n", b"\r\n"))
        self._quoted = quoted
        return b'"'.join(out)


def read_preview(path: Path, delimiter: str, limit: int) -> tuple[list[str], list[Row]]:
    """The header and the first ``limit`` records of a written CSV file (values as text).

    A record the csv module refuses (a field over its 128 KiB limit) ends the preview
    there: the file is complete, the preview is only a courtesy in the email.
    """
    header: list[str] = []
    rows: list[Row] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader, [])
            for record in itertools.islice(reader, limit):
                rows.append(tuple(record))
        except csv.Error:
            pass  # keep what was read (see above)
    return header, rows
