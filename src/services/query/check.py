"""Checking a task's SQL against its database without running it.

``add``, ``edit`` and ``validate`` ask the database to compile the statement, so a
syntax error, a missing table or column is refused when the task is saved, in the
database's own words, instead of at its first scheduled run. Nothing is executed:

* PostgreSQL: ``EXPLAIN`` (never ``ANALYZE``) in a ``READ ONLY`` transaction that is
  rolled back;
* MySQL / MariaDB: ``EXPLAIN`` (SELECT, INSERT, UPDATE, DELETE, REPLACE) in a
  ``READ ONLY`` transaction that is rolled back;
* SQLite: ``EXPLAIN`` (it compiles any statement to its program without running it),
  rolled back too.

On SQLite and PostgreSQL the check also learns the names of the result's columns, so a
task's ``columns`` and ``chart`` can be checked against them: the statement is wrapped
as ``SELECT * FROM (...) AS described LIMIT 0``, which both stop before reading a row
(PostgreSQL's Limit node returns at once without asking its plan; SQLite jumps past its
loop), in the same read-only, rolled-back transaction. MySQL / MariaDB are not asked:
there a derived table may be built before its ``LIMIT 0`` is seen, so the names are known
only when the task runs.

A statement the database cannot describe without running it (``CREATE``, ``CALL``,
...) is not checked, and the result says so. Neither is a database that cannot be
reached: that is :class:`NotChecked` (a warning), never an error, since the machine
that edits tasks.json may not reach the database the daemon does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from src.core.errors import ConfigError, QueryError
from src.core.runvars import run_variables
from src.services.query.backends import backend_for
from src.services.query.classify import classify
from src.services.query.service import QueryService
from src.services.query.sqltext import code_words, prepare_sql, writing_keyword

#: Seconds the check may take on the server: compiling is quick; a hung server is not waited on.
CHECK_TIMEOUT_SECONDS = 10.0

# First keywords EXPLAIN accepts without running the statement, per dialect.
_EXPLAINABLE = {
    "postgresql": frozenset({"select", "with", "values", "table", "insert", "update", "delete"}),
    "mysql": frozenset({"select", "with", "insert", "update", "delete", "replace", "table"}),
    "mariadb": frozenset({"select", "with", "insert", "update", "delete", "replace"}),
}


# Statements EXPLAIN does not take but that are SQL all the same: not checked, with a note.
# A first word that is none of these and not explainable (``SELEC``) is given to EXPLAIN,
# so the database itself calls it a syntax error.
_OTHER_STATEMENTS = frozenset(
    {
        "show",
        "describe",
        "desc",
        "pragma",
        "explain",
        "call",
        "set",
        "create",
        "drop",
        "alter",
        "truncate",
        "grant",
        "revoke",
        "do",
        "copy",
        "exec",
        "execute",
        "declare",
        "begin",
        "commit",
        "rollback",
        "lock",
        "analyze",
        "analyse",
        "vacuum",
        "refresh",
        "load",
        "handler",
        "help",
        "checksum",
        "optimize",
        "repair",
        "flush",
        "kill",
        "use",
        "rename",
        "comment",
        "cluster",
        "reindex",
        "listen",
        "notify",
        "unlisten",
        "merge",
        "prepare",
        "deallocate",
        "reset",
        "discard",
        "savepoint",
        "release",
        "start",
        "fetch",
        "move",
        "close",
        "checkpoint",
        "import",
        "security",
        "values",
        "table",
        "with",
        "insert",
        "update",
        "delete",
        "replace",
        "select",
    }
)


class NotChecked(Exception):
    """The statement could not be checked (no connection, server unreachable): a warning.

    ``config``: the connection itself is not usable (not in .env, a password in the
    URL), which the connection's own check already reports."""

    def __init__(self, message: str, *, config: bool = False) -> None:
        super().__init__(message)
        self.config = config


