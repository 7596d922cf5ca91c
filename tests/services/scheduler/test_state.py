"""The state file (src/services/scheduler/state.py): the last occurrence handled is the
baseline for catch-up after a restart."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from src.core.clock import to_utc_iso
from src.core.task import Task, new_task_id
from src.services.task_store import TaskStore
from tests.daemon_harness import in_process_daemon


def test_state_file_is_the_baseline_after_restart(tmp_path: Path) -> None:
    zone = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 6, 10, 12, 0, tzinfo=zone)
    store = TaskStore(tmp_path / "tasks.json")
    task = Task.from_dict(
        {
            "id": new_task_id(),
            "name": "Hourly",
            "query": "SELECT 1",
            "schedule": {"cron": "0 * * * *"},
            "timezone": "Europe/Berlin",
            "catch_up": "all",
        }
    )
    store.add(task, now=now - timedelta(days=3))
    state = tmp_path / "data" / "scheduler" / "state.json"
    state.parent.mkdir(parents=True)
    handled = now - timedelta(hours=2, minutes=30)  # 09:30: 10:00, 11:00, 12:00 were missed
    task_id = store.load().tasks[0].id
    state.write_text(f'{{"version": 1, "last_handled": {{"{task_id}": "{to_utc_iso(handled)}"}}}}')
    daemon = in_process_daemon(tmp_path, now)
    daemon.start()
    assert [o.scheduled_for.astimezone(zone).hour for o in daemon.dispatch.queue] == [10, 11, 12]
