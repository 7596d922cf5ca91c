"""The dispatcher (src/services/scheduler/dispatch.py) without child processes: what it
admits, queues, supersedes and records, on an in-process daemon with an injected clock.
The real daemon's runs are in test_daemon.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from src.core.task import Task
from src.services.scheduler.timetable import Occurrence
from src.services.task_store import TaskStore
from tests.daemon_harness import in_process_daemon

NOW = datetime(2026, 11, 30, 9, 0, 30, tzinfo=UTC)


def _task(tmp_path: Path, catch_up: str) -> str:
    (tmp_path / "demo.db").touch()
    task = Task.from_dict(
        {
            "id": "minutely",
            "name": "Minutely",
            "query": "SELECT 1",
            "schedule": {"cron": "* * * * *"},
            "catch_up": catch_up,
        }
    )
    TaskStore(tmp_path / "tasks.json").add(task, now=NOW)  # nothing missed at start
    return task.id


def _minutes_ago(*minutes: int) -> list[datetime]:
    return [NOW.replace(second=0) - timedelta(minutes=m) for m in minutes]


def test_after_a_pause_latest_runs_the_latest_not_a_stale_queued_one(tmp_path: Path) -> None:
    task_id = _task(tmp_path, "latest")
    daemon = in_process_daemon(tmp_path, NOW)
    daemon.start()
    stale, *missed = _minutes_ago(3, 2, 1, 0)
    # queued before the daemon was stopped (SIGSTOP) while all run slots were busy
    daemon.dispatch.enqueue(Occurrence(task_id, stale))
    daemon.fire(task_id, missed, NOW)  # on SIGCONT APScheduler hands over what it missed
    assert [o.scheduled_for for o in daemon.dispatch.queue] == [missed[-1]]
    reasons = {r.data["scheduled_for"][11:16]: r.data["reason"] for r in _skipped(tmp_path)}
    assert reasons["08:57"] == "superseded by a later occurrence that is due (catch_up=latest)"
    assert reasons["08:58"].startswith("missed; only the latest missed run is run")
    assert reasons["08:59"].startswith("missed; only the latest missed run is run")
    assert "09:00" not in reasons


def test_catch_up_all_keeps_the_queued_one_and_runs_every_missed_in_order(
    tmp_path: Path,
) -> None:
    task_id = _task(tmp_path, "all")
    daemon = in_process_daemon(tmp_path, NOW)
    daemon.start()
    stale, *missed = _minutes_ago(3, 2, 1, 0)
    daemon.dispatch.enqueue(Occurrence(task_id, stale))
    daemon.fire(task_id, missed, NOW)
    assert [o.scheduled_for for o in daemon.dispatch.queue] == [stale, *missed]
    assert _skipped(tmp_path) == []


def _skipped(tmp_path: Path) -> list:
    from src.services.history import RunHistory

    return [r for r in RunHistory(tmp_path / "data" / "runs.jsonl").runs() if r.status == "skipped"]
