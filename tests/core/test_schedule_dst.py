"""Cron across clock changes: every minute pattern, both transitions, four zones.

The judge is tests/cron_model.py, a minute-by-minute model of Debian cron with the rule
docs/tasks-json.md states for the repeated and the skipped hour. Time is injected.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from src.core.schedule import CronSchedule
from tests.cron_model import CronModel, transitions

NY = ZoneInfo("America/New_York")
#: 1 h shifts in both hemispheres, and Lord Howe's 30 minutes.
ZONES = ("America/New_York", "Europe/Berlin", "Australia/Sydney", "Australia/Lord_Howe")

#: Every minute pattern (single, list, range, step, star) with hour '*', and lines with an
#: explicit hour that lands in each zone's repeated or skipped stretch.
WILDCARD_HOUR = ("7 * * * *", "5,35,50 * * * *", "10-20 * * * *", "*/15 * * * *", "* * * * *")
EXPLICIT_HOUR = (
    "30 1 * * *",
    "45 2 * * *",
    "*/10 1,2 * * *",
    "0-59/7 2 * * *",
    "* 1 * * *",
    "15 */2 * * *",
)


def _cases() -> list[tuple[str, str, str]]:
    return [
        (zone, change, line)
        for zone in ZONES
        for change in ("spring", "fall")
        for line in WILDCARD_HOUR + EXPLICIT_HOUR
    ]


def _change(zone: ZoneInfo, change: str) -> datetime:
    """The instant of the 2026 spring-forward or fall-back in ``zone``."""
    for moment in transitions(zone, 2026):
        before = (moment - timedelta(minutes=1)).astimezone(zone).utcoffset()
        after = moment.astimezone(zone).utcoffset()
        assert before is not None and after is not None
        if (after > before) == (change == "spring"):
            return moment
    raise AssertionError(f"no {change} change in {zone.key} in 2026")


@pytest.mark.parametrize(("zone_name", "change", "line"), _cases())
def test_fire_times_across_a_clock_change_are_cron_s(zone_name, change, line):
    zone = ZoneInfo(zone_name)
    moment = _change(zone, change)
    start, end = moment - timedelta(hours=4), moment + timedelta(hours=4)
    schedule = CronSchedule.parse(line, zone)
    expected = CronModel.parse(line).fire_times(zone, start, end)
    got = list(schedule.between(start, end))
    assert got == expected
    # From any instant (not only from a fire time), the next run is the model's next one.
    probe = start
    while probe < end - timedelta(hours=1):
        following = [t for t in expected if t > probe]
        if following:
            assert schedule.next_after(probe) == following[0], probe
        probe += timedelta(minutes=13, seconds=7)


def test_every_15_minutes_runs_in_both_passes_of_the_repeated_hour():
    schedule = CronSchedule.parse("*/15 * * * *", NY)
    times = schedule.upcoming(datetime(2026, 11, 1, 0, 50, tzinfo=NY), 10)
    assert [t.astimezone(NY).strftime("%H:%M %Z") for t in times] == [
        "01:00 EDT",
        "01:15 EDT",
        "01:30 EDT",
        "01:45 EDT",
        "01:00 EST",
        "01:15 EST",
        "01:30 EST",
        "01:45 EST",
        "02:00 EST",
        "02:15 EST",
    ]
    assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(times))


def test_every_minute_runs_121_times_from_0100_edt_to_0200_est():
    schedule = CronSchedule.parse("* * * * *", NY)
    first = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)  # 01:00 EDT
    last = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)  # 02:00 EST
    times = list(schedule.between(first - timedelta(seconds=1), last))
    assert len(times) == 121
    assert len(set(times)) == 121


def test_explicit_hour_runs_once_in_the_repeated_hour_and_once_after_the_gap():
    fall = CronSchedule.parse("*/20 1 * * *", NY)
    times = list(
        fall.between(datetime(2026, 11, 1, tzinfo=NY), datetime(2026, 11, 1, 3, tzinfo=NY))
    )
    assert [t.astimezone(NY).strftime("%H:%M %Z") for t in times] == [
        "01:00 EDT",
        "01:20 EDT",
        "01:40 EDT",
    ]
    spring = CronSchedule.parse("*/20 2 * * *", NY)  # 02:00-02:59 does not exist on 8 March
    times = list(
        spring.between(datetime(2026, 3, 8, tzinfo=NY), datetime(2026, 3, 8, 4, tzinfo=NY))
    )
    assert [t.astimezone(NY).strftime("%H:%M %Z") for t in times] == ["03:00 EDT"]