@dataclass(frozen=True)
class CheckResult:
    #: the database compiled the statement
    checked: bool
    #: why it was not checked, when it was not (a statement kind EXPLAIN cannot take)
    note: str | None = None
    #: the result's column names, when the database can say them without running it
    columns: tuple[str, ...] | None = None


def check_statement(
    service: QueryService,
    connection: str,
    sql: str,
    params: Mapping[str, Any],
    *,
    now: datetime,
    zone: ZoneInfo,
) -> CheckResult:
    """Have the database compile ``sql`` (bound as a run at ``now`` would bind it).

    Raises QueryError with the database's message when it refuses the statement, and
    NotChecked when the check cannot be made (connection not set, server unreachable).
    A missing bind name is a QueryError too (no database needed).
    """
    try:
        engine, where = service.engine(connection)
    except ConfigError as exc:
        raise NotChecked(str(exc), config=True) from None
    dialect = engine.dialect.name
    backend = backend_for(dialect)
    values = {**run_variables(now, zone), **params}
    prepared = prepare_sql(sql, values, backslash_escapes=backend.backslash_escapes)
    words = code_words(sql)
    first = words[0] if words else ""
    if dialect != "sqlite":
        explainable = _EXPLAINABLE.get(dialect)
        if explainable is None:
            return CheckResult(False, f"{backend.product}: SQL is not checked on this database")
        if first not in explainable and first in _OTHER_STATEMENTS:
            return CheckResult(
                False,
                f"a {first.upper() or 'blank'} statement cannot be checked without running it "
                "(EXPLAIN does not take it); the first run will tell",
            )
    try:
        conn = engine.connect()
    except Exception as error:
        raise NotChecked(str(_translate(error, where))) from error
    try:
        # READ ONLY where the server takes EXPLAIN of a write in it (PostgreSQL) or the
        # statement reads; MySQL refuses EXPLAIN DELETE in a read-only transaction (1792),
        # and EXPLAIN without ANALYZE runs nothing there either. SQLite has nothing to set.
        read_only = dialect == "postgresql" or (dialect != "sqlite" and not writing_keyword(sql))
        try:
            backend.begin(conn, read_only=read_only, timeout=CHECK_TIMEOUT_SECONDS)
        except Exception as error:
            raise NotChecked(str(_translate(error, where))) from error
        try:
            conn.execute(sa.text("EXPLAIN " + prepared.text), prepared.params).fetchall()
        except Exception as error:
            problem = _translate(error, where)
            if not problem.permanent:  # the server, not the statement: say so, do not refuse
                raise NotChecked(str(problem)) from error
            raise problem from error
        columns = _described_columns(conn, dialect, first, sql, prepared.text, prepared.params)
    finally:
        # Compiling changed nothing, and nothing is kept: roll back, whatever happened.
        try:
            conn.rollback()
            backend.end(conn)
        except Exception:
            conn.invalidate()
        conn.close()
    return CheckResult(True, columns=columns)


#: Databases whose ``LIMIT 0`` over a derived table reads no row (see the module docstring).
_DESCRIBED = frozenset({"sqlite", "postgresql"})
_READING = frozenset({"select", "with", "values", "table"})


def _described_columns(
    conn: sa.Connection, dialect: str, first: str, sql: str, text: str, params: Mapping[str, Any]
) -> tuple[str, ...] | None:
    """The names of the result's columns, or None where they cannot be had without
    running the statement (another database, a statement that writes)."""
    if dialect not in _DESCRIBED or first not in _READING or writing_keyword(sql):
        return None
    body = text.rstrip().rstrip(";")
    try:
        described = conn.execute(sa.text(f"SELECT * FROM ({body}) AS described LIMIT 0"), params)
        return tuple(described.keys())
    except Exception:
        # EXPLAIN accepted the statement, so this says nothing against it (a form a
        # derived table does not take): the names stay unknown, as on MySQL, and the run
        # notes any it does not find.
        return None


def _translate(error: BaseException, where: str) -> QueryError:
    if isinstance(error, QueryError):
        return error
    return classify(error, where=where, timeout_seconds=CHECK_TIMEOUT_SECONDS, timed_out=False)
