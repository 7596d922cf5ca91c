"""The pause: src/services/scheduler/pause.py, and the daemon holding fires while paused
and catching them up per each task's catch_up on resume (driven with a fake clock, in
this process: src/services/scheduler/daemon.py's fire and apply_pause)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from src.core.task import Task
from src.services.scheduler.pause import PauseFile
from src.services.task_store import TaskStore
from tests.daemon_harness import in_process_daemon

NOW = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)
FIRES = [datetime(2026, 3, 2, hour, 0, tzinfo=UTC) for hour in (10, 11, 12)]


def test_the_pause_file_survives_and_keeps_who_paused_first(tmp_path: Path) -> None:
    path = tmp_path / "scheduler" / "pause.json"
    assert PauseFile(path).read().paused is False
    first = PauseFile(path).write(True, "os:alice", NOW)
    again = PauseFile(path).write(True, "token:bot", NOW)
    assert again == first and PauseFile(path).read().by == "os:alice"
    path.write_text("{half a")  # a hand edit cut short keeps the last state read
    reader = PauseFile(path)
    assert reader.read().paused is False  # nothing read yet: not paused
    PauseFile(path).write(False, "os:alice", NOW)
    assert PauseFile(path).read().paused is False


@pytest.mark.parametrize(
    ("policy", "queued", "skipped"), [("all", 3, 0), ("latest", 1, 2), ("skip", 0, 3)]
)
def test_fires_while_paused_run_on_resume_per_catch_up(
    tmp_path: Path, policy: str, queued: int, skipped: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    store = TaskStore(tmp_path / "tasks.json")
    task = Task.from_dict(
        {
            "id": "hourly-1",
            "name": "Hourly",
            "query": "SELECT 1",
            "schedule": {"cron": "0 * * * *"},
            "catch_up": policy,
            "created_at": "2026-03-02T12:29:00Z",
        }
    )
    store.add(task, NOW)
    daemon = in_process_daemon(tmp_path, NOW)
    daemon.start()
    daemon.set_paused(True, "token:ops")
    daemon.fire(task.id, FIRES, NOW)
    assert not daemon.dispatch.queue  # held, not run, not recorded
    assert daemon.history.runs() == []
    assert PauseFile(tmp_path / "data" / "scheduler" / "pause.json").read().by == "token:ops"
    daemon.set_paused(False, "token:ops")
    assert [o.scheduled_for for o in daemon.dispatch.queue] == FIRES[len(FIRES) - queued :]
    assert [r.status for r in daemon.history.runs()] == ["skipped"] * skipped
    assert "scheduler resumed" in caplog.text and "held: the scheduler is paused" in caplog.text


def test_a_webhook_run_is_still_taken_while_paused(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks.json")
    task = Task.from_dict({"id": "t-2", "name": "Manual", "query": "SELECT 1", "schedule": None})
    store.add(task, NOW)
    daemon = in_process_daemon(tmp_path, NOW)
    daemon.start()
    daemon.set_paused(True, "os:alice")
    result = daemon.dispatch.queue_webhook(task.id)
    assert result.accepted and [o.task_id for o in daemon.dispatch.queue] == [task.id]
