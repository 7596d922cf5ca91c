"""Tasks with steps in the real daemon, with real processes, PostgreSQL and SMTP.

* A three-step job -- a cleanup statement on PostgreSQL that writes the deleted rows to a
  CSV file, a Python script that reads that file and writes a summary, an email step
  attaching both -- fires on its schedule and is delivered once by a real SMTP server
  (aiosmtpd); a restart does not send it again.
* ``kill -9`` of the daemon while step 2 runs, then a restart: the cut-off run is
  recorded as interrupted, the step's orphaned program is stopped by the restarted
  daemon, the occurrence is run again and its email goes out exactly once.
* A command step that forks a grandchild which ignores SIGTERM is killed, grandchild
  included, with the run at the task's timeout.
"""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from src.core.clock import now as clock_now
from src.core.clock import to_utc_iso
from tests.daemon_harness import WAIT, DaemonProcess, Workspace
from tests.services.steps.test_process import GRANDCHILD

SUMMARIZE = """
import csv, os, sys, time
source, target = sys.argv[1], sys.argv[2]
hold = os.environ.get("HOLD_FILE")
if hold and os.path.exists(hold):  # the kill -9 test: stay in step 2 until killed
    with open(hold + ".pid", "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(300)
rows = list(csv.reader(open(source, encoding="utf-8-sig")))[1:]
with open(target, "w") as handle:
    handle.write(f"{len(rows)} log lines deleted: {', '.join(r[1] for r in rows)}\\n")
print(f"summarized {len(rows)}")
"""


def _steps(hold: Path | None = None) -> list[dict[str, Any]]:
    script: dict[str, Any] = {
        "id": "summarize",
        "name": "Summarize what was deleted",
        "kind": "python",
        "script": "summarize.py",
        "args": ["{steps.cleanup.files}", "{step_dir}/summary.txt"],
    }
    if hold is not None:
        script["env"] = {"HOLD_FILE": str(hold)}
    return [
        {
            "id": "cleanup",
            "name": "Delete old log lines",
            "kind": "sql",
            "connection": "pg",
            "query": "DELETE FROM app_log WHERE at < :today RETURNING id, message",
            "read_only": False,
            "exports": {"csv": True},
        },
        script,
        {
            "id": "mail",
            "kind": "email",
            "attach": ["cleanup", "summarize"],
            "to": ["ops@example.com"],
            "subject": (
                "{steps.cleanup.row_count} old log lines deleted ({steps.summarize.last_line})"
            ),
        },
    ]


def _prepare(space: Workspace, url: str, smtp: Any) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE app_log (id integer, message text, at date)"))
        conn.execute(
            sa.text(
                "INSERT INTO app_log VALUES (1, 'disk full', '2020-01-01'), "
                "(2, 'disk fine', '2020-01-02'), (3, 'today', CURRENT_DATE + 1)"
            )
        )
    engine.dispose()
    (space.folder / "summarize.py").write_text(SUMMARIZE)
    space.write_env(DB_PG_URL=url, **dict(smtp.env()))


def _add(space: Workspace, task: dict[str, Any]) -> None:
    def change(document: dict[str, Any]) -> None:
        document["tasks"].append(task)

    if not space.tasks_file.exists():
        space.tasks_file.write_text(json.dumps({"version": 2, "tasks": []}))
    space.edit_json(change)


