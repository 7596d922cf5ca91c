"""TaskEdit (src/core/task_edit.py): the change add/edit ask for."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from src.core.errors import ConflictingValues, TaskValidationErrors, ValidationError
from src.core.task import Task
from src.core.task_edit import TaskEdit, one_schedule, parse_params, split_addresses
from src.core.vocabulary import CatchUpPolicy, ExportFormat, SendIf

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def base_task(**fields: Any) -> Task:
    data = {
        "id": "t1",
        "name": "Daily sales",
        "query": "SELECT 1",
        "schedule": {"cron": "0 9 * * *"},
        "timezone": "Europe/Berlin",
        "email": {"to": ["boss@example.com"], "send_if": "rows"},
        "exports": {"pdf": {"max_rows": 10}},
        "params": {"region": "north"},
        "retry": {"max_retries": 1, "delay_seconds": 5},
        **fields,
    }
    return Task.from_dict(data)


# one value per field, each different from base_task's
CHANGES: dict[str, Any] = {
    "name": "Renamed",
    "description": "now described",
    "connection": "sales",
    "query": "SELECT 2",
    "query_file": "q.sql",
    "schedule": ("interval", "1h"),
    "timezone": "UTC",
    "to": ("a@example.com",),
    "cc": ("c@example.com",),
    "bcc": ("b@example.com",),
    "subject": "Hello {task_name}",
    "body": "Body",
    "send_if": SendIf.NO_ROWS,
    "exports": {ExportFormat.CSV: True},
    "timeout_seconds": 42,
    "read_only": False,  # the default is True
    "catch_up": CatchUpPolicy.ALL,
    "catch_up_window": "6h",
    "webhook": False,
    "retries": 5,
    "params": {"year": "2026"},
    "enabled": False,
    "columns": {"revenue": {"label": "Revenue"}},
    "chart": {"type": "bar", "x": "region", "y": ["revenue"]},
    "no_chart": True,
    "locale": "de",
}


def test_every_field_of_task_edit_is_exercised() -> None:
    assert set(CHANGES) == {f.name for f in dataclasses.fields(TaskEdit)}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_each_field_changes_only_itself(name: str) -> None:
    before = base_task().to_dict()
    after = TaskEdit(**{name: CHANGES[name]}).apply(base_task()).to_dict()
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    expected = {
        "schedule": {"schedule"},
        "to": {"email"},
        "cc": {"email"},
        "bcc": {"email"},
        "subject": {"email"},
        "body": {"email"},
        "send_if": {"email"},
        "timeout_seconds": {"timeout_seconds"},
        "retries": {"retry"},
        "query_file": {"query", "query_file"},
        "no_chart": set(),  # the base task has no chart to remove
    }.get(name, {name})
    assert changed == expected
    if expected == {"email"}:
        email = {k for k in before["email"] if before["email"][k] != after["email"].get(k)}
        assert email == {name}


def test_nested_values_are_merged_not_replaced() -> None:
    task = TaskEdit(
        exports={ExportFormat.PDF: False, ExportFormat.CSV: True},
        params={"year": "2026"},
        retries=3,
    ).apply(base_task())
    assert task.exports == {"pdf": {"max_rows": 10, "enabled": False}, "csv": {"enabled": True}}
    assert task.params == {"region": "north", "year": "2026"}
    assert (task.retry.max_retries, task.retry.delay_seconds) == (3, 5)
    window = TaskEdit(catch_up_window=timedelta(minutes=90)).apply(base_task())
    assert window.catch_up_window == timedelta(minutes=90)


def test_empty_edit_changes_nothing() -> None:
    assert TaskEdit().empty and not TaskEdit(webhook=False).empty
    task = base_task()
    assert TaskEdit().apply(task) == task


def test_create_defaults_to_xlsx_and_anchors_intervals_at_now() -> None:
    task = TaskEdit(name="New", query="SELECT 1", schedule=("interval", "1h")).create(
        NOW, task_id="n1"
    )
    assert (task.id, task.enabled_exports, task.created_at) == ("n1", ["xlsx"], NOW)
    assert task.next_run(NOW) == NOW + timedelta(hours=1)


def test_two_schedule_kinds_are_refused() -> None:
    assert one_schedule(interval="1h") == ("interval", "1h")
    assert one_schedule() is None
    with pytest.raises(ConflictingValues) as caught:
        one_schedule(cron="0 9 * * *", once="2026-12-01T09:00")
    assert caught.value.field == "schedule"
    with pytest.raises(ConflictingValues) as caught:
        TaskEdit(query="SELECT 1", query_file="q.sql")
    assert caught.value.field == "query"
    with pytest.raises(ValidationError, match="unknown kind 'weekly'"):
        TaskEdit(schedule=("weekly", "mon"))


@pytest.mark.parametrize(
    ("edit", "field", "message"),
    [
        (TaskEdit(timezone="Nowhere/Land"), "timezone", "is not an IANA zone"),
        (TaskEdit(to=("bad@",)), "email.to[0]", "is not a valid email address"),
        (TaskEdit(schedule=("cron", "0 9 * *")), "schedule.cron", "has 4 fields"),
        (TaskEdit(catch_up_window="6x"), "catch_up_window", "interval '6x' is not understood"),
        (TaskEdit(subject="{nope"), "email.subject", ""),
    ],
)
def test_errors_name_the_field(edit: TaskEdit, field: str, message: str) -> None:
    with pytest.raises(TaskValidationErrors) as caught:
        edit.apply(base_task())
    assert [e.field for e in caught.value.errors] == [field]
    assert message in caught.value.errors[0].message


def test_addresses_and_params() -> None:
    assert split_addresses(["a@x.com, b@x.com;c@x.com", " "]) == ("a@x.com", "b@x.com", "c@x.com")
    assert parse_params(["region=north", "q=a=b"]) == {"region": "north", "q": "a=b"}
    with pytest.raises(ValidationError) as caught:
        parse_params(["nope"], "--param")
    assert str(caught.value) == "--param: 'nope' is not NAME=VALUE (e.g. region=north)"
