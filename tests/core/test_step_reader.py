"""Checking a task's steps: each mistake is reported with where it is and how to fix it,
all of them at once, through the task's one validator (Task.from_dict)."""

from __future__ import annotations

from typing import Any

import pytest

from src.core.errors import TaskValidationErrors
from src.core.task import Task
from tests.core.test_steps import steps_task


def problems(steps: Any, **fields: Any) -> dict[str, str]:
    with pytest.raises(TaskValidationErrors) as caught:
        Task.from_dict(steps_task(steps, **fields))
    return {error.field: error.message for error in caught.value.errors}


def test_every_problem_is_listed_with_its_path() -> None:
    found = problems(
        [
            {"id": "a b", "kind": "sql", "query": "SELECT 1"},
            {"id": "x", "kind": "shell"},
            {"id": "c", "kind": "command", "command": "ls -l"},
            {"id": "c", "kind": "command", "command": ["ls"], "on_failure": "ignore"},
        ]
    )
    assert "is not a step id" in found["steps[0].id"]
    assert found["steps[1].kind"] == (
        "'shell' is not a step kind; known: sql, command, python, powershell, email"
    )
    assert "only a shell would split" in found["steps[2].command"]
    assert "add shell: true" in found["steps[2].command"]
    assert "also the id of an earlier step" in found["steps[3].id"]
    assert found["steps[3].on_failure"] == "'ignore' is not one of stop, continue"


def test_an_empty_or_misshapen_steps_list_is_refused() -> None:
    assert "give at least one step" in problems([])["steps"]
    assert "give at least one step" in problems({"id": "a"})["steps"]


def test_query_exports_and_email_belong_in_steps() -> None:
    found = problems(
        [{"id": "a", "kind": "sql", "query": "SELECT 1"}],
        query="SELECT 2",
        exports={"csv": True},
        email={"to": ["a@example.com"]},
    )
    assert found["query"].endswith("move it into an sql step's query")
    assert found["exports"].endswith("move it into an sql step's exports")
    assert "email step" in found["email"]


def test_a_reference_to_a_later_or_unknown_step_is_refused_at_save() -> None:
    found = problems(
        [
            {"id": "first", "kind": "command", "command": ["echo", "{steps.second.exit_code}"]},
            {"id": "second", "kind": "command", "command": ["echo", "{steps.first.rows}"]},
            {"id": "mail", "kind": "email", "attach": ["nope"], "to": ["a@example.com"]},
        ]
    )
    assert found["steps[0].command[1]"] == (
        "{steps.second.exit_code} in '{steps.second.exit_code}': 'second' is not a step "
        "before this one (there is none)"
    )
    assert "'rows' is not a step result" in found["steps[1].command[1]"]
    assert "row_count" in found["steps[1].command[1]"]
    assert "'nope' is not the id of an earlier step" in found["steps[2].attach[0]"]


def test_shell_needs_one_string_and_a_list_needs_no_shell() -> None:
    found = problems([{"id": "a", "kind": "command", "command": ["ls"], "shell": True}])
    assert "with shell: true give the command as one string" in found["steps[0].command"]


def test_a_step_timeout_over_the_tasks_is_refused() -> None:
    found = problems(
        [{"id": "a", "kind": "sql", "query": "SELECT 1", "timeout_seconds": 600}],
        timeout_seconds=300,
    )
    assert found["steps[0].timeout_seconds"] == (
        "600 is more than the task's timeout_seconds 300, which stops the whole run first; "
        "lower it, or raise the task's"
    )


def test_an_email_step_needs_recipients_and_is_never_retried() -> None:
    found = problems([{"id": "m", "kind": "email", "retry": {"max_retries": 2}}])
    assert found["steps[0].to"] == "an email step with no recipients sends nothing; give to"
    assert "never sent twice" in found["steps[0].retry.max_retries"]


def test_process_fields_are_checked() -> None:
    found = problems(
        [
            {
                "id": "p",
                "kind": "python",
                "script": "",
                "env": {"A": 1, "not a name": "x"},
                "pass_env": "DATABASE_URL",
                "exit_codes": [0, 300],
            },
            {"id": "ps", "kind": "powershell"},
        ]
    )
    assert "is not the path of a Python script" in found["steps[0].script"]
    assert "write numbers in quotes" in found["steps[0].env.A"]
    assert "is not an environment variable name" in found["steps[0].env"]
    assert "list of variable names" in found["steps[0].pass_env"]
    assert "exit codes (0-255)" in found["steps[0].exit_codes"]
    assert "either script" in found["steps[1].script"]


def test_a_bound_parameter_is_an_earlier_result_only_when_written_whole() -> None:
    ok = steps_task(
        [
            {"id": "clean", "kind": "sql", "query": "DELETE FROM t", "read_only": False},
            {
                "id": "log",
                "kind": "sql",
                "query": "INSERT INTO l VALUES (:n)",
                "params": {"n": "{steps.clean.rows_affected}", "literal": "{not a ref}"},
                "read_only": False,
            },
        ]
    )
    assert Task.from_dict(ok).steps[1].params["n"] == "{steps.clean.rows_affected}"
    found = problems(
        [
            {"id": "clean", "kind": "sql", "query": "DELETE FROM t"},
            {
                "id": "log",
                "kind": "sql",
                "query": "SELECT :n",
                "params": {"n": "x {steps.clean.rows_affected}"},
            },
        ]
    )
    assert "exactly {steps.<id>.<field>}" in found["steps[1].params.n"]


def test_step_export_options_are_checked_at_their_path() -> None:
    found = problems(
        [
            {
                "id": "a",
                "kind": "sql",
                "query": "SELECT 1",
                "exports": {"csv": {"delimiter": "ab"}, "doc": True},
            }
        ]
    )
    assert any(field.startswith("steps[0].exports.csv") for field in found)
    assert "unknown format" in found["steps[0].exports.doc"]
