"""The next runs the scheduler page, the dashboard and GET /api/scheduler show: kept per
task between calls (src/services/api/scheduler.py::SoonestRuns), and still exact when a
fire time passes or a task's schedule changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from src.core.task import Task
from src.services.api.scheduler import SoonestRuns

NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)  # a Monday


def _task(name: str, schedule: dict[str, object] | None, enabled: bool = True) -> Task:
    return Task.from_dict(
        {
            "id": f"id-{name}",
            "name": name,
            "query": "SELECT 1",
            "schedule": schedule,
            "timezone": "UTC",
            "enabled": enabled,
            "created_at": "2026-01-01T00:00:00Z",
        }
    )


def _names(found: list[tuple[datetime, Task]]) -> list[tuple[str, str]]:
    return [(task.name, moment.strftime("%d %H:%M")) for moment, task in found]


def test_the_soonest_runs_stay_exact_as_time_passes_and_tasks_change() -> None:
    tasks = [
        _task("nine", {"cron": "0 9 * * *"}),
        _task("ten", {"cron": "0 10 * * *"}),
        _task("hourly", {"cron": "45 * * * *"}),
        _task("off", {"cron": "0 8 * * *"}, enabled=False),
        _task("by hand", None),
    ]
    soonest = SoonestRuns()
    assert _names(soonest.soonest(tasks, NOW, 3)) == [
        ("hourly", "02 08:45"),
        ("nine", "02 09:00"),
        ("ten", "02 10:00"),
    ]
    # 09:01: nine's 09:00 and hourly's 08:45 have passed; the rest is as it was
    later = NOW + timedelta(minutes=31)
    assert _names(soonest.soonest(tasks, later, 3)) == [
        ("hourly", "02 09:45"),
        ("ten", "02 10:00"),
        ("nine", "03 09:00"),
    ]
    # a changed schedule (a new Task, as a reload makes) is worked out again
    tasks[1] = _task("ten", {"cron": "30 9 * * *"})
    tasks[3] = _task("off", {"cron": "0 8 * * *"}, enabled=True)
    assert _names(soonest.soonest(tasks, later, 3)) == [
        ("ten", "02 09:30"),
        ("hourly", "02 09:45"),
        ("off", "03 08:00"),
    ]
    # a task gone from the file is gone from the list
    assert "hourly" not in [name for name, _ in _names(soonest.soonest(tasks[:2], later, 5))]
