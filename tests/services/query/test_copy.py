"""The CSV fast path: a CSV-only PostgreSQL task is written by the server's COPY.

Each test drives a real run (the runner, a real PostgreSQL) and reads the file back
with the csv module and as raw bytes. "Normal path" runs are the same task with an
xlsx export added, which makes the runner feed rows to the CsvExporter.
"""

from __future__ import annotations

import csv
import io
import sqlite3
import traceback
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from src.services.mail.preview import format_cell
from src.services.query import QueryService
from src.services.query.copy import CrlfWriter
from src.services.runner import RunOutcome
from tests.services.test_runner import Harness, load_table, make_task

COPY_MARK = "by PostgreSQL COPY"

TYPED = """
CREATE TABLE typed (
    id integer PRIMARY KEY, amount numeric(30, 10), ratio double precision, day date,
    ts timestamp, tstz timestamptz, flag boolean, missing text, name text
);
INSERT INTO typed VALUES
 (1, 12345678901234567890.0123456789, 0.25, '2026-11-22', '2026-11-22 13:45:00',
  '2026-11-22 12:00:00+00', true, NULL, 'Zoë 🚀 שלום'),
 (2, -0.0100000000, 1e10, '2024-02-29', '2024-02-29 00:00:01.5', '2024-07-01 23:30:00+00',
  false, NULL, 'say "hi", then
leave'),
 (3, 0, -1.5, '2026-11-23', '2026-11-23 00:00:00', NULL, NULL, NULL, 'a,b;c'),
 (4, 1, 3, '2026-11-24', '2026-11-24 00:00:00', NULL, NULL, NULL, '');
"""


class Runs:
    """Makes a harness per task and records each run's progress lines."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.made: list[Harness] = []
        self.progress: list[str] = []

    def run(self, env: dict[str, str], **task_fields: Any) -> tuple[Harness, RunOutcome]:
        folder = self.folder / f"h{len(self.made)}"
        folder.mkdir()
        h = Harness(folder, env, make_task(**task_fields))
        self.made.append(h)
        self.progress = []
        outcome = h.runner.run(
            h.task,
            scheduled_for=datetime(2026, 11, 23, 8, tzinfo=UTC),
            progress=self.progress.append,
        )
        return h, outcome

    @property
    def used_copy(self) -> bool:
        return any(COPY_MARK in line for line in self.progress)


@pytest.fixture
def runs(tmp_path: Path):
    r = Runs(tmp_path)
    yield r
    for h in r.made:
        h.close()


@pytest.fixture
def typed_pg(pg_fresh_url: str) -> dict[str, str]:
    engine = sa.create_engine(pg_fresh_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(TYPED)  # one script: load_table would split at the ";" in 'a,b;c'
    engine.dispose()
    return {"DATABASE_URL": pg_fresh_url}


def failed_in_copy(outcome: RunOutcome) -> bool:
    """Whether the run's error came from the COPY (the fast path), judged by where the
    driver's exception was caught."""
    cause = outcome.error.__cause__ if outcome.error is not None else None
    frames = traceback.extract_tb(cause.__traceback__) if cause is not None else []
    return any(frame.name == "copy_csv" for frame in frames)


def csv_file(outcome: RunOutcome) -> Path:
    (path,) = [f.path for f in outcome.files if f.format == "csv"]
    return path


def records(path: Path, delimiter: str = ",") -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def pg_form(column: str, value: str) -> str:
    """The documented difference: how PostgreSQL writes what the CsvExporter wrote."""
    if column == "flag":
        return {"true": "t", "false": "f"}.get(value, value)
    if column in ("ts", "tstz"):
        value = value.replace("T", " ")  # 2026-11-22T13:45:00 -> 2026-11-22 13:45:00
        if column == "tstz" and value.endswith(":00"):
            value = value[:-3]  # +01:00 -> +01
        if column == "ts" and "." in value:
            value = value.rstrip("0")  # .500000 -> .5
        return value
    if column == "ratio" and value.endswith(".0"):
        return value[:-2]
    return value


# -- the file ---------------------------------------------------------------------------


