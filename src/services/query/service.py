"""QueryService: run a task's SQL on its connection and stream the rows.

    service = QueryService(load_env(Path(".env")))
    with service.execute("sales", "SELECT * FROM orders WHERE day = {yesterday}",
                         run_at=occurrence, zone=ZoneInfo("Europe/Berlin"),
                         timeout_seconds=300, read_only=True) as result:
        for batch in result.batches:   # lists of up to batch_size rows
            ...

Rows stream, ``batch_size`` at a time, so memory stays flat whatever the row count:
on PostgreSQL (psycopg2) from ``COPY (query) TO STDOUT`` as text batches
(``copy_rows.py``: 3-5x faster to read, same values), elsewhere from a server-side
cursor (MySQL/MariaDB unbuffered cursor; a PostgreSQL named cursor with
``use_copy=False``). The timeout is enforced by the server where it has one, with a
client-side watchdog as a backstop; both end in QueryTimeout.

Longer than ~400 lines on purpose: ``execute`` and ``copy_csv`` share the connection, the
transaction's set-up (read-only, timeout), the watchdog and the error translation, and
read best side by side; what COPY itself needs is in copy.py and copy_rows.py.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult, Engine, make_url

from src.core.errors import ExportError, QueryError
from src.core.result import Column, QueryResult, Row
from src.core.runvars import run_variables
from src.services.connections import mask_url, resolve_connection
from src.services.export.base import AtomicFile, io_error
from src.services.query.backends import (
    WATCHDOG_GRACE_SECONDS,
    Backend,
    backend_for,
    location,
    product_name,
    sqlite_read_write,
)
from src.services.query.classify import classify
from src.services.query.copy import (
    CopyResult,
    CrlfWriter,
    copy_applies,
    copy_statement,
    read_preview,
    set_output_style,
)
from src.services.query.copy_rows import CopyReader, copy_rows_apply, open_copy
from src.services.query.sqltext import prepare_sql
from src.services.query.watchdog import DeadlinePassed, Watchdog

DEFAULT_BATCH_SIZE = 5000  # rows per batch: ~1-5 MB of Python objects for typical reports
CONNECT_TIMEOUT_SECONDS = 10  # a server that does not answer is reported, not waited on


def describe_connection(connection: str, url: str) -> str:
    """``connection 'sales', postgresql+psycopg2://bob:***@db/sales``; a connection given
    as a URL is shown once (masked), not as its name and again as its URL."""
    masked = mask_url(url)
    if connection.strip() in {url, masked}:
        return f"connection {masked}"
    return f"connection {connection!r}, {masked}"


def _connect_args(url: sa.engine.URL) -> dict[str, Any]:
    driver = url.get_driver_name()
    if driver in {"psycopg2", "pymysql"}:
        return {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    if driver == "pyodbc":
        return {"timeout": CONNECT_TIMEOUT_SECONDS}  # login timeout
    return {}


def _odbc_drivers() -> list[str]:
    try:
        import pyodbc

        return list(pyodbc.drivers())
    except Exception:  # unixODBC missing: there are no drivers to list
        return []


def _type_name(dialect: str, type_code: Any) -> str | None:
    """The driver's name for a column type code, if it has one (informative only)."""
    if isinstance(type_code, type):  # pyodbc gives Python types
        return type_code.__name__
    if not isinstance(type_code, int):
        return None
    if dialect == "postgresql":
        with contextlib.suppress(ImportError):
            import psycopg2.extensions

            caster = psycopg2.extensions.string_types.get(type_code)
            return str(caster.name) if caster is not None else None
    if dialect in {"mysql", "mariadb"}:
        with contextlib.suppress(ImportError):
            from pymysql.constants import FIELD_TYPE

            names = {v: k for k, v in vars(FIELD_TYPE).items() if isinstance(v, int)}
            return names.get(type_code)
    return None


