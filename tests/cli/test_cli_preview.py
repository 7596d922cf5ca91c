"""manage_tasks.py preview: the files and the email a run would make, in a folder to look
at; nothing sent (a real SMTP server is configured and receives nothing), nothing
recorded (no history, tasks.json unchanged)."""

from __future__ import annotations

import os
import re
import stat
from datetime import date
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import cast
from urllib.parse import unquote

import pytest

from src.services.demo import build_demo_database
from tests.cli.test_cli_run import add_demo, invoke
from tests.fixtures.smtp import SmtpServer


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    build_demo_database(tmp_path / "data" / "demo.db", date(2026, 11, 23), days_ahead=5)
    return tmp_path


def parse(data: bytes) -> EmailMessage:
    return cast(EmailMessage, BytesParser(policy=default_policy).parsebytes(data))


def plain_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    # the run time and the run's own id differ between two runs; the rest must not
    return re.sub(r"Run of .*\n", "", str(part.get_content()))


def test_preview_writes_what_a_run_would_send_and_sends_and_records_nothing(
    folder: Path, smtp_server: SmtpServer
) -> None:
    add_demo(folder, "--csv", "--pdf")
    env = smtp_server.env()
    tasks_before = (folder / "tasks.json").read_bytes()
    stale = folder / "data" / "previews" / "20200101T000000Z_Revenue"
    stale.mkdir(parents=True)
    result = invoke(folder, "preview", "Revenue", env=env)
    assert result.exit_code == 0, result.output
    assert not stale.exists()  # default previews go after EXPORTS_KEEP_DAYS
    lines = result.stdout.splitlines()
    match = re.fullmatch(r"Preview of 'Revenue' \(nothing sent, nothing recorded\): (.+)", lines[0])
    assert match, lines
    made = Path(match.group(1))
    assert made.parent == folder / "data" / "previews" and made.name.endswith("_Revenue")
    assert lines[1] == f"  Page:  {made / 'index.html'}"
    assert lines[2].startswith(f"  Email: {made / 'email.eml'} (")
    assert lines[2].endswith(" bytes to team@example.com, 3 files attached)")
    files = [Path(line.split("  File:  ")[1].rsplit(" (", 1)[0]) for line in lines
             if line.startswith("  File:  ")]  # fmt: skip
    assert sorted(p.suffix for p in files) == [".csv", ".pdf", ".xlsx"]
    assert all(p.is_file() and made in p.parents for p in files)
    assert "  Rows:  4" in lines
    # nothing sent, nothing recorded, nothing of a real run touched
    assert smtp_server.messages == []
    assert (folder / "tasks.json").read_bytes() == tasks_before
    assert not (folder / "data" / "runs.jsonl").exists()
    assert not (folder / "data" / "outbox").exists()
    assert not (folder / "data" / "exports").exists()
    # the message, whole; the page shows it and links to every file
    message = parse((made / "email.eml").read_bytes())
    assert sorted(str(p.get_filename()) for p in message.iter_attachments()) == sorted(
        p.name for p in files
    )
    page = (made / "index.html").read_text()
    links = {unquote(href) for href in re.findall(r'href="([^"]+)"', page)}
    assert {made / link for link in links} == {made / "email.eml", made / "email.html", *files}
    assert "<h1 " in page and "Revenue (total)" not in page  # no totals configured
    assert "Nothing was sent and nothing recorded." in page
    for path in [made / "index.html", made / "email.eml", made / "email.html", *files]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0, path  # others: nothing
    # the same message as a real run sends, from the same code
    assert invoke(folder, "run", "Revenue", env=env).exit_code == 0
    (received,) = smtp_server.messages
    sent = received.message
    assert sent["Subject"] == message["Subject"] and sent["To"] == message["To"]
    assert plain_of(sent) == plain_of(message)
    assert [p.get_filename() for p in sent.iter_attachments()] == [
        p.get_filename() for p in message.iter_attachments()
    ]


def test_preview_into_a_folder_given_and_open_without_a_desktop(folder: Path) -> None:
    add_demo(folder)
    out = folder / "look here"
    stale = folder / "data" / "previews" / "20200101T000000Z_Revenue"
    stale.mkdir(parents=True)
    env = {"DISPLAY": None, "WAYLAND_DISPLAY": None}
    result = invoke(folder, "preview", "Revenue", "--out", str(out), "--open", env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].endswith(f": {out}")
    assert (out / "index.html").is_file() and (out / "email.eml").is_file()
    assert stale.is_dir()  # a preview elsewhere leaves the default folder alone
    assert result.stdout.splitlines()[-1] == (
        "Not opened: there is no desktop here to open it on (xdg-open with a DISPLAY or "
        f"WAYLAND_DISPLAY, or macOS's open); open {(out / 'index.html').as_uri()} in a browser"
    )


def test_preview_open_hands_the_page_to_the_desktop_opener(folder: Path, tmp_path: Path) -> None:
    """No desktop here: a stand-in xdg-open on PATH records what it was asked to open."""
    add_demo(folder)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    asked = tmp_path / "asked"
    opener = bin_dir / "xdg-open"
    opener.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{asked}"\n')
    opener.chmod(0o755)
    env = {"DISPLAY": ":0", "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = invoke(folder, "preview", "Revenue", "--open", "--out", str(tmp_path / "p"), env=env)
    assert result.exit_code == 0, result.output
    page = (tmp_path / "p" / "index.html").as_uri()
    assert result.stdout.splitlines()[-1] == f"Opened with xdg-open: {page}"
    assert asked.read_text() == page


def test_an_unknown_task_lists_the_tasks_there_are(folder: Path) -> None:
    add_demo(folder)
    result = invoke(folder, "preview", "Revenu")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no task 'Revenu' (by id, id prefix or name). Did you mean 'Revenue'? "
        "See `manage_tasks.py list`.\nTasks: 'Revenue'\n"
    )


def test_a_failing_query_says_why_and_what_to_check_and_leaves_nothing(folder: Path) -> None:
    result = invoke(
        folder, "add", "--name", "Broken", "--query", "SELECT * FROM nowhere",
        "--every", "1d", "--to", "a@example.com", "--no-check",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = invoke(folder, "preview", "Broken")
    assert result.exit_code == 1
    error = result.stderr.splitlines()
    assert error[0].startswith("Error: the preview of 'Broken' failed in its query step: ")
    assert "no such table: nowhere" in error[0]
    assert error[1] == (
        "What to check: check the task's SQL and connection: `manage_tasks.py validate` has "
        "the database compile it, `manage_tasks.py test-connection` tries the connection"
    )
    assert not (folder / "data" / "previews").exists() or not any(
        (folder / "data" / "previews").iterdir()
    )
    assert not (folder / "data" / "runs.jsonl").exists()


def test_a_task_without_recipients_shows_its_files_and_says_no_email(folder: Path) -> None:
    result = invoke(
        folder, "add", "--name", "Quiet", "--query", "SELECT 1 AS one", "--every", "1d",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = invoke(folder, "preview", "Quiet", "--out", str(folder / "q"))
    assert result.exit_code == 0, result.output
    assert "  Email: none would be sent (the task has no recipients)" in result.stdout
    assert not (folder / "q" / "email.eml").exists()
    page = (folder / "q" / "index.html").read_text()
    assert "No email would be sent: the task has no recipients." in page
    assert ".xlsx</a>" in page
