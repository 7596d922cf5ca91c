"""The shape of a query result as it flows from the query service to exporters.

Rows stream: a ``QueryResult`` holds an iterator, consumed once, so a million-row
result never sits in memory. Exporters are sinks fed batches of rows in one pass,
so xlsx, pdf and csv are written from the same single read of the result. A batch is
a sequence of rows: a list of tuples, or a ``TextBatch`` (``src/core/text_batch.py``)
that keeps the database's text and decodes values only where they are read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

Row = Sequence[Any]


@dataclass(frozen=True)
class Column:
    """A result column: its name as the database gave it, and the driver's type name if known."""

    name: str
    type_name: str | None = None


@dataclass
class QueryResult:
    """Columns, then rows (iterated once, in batches). ``rowcount`` is set for statements
    that return no rows (rows affected), else None."""

    columns: list[Column]
    batches: Iterator[Sequence[Row]]
    rowcount: int | None = None
    notes: list[str] = field(default_factory=list)
