"""Run variables available to queries (as bound values) and to templates.

``{run_date}``, ``{today}``, ``{yesterday}``, ``{start_of_month}`` are computed in
the task's zone from the run's scheduled instant, so a 00:30 run in Berlin
reports on Berlin's yesterday, not UTC's.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

RUN_VARIABLES = ("run_date", "run_time", "today", "yesterday", "start_of_month")


def run_variables(run_at: datetime, zone: ZoneInfo) -> dict[str, date | datetime]:
    """Values of the run variables for a run scheduled at ``run_at`` (aware)."""
    local = run_at.astimezone(zone)
    today = local.date()
    return {
        "run_date": today,
        "run_time": local,
        "today": today,
        "yesterday": today - timedelta(days=1),
        "start_of_month": today.replace(day=1),
    }
