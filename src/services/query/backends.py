"""What differs between database servers: timeouts, read-only, cancelling, version.

One small class per family, picked by the SQLAlchemy dialect name. Each works on
an open SQLAlchemy ``Connection`` inside the transaction the query runs in.
"""

from __future__ import annotations

import contextlib
import math
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from src.core.errors import QueryError

# Extra seconds the client-side watchdog waits beyond the server-side timeout, so
# the server's own (cleaner) cancel normally comes first.
WATCHDOG_GRACE_SECONDS = 2.0


class Backend:
    """Defaults for a database without server-side statement timeouts."""

    product = "database"
    server_timeout = False
    backslash_escapes = False

    def begin(self, conn: Connection, *, read_only: bool, timeout: float | None) -> list[str]:
        """Set up the transaction; return notes for the result (limits not enforced)."""
        notes: list[str] = []
        if read_only:
            notes.append(f"read_only is not enforced on {self.product}")
        return notes

    def end(self, conn: Connection) -> None:
        """Undo session settings made in begin() before the connection returns to the pool."""

    def canceller(self, engine: Engine, conn: Connection) -> Any:
        """A callable, safe to call from another thread, that stops the running statement."""
        dbapi = conn.connection.dbapi_connection

        def close() -> None:
            with contextlib.suppress(Exception):
                dbapi.close()  # type: ignore[union-attr]

        return close

    def version(self, conn: Connection) -> str:
        info = conn.dialect.server_version_info
        return ".".join(str(p) for p in info) if info else "unknown version"


class PostgresBackend(Backend):
    product = "PostgreSQL"
    server_timeout = True

    def begin(self, conn: Connection, *, read_only: bool, timeout: float | None) -> list[str]:
        if read_only:  # must come first in the transaction
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        if timeout is not None:
            # SET LOCAL ends with the transaction: nothing leaks to the pool.
            ms = max(1, math.ceil(timeout * 1000))
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")
        return []

    def canceller(self, engine: Engine, conn: Connection) -> Any:
        dbapi = conn.connection.dbapi_connection
        cancel = getattr(dbapi, "cancel", None)
        if cancel is None:  # not psycopg2 (e.g. pyodbc): fall back to closing
            return super().canceller(engine, conn)

        def do_cancel() -> None:
            with contextlib.suppress(Exception):
                cancel()

        return do_cancel

    def version(self, conn: Connection) -> str:
        text = str(conn.exec_driver_sql("SHOW server_version").scalar())
        return text.split()[0]


class MySQLBackend(Backend):
    """MySQL and MariaDB: the same protocol, different timeout variables."""

    product = "MySQL"
    server_timeout = True
    backslash_escapes = True

    def _is_mariadb(self, conn: Connection) -> bool:
        return bool(getattr(conn.dialect, "is_mariadb", False))

    def begin(self, conn: Connection, *, read_only: bool, timeout: float | None) -> list[str]:
        if timeout is not None:
            if self._is_mariadb(conn):
                # MariaDB: seconds (float), applies to every statement kind.
                conn.exec_driver_sql(f"SET SESSION max_statement_time = {timeout:.3f}")
            else:
                # MySQL: milliseconds, applies to SELECT only.
                ms = max(1, math.ceil(timeout * 1000))
                conn.exec_driver_sql(f"SET SESSION max_execution_time = {ms}")
        if read_only:
            conn.exec_driver_sql("START TRANSACTION READ ONLY")
        return []

    def end(self, conn: Connection) -> None:
        var = "max_statement_time" if self._is_mariadb(conn) else "max_execution_time"
        conn.exec_driver_sql(f"SET SESSION {var} = DEFAULT")

    def canceller(self, engine: Engine, conn: Connection) -> Any:
        thread_id = int(conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar_one())

        def kill_query() -> None:
            # KILL QUERY from a second connection stops the statement, keeps the session.
            with contextlib.suppress(Exception), engine.connect() as other:
                other.exec_driver_sql(f"KILL QUERY {thread_id}")

        return kill_query

    def version(self, conn: Connection) -> str:
        text = str(conn.exec_driver_sql("SELECT VERSION()").scalar())
        return text.split("-")[0]

    def product_of(self, conn: Connection) -> str:
        return "MariaDB" if self._is_mariadb(conn) else "MySQL"