class QueryService:
    """Runs SQL on named connections; one SQLAlchemy engine per URL, reused."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = dict(env)
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    # --- public ----------------------------------------------------------------------
    @contextlib.contextmanager
    def execute(
        self,
        connection: str,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        run_at: datetime,
        zone: ZoneInfo,
        timeout_seconds: float | None,
        read_only: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        use_copy: bool = True,
    ) -> Iterator[QueryResult]:
        """Run ``sql`` and yield its result; rows are read while the block runs.

        ``{name}`` and ``:name`` in the SQL are bound from the run variables (computed
        from ``run_at`` in ``zone``) and ``params`` (which win on a clash). Raises
        ConfigError (connection not configured), QueryError, QueryTimeout. A statement
        that returns no rows gives ``columns == []`` and ``rowcount`` = rows affected;
        it is committed unless ``read_only``. On PostgreSQL through psycopg2 a statement
        that reads rows is read with COPY (batches are ``TextBatch``) unless ``use_copy``
        is False or the server does not know ``zone``'s name.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        url = resolve_connection(connection, self._env)
        where = describe_connection(connection, url)
        engine = self._engine(url, where)
        backend = backend_for(engine.dialect.name)
        values = {**run_variables(run_at, zone), **(params or {})}
        prepared = prepare_sql(sql, values, backslash_escapes=backend.backslash_escapes)
        grace = WATCHDOG_GRACE_SECONDS if backend.server_timeout else 0.0
        watchdog = Watchdog(None if timeout_seconds is None else timeout_seconds + grace)

        def translate(error: BaseException) -> QueryError:
            return classify(
                error,
                where=where,
                timeout_seconds=timeout_seconds,
                timed_out=watchdog.fired,
                odbc_drivers=_odbc_drivers(),
            )

        try:
            conn = engine.connect()
        except Exception as error:
            raise translate(error) from error
        state = {"exhausted": False}
        reader: CopyReader | None = None
        try:
            try:
                notes = backend.begin(conn, read_only=read_only, timeout=timeout_seconds)
                if timeout_seconds is not None:
                    watchdog.cancel = backend.canceller(engine, conn)
                    watchdog.start()  # the statement and every fetch: one deadline
                copied = None
                copy = use_copy and prepared.returns_rows_hint
                if copy and copy_rows_apply(engine.dialect, zone):
                    copied = open_copy(
                        conn, engine.dialect, prepared, zone, batch_size, watchdog,
                        lambda code: _type_name(engine.dialect.name, code),
                    )  # fmt: skip
                    if copied is None:  # the zone check ended the transaction: begin again
                        notes = backend.begin(conn, read_only=read_only, timeout=timeout_seconds)
                if copied is None:
                    options: dict[str, Any] = (
                        {"yield_per": batch_size} if prepared.returns_rows_hint else {}
                    )
                    with watchdog.guard():
                        result = conn.execution_options(**options).execute(
                            sa.text(prepared.text), prepared.params
                        )
            except QueryError:
                raise
            except Exception as error:
                raise translate(error) from error
            if copied is not None:
                columns, reader = copied
                yield QueryResult(columns, self._copied(reader, translate, state), None, notes)
            elif result.returns_rows:
                columns = [
                    Column(str(d[0]), _type_name(engine.dialect.name, d[1]))
                    for d in result.cursor.description or ()
                ]
                batches = self._batches(result, batch_size, watchdog, translate, state)
                yield QueryResult(columns, batches, None, notes)
            else:
                state["exhausted"] = True
                yield QueryResult([], iter(()), result.rowcount, notes)
            if reader is not None:
                reader.stop()  # a reader that left before the end: the COPY ends first
            self._finish(conn, backend, read_only=read_only, clean=state["exhausted"])
        except BaseException:
            if reader is not None:
                reader.stop()  # the COPY thread must be done with the connection first
            # The connection's state is unknown (statement cut short, cursor half read):
            # do not return it to the pool.
            with contextlib.suppress(Exception):
                conn.invalidate()
            raise
        finally:
            watchdog.stop()
            conn.close()

    def copy_csv(
        self,
        connection: str,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        run_at: datetime,
        zone: ZoneInfo,
        timeout_seconds: float | None,
        read_only: bool = False,
        path: Path,
        bom: bool = False,
        delimiter: str = ",",
        preview_rows: int = 20,
    ) -> CopyResult | None:
        """Write the result of ``sql`` to the CSV file ``path`` with PostgreSQL's COPY.

        The fast path for CSV-only tasks (see ``copy.py`` for the file's value formats).
        Binds, timeout, read-only and errors behave as in ``execute``; the file is
        written under a temporary name and renamed when complete, and removed on any
        failure. Returns None, having written nothing, when COPY cannot be used (not
        PostgreSQL through psycopg2, a statement that does not read rows, a delimiter
        of more than one byte, a zone the server does not know): the caller then runs
        the normal path.
        """
        url = resolve_connection(connection, self._env)
        where = describe_connection(connection, url)
        engine = self._engine(url, where)
        if not copy_applies(engine.dialect, delimiter, zone):
            return None
        backend = backend_for(engine.dialect.name)
        values = {**run_variables(run_at, zone), **(params or {})}
        prepared = prepare_sql(sql, values, backslash_escapes=backend.backslash_escapes)
        if not prepared.returns_rows_hint:
            return None
        watchdog = Watchdog(
            None if timeout_seconds is None else timeout_seconds + WATCHDOG_GRACE_SECONDS
        )
        try:
            conn = engine.connect()
        except Exception as error:
            raise self._classify(error, where, timeout_seconds, watchdog) from error
        target: AtomicFile | None = None
        try:
            try:
                notes = backend.begin(conn, read_only=read_only, timeout=timeout_seconds)
                if not set_output_style(conn, zone):
                    return None
                if timeout_seconds is not None:
                    watchdog.cancel = backend.canceller(engine, conn)
                cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                statement = copy_statement(cursor, engine.dialect, prepared, delimiter)
                target = AtomicFile(path)
                sink = CrlfWriter(target.file)
                try:
                    if bom:
                        target.file.write("\ufeff".encode())
                    with watchdog.guard():
                        cursor.copy_expert(statement, sink)
                except OSError as exc:
                    raise io_error(path, exc) from exc
                except Exception as error:
                    if sink.error is not None:  # the file failed, not the query
                        raise io_error(path, sink.error) from error
                    raise
                rows = int(cursor.rowcount)
                cursor.close()
            except (QueryError, ExportError):
                raise
            except Exception as error:
                raise self._classify(error, where, timeout_seconds, watchdog) from error
            self._finish(conn, backend, read_only=read_only, clean=True)
            size = target.commit()
        except BaseException:
            if target is not None:
                target.discard()
            with contextlib.suppress(Exception):
                conn.invalidate()  # a COPY cut short leaves the connection mid-protocol
            raise
        finally:
            conn.close()
        columns, preview = read_preview(path, delimiter, preview_rows)
        return CopyResult(rows, columns, preview, size, notes)

    def test_connection(self, connection: str) -> str:
        """Connect, ask the server its version: ``PostgreSQL 15.18 at 127.0.0.1:5432/db``."""
        url = resolve_connection(connection, self._env)
        where = describe_connection(connection, url)
        engine = self._engine(url, where)
        backend = backend_for(engine.dialect.name)
        try:
            with engine.connect() as conn:
                version = backend.version(conn)
                product = product_name(backend, conn)
                conn.rollback()
        except Exception as error:
            raise classify(
                error,
                where=where,
                timeout_seconds=None,
                timed_out=False,
                odbc_drivers=_odbc_drivers(),
            ) from error
        return f"{product} {version} at {location(engine.url)}"

    def close(self) -> None:
        """Close every pooled connection; the service can still be used afterwards."""
        with self._lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            engine.dispose()

    # --- internals -------------------------------------------------------------------
    @staticmethod
    def _classify(
        error: BaseException, where: str, timeout_seconds: float | None, watchdog: Watchdog
    ) -> QueryError:
        return classify(
            error,
            where=where,
            timeout_seconds=timeout_seconds,
            timed_out=watchdog.fired,
            odbc_drivers=_odbc_drivers(),
        )

    def engine(self, connection: str) -> tuple[Engine, str]:
        """The engine of a connection and the words that name it in messages."""
        url = resolve_connection(connection, self._env)
        where = describe_connection(connection, url)
        return self._engine(url, where), where

    def _engine(self, url: str, where: str) -> Engine:
        with self._lock:
            engine = self._engines.get(url)
            if engine is None:
                try:
                    parsed = sqlite_read_write(make_url(url), where)
                    engine = sa.create_engine(
                        parsed, pool_pre_ping=True, connect_args=_connect_args(parsed)
                    )
                except QueryError:
                    raise
                except Exception as error:
                    raise classify(
                        error, where=where, timeout_seconds=None, timed_out=False
                    ) from error
                self._engines[url] = engine
            return engine

    @staticmethod
    def _batches(
        result: CursorResult[Any],
        batch_size: int,
        watchdog: Watchdog,
        translate: Any,
        state: dict[str, bool],
    ) -> Iterator[list[Row]]:
        partitions = result.partitions(batch_size)
        while True:
            try:
                if watchdog.expired:  # passed while the caller wrote the last batch
                    watchdog.fire()
                    raise DeadlinePassed("the time limit passed between two fetches")
                with watchdog.guard():
                    batch = next(partitions, None)
            except Exception as error:
                raise translate(error) from error
            if batch is None:
                state["exhausted"] = True
                return
            yield [tuple(row) for row in batch]

    @staticmethod
    def _copied(
        reader: CopyReader, translate: Any, state: dict[str, bool]
    ) -> Iterator[Sequence[Row]]:
        batches = reader.batches()
        while True:
            try:
                batch = next(batches, None)
            except Exception as error:
                raise translate(error) from error
            if batch is None:
                state["exhausted"] = True
                return
            yield batch

    @staticmethod
    def _finish(conn: Connection, backend: Backend, *, read_only: bool, clean: bool) -> None:
        if not clean:
            # The caller stopped reading early; an unbuffered MySQL cursor would
            # otherwise drain every remaining row on close.
            conn.invalidate()
            return
        if read_only:
            conn.rollback()
        else:
            conn.commit()
        backend.end(conn)
