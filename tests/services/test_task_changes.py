"""A task written from its tasks.json form: src/services/task_changes.py (ETags, PATCH
merging, the checks `add` / `edit` make beyond the model)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from src.core.errors import TaskValidationErrors
from src.core.steps import CommandStep
from src.core.task import RunResult
from src.services.task_changes import (
    admission_errors,
    build,
    definition_form,
    etag_of,
    merged,
    runs_commands,
    unknown_fields,
)

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FORM = {
    "name": "Sales",
    "query": "SELECT 1",
    "schedule": {"cron": "0 9 * * *"},
    "email": {"to": ["a@example.com"], "subject": "S"},
}


def test_the_etag_follows_the_definition_not_the_run_summary() -> None:
    task = build(FORM, task_id="t1", current=None, now=NOW, default_timezone="UTC")
    ran = task.with_changes(summary=RunResult("success", NOW, None, NOW).applied_to(task))
    assert etag_of(ran) == etag_of(task)
    assert etag_of(task.with_changes(description="x")) != etag_of(task)
    assert etag_of(task).startswith('"') and etag_of(task).endswith('"')


def test_patch_merges_objects_one_level_and_keeps_the_summary() -> None:
    task = build(FORM, task_id="t1", current=None, now=NOW, default_timezone="UTC")
    ran = task.with_changes(summary=RunResult("failed", NOW, "boom", NOW).applied_to(task))
    form = merged(definition_form(ran), {"email": {"to": ["b@example.com"]}, "enabled": False})
    changed = build(form, task_id=ran.id, current=ran, now=NOW, default_timezone="UTC")
    assert changed.email.to == ("b@example.com",) and changed.email.subject == "S"
    assert changed.summary.error_count == 1 and changed.created_at == ran.created_at
    with pytest.raises(TaskValidationErrors) as caught:
        build(
            {**FORM, "timezone": "Mars/Base"},
            task_id="t",
            current=None,
            now=NOW,
            default_timezone="UTC",
        )
    assert caught.value.errors[0].field == "timezone"


def test_what_add_and_edit_refuse_beyond_the_model() -> None:
    task = build(
        {
            **FORM,
            "schedule": {"once": "2026-01-01T00:00"},
            "connection": "sales",
            "email": {"to": ["boss@example"]},
        },
        task_id="t",
        current=None,
        now=NOW,
        default_timezone="UTC",
    )
    errors = {e.field: e.message for e in admission_errors(task, None, {}, NOW)}
    assert "DB_SALES_URL is not set" in errors["connection"]
    assert "is in the past" in errors["schedule"] and "give a later time" in errors["schedule"]
    assert "has no dot" in errors["email.to[0]"]
    # an address already on the task is not refused again (validate only warns)
    assert "email.to[0]" not in {e.field for e in admission_errors(task, task, {}, NOW)}
    assert [e.field for e in unknown_fields({"nmae": 1, "run_count": 2})] == ["nmae", "run_count"]
    program = CommandStep(id="x", name="x", command=("ls",))
    assert runs_commands(task.with_changes(steps=(program,)))
    assert not runs_commands(task)
