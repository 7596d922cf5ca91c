"""The APScheduler trigger the daemon uses (src/services/scheduler/jobs.py): a daily 02:30
task fires once on spring-forward day (at 03:00, the first valid time) and once on
fall-back day (the first 02:30), in America/New_York and Europe/Berlin.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from src.core.schedule import CronSchedule
from src.services.scheduler.jobs import ScheduleTrigger

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
