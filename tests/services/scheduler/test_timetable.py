"""The timetable (src/services/scheduler/timetable.py): which occurrence is due and what
to do with missed ones, without waiting: fake clocks and shifted state.

DST: a daily 02:30 task caught up after a downtime across the night runs once, on the
DST days of America/New_York and Europe/Berlin that tests/services/scheduler/test_jobs.py
checks through the APScheduler trigger.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from src.core.errors import TaskValidationErrors
from src.core.task import Task, new_task_id
from src.core.vocabulary import CatchUpPolicy
from src.services.scheduler.timetable import CatchUp, catch_up_of, plan_catch_up
from src.services.task_store import TaskStore
from tests.daemon_harness import in_process_daemon
from tests.services.scheduler.test_jobs import DST_DAYS


@pytest.mark.parametrize(("zone_name", "day", "expected"), DST_DAYS)
@pytest.mark.parametrize("policy", ["all", "latest"])
def test_catch_up_across_a_dst_night_runs_it_once(
    tmp_path: Path, zone_name: str, day: str, expected: list[str], policy: str
) -> None:
    zone = ZoneInfo(zone_name)
    midnight = datetime.fromisoformat(day).replace(tzinfo=zone)
    created = midnight - timedelta(hours=6)  # the daemon went down before the night...
    now = midnight + timedelta(hours=8)  # ...and came back in the morning
    store = TaskStore(tmp_path / "tasks.json")
    task = Task.from_dict(
        {
            "id": new_task_id(),
            "name": "Nightly",
            "query": "SELECT 1",
            "schedule": {"cron": "30 2 * * *"},
            "timezone": zone_name,
            "catch_up": policy,
        }
    )
    store.add(task, now=created)
    daemon = in_process_daemon(tmp_path, now)
    daemon.start()
    queued = [o.scheduled_for.astimezone(zone).strftime("%H:%M %Z") for o in daemon.dispatch.queue]
    assert queued == expected
    assert all(o.trigger == "catch-up" for o in daemon.dispatch.queue)


def test_plan_latest_skips_older_and_window() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    times = [now - timedelta(hours=h) for h in (30, 3, 2, 1)]
    plan = plan_catch_up(times, CatchUp("latest", timedelta(hours=24)), now)
    assert plan.run == [now - timedelta(hours=1)]
    reasons = [reason for _, reason in plan.skipped]
    assert len(reasons) == 3
    assert reasons[0].startswith("missed; older than the catch-up window")
    assert all(r.startswith("missed; only the latest") for r in reasons[1:])


def test_catch_up_policy_comes_from_the_task_else_the_daemon_default() -> None:
    def task(**fields: str) -> Task:
        base = {"id": "c1", "name": "C", "query": "SELECT 1", "schedule": {"cron": "0 * * * *"}}
        return Task.from_dict({**base, **fields})

    day = timedelta(hours=24)
    assert catch_up_of(task(), day) == CatchUp(CatchUpPolicy.LATEST, day)
    assert catch_up_of(task(catch_up="all", catch_up_window="2h"), day) == CatchUp(
        CatchUpPolicy.ALL, timedelta(hours=2)
    )
    with pytest.raises(TaskValidationErrors, match="'sometimes'"):
        task(catch_up="sometimes")  # refused when the task is loaded, never at a fire
