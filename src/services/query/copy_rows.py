"""Rows from PostgreSQL's ``COPY (query) TO STDOUT``: the row source on PostgreSQL.

``QueryService.execute`` reads a PostgreSQL result (psycopg2) this way: the server
writes every value in its text form, which arrives 3-5x faster than through a
server-side cursor, and the rows reach the exporters as :class:`TextBatch` (text
split into columns, decoded into Python values only where someone reads them; see
``src/core/text_batch.py``). What stays as on the cursor path:

* the query is the same text (``copy.py::query_text``: the same compiler and psycopg2
  quoting), in the same transaction (read-only, ``statement_timeout``) that
  ``Backend.begin`` set up; COPY is one statement, so the server's timeout covers the
  whole result, and the client's watchdog cancels it as it cancels a fetch;
* the columns (names and types) come from ``DECLARE ... CURSOR FOR <query>`` and
  ``FETCH FORWARD 0``, which plans the query without running it; a query a cursor
  cannot take fails there, as it does on the cursor path;
* the Python values (``TextBatch.column``) are psycopg2's own: each column is decoded
  by the typecaster a fetch would use, so rows read the same on both paths.

psycopg2's ``copy_expert`` pushes rows into a file-like object until the result ends;
a result is pulled batch by batch, so the COPY runs in a thread that hands over
batches through a small queue (at most ``QUEUE_BATCHES`` waiting: memory stays flat).
The thread holds the GIL only to append each row; stopping early cancels the
statement and waits for the thread before the connection is dropped.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, Dialect

from src.core.result import Column
from src.core.text_batch import TEXT_DECODERS, Decoder, TextBatch, TextForm, TextKind
from src.services.query.copy import copy_of, query_text, set_output_style
from src.services.query.sqltext import PreparedSql
from src.services.query.watchdog import DeadlinePassed, Watchdog

#: Batches read ahead of the consumer (each ``batch_size`` rows of raw text).
QUEUE_BATCHES = 2
#: Seconds between two looks at the deadline while waiting for a batch.
POLL_SECONDS = 0.25
#: Seconds to wait for the COPY thread once its statement is cancelled.
STOP_SECONDS = 10.0
#: psycopg2 typecaster name -> what its text holds (its default casters only).
_KINDS = {
    "INTEGER": TextKind.INTEGER,
    "LONGINTEGER": TextKind.INTEGER,
    "DECIMAL": TextKind.DECIMAL,
    "FLOAT": TextKind.FLOAT,
    "BOOLEAN": TextKind.BOOLEAN,
    "DATE": TextKind.DATE,
    "DATETIME": TextKind.TIMESTAMP,
    "DATETIMETZ": TextKind.TIMESTAMPTZ,
    "STRING": TextKind.TEXT,
    "UNICODE": TextKind.TEXT,
}
_CURSOR = "db_scheduler_describe"
_DONE = object()


def copy_rows_apply(dialect: Dialect, zone: ZoneInfo) -> bool:
    """Whether COPY can be the row source: psycopg2 on PostgreSQL, and a zone with an
    IANA name to give the server (its timestamptz text is written in the task's zone)."""
    return dialect.name == "postgresql" and dialect.driver == "psycopg2" and zone.key is not None


def _text_form(dbapi: Any, cursor: Any, type_codes: list[int], zone: ZoneInfo) -> TextForm:
    import psycopg2.extensions

    kinds: list[TextKind] = []
    decoders: list[Decoder] = []
    for oid in type_codes:
        default = psycopg2.extensions.string_types.get(oid)
        caster = dbapi.string_types.get(oid, default)  # the connection's own first (UUID)
        if caster is None:  # psycopg2 gives the text itself
            kinds.append(TextKind.TEXT)
            decoders.append(str)
            continue
        # a caster of the connection's own (UUID) says nothing of the text it reads
        kind = _KINDS.get(caster.name, TextKind.OTHER) if caster is default else TextKind.OTHER
        kinds.append(kind)
        decoders.append(TEXT_DECODERS.get(kind) or _decoder(caster, cursor))
    return TextForm(tuple(kinds), tuple(decoders), zone)


def _decoder(caster: Any, cursor: Any) -> Decoder:
    def decode(text: str) -> Any:
        return caster(text, cursor)

    return decode


class CopyReader:
    """Runs ``copy_expert`` in a thread; :meth:`batches` yields its rows as TextBatch."""

    def __init__(
        self, dbapi: Any, statement: bytes, form: TextForm, batch_size: int, watchdog: Watchdog
    ) -> None:
        self.form = form
        self.batch_size = batch_size
        self.watchdog = watchdog
        self.rows = 0
        self._dbapi = dbapi
        self._statement = statement
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_BATCHES)
        self._stopping = threading.Event()
        self._pending: list[bytes] = []
        self._thread = threading.Thread(target=self._copy, name="copy-rows", daemon=True)
        self._thread.start()

    # -- the COPY thread

    def _copy(self) -> None:
        outcome: Any = _DONE
        try:
            cursor = self._dbapi.cursor()
            try:
                cursor.copy_expert(self._statement, self)
            finally:
                with contextlib.suppress(Exception):  # the connection may be gone already
                    cursor.close()
            if self._pending:
                self._hand_over(self._pending)
        except BaseException as error:  # handed to the consumer, raised there
            outcome = error
        with contextlib.suppress(_Stopped):  # the consumer has gone: nobody is left to tell
            self._hand_over(outcome)

    def write(self, row: bytes) -> int:
        """Called by psycopg2 with each row (one line of COPY text)."""
        pending = self._pending
        pending.append(row)
        if len(pending) >= self.batch_size:
            self._pending = []
            self._hand_over(pending)
        return len(row)

    def _hand_over(self, item: Any) -> None:
        while True:
            if self._stopping.is_set():
                raise _Stopped
            try:
                self._queue.put(item, timeout=POLL_SECONDS)
                return
            except queue.Full:
                continue

    # -- the consumer

    def batches(self) -> Iterator[TextBatch]:
        """The rows, batch by batch; the COPY's error (or the deadline) is raised here."""
        while True:
            item = self._next()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            self.rows += len(item)
            yield TextBatch.from_lines(b"".join(item).decode("utf-8"), len(item), self.form)

    def _next(self) -> Any:
        while True:
            if self.watchdog.expired:  # a cancel that did not stop the statement
                self.watchdog.fire()
                raise DeadlinePassed("the time limit passed while the rows were read")
            try:
                return self._queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue

    def stop(self) -> None:
        """Cancel the statement if it still runs and wait for the thread (idempotent)."""
        if not self._thread.is_alive():
            return
        self._stopping.set()
        with contextlib.suppress(Exception):
            self._dbapi.cancel()
        deadline = time.monotonic() + STOP_SECONDS
        while self._thread.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):  # unblock a waiting hand-over
                self._queue.get_nowait()
            self._thread.join(timeout=0.05)


