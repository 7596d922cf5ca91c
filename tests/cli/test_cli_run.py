"""manage_tasks.py run / history / test-connection / test-email, and history retention."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from src.cli.app import cli
from src.core.vocabulary import Trigger
from src.services.demo import build_demo_database
from src.services.history import RunHistory
from src.services.recorder import RunRecorder, RunRef

DEMO_QUERY = "SELECT region, SUM(total) AS revenue FROM sales GROUP BY region ORDER BY region"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    build_demo_database(tmp_path / "data" / "demo.db", date(2026, 11, 23), days_ahead=5)
    return tmp_path


def invoke(folder: Path, *args: str, env: dict[str, str] | None = None):
    base = {
        "DATABASE_URL": f"sqlite:///{folder / 'data' / 'demo.db'}",
        "TASKS_FILE": None,
        "ENV_FILE": None,
        "SMTP_HOST": None,
    }
    return CliRunner().invoke(
        cli,
        ["--tasks-file", str(folder / "tasks.json"), "--env-file", str(folder / ".env"), *args],
        env={**base, **(env or {})},
        catch_exceptions=False,
    )


def add_demo(folder: Path, *extra: str) -> None:
    result = invoke(
        folder,
        "add",
        "--name",
        "Revenue",
        "--query",
        DEMO_QUERY,
        "--every",
        "1d",
        "--to",
        "team@example.com",
        *extra,
    )
    assert result.exit_code == 0, result.output


def test_run_writes_files_and_outbox_and_records(folder):
    add_demo(folder, "--csv")
    result = invoke(folder, "run", "Revenue")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Run ") and "of 'Revenue': success in " in lines[0]
    assert lines[1] == "Rows: 4"
    assert [line.rsplit(".", 1)[1].split(" ")[0] for line in lines[2:4]] == ["xlsx", "csv"]
    assert lines[4].startswith(f"Email: no SMTP_HOST set: message written to {folder}/data/outbox/")
    assert "... fetched 4 rows" in result.stderr
    history = invoke(folder, "history", "--json")
    (record,) = json.loads(history.stdout)
    assert (record["status"], record["rows"], record["trigger"]) == ("success", 4, "manual")
    assert record["email"]["outbox_path"].startswith(str(folder / "data" / "outbox"))
    table = invoke(folder, "history").stdout.splitlines()
    headers = "RUN STARTED TASK TRIGGER STATUS ROWS TIME ERROR / REASON"
    assert table[0].split() == headers.split()
    assert "Revenue  manual   success  4" in table[1]
    shown = invoke(folder, "show", "Revenue").stdout
    assert "Recent runs:" in shown and "success" in shown.split("Recent runs:")[1]
    saved = json.loads((folder / "tasks.json").read_text())["tasks"][0]
    assert (saved["last_status"], saved["run_count"]) == ("success", 1)


def test_dry_run_sends_and_records_nothing_and_prints_rows(folder):
    add_demo(folder)
    result = invoke(folder, "run", "Revenue", "--dry-run", "--to", "me@example.com")
    assert result.exit_code == 0, result.output
    out = result.stdout
    # numbers and their header right-aligned, shown as Excel shows them (no float noise)
    assert out.startswith("First 4 of 4 rows:\nregion   revenue\nEast    60603.46\n")
    assert "99999" not in out and "00000" not in out
    assert "Email: not sent (dry run: a " in out and "message to me@example.com was built" in out
    assert not (folder / "data" / "outbox").exists()
    assert invoke(folder, "history").stdout.startswith("No runs recorded yet.")
    assert json.loads((folder / "tasks.json").read_text())["tasks"][0]["run_count"] == 0


def test_run_to_overrides_recipients(folder, smtp_server):
    add_demo(folder)
    result = invoke(folder, "run", "Revenue", "--to", "me@example.com", env=smtp_server.env())
    assert result.exit_code == 0, result.output
    (received,) = smtp_server.messages
    assert received.rcpt_tos == ["me@example.com"]


def test_failed_run_exits_1_with_the_error(folder):
    result = invoke(
        folder,
        "add",
        "--name",
        "Broken",
        "--query",
        "SELECT * FROM nowhere",
        "--every",
        "1d",
        "--no-check",  # saved as it is, to see the run fail
    )
    assert result.exit_code == 0
    result = invoke(folder, "run", "Broken")
    assert result.exit_code == 1
    assert "Broken': failed in " in result.stdout
    assert "Error (query, permanent): " in result.stdout and "nowhere" in result.stdout
    (record,) = json.loads(invoke(folder, "history", "Broken", "--json").stdout)
    assert record["status"] == "failed" and "nowhere" in record["error"]["message"]


def test_run_refuses_bad_to_address(folder):
    add_demo(folder)
    result = invoke(folder, "run", "Revenue", "--to", "not-an-address")
    assert result.exit_code == 1
    assert result.output.startswith("Error: --to 'not-an-address': 'not-an-address' is not a ")


def test_test_connection_reports_version_or_clear_error(folder, pg_url):
    result = invoke(folder, "test-connection", "sales", env={"DB_SALES_URL": pg_url})
    assert result.exit_code == 0
    assert result.output.startswith("OK: PostgreSQL 15")
    result = invoke(folder, "test-connection", "crm")
    assert (result.exit_code, result.output) == (
        1,
        "Error: connection 'crm': DB_CRM_URL is not set in .env or the environment; add a line "
        "such as DB_CRM_URL=postgresql+psycopg2://user:password@host:5432/dbname\n",
    )
    result = invoke(folder, "test-connection")
    assert result.output == "OK: SQLite " + result.output.split("OK: SQLite ", 1)[1]


def test_test_email_through_smtp_and_outbox(folder, smtp_server):
    result = invoke(folder, "test-email", "--to", "me@example.com", env=smtp_server.env())
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: sent to me@example.com via ")
    assert smtp_server.messages[0].rcpt_tos == ["me@example.com"]
    result = invoke(folder, "test-email", "--to", "me@example.com")
    assert result.output.startswith("OK: no SMTP_HOST set: message written to ")


def test_files_a_run_creates_are_not_world_readable(folder):
    add_demo(folder, "--csv", "--pdf")
    assert invoke(folder, "run", "Revenue").exit_code == 0
    made = [p for p in (folder / "data").rglob("*") if p.name != "demo.db"]
    made.append(folder / "tasks.json")
    assert any(p.suffix == ".eml" for p in made) and any(p.suffix == ".jsonl" for p in made)
    made += [p.parent for p in made]
    world_readable = sorted({str(p) for p in made if p.stat().st_mode & 0o004})
    assert world_readable == []


def test_history_shows_the_reason_of_a_skipped_run(folder):
    add_demo(folder)
    recorder = RunRecorder(RunHistory(folder / "data" / "runs.jsonl"), None)
    at = datetime(2026, 11, 23, 9, tzinfo=UTC)
    skipped = RunRef("skip-1", "x", "Revenue", Trigger.SCHEDULE, at)
    recorder.skipped(skipped, "the previous run is still going")
    line = invoke(folder, "history").stdout.splitlines()[1]
    assert line.endswith("skipped  -     -     the previous run is still going")


def test_webhook_url_masks_the_token_unless_asked(folder):
    add_demo(folder)
    token = "t0ken-" + "x" * 40
    env = {"WEBHOOK_TOKEN": token, "HTTP_LISTEN": "127.0.0.1:8089"}
    result = invoke(folder, "webhook-url", "Revenue", env=env)
    assert result.exit_code == 0, result.output
    assert token not in result.output
    assert "http://127.0.0.1:8089/api/tasks/" in result.output and "/run" in result.output
    shown = invoke(folder, "webhook-url", "Revenue", "--show-token", env=env)
    assert f"Authorization: Bearer {token}" in shown.output
    missing = invoke(folder, "webhook-url", "Revenue")
    assert missing.exit_code == 1
    assert missing.output.startswith("Error: the HTTP API needs WEBHOOK_TOKEN, and it is not set")


def test_run_says_when_the_server_limit_zipped_or_left_off_the_files(folder, smtp_server_factory):
    server = smtp_server_factory(size_limit=8192)  # below the message with its xlsx attached
    add_demo(folder)
    result = invoke(folder, "run", "Revenue", env=server.env())
    assert result.exit_code == 0, result.output
    (received,) = server.messages
    assert list(received.message.iter_attachments()) == []
    (record,) = json.loads(invoke(folder, "history", "--json", env=server.env()).stdout)
    email = record["email"]
    assert email["attachments"] == "left_off"
    reason = email["attachments_reason"]
    assert reason.startswith("even zipped the files make the message ")
    assert reason.endswith(", over the mail server's size limit (8.0 KB)")
    assert (
        f"Email: sent to team@example.com via 127.0.0.1:{server.port}; attachments left off, "
        f"the message says where they are kept ({reason})"
    ) in result.stdout.splitlines()


def test_history_shows_why_a_run_failed(folder):
    """A real failing query on SQLite: the cell, cut to its column, still holds the cause."""
    url = f"sqlite:///{folder / 'data' / 'demo.db'}"
    result = invoke(
        folder,
        "add",
        "--name",
        "Broken",
        "--query",
        "SELECT * FROM salez",
        "--every",
        "1d",
        "--connection",
        url,
        "--no-check",  # saved as it is: the run is what fails here
    )
    assert result.exit_code == 0, result.output
    failed = invoke(folder, "run", "Broken")
    assert failed.exit_code == 1
    assert "Error (query, permanent): no such table: salez — the SQL names" in failed.stdout
    assert failed.stdout.count(url) == 1  # the URL once, after the cause
    row = invoke(folder, "history").stdout.splitlines()[1]
    assert row.endswith("no such table: salez — the SQL names a table, column or fun…")


def test_history_table_drops_the_leading_where_of_older_records():
    from src.cli.render import short_error

    old = (
        "connection 'sqlite:///data/demo.db' (sqlite:///data/demo.db): SQL syntax error "
        '(near "SELEC": syntax error). Fix the task\'s SQL'
    )
    assert short_error(old) == 'SQL syntax error (near "SELEC": syntax error). Fix the task\'s SQL'
    assert short_error("first line\nsecond") == "first line"


def _sales(folder: Path) -> int:
    with sqlite3.connect(folder / "data" / "demo.db") as conn:
        return int(conn.execute("SELECT count(*) FROM sales").fetchone()[0])


def test_a_delete_task_fails_read_only_and_runs_with_read_write(folder):
    before = _sales(folder)
    # written by hand without read_only (as before read-only became the default)
    document = {
        "version": 1,
        "tasks": [
            {"id": "purge-1", "name": "Purge", "query": "DELETE FROM sales",
             "schedule": {"cron": "0 9 * * *"}, "email": {"to": ["team@example.com"]}},
        ],
    }  # fmt: skip
    (folder / "tasks.json").write_text(json.dumps(document))
    shown = invoke(folder, "show", "Purge").output
    assert "Writes:       no (read-only transaction; --read-write allows writing)" in shown
    result = invoke(folder, "run", "Purge")
    assert result.exit_code == 1
    assert "the task is read-only but the SQL tries to change data" in result.output
    assert "`manage_tasks.py edit TASK --read-write`" in result.output
    assert _sales(folder) == before
    assert invoke(folder, "edit", "Purge", "--read-write").exit_code == 0
    assert json.loads((folder / "tasks.json").read_text())["tasks"][0]["read_only"] is False
    shown = invoke(folder, "show", "Purge").output
    assert "Writes:       allowed (read_only: false; the SQL may change data)" in shown
    result = invoke(folder, "run", "Purge")
    assert result.exit_code == 0, result.output
    assert _sales(folder) == 0


def test_add_refuses_a_past_at_with_time_and_zone(folder):
    result = invoke(
        folder, "add", "--name", "Late", "--query", DEMO_QUERY, "--at", "2020-03-01T09:00",
        "--timezone", "Europe/Berlin",
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: --at 2020-03-01T09:00: the once time 2020-03-01 09:00 CET (Europe/Berlin) is "
        "in the past: it is now "
    )
    assert not (folder / "tasks.json").exists()


def test_an_existing_past_once_task_still_loads_and_validate_warns(folder):
    document = {
        "version": 1,
        "tasks": [
            {"id": "old-1", "name": "Old", "query": DEMO_QUERY,
             "schedule": {"once": "2020-03-01T09:00"}, "timezone": "Europe/Berlin",
             "email": {"to": ["team@example.com"]}},
        ],
    }  # fmt: skip
    (folder / "tasks.json").write_text(json.dumps(document))
    result = invoke(folder, "validate")
    assert result.exit_code == 0, result.output
    assert "Warning: task 'Old': the once time 2020-03-01 09:00 CET (Europe/Berlin) is in " in (
        result.output
    )


def test_a_dotless_domain_is_refused_by_add_and_run(folder):
    result = invoke(
        folder, "add", "--name", "R", "--query", DEMO_QUERY, "--every", "1d",
        "--to", "boss@example",
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.output == (
        "Error: --to 'boss@example': the domain 'example' has no dot, so it is not an internet "
        "address (a typo for boss@example.com?). Write the full domain, such as "
        "boss@example.com\n"
    )
    add_demo(folder)
    result = invoke(folder, "run", "Revenue", "--to", "boss@example")
    assert result.exit_code == 1 and "has no dot" in result.output


def test_ctrl_c_during_a_run_records_it_interrupted_and_leaves_no_files(folder):
    """A person stopping `run` with Ctrl-C: exit 130, the history says interrupted (not
    `running` for ever), and no partial file is left in the run's folder."""
    import signal
    import subprocess
    import sys

    from tests.servers import ROOT

    many = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000000) "
        "SELECT x, x * 2 AS y FROM c"
    )
    add_demo(folder)
    assert invoke(folder, "edit", "Revenue", "--query", many, "--no-check").exit_code == 0
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("TASKS_FILE", "SMTP_HOST")},
        "DATABASE_URL": f"sqlite:///{folder / 'data' / 'demo.db'}",
        "DATA_DIR": str(folder / "data"),
    }
    command = [sys.executable, "manage_tasks.py", "--tasks-file", str(folder / "tasks.json")]
    process = subprocess.Popen(
        [*command, "--env-file", str(folder / ".env"), "run", "Revenue"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:  # the progress lines: rows are coming in
        if line.startswith("... fetched"):
            break
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 130, out
    assert "Stopped with Ctrl-C" in out and "interrupted" in out
    (record,) = RunHistory(folder / "data" / "runs.jsonl").runs()
    assert record.status == "interrupted"
    assert "stopped with Ctrl-C during the query and export" in json.dumps(record.data)
    exports = folder / "data" / "exports"
    assert not [p for p in exports.rglob("*") if p.is_file()]
    shown = invoke(folder, "list").output
    assert "interrupted" in shown and "running" not in shown
