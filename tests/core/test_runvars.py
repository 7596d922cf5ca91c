"""Run variables (src/core/runvars.py): computed in the task's zone from the run's instant."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from src.core.runvars import RUN_VARIABLES, run_variables


def test_a_0030_run_in_berlin_reports_on_berlins_yesterday() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    values = run_variables(datetime(2026, 3, 31, 22, 30, tzinfo=UTC), berlin)
    assert tuple(values) == RUN_VARIABLES
    assert values["run_date"] == values["today"] == date(2026, 4, 1)
    assert values["yesterday"] == date(2026, 3, 31)
    assert values["start_of_month"] == date(2026, 4, 1)
    assert values["run_time"] == datetime(2026, 4, 1, 0, 30, tzinfo=berlin)


def test_the_same_instant_in_utc_is_still_the_day_before() -> None:
    values = run_variables(datetime(2026, 3, 1, 0, 30, tzinfo=ZoneInfo("Europe/Berlin")), UTC)
    assert (values["today"], values["yesterday"], values["start_of_month"]) == (
        date(2026, 2, 28),
        date(2026, 2, 27),
        date(2026, 2, 1),
    )
