"""The APScheduler trigger the daemon uses (src/services/scheduler/jobs.py): a daily 02:30
task fires once on spring-forward day (at 03:00, the first valid time) and once on
fall-back day (the first 02:30), in America/New_York and Europe/Berlin.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from src.core.schedule import CronSchedule, IntervalSchedule
from src.services.scheduler.jobs import JobTable, ScheduleTrigger

# (zone, local day, expected local fire times on that day)
DST_DAYS = [
    ("America/New_York", "2026-03-08", ["03:00 EDT"]),  # 02:00 -> 03:00: 02:30 does not exist
    ("America/New_York", "2026-11-01", ["02:30 EST"]),  # 02:00 -> 01:00: 02:30 exists once
    ("Europe/Berlin", "2026-03-29", ["03:00 CEST"]),  # 02:00 -> 03:00
    ("Europe/Berlin", "2026-10-25", ["02:30 CEST"]),  # 03:00 -> 02:00: 02:30 twice, first wins
]


def _fires_on(trigger: ScheduleTrigger, zone: ZoneInfo, day: str) -> list[str]:
    """Drive the trigger as APScheduler does (previous fire -> next) over three days."""
    start = datetime.fromisoformat(day).replace(tzinfo=zone) - timedelta(days=1)
    fire = trigger.get_next_fire_time(None, start.astimezone(UTC))
    seen: list[str] = []
    while fire is not None and fire < start.astimezone(UTC) + timedelta(days=3):
        local = fire.astimezone(zone)
        if local.date().isoformat() == day:
            seen.append(local.strftime("%H:%M %Z"))
        fire = trigger.get_next_fire_time(fire, fire)
    return seen


@pytest.mark.parametrize(("zone_name", "day", "expected"), DST_DAYS)
def test_trigger_fires_once_on_dst_days(zone_name: str, day: str, expected: list[str]) -> None:
    zone = ZoneInfo(zone_name)
    trigger = ScheduleTrigger(CronSchedule.parse("30 2 * * *", zone))
    assert _fires_on(trigger, zone, day) == expected


@pytest.mark.parametrize("seconds", [30.0, -30.0, 0.123])
def test_a_skewed_trigger_gives_the_schedule_s_times_on_the_local_clock(seconds: float) -> None:
    """A cluster node whose wall clock is off: APScheduler sleeps by the local clock, so
    its times are the schedule's less the skew; walked previous -> next they are every
    fire time once, and back on the daemon's clock exactly the schedule's."""
    skew = timedelta(seconds=seconds)
    zone = ZoneInfo("Europe/Berlin")
    schedule = CronSchedule.parse("*/15 * * * *", zone)
    trigger = ScheduleTrigger(schedule, skew)
    local_now = datetime(2026, 3, 29, 0, 59, 50, tzinfo=UTC)
    fire = trigger.get_next_fire_time(None, local_now)
    seen = []
    for _ in range(6):
        assert fire is not None
        seen.append(fire + skew)
        fire = trigger.get_next_fire_time(fire, fire)
    expected, moment = [], local_now + skew
    for _ in range(6):
        found = schedule.next_after(moment)
        assert found is not None
        expected.append(found)
        moment = found
    assert seen == expected


def test_a_job_table_ahead_of_the_local_clock_fires_at_the_daemon_s_time() -> None:
    """With the daemon's clock 60 s ahead of this machine's (its skew), a job due one
    second from the daemon's now fires at once by the local clock, reported at its own
    time on the daemon's clock."""
    fired: list[tuple[str, list[datetime]]] = []
    done = threading.Event()

    def on_fire(task_id: str, times: list[datetime]) -> None:
        fired.append((task_id, times))
        done.set()

    table = JobTable(on_fire)
    table.skew = timedelta(seconds=60)
    daemon_now = datetime.now(UTC) + table.skew
    first = daemon_now.replace(microsecond=0) + timedelta(seconds=1)
    table.start()
    try:
        table.put("t", IntervalSchedule(period=timedelta(hours=1), start=first), first)
        assert done.wait(10), "a job due by the daemon's clock did not fire"
    finally:
        table.shutdown()
    assert fired[0] == ("t", [first])
