"""QueryService (src/services/query/service.py, its time limit
src/services/query/watchdog.py) against the real PostgreSQL and MariaDB servers, and
SQLite: the package src/services/query/ as the runner uses it."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from src.core.errors import QueryError, QueryTimeout
from src.services.query import QueryService

BERLIN = ZoneInfo("Europe/Berlin")


# 23:30 UTC on 10 March is already 11 March in Berlin: today=2024-03-11, yesterday=03-10.
RUN_AT = datetime(2024, 3, 10, 23, 30, tzinfo=UTC)


def run(
    service: QueryService, connection: str, sql: str, **kwargs: Any
) -> tuple[list[str], list[tuple[Any, ...]], int | None]:
    kwargs.setdefault("timeout_seconds", 30)
    with service.execute(connection, sql, run_at=RUN_AT, zone=BERLIN, **kwargs) as result:
        rows = [tuple(r) for batch in result.batches for r in batch]
        return [c.name for c in result.columns], rows, result.rowcount


@pytest.fixture
def pg(pg_fresh_url: str) -> Iterator[QueryService]:
    service = QueryService({"DATABASE_URL": pg_fresh_url})
    yield service
    service.close()


@pytest.fixture
def maria(mariadb_fresh_url: str) -> Iterator[QueryService]:
    service = QueryService({"DATABASE_URL": mariadb_fresh_url})
    yield service
    service.close()


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[QueryService]:
    sqlite3.connect(tmp_path / "demo.db").close()  # a missing file is refused, never created
    service = QueryService({"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"})
    yield service
    service.close()


# --- types come back as Python types ---------------------------------------------------


@pytest.mark.postgres
def test_postgres_types(pg: QueryService) -> None:
    long_text = "é" * 100_000
    names, rows, _ = run(
        pg,
        "DATABASE_URL",
        "SELECT 12345.678::numeric(12,3) AS amount, DATE '2024-02-29' AS day,"
        " TIMESTAMPTZ '2024-03-10 12:00:00+00' AS aware, TIMESTAMP '2024-03-10 12:00' AS naive,"
        " true AS flag, NULL::text AS nothing, 'Grüße 日本 🙂' AS uni, :long_text AS long_text",
        params={"long_text": long_text},
    )
    assert names == ["amount", "day", "aware", "naive", "flag", "nothing", "uni", "long_text"]
    (row,) = rows
    assert row[0] == Decimal("12345.678") and isinstance(row[0], Decimal)
    assert row[1] == date(2024, 2, 29)
    assert isinstance(row[2], datetime) and row[2].tzinfo is not None
    assert row[2] == datetime(2024, 3, 10, 12, tzinfo=UTC)
    assert row[3] == datetime(2024, 3, 10, 12) and row[3].tzinfo is None
    assert row[4] is True
    assert row[5] is None
    assert row[6] == "Grüße 日本 🙂"
    assert row[7] == long_text


@pytest.mark.mariadb
def test_mariadb_types(maria: QueryService) -> None:
    run(
        maria,
        "DATABASE_URL",
        "CREATE TABLE t (amount DECIMAL(12,3), day DATE, at DATETIME, flag BOOLEAN,"
        " nothing TEXT, uni VARCHAR(50), long_text LONGTEXT) CHARACTER SET utf8mb4",
    )
    long_text = "é" * 100_000
    _, _, inserted = run(
        maria,
        "DATABASE_URL",
        "INSERT INTO t VALUES (12345.678, '2024-02-29', '2024-03-10 12:00:00', TRUE, NULL,"
        " 'Grüße 日本 🙂', :long_text)",
        params={"long_text": long_text},
    )
    assert inserted == 1
    _, rows, _ = run(maria, "DATABASE_URL", "SELECT * FROM t")
    (row,) = rows
    assert row[0] == Decimal("12345.678") and isinstance(row[0], Decimal)
    assert row[1] == date(2024, 2, 29)
    assert row[2] == datetime(2024, 3, 10, 12)
    assert row[3] == 1  # MariaDB BOOLEAN is TINYINT(1)
    assert row[4] is None
    assert row[5] == "Grüße 日本 🙂"
    assert row[6] == long_text


# --- streaming ----------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_streams_from_a_server_side_cursor(pg: QueryService, pg_url: str) -> None:
    # (without use_copy=False, rows come from COPY: tests/services/query/test_copy_rows.py)
    batch_size = 1237  # unusual, so the FETCH below is ours
    with pg.execute(
        "DATABASE_URL",
        "SELECT n, md5(n::text) FROM generate_series(1, 200000) AS n",
        run_at=RUN_AT,
        zone=BERLIN,
        timeout_seconds=30,
        batch_size=batch_size,
        use_copy=False,
    ) as result:
        first = next(result.batches)
        assert len(first) == batch_size
        observer = sa.create_engine(pg_url, poolclass=sa.NullPool)
        with observer.connect() as conn:
            last_statements = conn.execute(
                sa.text("SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid()")
            ).scalars()
            # SQLAlchemy reads one row first, then FETCH FORWARD batch_size - 1.
            fetching = [q for q in last_statements if q.startswith("FETCH FORWARD 123")]
        observer.dispose()
        assert fetching, "no server-side cursor: rows were not fetched in batches"
        rest = sum(len(batch) for batch in result.batches)
    assert len(first) + rest == 200_000


@pytest.mark.mariadb
def test_mariadb_streams_while_the_server_still_sends(
    maria: QueryService, mariadb_url: str
) -> None:
    marker = "stream_marker_4711"
    with maria.execute(
        "DATABASE_URL",
        f"SELECT seq, REPEAT('x', 200) AS pad, '{marker}' FROM seq_1_to_200000",
        run_at=RUN_AT,
        zone=BERLIN,
        timeout_seconds=30,
        batch_size=1000,
    ) as result:
        first = next(result.batches)
        observer = sa.create_engine(mariadb_url, poolclass=sa.NullPool)
        with observer.connect() as conn:
            running = conn.execute(
                sa.text(
                    "SELECT COUNT(*) FROM information_schema.processlist"
                    " WHERE command = 'Query' AND info LIKE :pattern AND id <> CONNECTION_ID()"
                ),
                {"pattern": f"%{marker}%"},
            ).scalar_one()
        observer.dispose()
        # Unbuffered: the statement is still running on the server after one batch.
        assert running == 1
        rest = sum(len(batch) for batch in result.batches)
    assert len(first) == 1000
    assert len(first) + rest == 200_000


def test_sqlite_batches(lite: QueryService) -> None:
    with lite.execute(
        "DATABASE_URL",
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2500)"
        " SELECT x FROM c",
        run_at=RUN_AT,
        zone=BERLIN,
        timeout_seconds=10,
        batch_size=1000,
    ) as result:
        sizes = [len(batch) for batch in result.batches]
    assert sizes == [1000, 1000, 500]


# --- timeouts -----------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_timeout_cancels_the_statement(pg: QueryService) -> None:
    with pytest.raises(QueryTimeout) as caught:
        run(pg, "DATABASE_URL", "SELECT pg_sleep(5)", timeout_seconds=1)
    assert caught.value.permanent is False
    assert "longer than 1 s" in str(caught.value)
    # The pooled connection is usable afterwards (the cancelled one was discarded).
    assert run(pg, "DATABASE_URL", "SELECT 1")[1] == [(1,)]


@pytest.mark.mariadb
def test_mariadb_timeout_cancels_the_statement(maria: QueryService) -> None:
    with pytest.raises(QueryTimeout):
        run(maria, "DATABASE_URL", "SELECT SLEEP(5) FROM seq_1_to_3", timeout_seconds=1)
    assert run(maria, "DATABASE_URL", "SELECT 1")[1] == [(1,)]


def test_sqlite_timeout_interrupts_the_statement(lite: QueryService) -> None:
    endless = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    )
    with pytest.raises(QueryTimeout):
        run(lite, "DATABASE_URL", endless, timeout_seconds=0.5)


def test_a_result_read_slowly_is_cut_at_the_timeout_between_fetches(lite: QueryService) -> None:
    rows = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) "
    started = time.monotonic()
    with (
        pytest.raises(QueryTimeout),
        lite.execute(
            "DATABASE_URL",
            rows + "SELECT x FROM c",
            run_at=RUN_AT,
            zone=BERLIN,
            timeout_seconds=0.5,
            batch_size=10,
        ) as result,
    ):
        for _ in result.batches:  # each fetch is instant; the reader is slow
            time.sleep(0.1)
    assert time.monotonic() - started < 5  # uncut, the 100 batches take 10 s


# --- read-only, statements without rows, commit -----------------------------------------


@pytest.mark.postgres
def test_postgres_read_only_refuses_writes(pg: QueryService) -> None:
    run(pg, "DATABASE_URL", "CREATE TABLE t (a int)")
    with pytest.raises(QueryError) as caught:
        run(pg, "DATABASE_URL", "INSERT INTO t VALUES (1)", read_only=True)
    assert caught.value.permanent is True
    assert "read-only" in str(caught.value)
    assert run(pg, "DATABASE_URL", "SELECT count(*) FROM t")[1] == [(0,)]


@pytest.mark.mariadb
def test_mariadb_read_only_refuses_writes(maria: QueryService) -> None:
    run(maria, "DATABASE_URL", "CREATE TABLE t (a int)")
    with pytest.raises(QueryError) as caught:
        run(maria, "DATABASE_URL", "INSERT INTO t VALUES (1)", read_only=True)
    assert caught.value.permanent is True
    assert "read-only" in str(caught.value)


@pytest.mark.postgres
def test_statement_without_rows_reports_rows_affected_and_commits(pg: QueryService) -> None:
    run(pg, "DATABASE_URL", "CREATE TABLE t (a int)")
    columns, rows, affected = run(pg, "DATABASE_URL", "INSERT INTO t SELECT generate_series(1, 3)")
    assert (columns, rows, affected) == ([], [], 3)
    assert run(pg, "DATABASE_URL", "SELECT count(*) FROM t")[1] == [(3,)]


@pytest.mark.postgres
def test_engine_is_reused_between_runs(pg: QueryService) -> None:
    first = run(pg, "DATABASE_URL", "SELECT pg_backend_pid()")[1]
    second = run(pg, "DATABASE_URL", "SELECT pg_backend_pid()")[1]
    assert first == second  # same pooled connection, not a new engine per run


# --- run variables are bound, never pasted ---------------------------------------------


@pytest.fixture
def sent_statements() -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        seen.append((statement, params))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)


@pytest.mark.parametrize("backend", ["pg", "maria", "lite"])
def test_run_variables_are_bound_values(
    backend: str, request: pytest.FixtureRequest, sent_statements: list[tuple[str, Any]]
) -> None:
    service: QueryService = request.getfixturevalue(backend)
    run(service, "DATABASE_URL", "CREATE TABLE days (day DATE, label VARCHAR(20))")
    run(
        service,
        "DATABASE_URL",
        "INSERT INTO days VALUES ('2024-03-09', 'before'), ('2024-03-10', 'yesterday'),"
        " ('2024-03-11', 'today'), ('2024-03-01', 'month start')",
    )
    sent_statements.clear()
    sql = (
        "SELECT label FROM days WHERE day = {yesterday} OR day = :today"
        " OR day = {start_of_month} ORDER BY day"
    )
    # through the cursor, where SQLAlchemy sees the statement and its values (COPY sends the
    # text psycopg2 quotes from the same values: test_copy_rows.py checks what it reads)
    _, rows, _ = run(service, "DATABASE_URL", sql, use_copy=False)
    assert rows == [("month start",), ("yesterday",), ("today",)]
    (statement, params), *_ = [s for s in sent_statements if "FROM days" in s[0]]
    assert "2024-03" not in statement
    values = params.values() if isinstance(params, dict) else params
    assert date(2024, 3, 10) in values and date(2024, 3, 11) in values


@pytest.mark.postgres
def test_task_params_are_bound_and_win_over_run_variables(pg: QueryService) -> None:
    _, rows, _ = run(
        pg,
        "DATABASE_URL",
        "SELECT :region || '!' AS r, {today}::text AS d",
        params={"region": "north'; DROP TABLE x; --", "today": date(2000, 1, 1)},
    )
    assert rows == [("north'; DROP TABLE x; --!", "2000-01-01")]


# --- a failure's message leads with the cause ---------------------------------------------


def test_sqlite_error_leads_with_the_database_words_and_names_the_url_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    sqlite3.connect(tmp_path / "demo.db").close()  # SQLite files are never created by a run
    service = QueryService({})
    try:
        with pytest.raises(QueryError) as caught:
            run(service, url, "SELECT * FROM salez")
    finally:
        service.close()
    assert str(caught.value) == (
        "no such table: salez — the SQL names a table, column or function the database "
        f"does not have (connection {url}). Check the names in the task's SQL, and that "
        "the URL points at the right database and schema"
    )


@pytest.mark.postgres
def test_postgres_error_leads_with_the_database_words_then_where(
    pg: QueryService, pg_fresh_url: str
) -> None:
    with pytest.raises(QueryError) as caught:
        run(pg, "DATABASE_URL", "SELECT * FROM salez")
    message = str(caught.value)
    assert message.startswith('relation "salez" does not exist — the SQL names a table')
    url = sa.engine.make_url(pg_fresh_url)
    masked = url.render_as_string(hide_password=True)
    assert f" (connection 'DATABASE_URL', {masked}). Check the names" in message
    assert ":***@" in masked and f":{url.password}@" not in message


def test_timeout_message_leads_with_what_happened(lite: QueryService) -> None:
    endless = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    )
    with pytest.raises(QueryTimeout) as caught:
        run(lite, "DATABASE_URL", endless, timeout_seconds=0.5)
    assert str(caught.value).startswith(
        "the query ran longer than 0.5 s and was cancelled (connection 'DATABASE_URL', sqlite:///"
    )
