"""The earlier tool's tasks: APScheduler 3 cron configs become cron lines that fire alike.

The judge is APScheduler itself (installed, 3.x): for each config, the fire times of
``CronTrigger(**config)`` over several weeks must equal the converted schedule's. The
spans avoid clock changes, where APScheduler differs on purpose (docs/tasks-json.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from src.core.errors import ValidationError
from src.core.legacy import convert_legacy_task
from src.core.schedule import parse_schedule

BERLIN = ZoneInfo("Europe/Berlin")
#: Spans without a clock change: (zone, start, weeks)
SPANS = (
    (ZoneInfo("UTC"), datetime(2026, 1, 1), 20),
    (BERLIN, datetime(2026, 4, 1), 20),  # summer time all along (29 Mar - 25 Oct)
)
AT_MOST = 600  # fire times compared per config and span

CONVERTED = [
    # fields finer than the finest given take their minimum; coarser ones are '*'
    ({"day": "*"}, "0 0 * * *"),
    ({"hour": 9}, "0 9 * * *"),
    ({"hour": 9, "minute": 0}, "0 9 * * *"),
    ({"minute": 30}, "30 * * * *"),
    ({"minute": "*/15"}, "*/15 * * * *"),
    ({"minute": "5/10"}, "5-55/10 * * * *"),
    ({"hour": "8, 12", "minute": 15}, "15 8,12 * * *"),
    ({"hour": "9-17", "minute": "0,30"}, "*/30 9-17 * * *"),
    ({"hour": "*/6"}, "0 */6 * * *"),
    ({"month": "jan-mar", "day": 15}, "0 0 15 1-3 *"),
    ({"month": "*/4"}, "0 0 1 */4 *"),
    ({"day": 31, "hour": 23, "minute": 59}, "59 23 31 * *"),
    ({"second": 0, "minute": 0, "hour": 6}, "0 6 * * *"),
    ({"year": "*", "week": "*", "hour": 3}, "0 3 * * *"),
    # weekdays: APScheduler counts from Monday = 0
    ({"day_of_week": "mon-fri", "hour": 8, "minute": 30}, "30 8 * * mon-fri"),
    ({"day_of_week": "0-4", "hour": 8}, "0 8 * * mon-fri"),
    ({"day_of_week": "sat-sun", "hour": 10}, "0 10 * * sat,sun"),
    ({"day_of_week": "5-6"}, "0 0 * * sat,sun"),
    ({"day_of_week": "0-6"}, "0 0 * * *"),
    ({"day_of_week": "6"}, "0 0 * * sun"),
    ({"day_of_week": "*/2", "hour": 7}, "0 7 * * mon,wed,fri,sun"),
    ({"day_of_week": "mon,tue,wed,sat,sun"}, "0 0 * * mon-wed,sat,sun"),
    ({"day_of_week": "fri", "minute": "*/20"}, "*/20 * * * fri"),
    # both day fields: APScheduler ANDs them; cron does when one starts with '*'
    ({"day": "*/10", "day_of_week": "mon"}, "0 0 */10 * mon"),
    ({"day": "1-31", "day_of_week": "tue"}, "0 0 * * tue"),
    # Tue, Thu, Sat, Sun is cron's */2 (0, 2, 4, 6), so the star rule makes cron AND them
    ({"day": 13, "day_of_week": "tue,thu,sat,sun"}, "0 0 13 * */2"),
]


@pytest.mark.parametrize(("config", "cron"), CONVERTED)
def test_converted_cron_fires_when_apscheduler_did(config, cron):
    schedule = _converted(config)
    assert schedule == {"cron": cron}
    for zone, start, weeks in SPANS:
        begin = start.replace(tzinfo=zone)
        end = begin + timedelta(weeks=weeks)
        ours = parse_schedule(schedule, zone, begin).between(begin, end)
        theirs = _apscheduler_times(config, zone, begin, end)
        mine = [t for _, t in zip(range(AT_MOST), ours, strict=False)]
        assert mine == theirs[: len(mine)] and len(mine) == min(len(theirs), AT_MOST), (
            zone,
            config,
        )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"day": "1-7", "day_of_week": "mon", "hour": 9},
            "the earlier tool ran only on days matching both day '1-7' and day_of_week "
            "'mon'; cron runs on days matching either, so there is no exact equivalent; pick "
            'one, e.g. {"cron": "0 9 1-7 * *"} or {"cron": "0 9 * * mon"}',
        ),
        (
            {},
            "an empty cron schedule_config ran every second in the earlier tool; rewrite the "
            'schedule as {"cron": "<minute> <hour> <day> <month> <weekday>"}',
        ),
        (
            {"second": "*/30", "minute": 0},
            "the earlier tool's cron field 'second' has no 5-field cron equivalent (second "
            "'*/30'; cron runs at second 0); rewrite the schedule as "
            '{"cron": "<minute> <hour> <day> <month> <weekday>"}',
        ),
        (
            {"day": "last"},
            "day 'last': 'last' has no exact 5-field cron equivalent (values 1-31, low-high, "
            '*/step); rewrite the schedule as {"cron": "<minute> <hour> <day> <month> '
            '<weekday>"}',
        ),
        (
            {"day_of_week": "mon-fri/2"},  # APScheduler silently drops the '/2'
            "day_of_week 'mon-fri/2': 'mon-fri/2' has no exact 5-field cron equivalent "
            '(values 0-6 or mon-sun, low-high, */step); rewrite the schedule as {"cron": '
            '"<minute> <hour> <day> <month> <weekday>"}',
        ),
        (
            {"week": 2},
            "the earlier tool's cron field 'week' has no 5-field cron equivalent; rewrite "
            'the schedule as {"cron": "<minute> <hour> <day> <month> <weekday>"}',
        ),
    ],
)
def test_a_config_without_an_exact_cron_is_refused_with_what_to_write(config, message):
    with pytest.raises(ValidationError) as caught:
        _converted(config)
    assert caught.value.field == "schedule_config"
    assert caught.value.message == message


def test_refused_configs_really_differ_from_their_closest_cron():
    """The refusal for both day fields is needed: cron's OR fires on days APScheduler skips."""
    config = {"day": "1-7", "day_of_week": "mon", "hour": 9}
    begin = datetime(2026, 1, 1, tzinfo=UTC)
    end = begin + timedelta(weeks=8)
    theirs = _apscheduler_times(config, ZoneInfo("UTC"), begin, end)
    ored = list(
        parse_schedule({"cron": "0 9 1-7 * mon"}, ZoneInfo("UTC"), begin).between(begin, end)
    )
    assert len(theirs) == 2 and len(ored) > len(theirs)


def _converted(config: dict[str, object]) -> dict[str, object]:
    task = convert_legacy_task(
        {"task_id": "t", "name": "n", "query": "SELECT 1", "schedule_type": "cron"}
        | {"schedule_config": config}
    )
    schedule = task["schedule"]
    assert isinstance(schedule, dict)
    return schedule


def _apscheduler_times(
    config: dict[str, object], zone: ZoneInfo, begin: datetime, end: datetime
) -> list[datetime]:
    trigger = CronTrigger(timezone=zone, **config)
    times: list[datetime] = []
    previous = None
    moment = trigger.get_next_fire_time(None, begin + timedelta(microseconds=1))
    while moment is not None and moment <= end and len(times) < AT_MOST:
        times.append(moment.astimezone(UTC))
        previous = moment
        moment = trigger.get_next_fire_time(previous, previous + timedelta(microseconds=1))
    return times
