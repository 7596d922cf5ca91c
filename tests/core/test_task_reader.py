"""Reading a task (src/core/task_reader.py): every field checked, every problem listed
at once with its field path and the task's name, unknown fields kept."""

from __future__ import annotations

from typing import Any

import pytest

from src.core.errors import TaskValidationErrors
from src.core.task_reader import TASK_FIELDS, TaskReader
from tests.core.test_task_edit import base_task


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"catch_up": "newest"}, "catch_up", "'newest' is not one of skip, latest, all"),
        ({"catch_up": "Latest"}, "catch_up", "(did you mean 'latest'?)"),
        ({"catch_up_window": "soon"}, "catch_up_window", "interval 'soon' is not understood"),
        ({"catch_up_window": "0s"}, "catch_up_window", "shorter than one second"),
        ({"webhook": "no"}, "webhook", "'no' is not true or false"),
    ],
)
def test_invalid_daemon_fields(fields: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(TaskValidationErrors) as caught:
        base_task(**fields)
    assert [e.field for e in caught.value.errors] == [field]
    assert message in caught.value.errors[0].message


def test_every_problem_is_listed_at_once_with_the_task_name() -> None:
    data = {
        "id": "t1",
        "name": "Weekly",
        "query": "",
        "schedule": {"cron": "61 * * * *"},
        "timezone": "Europe/Berln",
        "email": {"to": ["not an address"], "send_if": "sometimes"},
    }
    with pytest.raises(TaskValidationErrors) as caught:
        TaskReader(data, "UTC").read()
    fields = [error.field for error in caught.value.errors]
    assert fields == ["query", "timezone", "email.to[0]", "email.send_if"]
    assert {error.task for error in caught.value.errors} == {"Weekly"}
    assert "did you mean 'Europe/Berlin'?" in caught.value.errors[1].message


def test_not_an_object_is_refused() -> None:
    with pytest.raises(TaskValidationErrors) as caught:
        TaskReader(["a", "list"], "UTC").read()
    assert str(caught.value.errors[0].message) == "expected an object, got list"


def test_unknown_fields_are_kept_as_extra_and_known_ones_are_not() -> None:
    task = base_task(team="ops", owner={"name": "Ana"})
    assert dict(task.extra) == {"team": "ops", "owner": {"name": "Ana"}}
    assert not set(task.extra) & set(TASK_FIELDS)
    assert task.to_dict()["owner"] == {"name": "Ana"}


def test_the_default_timezone_applies_when_none_is_given() -> None:
    data = {"id": "t1", "name": "T", "query": "SELECT 1", "schedule": {"cron": "0 9 * * *"}}
    assert TaskReader(data, "Asia/Tokyo").read().timezone == "Asia/Tokyo"


def test_types_are_checked_and_written_back() -> None:
    from src.core.errors import TaskValidationErrors
    from src.core.task import Task

    base = {"id": "t1", "name": "n", "query": "SELECT 1", "schedule": None}
    task = Task.from_dict({**base, "types": {"order_date": "date", "code": "text"}})
    assert task.types == {"order_date": "date", "code": "text"}
    assert task.to_dict()["types"] == {"order_date": "date", "code": "text"}
    assert "types" not in Task.from_dict(base).to_dict()
    with pytest.raises(TaskValidationErrors) as caught:
        Task.from_dict({**base, "types": {"d": "day"}})
    assert "types.d: 'day' is not a column type; known: date, datetime, text" in str(caught.value)
