"""Schedules: cron fields, DST in several zones, intervals, one-time runs. Time is injected."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
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
from tests.cron_model import CronModel

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
            "cron expression '*/0 * * * *': minute step '0' in '*/0' must be a whole number "
            "above 0 (e.g. '*/15')",
        ),
        ("0 0 30 2 *", "cron expression '0 0 30 2 *' never fires"),
        # '*/1' does not restrict the day of week, so the fields are ANDed: Feb 30 never comes
        ("0 0 30 2 */1", "cron expression '0 0 30 2 */1' never fires"),
        (
            "",
            "cron expression '' is empty; write 5 fields: minute hour day-of-month month "
            "day-of-week (e.g. '0 9 * * 1-5' for 09:00 on weekdays)",
        ),
        (
            "@reboot",
            "cron expression '@reboot' is not supported (tasks run on a schedule, not when the "
            "daemon starts); write one of @yearly @annually @monthly @weekly @daily @midnight "
            "@hourly, or 5 fields: minute hour day-of-month month day-of-week (e.g. '0 9 * * "
            "1-5' for 09:00 on weekdays)",
        ),
        (
            "-1 * * * *",
            "cron expression '-1 * * * *': minute range '-1' has no start; write it low-high "
            "(e.g. '0-1')",
        ),
        (
            "0 5- * * *",
            "cron expression '0 5- * * *': hour range '5-' has no end; write it low-high "
            "(e.g. '5-23')",
        ),
        ("² * * * *", "cron expression '² * * * *': minute value '²' is not a number (0-59)"),
        (
            "0 9 * * sat-sun",
            "cron expression '0 9 * * sat-sun': day of week range 'sat-sun' runs past Saturday "
            "(Sunday is 0); write 'sat,sun' or '0,6'",
        ),
        (
            "0 9 1,,2 * *",
            "cron expression '0 9 1,,2 * *': day of month field '1,,2' has an empty list item; "
            "remove the extra comma",
        ),
    ],
)
def test_bad_cron_is_refused_with_the_reason(expression, message):
    with pytest.raises(ValidationError) as caught:
        cron(expression)
    assert caught.value.field == "schedule.cron"
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("expression", "field", "part"),
    [
        ("*/ * * * *", "minute", "*/"),
        ("5/ * * * *", "minute", "5/"),
        ("1-5/ * * * *", "minute", "1-5/"),
        ("0 0 * * mon/", "day of week", "mon/"),
        ("0 */ * * *", "hour", "*/"),
        ("0 0 1,15/ * *", "day of month", "15/"),
        ("0 0 1 jan-mar/ *", "month", "jan-mar/"),
    ],
)
def test_a_slash_without_a_step_is_refused_in_every_field(expression, field, part):
    with pytest.raises(ValidationError) as caught:
        cron(expression)
    assert caught.value.message == (
        f"cron expression {expression!r}: {field} step in {part!r} is empty; write a whole "
        "number after '/' (e.g. '*/15')"
    )


@pytest.mark.parametrize("digit", ["²", "٣", "３", "①"])
@pytest.mark.parametrize("index", range(5))
def test_only_ascii_digits_are_numbers(digit, index):
    fields = ["0", "0", "1", "1", "1"]
    fields[index] = digit
    with pytest.raises(ValidationError) as caught:
        cron(" ".join(fields))
    assert f"value {digit!r} is not a number" in caught.value.message


# -- the two day fields: cron's star rule --


@pytest.mark.parametrize(
    "expression",
    [
        "0 0 */15 * 1",  # '*/15' starts with '*': only Mondays that are the 1st, 16th or 31st
        "0 0 * * 1",  # every Monday
        "0 0 13 * *",  # every 13th
        "0 0 13 * 5",  # both restrict: the 13th, and every Friday
        "0 0 1-31 * 1",  # '1-31' restricts (it does not start with '*'): every day
        "0 0 1 * */2",  # '*/2' does not restrict: the 1st when it is a Sun, Tue, Thu or Sat
        "0 0 *,13 * 5",  # starts with '*': Fridays only
        "0 0 1,15 * 1-7",  # both restrict: every day
        "0 0 29 2 */3",  # ANDed: Feb 29 on a Sunday or Wednesday or Saturday
        "0 0 */10 jan-mar mon-fri",
        "0 0 * * 1/2",  # Mon, Wed, Fri: an open step runs to Saturday, not to 7 (Sunday)
    ],
)
def test_day_fields_follow_cron_s_star_rule(expression):
    first = datetime(2026, 1, 1, tzinfo=UTC)
    expected = CronModel.parse(expression).matching_days(first.date(), date(2033, 12, 31))
    times = cron(expression).upcoming(first - timedelta(seconds=1), len(expected) + 1)
    assert [t.date() for t in times[: len(expected)]] == expected
    assert len(times) == len(expected) + 1 and times[-1].year > 2033


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


def test_an_interval_from_the_creation_keeps_its_rhythm_before_it_and_a_given_start_waits():
    """A clock stepped back past a task's creation: the grid runs both ways; a start the
    task gives is a start (nothing fires before it)."""
    created = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    implicit = parse_schedule({"interval": "15m"}, ZoneInfo("UTC"), created)
    explicit = parse_schedule(
        {"interval": "15m", "start": "2026-11-30T12:00"}, ZoneInfo("UTC"), created
    )
    an_hour_before = created - timedelta(hours=1, minutes=7)
    assert implicit.next_after(an_hour_before) == created - timedelta(minutes=60)
    assert explicit.next_after(an_hour_before) == created