def _left(url: str) -> list[int]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM app_log ORDER BY id"))]
    engine.dispose()
    return ids


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait(check: Any, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_three_steps_fire_on_schedule_and_deliver_once(
    tmp_path: Path, pg_fresh_url: str, smtp_server: Any, daemons: list[DaemonProcess]
) -> None:
    space = Workspace(tmp_path)
    _prepare(space, pg_fresh_url, smtp_server)
    fire = (clock_now() + timedelta(seconds=6)).replace(microsecond=0)
    task = {
        "id": "t-nightly",
        "name": "Nightly cleanup",
        "schedule": {"once": to_utc_iso(fire)},
        "timezone": "UTC",
        "timeout_seconds": 120,
        "steps": _steps(),
    }
    _add(space, task)
    daemon = space.start()
    daemons.append(daemon)
    daemon.wait_for("finished: success")
    assert daemon.stop() == 0
    (record,) = space.runs("t-nightly")
    assert record.status == "success" and record.data["trigger"] == "schedule"
    results = {step["id"]: step for step in record.step_results}
    assert [step["status"] for step in record.step_results] == ["success"] * 3
    assert results["cleanup"]["rows"] == 2
    assert results["summarize"]["exit_code"] == 0
    assert results["summarize"]["cpu_user_seconds"] >= 0
    assert results["summarize"]["max_rss_bytes"] > 1024 * 1024
    assert _left(pg_fresh_url) == [3]
    (message,) = smtp_server.messages
    parsed = message.message
    assert parsed["Subject"] == "2 old log lines deleted (summarized 2)"
    attachments = {part.get_filename(): part.get_content() for part in parsed.iter_attachments()}
    assert set(attachments) == {
        "Nightly cleanup_" + fire.strftime("%Y-%m-%d") + ".csv",
        "summary.txt",
    }
    assert attachments["summary.txt"] == "2 log lines deleted: disk full, disk fine\n"
    again = space.run_once()  # a restart: the occurrence is done, nothing is sent again
    assert again.returncode == 0, again.stderr
    assert len(smtp_server.messages) == 1


def test_kill_9_during_step_2_then_restart_sends_the_email_once(
    tmp_path: Path, pg_fresh_url: str, smtp_server: Any, daemons: list[DaemonProcess]
) -> None:
    space = Workspace(tmp_path)
    _prepare(space, pg_fresh_url, smtp_server)
    hold = tmp_path / "hold"
    hold.write_text("stay in step 2")
    created = clock_now() - timedelta(minutes=90)
    task = {
        "id": "t-cut",
        "name": "Cut in step 2",
        "schedule": {"interval": "1h", "start": to_utc_iso(created)},
        "created_at": to_utc_iso(created),
        "timezone": "UTC",
        "timeout_seconds": 120,
        "steps": _steps(hold),
    }
    _add(space, task)
    daemon = space.start()
    daemons.append(daemon)
    pid_file = Path(str(hold) + ".pid")
    _wait(pid_file.exists, "step 2's program to start")
    step_pid = int(pid_file.read_text())
    daemon.send(signal.SIGKILL)
    daemon.process.wait(WAIT)
    assert _alive(step_pid)  # the run's process died with the daemon; its program did not
    assert smtp_server.messages == []
    hold.unlink()  # the program would now finish; the restarted daemon stops it anyway
    restarted = space.start()
    daemons.append(restarted)
    restarted.wait_for("finished: success")
    _wait(lambda: not _alive(step_pid), "the orphaned step program to be stopped")
    assert restarted.stop() == 0
    first, second = space.runs("t-cut")
    assert first.status == "interrupted"
    assert "1 process(es) its steps had started were still running" in first.data["reason"]
    assert [step["id"] for step in first.step_results] == ["cleanup"]
    assert second.status == "success"
    assert len(smtp_server.messages) == 1
    again = space.run_once()
    assert again.returncode == 0, again.stderr
    assert len(smtp_server.messages) == 1


def test_a_grandchild_ignoring_sigterm_dies_with_the_run_at_its_timeout(
    tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    space = Workspace(tmp_path)
    space.write_env(RUN_KILL_GRACE_SECONDS="0")
    script = tmp_path / "grandchild.py"
    script.write_text(GRANDCHILD)
    pid_file = tmp_path / "grandchild.pid"
    created = clock_now() - timedelta(minutes=90)
    _add(
        space,
        {
            "id": "t-hang",
            "name": "Hangs",
            "schedule": {"interval": "1h", "start": to_utc_iso(created)},
            "created_at": to_utc_iso(created),
            "timezone": "UTC",
            # long enough for python3 to start and fork on a loaded machine (3 s was not)
            "timeout_seconds": 10,
            "steps": [
                {
                    "id": "fork",
                    "kind": "command",
                    "command": ["python3", str(script), str(pid_file)],
                }
            ],
        },
    )
    daemon = space.start()
    daemons.append(daemon)
    daemon.wait_for("finished: timeout")
    assert daemon.stop() == 0
    assert pid_file.exists(), "the step was killed before its grandchild started"
    grandchild = int(pid_file.read_text())
    _wait(lambda: not _alive(grandchild), "the grandchild to be killed", timeout=10)
    (record,) = space.runs("t-hang")
    assert record.status == "timeout"
    assert os.path.exists(pid_file)
