"""The daemon as a user runs it: a real scheduler_daemon.py process on a temp folder.

SQLite is the task database (no server needed), mail goes to the outbox folder
(no SMTP_HOST) or to a real aiosmtpd server. Schedules are 1-2 s intervals so each
test takes seconds; waits are hang guards, not timing assertions.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from src.core.clock import now as clock_now
from src.core.clock import parse_instant, to_utc_iso
from src.core.vocabulary import Trigger
from src.services.history import RunHistory
from src.services.recorder import RunRecorder, RunRef
from src.services.scheduler.instance import hard_link_warnings
from tests.daemon_harness import SLOW_QUERY, DaemonProcess, Workspace


@pytest.fixture
def space(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


def start(space: Workspace, daemons: list[DaemonProcess], *args: str, **env: str) -> DaemonProcess:
    daemon = space.start(*args, **env)
    daemons.append(daemon)
    return daemon


def statuses(space: Workspace, task_id: str) -> list[str]:
    return [r.status for r in space.runs(task_id)]


# --- start, banner, live changes -------------------------------------------------------------


def test_empty_file_says_how_to_add_and_picks_up_an_added_task(
    space: Workspace, daemons: list[DaemonProcess]
) -> None:
    daemon = start(space, daemons)
    daemon.wait_for("Scheduler is running")
    assert "no tasks in " in daemon.output
    assert "manage_tasks.py --tasks-file" in daemon.output

    task_id = space.add("Live", "--query", "SELECT * FROM sales", "--every", "1s")
    daemon.wait_for(f"task 'Live' ({task_id[:8]}): added")
    daemon.wait_for("finished: success, 50 rows")
    assert daemon.stop() == 0
    assert "scheduler stopped" in daemon.output
    successes = [r for r in space.runs(task_id) if r.status == "success"]
    assert successes and all(r.data["trigger"] == "schedule" for r in successes)
    sent = {r.data["email"]["outbox_path"] for r in successes}
    assert sent <= {str(p) for p in space.outbox()}
    summary = space.task("Live")
    assert summary["run_count"] >= len(successes) and summary["last_status"] == "success"


def test_banner_lists_each_task_with_next_run_in_its_zone(
    space: Workspace, daemons: list[DaemonProcess]
) -> None:
    space.add(
        "Berlin", "--query", "SELECT 1", "--cron", "30 2 * * *", "--timezone", "Europe/Berlin"
    )
    space.add("Off", "--query", "SELECT 1", "--cron", "0 9 * * *", "--disabled")
    daemon = start(space, daemons)
    daemon.wait_for("Scheduler is running (1 enabled task(s)")
    berlin = next(line for line in daemon.lines if "'Berlin'" in line)
    assert "02:30:00 CE" in berlin and "(Europe/Berlin)" in berlin  # CET or CEST
    assert any("'Off'" in line and "disabled" in line for line in daemon.lines)
    assert daemon.stop() == 0


def test_edit_schedule_replaces_the_old_job(space: Workspace, daemons: list[DaemonProcess]) -> None:
    task_id = space.add("Edited", "--query", "SELECT 1 AS one", "--every", "1s")
    daemon = start(space, daemons)
    daemon.wait_for("finished: success")
    space.cli("edit", task_id[:8], "--cron", "0 0 1 1 *")
    daemon.wait_for(f"task 'Edited' ({task_id[:8]}): rescheduled")
    starts_after_edit = daemon.count("run ") and daemon.count("started (scheduled")
    # the old 1 s job is gone: at most a run already under way finishes, none starts
    daemon.wait_for("finished:", count=daemon.count("started (scheduled"))
    before = daemon.count("started (scheduled")
    assert before <= starts_after_edit + 1
    space.cli("edit", task_id[:8], "--every", "1s")  # and back: a new job fires again
    daemon.wait_for("started (scheduled", count=before + 1)
    assert daemon.stop() == 0


def test_disable_enable_delete(space: Workspace, daemons: list[DaemonProcess]) -> None:
    task_id = space.add("Toggle", "--query", "SELECT 1 AS one", "--every", "1s")
    daemon = start(space, daemons)
    daemon.wait_for("finished: success")
    space.cli("disable", task_id[:8])
    daemon.wait_for("disabled; no more runs")
    daemon.wait_until(
        lambda: daemon.count("finished:") >= daemon.count("started (scheduled"), "runs to end"
    )
    space.cli("enable", task_id[:8])
    daemon.wait_for(f"task 'Toggle' ({task_id[:8]}): enabled")
    daemon.wait_for("started (scheduled", count=daemon.count("started (scheduled") + 1)
    space.cli("delete", task_id[:8], "--yes")
    daemon.wait_for("deleted; no more runs")
    assert daemon.stop() == 0


def test_own_summary_writes_cause_no_churn(space: Workspace, daemons: list[DaemonProcess]) -> None:
    space.add("Busy", "--query", "SELECT 1 AS one", "--every", "1s")
    daemon = start(space, daemons)
    daemon.wait_for("finished: success", count=3)  # three summary writes to tasks.json
    assert daemon.count("rescheduled") == 0
    assert daemon.count("tasks file reloaded") == 0
    assert daemon.stop() == 0


def test_sighup_reloads(space: Workspace, daemons: list[DaemonProcess]) -> None:
    space.add("Daily", "--query", "SELECT 1", "--cron", "0 9 * * *")
    daemon = start(space, daemons)
    daemon.wait_for("Scheduler is running")
    daemon.send(signal.SIGHUP)
    daemon.wait_for("SIGHUP: reloading the tasks file")
    daemon.wait_for("tasks file reloaded: 0 change(s), 1 job(s)")
    assert daemon.stop() == 0


def test_corrupt_file_keeps_the_last_good_set(
    space: Workspace, daemons: list[DaemonProcess]
) -> None:
    space.add("Steady", "--query", "SELECT 1 AS one", "--every", "1s")
    daemon = start(space, daemons)
    daemon.wait_for("finished: success")
    good = space.tasks_file.read_text(encoding="utf-8")
    space.tasks_file.write_text(good[: len(good) // 2], encoding="utf-8")  # a torn edit
    daemon.wait_for("tasks file not reloaded, still running the 1 task(s) loaded before")
    runs_then = daemon.count("finished: success")
    daemon.wait_for("finished: success", count=runs_then + 1)  # still firing
    assert daemon.count("tasks file not reloaded") == 1  # said once, not every poll
    space.tasks_file.write_text(good, encoding="utf-8")
    daemon.wait_for("tasks file reloaded")
    assert daemon.stop() == 0


# --- one daemon per file, --once --------------------------------------------------------------


def test_second_daemon_is_refused(space: Workspace, daemons: list[DaemonProcess]) -> None:
    first = start(space, daemons)
    first.wait_for("Scheduler is running")
    second = start(space, daemons)
    assert second.process.wait(30) == 1
    second._reader.join(5)
    assert second.output.strip() == (
        f"Error: another scheduler (pid {first.process.pid}) is already running for "
        f"{space.tasks_file}"
    )
    assert first.stop() == 0


def test_once_exit_codes(space: Workspace) -> None:
    space.add("Good", "--query", "SELECT * FROM sales", "--every", "1h")
    _backdate(space, "Good", hours=2)
    done = space.run_once()
    assert done.returncode == 0, done.stderr
    assert "--once: 1 run(s), 0 not successful" in done.stderr
    assert len(space.outbox()) == 1

    again = space.run_once()  # nothing is due any more: no second send
    assert again.returncode == 0, again.stderr
    assert "--once: 0 run(s)" in again.stderr
    assert len(space.outbox()) == 1

    space.add("Broken", "--query", "SELECT * FROM no_such_table", "--every", "1h", "--no-check")
    _backdate(space, "Broken", hours=2)
    failed = space.run_once()
    assert failed.returncode == 1, failed.stderr
    assert "--once: 1 run(s), 1 not successful" in failed.stderr
    assert "not retried: the error is permanent" in failed.stderr


def _backdate(space: Workspace, name: str, **delta: float) -> None:
    """Pretend the task was created ``delta`` ago (the daemon was down since)."""
    moment = to_utc_iso(clock_now() - timedelta(**delta))

    def change(document: dict[str, Any]) -> None:
        for item in document["tasks"]:
            if item["name"] == name:
                item["created_at"] = moment
                if "interval" in item["schedule"]:
                    item["schedule"]["start"] = moment

    space.edit_json(change)


# --- catch-up after downtime ------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["skip", "latest", "all"])
def test_catch_up_policies(space: Workspace, policy: str) -> None:
    task_id = space.add("Hourly", "--query", "SELECT 1 AS one", "--every", "1h")
    _backdate(space, "Hourly", hours=3, minutes=30)  # down for 3.5 h: 3 occurrences missed

    def set_policy(document: dict[str, Any]) -> None:
        document["tasks"][0]["catch_up"] = policy

    space.edit_json(set_policy)
    done = space.run_once()
    assert done.returncode == 0, done.stderr
    records = space.runs(task_id)
    ran = sorted(r.data["scheduled_for"] for r in records if r.status == "success")
    skipped = sorted(r.data["scheduled_for"] for r in records if r.status == "skipped")
    occurrences = sorted(ran + skipped)
    assert len(occurrences) == 3
    expected_ran = {"skip": [], "latest": occurrences[-1:], "all": occurrences}[policy]
    assert ran == expected_ran
    assert all(r.data["trigger"] == "catch-up" for r in records)
    assert f"3 missed occurrence(s) (catch_up={policy}" in done.stderr
    assert len(space.outbox()) == len(expected_ran)


def test_catch_up_window_limits_what_is_run(space: Workspace) -> None:
    task_id = space.add("Old", "--query", "SELECT 1 AS one", "--every", "1h")
    _backdate(space, "Old", hours=5, minutes=30)
    space.write_env(CATCH_UP_WINDOW="2h")
    done = space.run_once()
    assert done.returncode == 0, done.stderr
    records = space.runs(task_id)
    ran = [r for r in records if r.status == "success"]
    skipped = [r for r in records if r.status == "skipped"]
    # 5 missed, 2 inside the window: the latest runs, the other is recorded as skipped;
    # the 3 older ones are left alone (not run, not listed)
    assert len(ran) == 1 and len(skipped) == 1 and len(records) == 2
    assert parse_instant(ran[0].data["scheduled_for"]) > clock_now() - timedelta(hours=1)


# --- exactly once across crashes ---------------------------------------------------------------


def test_kill_9_mid_run_then_restart_reruns_once(
    space: Workspace, daemons: list[DaemonProcess]
) -> None:
    task_id = space.add(
        "Slow", "--query", SLOW_QUERY.format(n=40_000_000), "--every", "1h", "--timeout", "60"
    )
    _backdate(space, "Slow", minutes=90)  # one occurrence is due at start
    daemon = start(space, daemons)
    daemon.wait_until(
        lambda: [r.status for r in space.runs(task_id)] == ["running"], "the run to start"
    )
    run_id = space.runs(task_id)[0].run_id
    daemon.kill()  # kill -9: no chance to record anything
    assert [r.status for r in space.runs(task_id)] == ["running"]

    # the change to a quick query is not what matters; it keeps the test short
    space.cli("edit", task_id[:8], "--query", "SELECT 1 AS one")
    again = start(space, daemons)
    again.wait_for("finished: success")
    assert again.stop() == 0
    records = {r.run_id: r for r in space.runs(task_id)}
    assert records[run_id].status == "interrupted"
    assert "the scheduler stopped" in records[run_id].data["reason"]
    reruns = [r for r in records.values() if r.run_id != run_id]
    assert [r.status for r in reruns] == ["success"]
    assert reruns[0].data["scheduled_for"] == records[run_id].data["scheduled_for"]
    assert len(space.outbox()) == 1


def test_interrupted_after_email_is_not_sent_again(space: Workspace) -> None:
    task_id = space.add("Mailed", "--query", "SELECT 1 AS one", "--every", "1h")
    _backdate(space, "Mailed", minutes=90)
    # the history a kill -9 leaves between sending the email and writing `finished`
    due = parse_instant(space.task("Mailed")["created_at"]) + timedelta(hours=1)
    recorder = RunRecorder(RunHistory(space.data / "runs.jsonl"), None, clock=lambda: due)
    cut_off = RunRef("r-crashed", task_id, "Mailed", Trigger.SCHEDULE, due)
    recorder.started(cut_off, due)
    recorder.step(cut_off, "emailed", email={"recipients": ["x@example.com"]})
    done = space.run_once()
    assert done.returncode == 0, done.stderr
    records = {r.run_id: r for r in space.runs(task_id)}
    assert records["r-crashed"].status == "interrupted"
    assert "not sent again" in records["r-crashed"].data["reason"]
    assert len(records) == 1  # no re-run of the delivered occurrence
    assert space.outbox() == []


# --- shutdown, timeouts, overlap, retries ---------------------------------------------------------


def test_sigterm_waits_for_the_running_run(space: Workspace, daemons: list[DaemonProcess]) -> None:
    task_id = space.add("Finish", "--query", SLOW_QUERY.format(n=10_000_000), "--every", "1h")
    _backdate(space, "Finish", minutes=90)
    daemon = start(space, daemons)
    daemon.wait_for("started (scheduled")
    assert daemon.stop(signal.SIGTERM) == 0
    assert "waiting up to 30 s for 1 running run(s)" in daemon.output
    assert statuses(space, task_id) == ["success"]


def test_sigterm_past_the_grace_interrupts(space: Workspace, daemons: list[DaemonProcess]) -> None:
    task_id = space.add("Cut", "--query", SLOW_QUERY.format(n=200_000_000), "--every", "1h")
    _backdate(space, "Cut", minutes=90)
    space.write_env(SHUTDOWN_GRACE_SECONDS="0.5")
    daemon = start(space, daemons)
    daemon.wait_for("started (scheduled")
    assert daemon.stop(signal.SIGTERM) == 0
    (record,) = space.runs(task_id)
    assert record.status == "interrupted"
    assert record.data["error"]["message"].startswith("the scheduler was stopped during this run")


def test_second_signal_stops_at_once(space: Workspace, daemons: list[DaemonProcess]) -> None:
    task_id = space.add("Twice", "--query", SLOW_QUERY.format(n=200_000_000), "--every", "1h")
    _backdate(space, "Twice", minutes=90)
    daemon = start(space, daemons)
    daemon.wait_for("started (scheduled")
    daemon.send(signal.SIGINT)
    daemon.wait_for("SIGINT: stopping")
    assert daemon.stop(signal.SIGINT) == 0
    assert "stopping now, interrupting running runs" in daemon.output
    assert statuses(space, task_id) == ["interrupted"]


def test_timeout_kills_a_run_that_ignores_sigterm(
    space: Workspace, daemons: list[DaemonProcess]
) -> None:
    # A database locked by another process: SQLite waits for the lock inside one C call
    # (busy timeout 60 s from the URL), where neither Python's SIGTERM handler nor the
    # query's own watchdog can reach it, like a driver hung in C. Only SIGKILL of the
    # process group stops it.
    space.write_env(DB_LOCKED_URL=f"sqlite:///{space.db}?timeout=60", RUN_KILL_GRACE_SECONDS="0")
    task_id = space.add(
        "Hung",
        "--query",
        "SELECT * FROM sales",
        "--connection",
        "locked",
        "--every",
        "1h",
        "--timeout",
        "3",
    )
    _backdate(space, "Hung", minutes=90)
    holder = sqlite3.connect(space.db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        daemon = start(space, daemons)
        daemon.wait_for("finished: timeout")
        assert daemon.stop() == 0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    (record,) = space.runs(task_id)
    assert record.status == "timeout"
    assert record.data["error"]["message"] == (
        "the run took longer than timeout_seconds=3.0 plus 0 s; its process group was killed "
        "(SIGKILL: it did not stop on SIGTERM)"
    )
    assert space.task("Hung")["last_status"] == "timeout"
    assert space.outbox() == []


def test_overlapping_fire_is_skipped_with_the_reason(
    space: Workspace, daemons: list[DaemonProcess]
) -> None:
    task_id = space.add("Long", "--query", SLOW_QUERY.format(n=12_000_000), "--every", "1s")
    daemon = start(space, daemons)
    daemon.wait_for("skipped: the previous run")
    daemon.wait_for("finished: success")
    assert daemon.stop() == 0
    # missed 1 s occurrences from before the start are skipped by catch-up first (a slow
    # start-up on a busy machine); an overlapping fire is skipped with its own reason
    reasons = [r.data["reason"] for r in space.runs(task_id) if r.status == "skipped"]
    assert any("is still running" in reason for reason in reasons), reasons


def test_transient_failure_is_retried_with_backoff(
    space: Workspace, daemons: list[DaemonProcess], smtp_flaky_server: Any
) -> None:
    space.write_env(SMTP_RETRIES="1", **dict(smtp_flaky_server.env()))
    task_id = space.add("Flaky", "--query", "SELECT 1 AS one", "--every", "1h")

    def retry_policy(document: dict[str, Any]) -> None:
        document["tasks"][0]["retry"] = {"max_retries": 2, "delay_seconds": 0.5, "backoff": 2}

    space.edit_json(retry_policy)
    _backdate(space, "Flaky", minutes=90)
    daemon = start(space, daemons)
    daemon.wait_for("finished: success")
    assert daemon.stop() == 0
    records = space.runs(task_id)
    assert [(r.status, r.data["attempt"]) for r in records] == [("failed", 1), ("success", 2)]
    assert records[0].data["error"]["permanent"] is False
    assert "attempt 2 of 3 in 0.5 s" in daemon.output
    assert records[0].data["scheduled_for"] == records[1].data["scheduled_for"]
    assert len(smtp_flaky_server.messages) == 1


def test_json_log_format(space: Workspace, daemons: list[DaemonProcess]) -> None:
    daemon = start(space, daemons, "--log-format", "json")
    daemon.wait_for("Scheduler is running")
    assert daemon.stop() == 0
    events = [json.loads(line) for line in daemon.lines]
    assert {"running", "stopping", "stopped"} <= {e["event"] for e in events}
    assert all({"time", "level", "message"} <= set(e) for e in events)


def test_a_hard_linked_tasks_file_is_warned_about(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.json"
    tasks.write_text("{}")
    assert hard_link_warnings(tasks) == []
    os.link(tasks, tmp_path / "other.json")
    (warning,) = hard_link_warnings(tasks)
    assert warning.startswith(f"{tasks} has 2 hard links") and "symbolic link" in warning
