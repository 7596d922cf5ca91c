"""One run end to end against real servers: query -> xlsx/csv/pdf -> email -> history.

Every produced file is read back with a real reader (openpyxl, csv, pypdf), and
every message is received by a real SMTP server (aiosmtpd) or read from the outbox.
"""

from __future__ import annotations

import csv
import json
import os
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from src.cli import render
from src.core.errors import ConfigError
from src.core.task import Task
from src.services.query import QueryService
from src.services.runner import Runner, RunOutcome
from src.services.settings import Settings
from src.services.task_store import TaskStore

LONG_TEXT = "long " * 2000  # 10,000 characters
UNICODE = "Zoë 🚀 שלום"


def make_task(**fields: Any) -> dict[str, Any]:
    task = {
        "id": "7c1e4b1a-0000-4000-8000-000000000001",
        "name": "Typed report",
        "connection": "DATABASE_URL",
        "query": "SELECT * FROM typed ORDER BY id",
        "schedule": {"cron": "0 9 * * *"},
        "timezone": "Europe/Berlin",
        "exports": {"xlsx": True, "csv": True, "pdf": True},
        "email": {"to": ["team@example.com"]},
        "timeout_seconds": 30,
    }
    task.update(fields)
    return task


class Harness:
    """A tasks.json, settings and a runner in a temp folder."""

    def __init__(self, folder: Path, env: dict[str, str], task: dict[str, Any]) -> None:
        self.folder = folder
        self.env = env
        self.store = TaskStore(folder / "tasks.json")
        self.store.path.write_text(json.dumps({"version": 1, "tasks": [task]}))
        self.settings = Settings.from_env(env, folder)
        self.query = QueryService(env)
        self.sleeps: list[float] = []
        self.runner = Runner(self.store, self.settings, self.query, sleep=self.sleeps.append)

    @property
    def task(self) -> Task:
        return self.store.load().tasks[0]

    def run(self) -> RunOutcome:
        return self.runner.run(self.task, scheduled_for=datetime(2026, 11, 23, 8, tzinfo=UTC))

    def history(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.runner.history.runs()]

    def outbox(self) -> list[Path]:
        return sorted(self.settings.smtp.outbox_dir.glob("*.eml"))

    def export_files(self) -> list[Path]:
        return sorted(p for p in self.settings.exports_dir.rglob("*") if p.is_file())

    def close(self) -> None:
        self.query.close()


@pytest.fixture
def harness(tmp_path: Path):
    made: list[Harness] = []

    def make(env: dict[str, str], **task_fields: Any) -> Harness:
        h = Harness(tmp_path, env, make_task(**task_fields))
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


# -- the typed table on each backend ------------------------------------------------------

PG_TABLE = f"""
CREATE TABLE typed (
    id integer PRIMARY KEY, amount numeric(12, 2), ratio double precision, day date,
    ts timestamp, tstz timestamptz, flag boolean, missing text, name text, long_text text
);
INSERT INTO typed VALUES
 (1, 1234.50, 0.25, '2026-11-22', '2026-11-22 13:45:00', '2026-11-22 12:00:00+00',
  true, NULL, '{UNICODE}', '{LONG_TEXT}'),
 (2, -0.01, 1e10, '2024-02-29', '2024-02-29 00:00:01', '2024-02-29 23:30:00+00',
  false, NULL, '=SUM(A1:A9)', 'short');
"""

MARIADB_TABLE = f"""
CREATE TABLE typed (
    id integer PRIMARY KEY, amount decimal(12, 2), ratio double, day date,
    ts datetime, tstz timestamp NULL, flag boolean, missing text, name text, long_text text
) CHARACTER SET utf8mb4;
INSERT INTO typed VALUES
 (1, 1234.50, 0.25, '2026-11-22', '2026-11-22 13:45:00', '2026-11-22 12:00:00',
  true, NULL, '{UNICODE}', '{LONG_TEXT}'),
 (2, -0.01, 1e10, '2024-02-29', '2024-02-29 00:00:01', '2024-02-29 23:30:00',
  false, NULL, '=SUM(A1:A9)', 'short');
"""

SQLITE_TABLE = PG_TABLE.replace("timestamptz", "timestamp").replace("+00'", "'")


def load_table(url: str, script: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        if engine.dialect.name == "mysql":
            conn.execute(sa.text("SET time_zone = '+00:00'"))
        for statement in script.split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)
    engine.dispose()