def test_fast_path_writes_the_same_rows_as_the_normal_path(runs: Runs, typed_pg) -> None:
    _, fast = runs.run(typed_pg, exports={"csv": True}, email={})
    assert fast.status == "success", fast.error
    assert runs.used_copy
    _, normal = runs.run(typed_pg, exports={"csv": True, "xlsx": True}, email={})
    assert normal.status == "success", normal.error
    assert not runs.used_copy

    fast_rows, normal_rows = records(csv_file(fast)), records(csv_file(normal))
    header = normal_rows[0]
    assert fast_rows[0] == header == fast.columns == normal.columns
    assert fast.rows == normal.rows == 4 == len(fast_rows) - 1
    for got, wrote in zip(fast_rows[1:], normal_rows[1:], strict=True):
        assert got == [pg_form(c, v) for c, v in zip(header, wrote, strict=True)]

    # PostgreSQL's forms, values exact, timestamptz in the task's zone (Berlin)
    first, second, third, fourth = fast_rows[1:]
    assert first == [
        "1",
        "12345678901234567890.0123456789",
        "0.25",
        "2026-11-22",
        "2026-11-22 13:45:00",
        "2026-11-22 13:00:00+01",
        "t",
        "",
        "Zoë 🚀 שלום",
    ]
    assert second[1:3] == ["-0.0100000000", "10000000000"]
    assert second[4:7] == ["2024-02-29 00:00:01.5", "2024-07-02 01:30:00+02", "f"]
    assert second[8] == 'say "hi", then\nleave'
    assert third[8] == "a,b;c" and third[5:8] == ["", "", ""]
    assert fourth[8] == ""

    raw = csv_file(fast).read_bytes()
    assert raw.startswith(b"id,amount,ratio,day,ts,tstz,flag,missing,name\r\n")  # no BOM
    assert raw.count(b"\r\n") == 5  # every record ends with CRLF ...
    assert b'"say ""hi"", then\nleave"\r\n' in raw  # ... a line break inside a value stays LF
    assert raw.endswith(b',,,""\r\n')  # an empty string is "" (NULL is an empty field)
    assert fast.files[0].size_bytes == len(raw)
    assert fast.files[0].rows_written == fast.files[0].rows_total == 4


def test_bom_delimiter_preview_and_email(runs: Runs, typed_pg) -> None:
    h, outcome = runs.run(
        typed_pg,
        exports={"csv": {"bom": True, "delimiter": ";", "filename": "sales-{today}"}},
    )
    assert outcome.status == "success", outcome.error
    assert runs.used_copy
    path = csv_file(outcome)
    assert path.name == "sales-2026-11-23.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid;amount;")
    assert b'"a,b;c"' in raw  # quoted for the delimiter in use
    assert records(path, ";")[3][8] == "a,b;c"
    # the preview is the file's first rows, as text
    assert outcome.columns[0] == "id" and len(outcome.preview) == 4
    assert outcome.preview[0][8] == "Zoë 🚀 שלום" and outcome.preview[0][6] == "t"
    # the email carries the file and the preview
    (eml,) = h.outbox()
    message = message_from_bytes(eml.read_bytes(), policy=default_policy)
    (attached,) = message.iter_attachments()
    assert attached.get_filename() == path.name
    assert attached.get_payload(decode=True) == raw
    body = message.get_body(("plain",))
    assert body is not None and "Zoë 🚀 שלום" in body.get_content()


def test_preview_matches_the_normal_path_for_plain_types(runs: Runs, typed_pg) -> None:
    # (numeric and timestamps differ in the preview: Decimal('0E-10') is shown as
    # 0E-10, datetimes with six fraction digits)
    query = "SELECT id, day, name FROM typed ORDER BY id"
    _, fast = runs.run(typed_pg, query=query, exports={"csv": True}, email={})
    assert runs.used_copy
    _, normal = runs.run(typed_pg, query=query, exports={"csv": True, "xlsx": True}, email={})
    shown = [[format_cell(v) for v in row] for row in fast.preview]
    assert shown == [[format_cell(v) for v in row] for row in normal.preview]


# -- binds, run variables, statement shapes -----------------------------------------------


def test_binds_and_run_variables(runs: Runs, typed_pg) -> None:
    query = (
        "SELECT id, {today} AS today, :label AS label, '{today} :label 50%' AS literal\n"
        "FROM typed WHERE day <= {today}::date AND name LIKE '%' ORDER BY id; -- done"
    )
    _, outcome = runs.run(
        typed_pg,
        query=query,
        params={"label": "O'Brien; DROP TABLE typed"},
        exports={"csv": True},
        email={},
    )
    assert outcome.status == "success", outcome.error
    assert runs.used_copy
    rows = records(csv_file(outcome))
    assert rows[0] == ["id", "today", "label", "literal"]
    # the run is on 2026-11-23 (Berlin): rows 1-3 have day <= today
    assert rows[1:] == [
        [str(i), "2026-11-23", "O'Brien; DROP TABLE typed", "{today} :label 50%"] for i in (1, 2, 3)
    ]


def test_statement_that_is_not_a_select_uses_the_normal_path(runs: Runs, typed_pg) -> None:
    _, outcome = runs.run(
        typed_pg,
        query="UPDATE typed SET amount = amount + 1",
        exports={"csv": True},
        email={},
        read_only=False,
    )
    assert outcome.status == "success", outcome.error
    assert not runs.used_copy
    assert outcome.rowcount == 4 and outcome.files == []


def test_show_returns_rows_through_the_normal_path(runs: Runs, typed_pg) -> None:
    _, outcome = runs.run(typed_pg, query="SHOW DateStyle", exports={"csv": True}, email={})
    assert outcome.status == "success", outcome.error
    assert not runs.used_copy
    assert records(csv_file(outcome))[0] == ["DateStyle"]


