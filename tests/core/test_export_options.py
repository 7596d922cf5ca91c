"""Export options are declared once (src/core/export_options.py) and checked once: what
`validate` refuses is exactly what a run would refuse, in the same words.

Every declared option of every format is given its sample bad value: the task model
and `manage_tasks.py validate` refuse it naming the option, with the message the
exporter raises at run time. A few are driven through a real run on SQLite (the task
built past validation, as a hand edit after the daemon loaded it would be).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from src.cli.app import cli
from src.core.errors import TaskValidationErrors, ValidationError
from src.core.export_options import EXPORT_OPTIONS, check_export_options
from src.core.task import Task
from src.services.demo import build_demo_database
from src.services.export import EXPORTERS
from src.services.export.files import render_filename
from src.services.query import QueryService
from src.services.runner import Runner
from src.services.settings import Settings
from src.services.task_store import TaskStore
from tests.servers import ROOT

EVERY_OPTION = [(fmt, name) for fmt, options in EXPORT_OPTIONS.items() for name in options]
RUN_AT = datetime(2026, 11, 23, 8, tzinfo=UTC)


def task_dict(exports: dict[str, Any], **fields: Any) -> dict[str, Any]:
    task = {
        "id": "7c1e4b1a-0000-4000-8000-000000000002",
        "name": "Revenue",
        "query": "SELECT region, SUM(total) AS revenue FROM sales GROUP BY region",
        "schedule": {"cron": "0 9 * * *"},
        "timezone": "Europe/Berlin",
        "exports": exports,
    }
    task.update(fields)
    return task


def refusal(data: dict[str, Any]) -> ValidationError:
    with pytest.raises(TaskValidationErrors) as caught:
        Task.from_dict(data)
    (error,) = caught.value.errors
    return error


def run_time_refusal(fmt: str, options: dict[str, Any]) -> ValidationError:
    """What the exporter says when a run opens the file with ``options``."""
    with pytest.raises(ValidationError) as caught:
        EXPORTERS[fmt].check_options(options)
    return caught.value


@pytest.mark.parametrize(("fmt", "name"), EVERY_OPTION)
def test_every_option_bad_value_is_refused_by_validation_as_at_run_time(fmt: str, name: str):
    bad = EXPORT_OPTIONS[fmt][name].bad_sample
    saved = refusal(task_dict({fmt: {name: bad}}))
    assert saved.field == f"exports.{fmt}.{name}"
    assert saved.task == "Revenue"
    at_run = run_time_refusal(fmt, {name: bad})
    assert (at_run.field, at_run.message) == (saved.field, saved.message)


@pytest.mark.parametrize(("fmt", "name"), EVERY_OPTION)
def test_every_option_default_passes_its_own_check(fmt: str, name: str):
    option = EXPORT_OPTIONS[fmt][name]
    assert check_export_options(fmt, {name: option.default})[name] == option.default
    assert check_export_options(fmt, {})[name] == option.default


@pytest.mark.parametrize("fmt", EXPORT_OPTIONS)
def test_unknown_option_is_refused_with_a_suggestion_and_the_known_ones(fmt: str):
    known = ", ".join(EXPORT_OPTIONS[fmt])
    saved = refusal(task_dict({fmt: {"filenme": "x"}}))
    assert str(saved) == (
        f"task 'Revenue': exports.{fmt}.filenme: unknown {fmt} option 'filenme' "
        f"(did you mean 'filename'?); known: {known}"
    )
    at_run = run_time_refusal(fmt, {"filenme": "x"})
    assert (at_run.field, at_run.message) == (saved.field, saved.message)


def test_exporter_help_is_the_declaration():
    for fmt, exporter in EXPORTERS.items():
        assert exporter.options_help == {n: o.help for n, o in EXPORT_OPTIONS[fmt].items()}


def test_filename_template_fails_at_run_time_in_the_words_validation_used():
    for template in ("{nope}", "{row_count:%Y}", "{run_date!x}"):
        saved = refusal(task_dict({"csv": {"filename": template}}))
        values = {"run_date": date(2026, 11, 23), "task_name": "Revenue", "row_count": 0}
        values.update(today=date(2026, 11, 23), yesterday=date(2026, 11, 22))
        values.update(run_time=RUN_AT, start_of_month=date(2026, 11, 1), run_id="r", duration="")
        with pytest.raises(ValidationError) as caught:
            render_filename(template, values, "csv")
        assert (caught.value.field, caught.value.message) == (saved.field, saved.message)


def test_documented_options_are_the_declared_ones():
    doc = (ROOT / "docs" / "tasks-json.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \| (.*) \|$", doc, re.M)
    table = [row for row in rows if row[0] in EXPORT_OPTIONS]
    declared = [(f, n, o.help) for f, options in EXPORT_OPTIONS.items() for n, o in options.items()]
    assert table == declared


# --- the same bad values, as a person would meet them ----------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    build_demo_database(tmp_path / "data" / "demo.db", date(2026, 11, 23), days_ahead=5)
    return tmp_path


def env_for(folder: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{folder / 'data' / 'demo.db'}"}


def manage_tasks(folder: Path, *args: str):
    env: dict[str, str | None] = {"TASKS_FILE": None, "ENV_FILE": None, "SMTP_HOST": None}
    env.update(env_for(folder))
    return CliRunner().invoke(
        cli,
        ["--tasks-file", str(folder / "tasks.json"), "--env-file", str(folder / ".env"), *args],
        env=env,
        catch_exceptions=False,
    )


def write_tasks(folder: Path, *tasks: dict[str, Any]) -> None:
    (folder / "tasks.json").write_text(json.dumps({"version": 1, "tasks": list(tasks)}))
    (folder / "tasks.json").chmod(0o600)


@pytest.mark.parametrize(("fmt", "name"), EVERY_OPTION)
def test_validate_command_refuses_every_bad_option(folder: Path, fmt: str, name: str):
    bad = EXPORT_OPTIONS[fmt][name].bad_sample
    write_tasks(folder, task_dict({fmt: {name: bad}}))
    expected = refusal(task_dict({fmt: {name: bad}}))
    result = manage_tasks(folder, "validate")
    assert result.exit_code == 1
    assert (
        f"  task #1 'Revenue': {expected.field}: {expected.message}" in result.output.splitlines()
    )


RUN_CASES = [
    ("csv", {"delimiter": "ab"}),
    ("pdf", {"orientation": "sideways"}),
    ("xlsx", {"sheet_name": "Q1/Q2"}),
    ("csv", {"bom": True, "quote": "'"}),
]


@pytest.mark.parametrize(("fmt", "options"), RUN_CASES)
def test_a_run_fails_with_the_words_validate_and_run_print(
    folder: Path, fmt: str, options: dict[str, Any]
):
    data = task_dict({fmt: options})
    expected = refusal(data)
    # The runner itself, on a task that got past validation (built directly).
    valid = Task.from_dict(task_dict({fmt: True}))
    task = valid.with_changes(exports={fmt: options})
    write_tasks(folder, valid.to_dict())
    env = env_for(folder)
    store, query = TaskStore(folder / "tasks.json"), QueryService(env)
    try:
        outcome = Runner(store, Settings.from_env(env, folder), query).run(task)
    finally:
        query.close()
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.permanent
    assert str(outcome.error) == f"{expected.field}: {expected.message}"
    # `manage_tasks.py run` on the same task in tasks.json stops before running, same words.
    write_tasks(folder, data)
    result = manage_tasks(folder, "run", "Revenue")
    assert result.exit_code == 1
    assert (
        f"  task #1 'Revenue': {expected.field}: {expected.message}" in result.output.splitlines()
    )
    assert not list((folder / "data" / "exports").glob("*/*"))


# --- other things a run refuses that validation can see -----------------------------------


@pytest.mark.parametrize("key", ["subject", "body"])
@pytest.mark.parametrize("template", ["{row_count:%Y}", "{duration:d}", "{run_date!x}"])
def test_email_template_a_run_cannot_render_is_refused_in_the_same_words(
    tmp_path: Path, key: str, template: str
):
    from src.core.runvars import run_variables
    from src.services.mail import ReportEmail, build_report_message
    from src.services.mail.settings import SmtpSettings

    saved = refusal(task_dict({"xlsx": True}, email={"to": ["a@example.com"], key: template}))
    assert saved.field == f"email.{key}"
    texts = {"subject": "Report", "body": "Rows: {row_count}", key: template}
    report = ReportEmail(
        task_name="Revenue",
        to=("a@example.com",),
        subject=texts["subject"],
        body=texts["body"],
        variables={**run_variables(RUN_AT, ZoneInfo("UTC")), "run_id": "r"},
        row_count=3,
        duration=1.5,
    )
    with pytest.raises(ValidationError) as caught:
        build_report_message(report, SmtpSettings.from_env({}, tmp_path), now=RUN_AT)
    assert (caught.value.field, caught.value.message) == (saved.field, saved.message)
