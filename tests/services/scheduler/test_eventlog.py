"""The daemon's log lines (src/services/scheduler/eventlog.py): text or one JSON object."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from src.core.task import Task
from src.services.scheduler.eventlog import EventLog, JsonFormatter, local_time, short


def task() -> Task:
    return Task.from_dict(
        {
            "id": "3f2a9c1e-0000",
            "name": "Daily sales",
            "query": "SELECT 1",
            "schedule": {"cron": "0 9 * * *"},
            "timezone": "Europe/Berlin",
        }
    )


def test_json_line_has_time_level_event_message_and_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="db_scheduler.test"):
        EventLog("db_scheduler.test").warning(
            "skipped", "task skipped", task_id="t1", time="not this one"
        )
    (record,) = caplog.records
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "warning"
    assert line["event"] == "skipped"
    assert line["message"] == "task skipped"
    assert line["task_id"] == "t1"
    assert datetime.fromisoformat(line["time"]).tzinfo is not None  # a field never overwrites it


def test_a_plain_record_is_named_by_its_logger() -> None:
    record = logging.LogRecord("some.lib", logging.ERROR, __file__, 1, "boom %s", ("x",), None)
    line = json.loads(JsonFormatter().format(record))
    assert (line["event"], line["message"], line["level"]) == ("some.lib", "boom x", "error")


def test_tasks_and_times_in_a_line() -> None:
    assert short(task()) == "'Daily sales' (3f2a9c1e)"
    assert local_time(None, task()) == "none"
    moment = datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    assert local_time(moment, task()) == "2026-07-01 09:00:00 CEST"
