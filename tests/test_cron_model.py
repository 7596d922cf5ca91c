"""The cron model (tests/cron_model.py) itself, against facts of Debian cron's man page."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from tests.cron_model import CronModel, transitions

NY = ZoneInfo("America/New_York")


def test_star_rule():
    # crontab(5): "If both fields are restricted (i.e., do not start with *), the command
    # will be run when either field matches the current time."
    assert CronModel.parse("0 0 13 * 5").matching_days(date(2026, 2, 1), date(2026, 2, 14)) == [
        date(2026, 2, 6),
        date(2026, 2, 13),
    ]
    assert CronModel.parse("0 0 */15 * 1").matching_days(date(2026, 1, 1), date(2026, 3, 31)) == [
        date(2026, 2, 16),
        date(2026, 3, 16),
    ]
    assert CronModel.parse("0 0 30 2 */1").matching_days(date(2026, 1, 1), date(2030, 1, 1)) == []


def test_clock_changes():
    fall, spring = transitions(NY, 2026)[1], transitions(NY, 2026)[0]
    assert fall == datetime(2026, 11, 1, 6, tzinfo=UTC)
    assert spring == datetime(2026, 3, 8, 7, tzinfo=UTC)
    every_minute = CronModel.parse("* * * * *")
    first, last = datetime(2026, 11, 1, 5, tzinfo=UTC), datetime(2026, 11, 1, 7, tzinfo=UTC)
    assert len(every_minute.fire_times(NY, first, last)) == 120  # (01:00 EDT, 02:00 EST]
    assert CronModel.parse("30 1 * * *").fire_times(NY, first, last) == [
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    ]
    before, after = datetime(2026, 3, 8, 6, tzinfo=UTC), datetime(2026, 3, 8, 8, tzinfo=UTC)
    assert CronModel.parse("30 2 * * *").fire_times(NY, before, after) == [spring]
    assert CronModel.parse("30 * * * *").fire_times(NY, before, after) == [
        datetime(2026, 3, 8, 6, 30, tzinfo=UTC),
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
    ]
