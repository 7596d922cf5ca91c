"""The COPY row source (src/services/query/copy_rows.py) against the real PostgreSQL: the
same rows as through a server-side cursor, streamed, and the timeout, the read-only
transaction, the cancellation and the errors as on the cursor path."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg2
import pytest
import sqlalchemy as sa

from src.core.errors import QueryError, QueryTimeout
from src.core.text_batch import TEXT_DECODERS, TextBatch, TextKind
from src.services.query import QueryService

BERLIN = ZoneInfo("Europe/Berlin")
RUN_AT = datetime(2024, 3, 10, 23, 30, tzinfo=UTC)

#: Every kind of column, NULLs, and values each writer has a rule for. Shared with the
#: exporters' tests (tests/services/export/test_xlsx_text.py, test_csv_text.py).
EVERY_TYPE = r"""
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE TABLE every_type (
    n integer, small smallint, big bigint, huge bigint, amount numeric(30, 10), odd numeric,
    ratio double precision, single real, flag boolean, day date, at timestamp,
    at_tz timestamptz, clock time, span interval, doc jsonb, raw json, id uuid, blob bytea,
    list integer[], label text, code char(5), name varchar(40), feeling mood
);
INSERT INTO every_type VALUES
 (1, 2, 3, 1234567890123456789, 12345678901234567890.0123456789, 'NaN', 1e15, 0.1, true,
  '2024-02-29', '2024-03-31 01:02:03.456', '2024-07-01 12:00:00+00', '13:45:30.5',
  '1 day 02:00', '{"a": [1, "é"]}', '{"b":1}', '00000000-0000-0000-0000-000000000001',
  '\x00ff', '{1,2}', 'plain text', 'ab', 'Zoë 🚀 שלום', 'ok'),
 (-7, -32768, -999999999999999, -1000000000000000, -0.0100000000, 'Infinity', 100, -1.5,
  false, '1899-12-31', '1900-01-01 00:00:00', '2024-01-01 00:00:00.5+00', '00:00:00',
  '-3 hours', '"text"', '[1, 2]', '00000000-0000-0000-0000-0000000000ff', '', '{}',
  '=1+2', 'x', '', 'sad'),
 (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (0, 0, 0, 0, 0, 0, 'NaN', 'Infinity', true, 'infinity', '2026-11-22 13:45:00',
  '2026-11-22 23:59:59.999999+00', '23:59:59.999999', '0', 'null', 'null',
  '00000000-0000-0000-0000-000000000002', '\x01', '{NULL}', E'<b>&amp;</b> \\N', '',
  E'line 1\nline 2\ttab', 'ok'),
 (5, 5, 5, 5, 5.5, 1e-7, -0.0, 1e-5, false, '1900-03-01', '1900-03-01 00:00:00',
  '1900-03-01 12:00:00+00', '12:00', '1 mon', '{}', '{}', NULL, NULL, NULL,
  '  padded  ', 'pad', E'a\x01b\\c', NULL),
 (6, 6, 6, 6, 6, 6, '-Infinity', 6, true, '2024-01-01', 'infinity', '-infinity', NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, E'\\N', '+49', E'\u00a0nbsp', NULL),
 (7, 7, 7, 7, 7, 7, 1e300, 7, true, '9999-12-31', '2024-06-30 12:00:00',
  '2024-10-27 00:30:00+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, repeat('x', 40000),
  '-5', '@SUM(A1)', NULL);
"""


def load_every_type(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(EVERY_TYPE)
    engine.dispose()


def read(service: QueryService, sql: str, **kwargs: Any) -> tuple[list[str], list[Any], list[Any]]:
    """(column names, rows as tuples, the batches' types) through ``execute``."""
    kwargs.setdefault("timeout_seconds", 30)
    kwargs.setdefault("batch_size", 2)
    with service.execute("DATABASE_URL", sql, run_at=RUN_AT, zone=BERLIN, **kwargs) as result:
        batches = list(result.batches)
        rows = [tuple(row) for batch in batches for row in batch]
        return [c.name for c in result.columns], rows, [type(b) for b in batches]


@pytest.fixture
def pg(pg_fresh_url: str) -> Iterator[QueryService]:
    service = QueryService({"DATABASE_URL": pg_fresh_url})
    yield service
    service.close()


@pytest.fixture
def every_type(pg_fresh_url: str) -> None:
    load_every_type(pg_fresh_url)


def _same(a: Any, b: Any) -> bool:
    return a == b or (a != a and b != b)  # NaN is NaN


def test_rows_read_the_same_as_through_a_cursor(pg: QueryService, every_type: None) -> None:
    sql = "SELECT * FROM every_type"
    names, copied, kinds = read(pg, sql)
    cursor_names, fetched, cursor_kinds = read(pg, sql, use_copy=False)
    assert set(kinds) == {TextBatch} and TextBatch not in cursor_kinds
    assert names == cursor_names and len(copied) == len(fetched) == 7
    for got, want in zip(copied, fetched, strict=True):
        for name, a, b in zip(names, got, want, strict=True):
            assert _same(a, b), (name, a, b)
            assert type(a) is type(b), (name, a, b)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Asia/Kolkata", "America/St_Johns"])
def test_the_text_decoders_read_what_psycopg2_reads(pg_url: str, zone: str) -> None:
    # the plain decoders stand in for psycopg2's casters, here and in the side process
    # (export/side.py): the same value and type for every form PostgreSQL writes, and the
    # same error for the dates Python cannot hold
    values = {
        TextKind.DATE: ["2024-02-29", "0001-01-01", "9999-12-31", "infinity", "-infinity",
                        "0044-03-15 BC", "10000-01-01"],
        TextKind.TIMESTAMP: ["2024-03-31 02:30:00", "1900-01-01 00:00:00.000001",
                             "0001-01-01 00:00", "infinity", "-infinity",
                             "0044-03-15 10:00 BC", "10000-01-01 00:00"],
        TextKind.TIMESTAMPTZ: ["2024-10-27 00:30:00+00", "1850-01-01 00:00+00",
                               "2024-01-01 00:00:00.5+00", "infinity", "-infinity",
                               "0044-03-15 10:00+00 BC", "10000-01-01 00:00+00"],
    }  # fmt: skip
    types = {TextKind.DATE: "date", TextKind.TIMESTAMP: "timestamp",
             TextKind.TIMESTAMPTZ: "timestamptz"}  # fmt: skip
    conn = psycopg2.connect(pg_url.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        cur = conn.cursor()
        cur.execute("SET DateStyle = 'ISO, YMD'")
        cur.execute("SET TIME ZONE %s", (zone,))
        for kind, literals in values.items():
            for literal in literals:
                cur.execute(f"SELECT %s::{types[kind]}::text", (literal,))
                text = cur.fetchone()[0]
                try:
                    cur.execute(f"SELECT %s::{types[kind]}", (literal,))
                    want: Any = cur.fetchone()[0]
                except ValueError as exc:
                    with pytest.raises(ValueError) as caught:
                        TEXT_DECODERS[kind](text)
                    assert str(caught.value) == str(exc), text
                    continue
                got = TEXT_DECODERS[kind](text)
                assert got == want and type(got) is type(want), (text, got, want)
                assert getattr(got, "tzinfo", None) == getattr(want, "tzinfo", None), text
    finally:
        conn.close()


def test_each_column_says_what_its_text_holds(pg: QueryService, every_type: None) -> None:
    with pg.execute(
        "DATABASE_URL", "SELECT * FROM every_type", run_at=RUN_AT, zone=BERLIN,
        timeout_seconds=30,
    ) as result:  # fmt: skip
        batch = next(result.batches)
        assert isinstance(batch, TextBatch)
        kinds = dict(zip([c.name for c in result.columns], batch.kinds, strict=True))
        list(result.batches)
    assert kinds == {
        "n": TextKind.INTEGER, "small": TextKind.INTEGER, "big": TextKind.INTEGER,
        "huge": TextKind.INTEGER, "amount": TextKind.DECIMAL, "odd": TextKind.DECIMAL,
        "ratio": TextKind.FLOAT, "single": TextKind.FLOAT, "flag": TextKind.BOOLEAN,
        "day": TextKind.DATE, "at": TextKind.TIMESTAMP, "at_tz": TextKind.TIMESTAMPTZ,
        "clock": TextKind.OTHER, "span": TextKind.OTHER, "doc": TextKind.OTHER,
        "raw": TextKind.OTHER, "id": TextKind.OTHER, "blob": TextKind.OTHER,
        "list": TextKind.OTHER, "label": TextKind.TEXT, "code": TextKind.TEXT,
        "name": TextKind.TEXT, "feeling": TextKind.TEXT,
    }  # fmt: skip
    assert batch.form.zone == BERLIN


def test_binds_run_variables_and_statement_shapes(pg: QueryService) -> None:
    sql = (
        "WITH v(x) AS (VALUES (1), (2)) SELECT x, :label AS label, {today} AS today, "
        "'{today} :label 50%' AS literal FROM v ORDER BY x; -- done"
    )
    _, rows, kinds = read(pg, sql, params={"label": "O'Brien; DROP TABLE x"})
    assert set(kinds) == {TextBatch}
    today = date(2024, 3, 11)  # in Berlin
    assert rows == [(1, "O'Brien; DROP TABLE x", today, "{today} :label 50%"),
                    (2, "O'Brien; DROP TABLE x", today, "{today} :label 50%")]  # fmt: skip
    assert read(pg, "TABLE pg_catalog.pg_am")[2][0] is TextBatch
    # a statement that does not start like a query keeps the cursor path
    assert TextBatch not in read(pg, "SHOW DateStyle")[2]


def test_rows_stream_while_the_server_still_sends(pg: QueryService, pg_url: str) -> None:
    marker = "copy_stream_marker_4711"
    with pg.execute(
        "DATABASE_URL",
        f"SELECT n, md5(n::text) AS {marker} FROM generate_series(1, 300000) AS n",
        run_at=RUN_AT, zone=BERLIN, timeout_seconds=30, batch_size=1000,
    ) as result:  # fmt: skip
        first = next(result.batches)
        assert isinstance(first, TextBatch) and len(first) == 1000
        observer = sa.create_engine(pg_url, poolclass=sa.NullPool)
        with observer.connect() as conn:
            running = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                    " AND query LIKE 'COPY (%' AND query LIKE :pattern"
                ),
                {"pattern": f"%{marker}%"},
            ).scalar_one()
        observer.dispose()
        assert running == 1  # one statement, read as it comes: nothing is held whole
        rest = sum(len(batch) for batch in result.batches)
    assert len(first) + rest == 300_000


# --- the time limit, read-only, stopping early, errors -----------------------------------


def test_the_server_cancels_a_statement_past_the_timeout(pg: QueryService) -> None:
    started = time.monotonic()
    with pytest.raises(QueryTimeout) as caught:
        read(pg, "SELECT pg_sleep(30)", timeout_seconds=1)
    assert time.monotonic() - started < 15  # uncut, it sleeps 30 s
    assert caught.value.permanent is False and "longer than 1 s" in str(caught.value)
    assert read(pg, "SELECT 1")[1] == [(1,)]  # the pooled connection works afterwards


def test_a_result_read_slowly_is_cut_at_the_timeout(pg: QueryService) -> None:
    # each batch comes at once, the reader is slow: the statement's time limit covers the
    # whole result, as the watchdog does for a cursor's fetches
    started = time.monotonic()
    with (
        pytest.raises(QueryTimeout),
        pg.execute(
            "DATABASE_URL", "SELECT n FROM generate_series(1, 100000) AS n",
            run_at=RUN_AT, zone=BERLIN, timeout_seconds=1, batch_size=100,
        ) as result,
    ):  # fmt: skip
        for _ in result.batches:
            time.sleep(0.05)
    assert time.monotonic() - started < 15  # uncut, the 1,000 batches take 50 s
    assert read(pg, "SELECT 2")[1] == [(2,)]


def test_read_only_refuses_writes(pg: QueryService) -> None:
    read(pg, "CREATE SEQUENCE counter", use_copy=False)
    with pytest.raises(QueryError) as caught:
        read(pg, "SELECT nextval('counter')", read_only=True)
    assert caught.value.permanent is True and "read-only" in str(caught.value)
    assert read(pg, "SELECT nextval('counter')", read_only=False)[1] == [(1,)]


def test_a_reader_that_stops_early_cancels_the_statement(pg: QueryService, pg_url: str) -> None:
    marker = "copy_stop_marker_4711"
    with (
        pytest.raises(RuntimeError, match="the export failed"),
        pg.execute(
            "DATABASE_URL",
            f"SELECT n AS {marker} FROM generate_series(1, 5000000) AS n",
            run_at=RUN_AT, zone=BERLIN, timeout_seconds=60, batch_size=1000,
        ) as result,
    ):  # fmt: skip
        next(result.batches)
        raise RuntimeError("the export failed")
    assert not [t for t in threading.enumerate() if t.name == "copy-rows"]
    # the server's own view of its backend is updated just after the error reaches the
    # client, so it is read until it agrees; an uncancelled COPY would stay active blocked
    # on its full socket, far past this bound
    observer = sa.create_engine(pg_url, poolclass=sa.NullPool)
    deadline = time.monotonic() + 10
    with observer.connect() as conn:
        while True:
            running = conn.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE query LIKE :p"
                        " AND state = 'active' AND pid <> pg_backend_pid()"),
                {"p": f"%{marker}%"},
            ).scalar_one()  # fmt: skip
            conn.rollback()  # a fresh snapshot of pg_stat_activity each time
            if running == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    observer.dispose()
    assert running == 0
    assert read(pg, "SELECT 3")[1] == [(3,)]


