"""The task model (src/core/task.py): the fields catch_up, catch_up_window, webhook."""

from __future__ import annotations

from datetime import timedelta

from src.core.task import Task
from src.core.vocabulary import CatchUpPolicy
from tests.core.test_task_edit import base_task


def test_daemon_fields_default_to_not_set() -> None:
    task = base_task()
    assert (task.catch_up, task.catch_up_window, task.webhook) == (None, None, True)
    assert not {"catch_up", "catch_up_window", "webhook"} & task.to_dict().keys()


def test_daemon_fields_are_typed_and_round_trip() -> None:
    task = base_task(catch_up="skip", catch_up_window={"hours": 36}, webhook=False)
    assert task.catch_up is CatchUpPolicy.SKIP
    assert task.catch_up_window == timedelta(hours=36)
    assert task.webhook is False
    data = task.to_dict()
    assert (data["catch_up"], data["catch_up_window"], data["webhook"]) == ("skip", "1d12h", False)
    assert Task.from_dict(data) == task
    # written by hand as true, the default: the meaning survives (the key is not needed)
    assert Task.from_dict({**data, "webhook": True}).webhook is True


def test_catch_up_and_webhook_are_fields_not_extra() -> None:
    task = base_task(catch_up="all", catch_up_window="2h", webhook=False, team="ops")
    assert task.extra == {"team": "ops"}
    assert (task.catch_up, task.catch_up_window, task.webhook) == (
        CatchUpPolicy.ALL,
        timedelta(hours=2),
        False,
    )
    written = task.to_dict()
    assert (written["catch_up"], written["catch_up_window"], written["webhook"]) == (
        "all",
        "2h",
        False,
    )