def test_multibyte_delimiter_uses_the_normal_path(runs: Runs, typed_pg) -> None:
    _, outcome = runs.run(
        typed_pg,
        query="SELECT id, flag FROM typed ORDER BY id",
        exports={"csv": {"delimiter": "§"}},
        email={},
    )
    assert outcome.status == "success", outcome.error
    assert not runs.used_copy
    assert records(csv_file(outcome), "§")[1] == ["1", "true"]  # the CsvExporter's form


# -- failures ---------------------------------------------------------------------------


def test_timeout_is_recorded_and_the_partial_file_removed(runs: Runs, typed_pg) -> None:
    # The temporary file exists from the start (header, maybe first rows), then the limit.
    query = "SELECT g, pg_sleep(0.01) FROM generate_series(1, 1000) AS g"
    h, outcome = runs.run(typed_pg, query=query, exports={"csv": True}, timeout_seconds=1)
    assert outcome.status == "timeout", outcome.error
    assert failed_in_copy(outcome)
    assert outcome.error is not None and "longer than 1 s" in str(outcome.error)
    (record,) = h.history()
    assert record["error"]["type"] == "timeout"
    assert h.export_files() == [] and h.outbox() == []


def test_errors_read_like_the_normal_path(runs: Runs, typed_pg) -> None:
    query = "SELECT * FROM no_such_table"
    _, fast = runs.run(typed_pg, query=query, exports={"csv": True}, email={})
    _, normal = runs.run(typed_pg, query=query, exports={"csv": True, "xlsx": True}, email={})
    assert fast.status == normal.status == "failed"
    assert failed_in_copy(fast) and not failed_in_copy(normal)
    assert fast.error is not None and normal.error is not None
    assert str(fast.error) == str(normal.error)
    assert "table, column or function the database does not have" in str(fast.error)
    assert fast.error.permanent


def test_read_only_is_enforced(runs: Runs, typed_pg) -> None:
    load_table(typed_pg["DATABASE_URL"], "CREATE SEQUENCE counter")
    _, outcome = runs.run(
        typed_pg,
        query="SELECT nextval('counter')",
        exports={"csv": True},
        read_only=True,
        email={},
    )
    assert outcome.status == "failed"
    assert failed_in_copy(outcome)
    assert "read-only" in str(outcome.error)


# -- other databases --------------------------------------------------------------------


def test_sqlite_and_mariadb_are_not_copied(mariadb_fresh_url: str, tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "x.db").close()
    service = QueryService(
        {"DB_SQLITE_URL": f"sqlite:///{tmp_path / 'x.db'}", "DB_MARIA_URL": mariadb_fresh_url}
    )
    try:
        for name in ("sqlite", "maria"):
            target = tmp_path / f"{name}.csv"
            copied = service.copy_csv(
                name,
                "SELECT 1 AS one",
                run_at=datetime(2026, 11, 23, tzinfo=UTC),
                zone=ZoneInfo("UTC"),
                timeout_seconds=10,
                path=target,
            )
            assert copied is None
            assert list(tmp_path.glob(f"*{name}.csv*")) == []
    finally:
        service.close()


def test_sqlite_csv_only_task_uses_the_csv_exporter(runs: Runs, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'typed.db'}"
    load_table(url, "CREATE TABLE typed (id integer, name text); INSERT INTO typed VALUES (1, 'x')")
    _, outcome = runs.run({"DATABASE_URL": url}, exports={"csv": True}, email={})
    assert outcome.status == "success", outcome.error
    assert not runs.used_copy
    assert records(csv_file(outcome)) == [["id", "name"], ["1", "x"]]


# -- the line-end translation -------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1000])
def test_crlf_writer_ignores_how_the_bytes_are_cut(chunk: int) -> None:
    copy_output = b'a,b\n1,"x\ny ""q"" z"\n2,""\n3,"\n"\n'
    out = io.BytesIO()
    writer = CrlfWriter(out)
    for i in range(0, len(copy_output), chunk):
        writer.write(copy_output[i : i + chunk])
    assert out.getvalue() == b'a,b\r\n1,"x\ny ""q"" z"\r\n2,""\r\n3,"\n"\r\n'
    assert list(csv.reader(io.StringIO(out.getvalue().decode(), newline=""))) == [
        ["a", "b"],
        ["1", 'x\ny "q" z'],
        ["2", ""],
        ["3", "\n"],
    ]


def test_history_lists_the_copied_file(runs: Runs, typed_pg) -> None:
    h, outcome = runs.run(typed_pg, exports={"csv": True}, email={})
    assert runs.used_copy
    (record,) = h.history()
    assert record["status"] == "success" and record["rows"] == 4
    assert [f["path"] for f in record["files"]] == [str(csv_file(outcome))]