@pytest.fixture(params=["postgresql", "mariadb", "sqlite"])
def typed_url(request, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_fresh_url")
        load_table(url, PG_TABLE)
    elif request.param == "mariadb":
        url = request.getfixturevalue("mariadb_fresh_url")
        load_table(url, MARIADB_TABLE)
    else:
        url = f"sqlite:///{tmp_path / 'typed.db'}"
        load_table(url, SQLITE_TABLE)
    return url


def test_types_round_trip_through_every_export(harness, typed_url):
    h = harness({"DATABASE_URL": typed_url})
    outcome = h.run()
    assert outcome.status == "success", outcome.error
    assert outcome.rows == 2
    by_format = {f.format: f.path for f in outcome.files}
    assert set(by_format) == {"xlsx", "csv", "pdf"}
    sqlite = typed_url.startswith("sqlite")

    # xlsx: typed cells, read back with openpyxl
    sheet = openpyxl.load_workbook(by_format["xlsx"]).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (
        "id",
        "amount",
        "ratio",
        "day",
        "ts",
        "tstz",
        "flag",
        "missing",
        "name",
        "long_text",
    )
    first, second = rows[1], rows[2]
    assert first[0] == 1 and isinstance(first[0], int | float)
    assert first[1] == pytest.approx(1234.5) and second[1] == pytest.approx(-0.01)
    assert first[2] == pytest.approx(0.25) and second[2] == pytest.approx(1e10)
    if not sqlite:  # SQLite has no date type: dates come back as text there
        assert first[3].date() == date(2026, 11, 22)
        assert first[4] == datetime(2026, 11, 22, 13, 45)
        # timestamptz shown in the task's zone (Berlin, UTC+1 in November)
        expected_tstz = datetime(2026, 11, 22, 13, 0) if "postgresql" in typed_url else None
        if expected_tstz:
            assert first[5] == expected_tstz
    assert first[6] in (True, 1)
    assert first[7] is None
    assert first[8] == UNICODE
    assert first[9] == LONG_TEXT
    assert second[8] == "=SUM(A1:A9)"  # stored as text, never a formula
    assert sheet.cell(row=3, column=9).data_type == "s"
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref is not None
    assert sheet.cell(row=1, column=1).font.b

    # csv: UTF-8, RFC 4180, exact decimals, ISO dates
    with by_format["csv"].open(newline="", encoding="utf-8") as handle:
        records = list(csv.reader(handle))
    assert records[0][0] == "id"
    assert records[1][1] == "1234.50" if not sqlite else records[1][1] in ("1234.5", "1234.50")
    assert records[1][3] == "2026-11-22"
    assert records[1][7] == ""
    assert records[1][8] == UNICODE
    assert records[1][9] == LONG_TEXT
    assert records[2][8] == "=SUM(A1:A9)"

    # pdf: text extracted with pypdf
    text = "\n".join(page.extract_text() for page in PdfReader(by_format["pdf"]).pages)
    assert "Typed report" in text
    assert "amount" in text and "long_text" in text
    assert "1234.50" in text or "1,234.50" in text or "1234.5" in text
    assert "2026-11-22" in text
    assert "Page 1 of" in text or "page 1 of" in text

    # the email (outbox: no SMTP_HOST) carries the same bytes
    (eml,) = h.outbox()
    message = message_from_bytes(eml.read_bytes(), policy=default_policy)
    attached = {
        part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()
    }
    assert attached == {p.name: p.read_bytes() for p in by_format.values()}


# -- email -------------------------------------------------------------------------------


def test_starttls_and_auth_delivery_with_history(harness, smtp_tls_server, tmp_path):
    url = f"sqlite:///{tmp_path / 'typed.db'}"
    load_table(url, SQLITE_TABLE)
    env = {"DATABASE_URL": url, **smtp_tls_server.env()}
    h = harness(
        env,
        email={
            "to": ["team@example.com"],
            "bcc": ["audit@example.com"],
            "subject": "Report {run_date:%d.%m.%Y}: {row_count} rows",
        },
    )
    outcome = h.run()
    assert outcome.status == "success", outcome.error
    (received,) = smtp_tls_server.messages
    assert received.login == "reporter"  # AUTH after STARTTLS
    assert sorted(received.rcpt_tos) == ["audit@example.com", "team@example.com"]
    message = received.message
    assert message["Subject"] == "Report 23.11.2026: 2 rows"
    assert "Bcc" not in message
    assert {p.get_filename() for p in message.iter_attachments()} == {
        f.path.name for f in outcome.files
    }
    (record,) = h.history()
    assert record["status"] == "success"
    assert record["steps"] == ["started", "exported", "emailing", "emailed", "finished"]
    assert record["email"]["message_id"] == message["Message-ID"]
    assert h.outbox() == []
    summary = json.loads(h.store.path.read_text())["tasks"][0]
    assert (summary["last_status"], summary["run_count"], summary["error_count"]) == (
        "success",
        1,
        0,
    )


def test_outbox_is_the_default_and_send_if_rows_skips_empty(harness, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    load_table(url, "CREATE TABLE typed (id integer)")
    h = harness({"DATABASE_URL": url}, email={"to": ["a@example.com"], "send_if": "rows"})
    outcome = h.run()
    assert outcome.status == "success"
    assert outcome.email_skipped == "send_if is 'rows' and the result has no rows"
    assert h.outbox() == []
    h2 = harness({"DATABASE_URL": url}, email={"to": ["a@example.com"], "send_if": "no_rows"})
    assert h2.run().delivery.outbox_path in h2.outbox()


# -- failures: each a clear recorded error, nothing half-sent ------------------------------


def assert_failed_cleanly(h: Harness, outcome: RunOutcome, status: str, message: str) -> dict:
    assert outcome.status == status
    assert message in str(outcome.error)
    (record,) = h.history()
    assert record["status"] == status
    assert message in record["error"]["message"]
    saved = json.loads(h.store.path.read_text())["tasks"][0]
    assert saved["last_status"] == status and saved["error_count"] == 1
    assert message in saved["last_error"]
    return record


def test_unknown_connection_is_recorded_and_nothing_sent(harness):
    h = harness({}, connection="crm")
    outcome = h.run()
    record = assert_failed_cleanly(
        h, outcome, "failed", "connection 'crm': DB_CRM_URL is not set in .env or the environment"
    )
    assert record["error"]["permanent"] is True
    assert h.outbox() == [] and h.export_files() == []


def test_bad_password_is_recorded_without_the_password(harness, pg_url):
    bad = sa.engine.make_url(pg_url).set(password="WrongPassw0rd!")
    h = harness({"DATABASE_URL": bad.render_as_string(hide_password=False)})
    outcome = h.run()
    assert outcome.status == "failed"
    text = h.settings.history_path.read_text() + h.store.path.read_text() + str(outcome.error)
    assert "WrongPassw0rd!" not in text
    assert "password" in str(outcome.error).lower()
    assert h.outbox() == [] and h.export_files() == []


def test_server_side_timeout_is_recorded_as_timeout(harness, pg_url):
    h = harness({"DATABASE_URL": pg_url}, query="SELECT pg_sleep(5)", timeout_seconds=1)
    outcome = h.run()
    assert outcome.status == "timeout"
    (record,) = h.history()
    assert record["status"] == "timeout"
    assert record["error"]["type"] == "timeout"
    assert h.outbox() == [] and h.export_files() == []


def test_a_timeout_while_rows_stream_from_copy_leaves_no_file(harness, pg_url):
    # rows come fast (COPY), the files are half written when the time limit cuts them
    query = (
        "SELECT g, repeat('x', 50) AS pad, CASE WHEN g % 1000 = 0 THEN pg_sleep(0.02) END"
        " FROM generate_series(1, 200000) AS g"
    )
    h = harness({"DATABASE_URL": pg_url}, query=query, timeout_seconds=1)
    progress: list[str] = []
    outcome = h.runner.run(h.task, progress=progress.append)
    assert outcome.status == "timeout", outcome.error
    assert any(line.startswith("fetched ") for line in progress)  # it was writing
    (record,) = h.history()
    assert record["error"]["type"] == "timeout"
    assert h.outbox() == [] and h.export_files() == []
    assert not [t for t in threading.enumerate() if t.name in ("copy-rows", "zip-deflate")]


def test_smtp_down_keeps_exports_and_says_where(harness, refusing_port, tmp_path):
    url = f"sqlite:///{tmp_path / 'typed.db'}"
    load_table(url, SQLITE_TABLE)
    env = {
        "DATABASE_URL": url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(refusing_port),
        "SMTP_SECURITY": "none",
        "SMTP_FROM": "reports@example.com",
        "SMTP_RETRIES": "2",
    }
    h = harness(env)
    outcome = h.run()
    record = assert_failed_cleanly(h, outcome, "failed", f"127.0.0.1:{refusing_port}")
    assert record["error"]["permanent"] is False
    assert h.sleeps == [10.0]  # one retry of the transient failure, after SMTP_RETRY_DELAY
    assert record["steps"] == ["started", "exported", "emailing", "finished"]
    assert record["email_sent"] is False  # tried and failed: not "may have gone out"
    kept = [Path(f["path"]) for f in record["files"]]
    assert kept and all(p.is_file() for p in kept)
    assert h.outbox() == []


def test_refused_recipient_is_reported_and_others_get_the_report(
    harness, smtp_refusing_server, tmp_path
):
    url = f"sqlite:///{tmp_path / 'typed.db'}"
    load_table(url, SQLITE_TABLE)
    env = {"DATABASE_URL": url, **smtp_refusing_server.env()}
    h = harness(env, email={"to": ["team@example.com", "nobody@example.com"]})
    outcome = h.run()
    record = assert_failed_cleanly(h, outcome, "failed", "nobody@example.com (550")
    assert record["error"]["permanent"] is True
    (received,) = smtp_refusing_server.messages
    assert received.rcpt_tos == ["team@example.com"]
    assert "emailed" in record["steps"]


def test_odbc_connection_runs_a_report(harness, odbc_mariadb, mariadb_url):
    load_table(
        mariadb_url,
        "DROP TABLE IF EXISTS odbc_report; "
        "CREATE TABLE odbc_report (id int, label text); "
        "INSERT INTO odbc_report VALUES (1, 'via ODBC'), (2, 'Zoë')",
    )
    h = harness(
        {"DB_ODBC_URL": odbc_mariadb.sqlalchemy_url("mysql")},
        connection="odbc",
        query="SELECT id, label FROM odbc_report ORDER BY id",
        exports={"csv": True},
    )
    outcome = h.run()
    assert outcome.status == "success", outcome.error
    (exported,) = outcome.files
    lines = exported.path.read_text(encoding="utf-8").splitlines()
    assert lines == ["id,label", "1,via ODBC", "2,Zoë"]


def test_statement_without_rows_reports_rows_affected(harness, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    load_table(url, "CREATE TABLE t (x integer); INSERT INTO t VALUES (1), (2), (3)")
    h = harness({"DATABASE_URL": url}, query="UPDATE t SET x = x + 1", email={}, read_only=False)
    outcome = h.run()
    assert outcome.status == "success"
    assert outcome.rowcount == 3 and outcome.files == []


def test_decimal_exactness_in_csv(harness, pg_fresh_url):
    load_table(
        pg_fresh_url,
        "CREATE TABLE typed (id int, v numeric(30, 10)); "
        "INSERT INTO typed VALUES (1, 12345678901234567890.0123456789)",
    )
    h = harness({"DATABASE_URL": pg_fresh_url}, exports={"csv": True}, email={})
    outcome = h.run()
    (exported,) = outcome.files
    assert exported.path.read_text().splitlines()[1] == "1,12345678901234567890.0123456789"
    assert Decimal("12345678901234567890.0123456789")  # the value is exact, not a float


# -- email through a real server: UTF-8 login, size limits, unexpected errors -------------

UTF8_PASSWORD = "pässwörd"


def sqlite_env(tmp_path: Path, server: Any, **overrides: str) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'typed.db'}"
    load_table(url, SQLITE_TABLE)
    return {"DATABASE_URL": url, **server.env(**overrides)}


def test_non_ascii_smtp_password_run_is_delivered(
    harness, smtp_server_factory, tls_files, tmp_path
):
    server = smtp_server_factory(tls=tls_files, users={"reporter": UTF8_PASSWORD})
    h = harness(sqlite_env(tmp_path, server))
    outcome = h.run()
    assert outcome.status == "success", outcome.error
    (received,) = server.messages
    assert received.login == "reporter"
    (record,) = h.history()
    assert (record["status"], record["steps"][-2:]) == ("success", ["emailed", "finished"])


def test_wrong_non_ascii_smtp_password_fails_once_permanently_and_secret_free(
    harness, smtp_server_factory, tls_files, tmp_path
):
    server = smtp_server_factory(tls=tls_files, users={"reporter": "s3cret"})
    h = harness(sqlite_env(tmp_path, server, SMTP_PASSWORD=UTF8_PASSWORD, SMTP_RETRIES="3"))
    outcome = h.run()
    record = assert_failed_cleanly(
        h,
        outcome,
        "failed",
        f"SMTP server 127.0.0.1:{server.port} refused the login (authentication failed) for "
        "user 'reporter': 535 5.7.8 Authentication credentials invalid; check SMTP_USER and "
        "SMTP_PASSWORD",
    )
    assert record["error"]["permanent"] is True
    assert server.handler.logins == [("reporter", False)]  # one login, no retry
    assert h.sleeps == []
    text = h.settings.history_path.read_text() + h.store.path.read_text() + str(outcome.error)
    for leak in (UTF8_PASSWORD, "ä", "ö", "\\xe4", "\\u00e4", "position"):
        assert leak not in text


def test_server_size_limit_is_met_in_the_same_run_and_recorded(
    harness, smtp_server_factory, tmp_path
):
    server = smtp_server_factory(size_limit=20_000)  # below the attached exports
    h = harness(sqlite_env(tmp_path, server))
    outcome = h.run()
    assert outcome.status == "success", outcome.error
    assert len(server.messages) == 1
    delivery = outcome.delivery
    assert delivery is not None and delivery.attachments_mode in ("zipped", "left_off")
    assert delivery.size_reason.endswith("over the mail server's size limit (19.5 KB)")
    (record,) = h.history()
    email = record["email"]
    assert (email["attachments"], email["attachments_reason"]) == (
        delivery.attachments_mode,
        delivery.size_reason,
    )
    if delivery.attachments_mode == "zipped":
        assert email["attached"] == [p.name for p in delivery.attached]
    else:
        assert email["left_off"] == [str(f.path) for f in outcome.files]
    assert render.outcome_text(outcome).splitlines()[-1] == (f"Email: {delivery.describe()}")


def test_unexpected_error_ends_in_a_failed_record_without_its_text(harness, tmp_path, monkeypatch):
    # A bug cannot be had for real: the message builder is replaced by one that fails the
    # way smtplib did with a non-ASCII password (its text quoted the character).
    def broken(*args: Any, **kwargs: Any) -> Any:
        "pässwörd".encode("ascii")

    monkeypatch.setattr("src.services.runner.build_report_message", broken)
    url = f"sqlite:///{tmp_path / 'typed.db'}"
    load_table(url, SQLITE_TABLE)
    h = harness({"DATABASE_URL": url})
    outcome = h.run()
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.permanent
    message = str(outcome.error)
    assert message.startswith("unexpected error UnicodeEncodeError at test_runner.py:")
    assert message.endswith(
        " during the email step (a bug: please report it with the log lines of this run; "
        "its text is left out as it may quote a secret)"
    )
    (record,) = h.history()
    assert record["status"] == "failed" and record["error"]["message"] == message
    assert "ä" not in h.settings.history_path.read_text()
    assert json.loads(h.store.path.read_text())["tasks"][0]["last_status"] == "failed"


def test_interrupt_unwinds_and_removes_partial_files(harness, tmp_path, monkeypatch):
    from src.services.export import csv_export

    def interrupted(self: Any, batch: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(csv_export.CsvWriter, "write_batch", interrupted)  # Ctrl-C mid-export
    url = f"sqlite:///{tmp_path / 'typed.db'}"
    load_table(url, SQLITE_TABLE)
    h = harness({"DATABASE_URL": url}, exports={"csv": True, "xlsx": True})
    with pytest.raises(KeyboardInterrupt):
        h.run()
    assert h.export_files() == []
    (record,) = h.history()
    assert record["steps"] == ["started", "finished"]  # Ctrl-C: recorded, then unwinds
    assert record["status"] == "interrupted"


# -- totals: counted once by the run, the same in the email and every file ----------------

TOTALS_COLUMNS = {
    "n": {"total": "count"},
    "amount": {"format": "number", "decimals": 2, "total": "sum"},
    "day": {"format": "date", "total": "max"},
}


@pytest.mark.parametrize("source", ["postgresql", "sqlite"])
def test_totals_counted_once_by_the_run_are_whole_in_every_file(harness, request, tmp_path, source):
    # 25,000 rows: three batches, COPY text on PostgreSQL, rows of values on SQLite; the
    # run counts the totals and its files use them (they count nothing themselves)
    if source == "postgresql":
        url = request.getfixturevalue("pg_fresh_url")
        rows = "generate_series(1, 25000) g"
        day_of = "date '2020-01-01' + g % 1000"
        amount_of = "(g * 0.01)::numeric(12, 2)"
    else:
        url = f"sqlite:///{tmp_path / 't.db'}"
        rows = "(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 25000) "
        rows += "SELECT g FROM s)"
        day_of = "date('2020-01-01', '+' || (g % 1000) || ' days')"
        amount_of = "g"
    script = (f"CREATE TABLE t AS SELECT CASE WHEN g % 10 = 0 THEN NULL ELSE g END AS n, "
              f"{amount_of} AS amount, {day_of} AS day FROM {rows}")  # fmt: skip
    load_table(url, script.replace("%", "%%") if source == "postgresql" else script)  # pyformat
    env = {"DATABASE_URL": url, "EXPORT_SECOND_PROCESS_ROWS": "10000"}
    h = harness(env, query="SELECT * FROM t ORDER BY amount", columns=TOTALS_COLUMNS, email={})
    lines: list[str] = []
    outcome = h.runner.run(h.task, scheduled_for=datetime(2026, 11, 23, 8, tzinfo=UTC),
                           progress=lines.append)  # fmt: skip
    assert outcome.status == "success" and outcome.rows == 25_000
    # past EXPORT_SECOND_PROCESS_ROWS, COPY text on PostgreSQL: the csv and pdf by a second
    # process beside the xlsx, their totals the run's (export/writers.py); SQLite's rows of
    # values: every file by the run's process
    second = source == "postgresql" and len(os.sched_getaffinity(0)) > 1  # one CPU: never
    assert ("the pdf and csv written by a second process" in lines) is second, lines
    amount = "3,125,125.00" if source == "postgresql" else "312,512,500.00"
    day = "2022-09-26"  # 2020-01-01 + 999 days
    assert outcome.layout is not None
    assert outcome.layout.total_texts(ZoneInfo("Europe/Berlin")) == ["22,500", amount, day]
    files = {f.format: f.path for f in outcome.files}
    sheet = openpyxl.load_workbook(files["xlsx"], data_only=True).active
    last = list(sheet.iter_rows(values_only=True))[-1]
    assert last[0] == 22_500 and float(last[1]) == float(amount.replace(",", ""))
    assert str(last[2])[:10] == day
    pdf_text = "".join(page.extract_text() for page in PdfReader(files["pdf"]).pages)
    assert "22,500" in pdf_text and amount in pdf_text and day in pdf_text


@pytest.mark.postgres
def test_export_in_one_process_and_second_process_rows_keep_every_file_in_the_run_s_process(
    harness, pg_fresh_url: str
) -> None:
    load_table(pg_fresh_url, "CREATE TABLE t AS SELECT g AS n FROM generate_series(1, 12000) g")
    two = len(os.sched_getaffinity(0)) > 1
    for setting, rows, second in (("1", "0", False), ("0", "0", two), ("0", "12000", False)):
        env = {"DATABASE_URL": pg_fresh_url, "EXPORT_IN_ONE_PROCESS": setting,
               "EXPORT_SECOND_PROCESS_ROWS": rows}  # fmt: skip
        h = harness(env, query="SELECT n FROM t ORDER BY n", email={})
        lines: list[str] = []
        outcome = h.runner.run(h.task, scheduled_for=datetime(2026, 11, 23, 8, tzinfo=UTC),
                               progress=lines.append)  # fmt: skip
        assert outcome.status == "success" and len(outcome.files) == 3
        assert ("the pdf and csv written by a second process" in lines) is second, lines
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"EXPORT_IN_ONE_PROCESS": "maybe"}, Path("."))
    assert "EXPORT_IN_ONE_PROCESS='maybe'" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"EXPORT_SECOND_PROCESS_ROWS": "-1"}, Path("."))
    assert "EXPORT_SECOND_PROCESS_ROWS='-1' is not a whole number of at least 0" in str(
        caught.value
    )