def test_a_reader_that_leaves_before_the_end_ends_the_copy(pg: QueryService) -> None:
    with pg.execute(
        "DATABASE_URL", "SELECT n FROM generate_series(1, 5000000) AS n",
        run_at=RUN_AT, zone=BERLIN, timeout_seconds=60, batch_size=1000,
    ) as result:  # fmt: skip
        assert len(next(result.batches)) == 1000
    assert not [t for t in threading.enumerate() if t.name == "copy-rows"]
    assert read(pg, "SELECT 4")[1] == [(4,)]


def test_errors_read_like_the_cursor_path(pg: QueryService) -> None:
    for sql in ("SELECT * FROM no_such_table", "SELEC 1", "SELECT 1/0"):
        with pytest.raises(QueryError) as copied:
            read(pg, sql)
        with pytest.raises(QueryError) as fetched:
            read(pg, sql, use_copy=False)
        assert str(copied.value) == str(fetched.value)
        assert copied.value.permanent == fetched.value.permanent


def test_a_zone_the_server_does_not_know_keeps_the_cursor_path(
    pg: QueryService, tmp_path: Path
) -> None:
    source = Path("/usr/share/zoneinfo/Europe/Berlin")
    if not source.exists():
        import tzdata  # the zone file from the tzdata package instead

        source = Path(tzdata.__file__).parent / "zoneinfo" / "Europe" / "Berlin"
    with source.open("rb") as handle:
        zone = ZoneInfo.from_file(handle, key="Mars/Olympus_Mons")
    read(pg, "CREATE SEQUENCE counter", use_copy=False)
    with pg.execute(
        "DATABASE_URL", "SELECT now()::timestamptz AS at", run_at=RUN_AT, zone=zone,
        timeout_seconds=30, read_only=True,
    ) as result:  # fmt: skip
        batches = list(result.batches)
    assert not isinstance(batches[0], TextBatch)
    # the transaction begun again after the zone check is still read-only
    with (
        pytest.raises(QueryError, match="read-only"),
        pg.execute(
            "DATABASE_URL", "SELECT nextval('counter')", run_at=RUN_AT, zone=zone,
            timeout_seconds=30, read_only=True,
        ) as result,
    ):  # fmt: skip
        list(result.batches)
