"""Turn a driver's exception into a QueryError that says what to check.

Each failure a person can act on gets its own message, and ``permanent`` says
whether a retry can help: bad credentials, an unknown database or table and a
syntax error are permanent; a refused or dropped connection, a deadlock or a
serialization failure are transient.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import exc as sa_exc

from src.core.errors import QueryError, QueryTimeout

# PostgreSQL SQLSTATE classes / codes.
#: What a transient failure's message says about retrying. The error is classified before
#: anyone knows whether the task's retry policy has a try left, so it promises nothing
#: (a last_error after the final retry must not say "the run will be retried").
RETRY_HINT = "a retry can help: the run is tried again while its retry policy allows"

_PG_TIMEOUT = {"57014"}  # query_canceled (statement_timeout or cancel)
_PG_TRANSIENT = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03"}
_PG_AUTH = {"28000", "28P01"}
# MySQL / MariaDB error numbers.
_MY_TIMEOUT = {1969, 3024, 1317}
_MY_AUTH = {1045, 1044, 1698}
_MY_UNKNOWN_DB = {1049}
_MY_SYNTAX = {1064, 1149}
_MY_UNKNOWN_OBJECT = {1146, 1054, 1305}
_MY_READ_ONLY = {1792}
_MY_CONNECT = {2002, 2003, 2005, 2006, 2013, 2055}
_MY_TRANSIENT = {1205, 1213, 1040, 1053, 1927}

_SECRET = re.compile(r"(?i)\b(PWD|PASSWORD)\s*=\s*(\{[^}]*\}|[^;\s]*)")


def _first_line(error: BaseException) -> str:
    args: tuple[Any, ...] = tuple(getattr(error, "args", ()))
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        error = Exception(f"{args[1]} (error {args[0]})")  # pymysql: (errno, message)
    text = str(error).strip().splitlines()
    line = text[0].strip() if text else type(error).__name__
    return _SECRET.sub(r"\1=***", line)


def _code(orig: BaseException) -> tuple[str | None, int | None]:
    """(SQLSTATE, native error number) as far as the driver tells."""
    sqlstate = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
    number: int | None = None
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    if args and isinstance(args[0], int):
        number = args[0]  # pymysql: (errno, message)
    elif args and isinstance(args[0], str) and re.fullmatch(r"[0-9A-Z]{5}", args[0]):
        sqlstate = sqlstate or args[0]  # pyodbc: (sqlstate, message)
    if number is None and len(args) > 1 and isinstance(args[1], str):
        native = re.search(r"\((\d+)\)", args[1])  # pyodbc: "... (1146) (SQLExecDirectW)"
        if native:
            number = int(native.group(1))
    return sqlstate, number


def classify(
    error: BaseException,
    *,
    where: str,
    timeout_seconds: float | None,
    timed_out: bool,
    odbc_drivers: list[str] | None = None,
) -> QueryError:
    """A QueryError (or QueryTimeout) for ``error``; ``where`` names connection and masked URL.

    The message leads with the cause, in the database's own words, then what it means,
    where (``where``), and what to check: a history table that shortens it still shows why.
    """
    orig: BaseException = getattr(error, "orig", None) or error
    detail = _first_line(orig)
    lowered = str(orig).lower()
    sqlstate, number = _code(orig)

    def fail(what: str, check: str, *, permanent: bool) -> QueryError:
        return QueryError(f"{detail} — {what} ({where}). {check}", permanent=permanent)

    limit = f"{timeout_seconds:g} s" if timeout_seconds is not None else "the time limit"
    if (
        timed_out
        or sqlstate in _PG_TIMEOUT
        or sqlstate == "HYT00"
        or number in _MY_TIMEOUT
        or lowered.strip() == "interrupted"
    ):
        return QueryTimeout(
            f"the query ran longer than {limit} and was cancelled ({where}). "
            "Make it faster (indexes, a narrower date range) or raise the task's timeout",
            permanent=False,
        )

    if isinstance(error, sa_exc.NoSuchModuleError):
        return fail(
            "unknown database type or driver in the URL",
            "Use postgresql+psycopg2://, mysql+pymysql://, mssql+pyodbc://, mysql+pyodbc:// "
            "or sqlite:///",
            permanent=True,
        )
    if isinstance(error, ImportError):
        return fail(
            "the database driver is not installed",
            "Install the Python package the URL's +driver names (see requirements.txt)",
            permanent=True,
        )

    # --- missing ODBC driver / unixODBC ---------------------------------------------
    if sqlstate == "IM002" or "can't open lib" in lowered or "file not found" in lowered:
        known = ", ".join(odbc_drivers or []) or "none"
        return fail(
            "the ODBC driver named in the URL is not installed",
            f"Installed ODBC drivers (/etc/odbcinst.ini): {known}. Install the driver "
            "(e.g. msodbcsql18, odbc-mariadb, odbc-postgresql) or fix driver= in the URL",
            permanent=True,
        )

    # --- authentication / unknown database --------------------------------------------
    if (
        sqlstate in _PG_AUTH
        or number in _MY_AUTH
        or "password authentication failed" in lowered
        or "access denied" in lowered
        or "login failed" in lowered
    ):
        return fail(
            "the server refused the user name or password",
            "Check the user and password in the connection's URL in .env",
            permanent=True,
        )
    if (
        sqlstate == "3D000"
        or number in _MY_UNKNOWN_DB
        or re.search(r'database "[^"]*" does not exist', lowered)
        or "unknown database" in lowered
        or "cannot open database" in lowered
    ):
        return fail(
            "the database named in the URL does not exist on the server",
            "Check the database name at the end of the connection's URL in .env",
            permanent=True,
        )
    if "unable to open database file" in lowered:
        return fail(
            "the SQLite file cannot be opened",
            "Check the path after sqlite:/// and that its folder exists and is writable",
            permanent=True,
        )

    # --- cannot reach the server ------------------------------------------------------
    if (
        number in _MY_CONNECT
        or (sqlstate or "").startswith("08")
        or sqlstate == "HYT01"
        or "connection refused" in lowered
        or "could not connect" in lowered
        or "can't connect" in lowered
        or "could not translate host name" in lowered
        or "timeout expired" in lowered
        or "server closed the connection" in lowered
        or "lost connection" in lowered
        or "gone away" in lowered
        or "communication link failure" in lowered
        or (isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated)
    ):
        return fail(
            "cannot reach the database server, or it closed the connection",
            "Check that the server is running and the host and port in the URL are right; "
            f"{RETRY_HINT}",
            permanent=False,
        )

    # --- the statement ----------------------------------------------------------------
    if sqlstate == "25006" or number in _MY_READ_ONLY or "readonly" in lowered:
        return fail(
            "the task is read-only but the SQL tries to change data",
            "Remove the INSERT/UPDATE/DELETE, or allow writing: `manage_tasks.py edit TASK "
            '--read-write` (tasks.json: "read_only": false)',
            permanent=True,
        )
    if (
        sqlstate == "42601"
        or number in _MY_SYNTAX
        or "syntax error" in lowered
        or "incorrect syntax" in lowered
        or "error in your sql syntax" in lowered
    ):
        return fail("SQL syntax error", "Fix the task's SQL", permanent=True)
    if (
        sqlstate in {"42P01", "42S02", "42703", "42S22", "42883"}
        or number in _MY_UNKNOWN_OBJECT
        or "no such table" in lowered
        or "no such column" in lowered
        or "does not exist" in lowered
        or "invalid object name" in lowered
    ):
        return fail(
            "the SQL names a table, column or function the database does not have",
            "Check the names in the task's SQL, and that the URL points at the right database "
            "and schema",
            permanent=True,
        )
    if (
        sqlstate in _PG_TRANSIENT
        or (sqlstate or "").startswith("53")
        or sqlstate == "40001"
        or number in _MY_TRANSIENT
        or "deadlock" in lowered
        or "database is locked" in lowered
        or "could not serialize" in lowered
    ):
        return fail(
            "the server could not complete the query now (deadlock, lock or load)",
            RETRY_HINT[0].upper() + RETRY_HINT[1:],
            permanent=False,
        )
    if (sqlstate or "").startswith(("42", "22", "23")) or isinstance(orig, sa_exc.StatementError):
        return fail("the database rejected the query", "Fix the task's SQL", permanent=True)
    return fail(
        "the query failed",
        f"See the database's message; {RETRY_HINT}",
        permanent=False,
    )