class _Stopped(Exception):
    """Raised inside the COPY thread to end ``copy_expert`` once the consumer has gone."""


def open_copy(
    conn: Connection,
    dialect: Dialect,
    prepared: PreparedSql,
    zone: ZoneInfo,
    batch_size: int,
    watchdog: Watchdog,
    type_name: Callable[[Any], str | None],
) -> tuple[list[Column], CopyReader] | None:
    """Describe the query and start its COPY; None when the server does not know the
    task's zone (the transaction was then rolled back: the caller begins it again)."""
    if not set_output_style(conn, zone):
        return None
    dbapi: Any = conn.connection.dbapi_connection
    cursor = dbapi.cursor()
    query = query_text(cursor, dialect, prepared)
    with watchdog.guard():
        cursor.execute(b"DECLARE " + _CURSOR.encode() + b" NO SCROLL CURSOR FOR\n" + query)
        cursor.execute(f"FETCH FORWARD 0 FROM {_CURSOR}")
        description = list(cursor.description or ())
        cursor.execute(f"CLOSE {_CURSOR}")
    columns = [Column(str(d[0]), type_name(d[1])) for d in description]
    form = _text_form(dbapi, cursor, [int(d[1]) for d in description], zone)
    statement = copy_of(query, b"FORMAT text, ENCODING 'UTF8'")
    return columns, CopyReader(dbapi, statement, form, batch_size, watchdog)
