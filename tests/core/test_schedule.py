"""Schedules: cron fields, DST in several zones, intervals, one-time runs. Time is injected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from src.core.errors import ValidationError
from src.core.schedule import (
    CronSchedule,
    IntervalSchedule,
    OnceSchedule,
    parse_period,
    parse_schedule,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SYDNEY = ZoneInfo("Australia/Sydney")
UTC_ZONE = ZoneInfo("UTC")


def local(times: list[datetime], zone: ZoneInfo) -> list[str]:
    return [t.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") for t in times]


def cron(expression: str, zone: ZoneInfo = UTC_ZONE) -> CronSchedule:
    return CronSchedule.parse(expression, zone)


# -- DST: a daily 02:30 task runs exactly once per day across both changes --


@pytest.mark.parametrize(
    ("zone", "start", "expected"),
    [
        # spring forward: 02:30 does not exist; runs once, at 03:00 (first instant after the gap)
        (NY, datetime(2026, 3, 7, 12), ["2026-03-08 03:00 EDT", "2026-03-09 02:30 EDT"]),
        (BERLIN, datetime(2026, 3, 28, 12), ["2026-03-29 03:00 CEST", "2026-03-30 02:30 CEST"]),
        # fall back: Berlin's 02:30 happens twice on 25 Oct; runs once, at the first
        (BERLIN, datetime(2026, 10, 24, 12), ["2026-10-25 02:30 CEST", "2026-10-26 02:30 CET"]),
        # New York repeats 01:00-02:00, so 02:30 is ordinary there
        (NY, datetime(2026, 10, 31, 12), ["2026-11-01 02:30 EST", "2026-11-02 02:30 EST"]),
        # southern hemisphere: Sydney springs forward on 4 Oct 2026 (02:00 -> 03:00)
        (SYDNEY, datetime(2026, 10, 3, 12), ["2026-10-04 03:00 AEDT", "2026-10-05 02:30 AEDT"]),
    ],
)
def test_daily_0230_runs_once_per_day_across_dst(zone, start, expected):
    schedule = cron("30 2 * * *", zone)
    assert local(schedule.upcoming(start.replace(tzinfo=zone), 2), zone) == expected


def test_repeated_wall_time_fires_once_for_fixed_hour():
    schedule = cron("30 1 * * *", NY)  # 01:30 happens twice on 2026-11-01 in New York
    times = schedule.upcoming(datetime(2026, 10, 31, 12, tzinfo=NY), 2)
    assert local(times, NY) == ["2026-11-01 01:30 EDT", "2026-11-02 01:30 EST"]


def test_hourly_schedule_follows_elapsed_time_across_fall_back():
    schedule = cron("30 * * * *", NY)
    times = schedule.upcoming(datetime(2026, 11, 1, 0, 0, tzinfo=NY), 4)
    assert [t.astimezone(NY).strftime("%H:%M %Z") for t in times] == [
        "00:30 EDT",
        "01:30 EDT",
        "01:30 EST",
        "02:30 EST",
    ]
    assert times[2] - times[1] == timedelta(hours=1)


def test_hourly_schedule_skips_missing_hour_in_spring():
    schedule = cron("30 * * * *", BERLIN)
    times = schedule.upcoming(datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN), 3)
    assert [t.astimezone(BERLIN).strftime("%H:%M %Z") for t in times] == [
        "00:30 CET",
        "01:30 CET",
        "03:30 CEST",
    ]


def test_next_after_an_instant_inside_the_repeated_hour():
    schedule = cron("45 1 * * *", NY)
    second_0115 = datetime(2026, 11, 1, 6, 15, tzinfo=UTC)  # 01:15 EST, the second copy
    assert local([schedule.next_after(second_0115)], NY) == ["2026-11-02 01:45 EST"]


# -- cron fields --


def test_weekdays_use_cron_numbering_sunday_is_zero():
    schedule = cron("0 9 * * 1-5")
    saturday = datetime(2026, 11, 21, 12, tzinfo=UTC)
    assert local(schedule.upcoming(saturday, 2), UTC) == [
        "2026-11-23 09:00 UTC",
        "2026-11-24 09:00 UTC",
    ]
    assert cron("0 9 * * 7").next_after(saturday) == datetime(2026, 11, 22, 9, tzinfo=UTC)
    assert cron("0 9 * * sun").next_after(saturday) == datetime(2026, 11, 22, 9, tzinfo=UTC)


def test_day_of_month_or_day_of_week_as_cron_does():
    schedule = cron("0 0 13 * 5")  # the 13th, or any Friday
    times = schedule.upcoming(datetime(2026, 11, 1, tzinfo=UTC), 4)
    assert [t.day for t in times] == [6, 13, 20, 27]


@pytest.mark.parametrize(
    ("expression", "first"),
    [
        ("*/15 * * * *", "2026-11-23 10:15 UTC"),
        ("5,35 */6 * * *", "2026-11-23 12:05 UTC"),
        ("0 0 1 jan,jul *", "2027-01-01 00:00 UTC"),
        ("@daily", "2026-11-24 00:00 UTC"),
        ("@hourly", "2026-11-23 11:00 UTC"),
        ("@monthly", "2026-12-01 00:00 UTC"),
        ("0 12 29 2 *", "2028-02-29 12:00 UTC"),
    ],
)
def test_cron_forms(expression, first):
    now = datetime(2026, 11, 23, 10, 7, tzinfo=UTC)
    assert local([cron(expression).next_after(now)], UTC) == [first]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "0 9 * *",
            "cron expression '0 9 * *' has 4 fields; expected 5: minute hour "
            "day-of-month month day-of-week (e.g. '0 9 * * 1-5' for 09:00 on weekdays)",
        ),
        ("61 * * * *", "cron expression '61 * * * *': minute value 61 is out of range 0-59"),
        ("0 24 * * *", "cron expression '0 24 * * *': hour value 24 is out of range 0-23"),
        ("0 9 * * 8", "cron expression '0 9 * * 8': day of week value 8 is out of range 0-7"),
        (
            "0 9 * foo *",
            "cron expression '0 9 * foo *': month value 'foo' is not a number (1-12 or jan-dec)",
        ),
        (
            "5-1 * * * *",
            "cron expression '5-1 * * * *': minute range '5-1' runs backwards; write it low-high",
        ),
        (
            "*/0 * * * *",
            "cron expression '*/0 * * * *': minute step '0' must be a whole number above 0",
        ),
        ("0 0 30 2 *", "cron expression '0 0 30 2 *' never fires"),
    ],
)
def test_bad_cron_is_refused_with_the_reason(expression, message):
    with pytest.raises(ValidationError) as caught:
        cron(expression)
    assert caught.value.field == "schedule.cron"
    assert caught.value.message == message


# -- interval and once --


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("6h", timedelta(hours=6)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2w", timedelta(weeks=2)),
        ("90s", timedelta(seconds=90)),
        ({"hours": 6, "minutes": 30}, timedelta(hours=6, minutes=30)),
    ],
)
def test_interval_forms(text, expected):
    assert parse_period(text) == expected


@pytest.mark.parametrize("bad", ["15x", "", "m15", "0m", {"fortnights": 1}, 15, {"hours": -1}])
def test_bad_interval_is_refused(bad):
    with pytest.raises(ValidationError) as caught:
        parse_period(bad)
    assert caught.value.field.startswith("schedule.interval")


def test_interval_counts_from_start_in_elapsed_time():
    start = datetime(2026, 3, 7, 9, 0, tzinfo=NY)
    schedule = IntervalSchedule(period=timedelta(days=1), start=start)
    times = schedule.upcoming(datetime(2026, 3, 7, 10, tzinfo=NY), 2)
    # 24 h after 09:00 EST on the 8th (clocks went forward) is 10:00 EDT: elapsed time
    assert local(times, NY) == ["2026-03-08 10:00 EDT", "2026-03-09 10:00 EDT"]
    assert schedule.next_after(start - timedelta(hours=1)) == start.astimezone(UTC)


def test_once_reads_naive_time_in_task_zone_and_fires_once():
    schedule = parse_schedule({"once": "2026-12-31T18:00"}, NY, datetime(2026, 1, 1, tzinfo=UTC))
    assert isinstance(schedule, OnceSchedule)
    now = datetime(2026, 11, 23, tzinfo=UTC)
    assert schedule.upcoming(now, 5) == [datetime(2026, 12, 31, 23, 0, tzinfo=UTC)]
    assert schedule.next_after(datetime(2027, 1, 1, tzinfo=UTC)) is None


def test_once_in_a_dst_gap_is_refused():
    with pytest.raises(ValidationError) as caught:
        parse_schedule({"once": "2026-03-08T02:30"}, NY, datetime(2026, 1, 1, tzinfo=UTC))
    assert caught.value.message == (
        "'2026-03-08T02:30' does not exist in America/New_York (the clocks skip it for "
        "daylight saving time); pick a time outside the gap"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "needs exactly one of cron, interval, once (found none)"),
        (
            {"cron": "* * * * *", "once": "2026-01-01T00:00"},
            "needs exactly one of cron, interval, once (found cron and once)",
        ),
        ("daily", "'daily' is not a schedule object"),
    ],
)
def test_schedule_object_shape(data, message):
    with pytest.raises(ValidationError) as caught:
        parse_schedule(data, NY, datetime(2026, 1, 1, tzinfo=UTC))
    assert caught.value.message.startswith(message)


def test_describe_in_words():
    assert cron("0 9 * * 1-5").describe() == "At 09:00, Monday through Friday (0 9 * * 1-5)"
    assert IntervalSchedule(timedelta(minutes=15), datetime.now(UTC)).describe() == (
        "every 15 minutes"
    )
