"""The step types: their tasks.json form round-trips, and what a task with steps is."""

from __future__ import annotations

from typing import Any

import pytest

from src.core.errors import ValidationError
from src.core.steps import CommandStep, EmailStep, SqlStep, StepRetry, references_to
from src.core.task import Task
from src.core.vocabulary import OnFailure, StepKind

THREE_STEPS: list[dict[str, Any]] = [
    {
        "id": "cleanup",
        "name": "Delete old log lines",
        "kind": "sql",
        "query": "DELETE FROM logs WHERE at < :today RETURNING id",
        "read_only": False,
        "exports": {"csv": True},
    },
    {
        "id": "script",
        "name": "Summarize",
        "kind": "python",
        "script": "summarize.py",
        "args": ["{steps.cleanup.files}", "{step_dir}/summary.txt"],
        "timeout_seconds": 60,
        "retry": {"max_retries": 1, "delay_seconds": 5},
        "on_failure": "continue",
        "env": {"LANG": "C.UTF-8"},
        "pass_env": ["DB_SALES_URL"],
        "exit_codes": [0, 3],
    },
    {
        "id": "shell",
        "kind": "command",
        "command": "ls {step_dir}",
        "shell": True,
    },
    {"id": "ps", "kind": "powershell", "inline": "Write-Output 'hi'"},
    {
        "id": "mail",
        "kind": "email",
        "attach": ["cleanup", "script"],
        "to": ["ops@example.com"],
        "subject": "{steps.cleanup.row_count} lines deleted",
    },
]


def steps_task(steps: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "id": "t-steps",
        "name": "Nightly cleanup",
        "schedule": {"cron": "0 2 * * *"},
        "timezone": "Europe/Berlin",
        "steps": THREE_STEPS if steps is None else steps,
        **fields,
    }


def test_a_task_with_steps_round_trips_through_its_json_form() -> None:
    task = Task.from_dict(steps_task())
    assert [s.kind for s in task.steps] == [
        StepKind.SQL,
        StepKind.PYTHON,
        StepKind.COMMAND,
        StepKind.POWERSHELL,
        StepKind.EMAIL,
    ]
    again = Task.from_dict(task.to_dict())
    assert again == task
    written = task.to_dict()
    assert "query" not in written and "exports" not in written and "email" not in written
    assert written["steps"][1]["retry"] == {"max_retries": 1, "delay_seconds": 5.0}
    assert written["steps"][0] == {**THREE_STEPS[0]}


def test_the_step_fields_are_typed() -> None:
    cleanup, script, shell, _ps, mail = Task.from_dict(steps_task()).steps
    assert isinstance(cleanup, SqlStep) and cleanup.read_only is False
    assert cleanup.exports == {"csv": {"enabled": True}}
    assert script.retry == StepRetry(max_retries=1, delay_seconds=5.0)
    assert script.on_failure is OnFailure.CONTINUE and script.timeout_seconds == 60
    assert isinstance(shell, CommandStep) and shell.shell and shell.command == "ls {step_dir}"
    assert isinstance(mail, EmailStep) and mail.attach == ("cleanup", "script")
    assert mail.email.to == ("ops@example.com",)
    assert cleanup.name == "Delete old log lines" and shell.name == "shell"  # name: the id


def test_a_task_with_query_and_no_steps_is_what_it_was() -> None:
    data = {"id": "t1", "name": "Report", "query": "SELECT 1", "schedule": None}
    task = Task.from_dict(data)
    assert task.steps == () and not task.runs_code
    assert "steps" not in task.to_dict() and task.to_dict()["query"] == "SELECT 1"


def test_runs_code_is_true_for_command_python_and_powershell_steps_only() -> None:
    assert Task.from_dict(steps_task()).runs_code
    sql_only = steps_task([{"id": "a", "kind": "sql", "query": "SELECT 1"}])
    assert not Task.from_dict(sql_only).runs_code


def test_references_list_every_result_of_the_named_steps() -> None:
    names = references_to(["a"])
    assert "steps.a.row_count" in names and "steps.a.exit_code" in names
    assert all(name.startswith("steps.a.") for name in names)


def test_a_step_reference_renders_as_one_flat_name_never_an_attribute() -> None:
    from src.core.templating import render

    values = {"steps.cleanup.rows_affected": 12, "task_name": "T"}
    assert render("{task_name}: {steps.cleanup.rows_affected:,} deleted", values) == "T: 12 deleted"
    with pytest.raises(ValidationError, match="bad placeholder"):
        render("{task_name.__class__}", values)