class SQLiteBackend(Backend):
    product = "SQLite"

    def begin(self, conn: Connection, *, read_only: bool, timeout: float | None) -> list[str]:
        if read_only:
            conn.exec_driver_sql("PRAGMA query_only = ON")
        return []

    def end(self, conn: Connection) -> None:
        conn.exec_driver_sql("PRAGMA query_only = OFF")

    def canceller(self, engine: Engine, conn: Connection) -> Any:
        dbapi = conn.connection.dbapi_connection
        interrupt = getattr(dbapi, "interrupt", None)
        if interrupt is None:
            return super().canceller(engine, conn)
        return interrupt

    def version(self, conn: Connection) -> str:
        return str(conn.exec_driver_sql("SELECT sqlite_version()").scalar())


class MSSQLBackend(Backend):
    product = "SQL Server"
    server_timeout = True

    def begin(self, conn: Connection, *, read_only: bool, timeout: float | None) -> list[str]:
        dbapi: Any = conn.connection.dbapi_connection
        if timeout is not None and hasattr(dbapi, "timeout"):
            # pyodbc: SQL_ATTR_QUERY_TIMEOUT, enforced by the driver (whole seconds).
            dbapi.timeout = max(1, math.ceil(timeout))
        notes = []
        if read_only:
            notes.append(
                "read_only is not enforced on SQL Server; use a login with read-only rights"
            )
        return notes

    def end(self, conn: Connection) -> None:
        dbapi: Any = conn.connection.dbapi_connection
        if hasattr(dbapi, "timeout"):
            dbapi.timeout = 0

    def version(self, conn: Connection) -> str:
        return str(conn.exec_driver_sql("SELECT SERVERPROPERTY('ProductVersion')").scalar())


_BACKENDS: dict[str, type[Backend]] = {
    "postgresql": PostgresBackend,
    "mysql": MySQLBackend,
    "mariadb": MySQLBackend,
    "sqlite": SQLiteBackend,
    "mssql": MSSQLBackend,
}


def backend_for(dialect_name: str) -> Backend:
    return _BACKENDS.get(dialect_name, Backend)()


def product_name(backend: Backend, conn: Connection) -> str:
    if isinstance(backend, MySQLBackend):
        return backend.product_of(conn)
    return backend.product


_ODBC_KEY = re.compile(r"(?i)\b(SERVER|HOST|PORT|DATABASE)\s*=\s*([^;]*)")


def location(url: sa.engine.URL) -> str:
    """``host:port/database`` (or the SQLite file) for messages, without credentials."""
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    host, port, database = url.host, url.port, url.database
    odbc = url.query.get("odbc_connect")
    if isinstance(odbc, str):
        found = {k.upper(): v.strip() for k, v in _ODBC_KEY.findall(odbc)}
        host = host or found.get("SERVER") or found.get("HOST")
        port = port or (int(found["PORT"]) if _ascii_digits(found.get("PORT", "")) else None)
        database = database or found.get("DATABASE")
    where = host or "localhost"
    if port:
        where += f":{port}"
    return f"{where}/{database}" if database else where


def sqlite_file(url: sa.engine.URL) -> Path | None:
    """The file of a SQLite URL (absolute), or None: not SQLite, in memory or a URI."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).absolute()


def sqlite_read_write(url: sa.engine.URL, where: str) -> sa.engine.URL:
    """A SQLite URL opened with ``mode=rw``: a mistyped path is an error, never a new empty
    database (sqlite3 would create one, world-readable, and the run would "succeed")."""
    path = sqlite_file(url)
    if path is None:
        return url
    if not path.is_file():
        raise QueryError(
            f"{where}: the SQLite file {path} does not exist; it is never created. Check the "
            "path after sqlite:/// (three slashes: relative to the folder the command runs "
            "in; four: an absolute path)",
            permanent=True,
        )
    return url.set(database="file:" + quote(str(path))).update_query_dict(
        {"mode": "rw", "uri": "true"}
    )


def _ascii_digits(text: str) -> bool:
    """'5432', not '٥٤٣٢' or '²' (str.isdigit accepts those and int() then may not)."""
    return text.isascii() and text.isdigit()
