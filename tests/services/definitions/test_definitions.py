"""Definitions as files: export (src/services/definitions/documents.py), the earlier
systems' jobs (src/services/definitions/earlier.py, on the seeds' own examples in
tests/fixtures/earlier/), the import plan (src/services/definitions/plan.py) and the
samples (src/services/definitions/samples.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from src.core.errors import DefinitionError
from src.core.steps import CommandStep, EmailStep, PowerShellStep, PythonStep, SqlStep
from src.core.task import Task
from src.core.vocabulary import DefinitionFormat, ImportSource, StepKind
from src.services.definitions.documents import export_text
from src.services.definitions.plan import apply, plan_import, read_file
from src.services.definitions.samples import sample
from src.services.task_store import TaskStore
from tests.core.test_steps import steps_task

EARLIER = Path(__file__).resolve().parents[2] / "fixtures" / "earlier"
NOW = datetime(2026, 11, 30, 9, tzinfo=UTC)


def _plan(store: TaskStore, path: Path, replace: bool = False, source: Any = None) -> Any:
    incoming = read_file(path, source)
    plan = plan_import(
        incoming.items, store.load(), replace=replace, now=NOW, default_timezone="UTC"
    )
    return incoming, plan


def _notes(incoming: Any) -> dict[str, list[str]]:
    return {report.job: report.notes + report.errors for report in incoming.reports}


# --- export and this tool's own import ------------------------------------------------------


def test_export_leaves_out_the_summary_and_secrets_and_imports_back(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks.json")
    task = Task.from_dict(
        {
            **steps_task(),
            "connection": "postgresql://report:s3cret@db.example.com/sales",
            "run_count": 7,
            "last_status": "failed",
        }
    )
    store.add(task, NOW)
    text, notes = export_text(store.load().tasks, DefinitionFormat.YAML)
    assert "s3cret" not in text and "run_count" not in text and "last_status" not in text
    assert notes == [
        "task 'Nightly cleanup': connection is a URL with a password; written as 'sales': put "
        "DB_SALES_URL=<the URL> in .env where it is imported"
    ]
    assert "  query: DELETE FROM logs" in text  # readable, not an escaped string
    document = yaml.safe_load(text)
    assert document["version"] == 2 and document["tasks"][0]["connection"] == "sales"
    exported = tmp_path / "tasks.yaml"
    exported.write_text(text)
    other = TaskStore(tmp_path / "other.json")
    incoming, plan = _plan(other, exported)
    assert incoming.source is ImportSource.TASKS and not plan.errors
    apply(other, incoming.items, replace=False, now=NOW, default_timezone="UTC")
    (imported,) = other.load().tasks
    assert imported.steps == task.steps and imported.connection == "sales"
    as_json, _ = export_text(other.load().tasks, DefinitionFormat.JSON)
    assert json.loads(as_json)["tasks"][0]["steps"][0]["id"] == "cleanup"


def test_a_name_that_exists_needs_replace_and_the_diff_says_what_changes(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks.json")
    store.add(Task.from_dict(steps_task()), NOW)
    text, _ = export_text(store.load().tasks, DefinitionFormat.YAML)
    changed = tmp_path / "changed.yaml"
    changed.write_text(text.replace("Delete old log lines", "Delete older log lines"))
    _, refused = _plan(store, changed)
    assert refused.errors == [
        "definition #1 'Nightly cleanup': a task named 'Nightly cleanup' exists (id t-steps); "
        "give --replace to replace its definition, or rename it in the file"
    ]
    _, plan = _plan(store, changed, replace=True)
    (change,) = plan.changes
    assert change.action == "replace" and change.before is not None
    assert "-  name: Delete old log lines" in change.diff
    assert "+  name: Delete older log lines" in change.diff
    same = tmp_path / "same.yaml"
    same.write_text(text)
    _, unchanged = _plan(store, same, replace=True)
    assert [c.action for c in unchanged.changes] == ["unchanged"]


def test_one_bad_definition_and_nothing_is_written(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks.json")
    good = steps_task()
    bad = {
        **steps_task(),
        "name": "Broken",
        "steps": [{"id": "x", "kind": "command", "command": "ls"}],
    }
    path = tmp_path / "two.json"
    path.write_text(json.dumps({"version": 2, "tasks": [good, bad]}))
    incoming = read_file(path)
    with pytest.raises(DefinitionError, match="only a shell would split") as caught:
        apply(store, incoming.items, replace=False, now=NOW, default_timezone="UTC")
    assert "nothing was imported" in str(caught.value)
    assert not store.path.exists()


def test_unreadable_and_unknown_files_say_so(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("tasks: [\n  - a: b\n")
    with pytest.raises(
        DefinitionError, match=r"broken.yaml: line \d+ column \d+: not YAML or JSON"
    ):
        read_file(broken)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("hello: world\n")
    with pytest.raises(DefinitionError, match="cannot tell which system wrote it; give --from"):
        read_file(unknown)


def test_yaml_is_read_safely(tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text("tasks: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(DefinitionError, match="not YAML or JSON"):
        read_file(hostile)
    assert not Path("pwned").exists()


@pytest.mark.parametrize("kind", list(StepKind), ids=str)
def test_each_sample_imports_as_is(tmp_path: Path, kind: StepKind) -> None:
    path = tmp_path / f"{kind}.yaml"
    path.write_text(sample(kind))
    store = TaskStore(tmp_path / "tasks.json")
    incoming = read_file(path)
    apply(store, incoming.items, replace=False, now=NOW, default_timezone="UTC")
    (task,) = store.load().tasks
    assert kind in {step.kind for step in task.steps}


# --- the earlier systems ------------------------------------------------------------------


def test_v1_job_config_every_job_type(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks.json")
    incoming, plan = _plan(store, EARLIER / "v1_job_config.yaml")
    assert incoming.source is ImportSource.V1 and not plan.errors
    tasks = {change.task.name: change.task for change in plan.changes}
    sales = tasks["Daily Sales Report"]
    sql, notify = sales.steps
    assert (
        isinstance(sql, SqlStep)
        and sql.connection == "prod_db"
        and sql.exports == {"csv": {"enabled": True}}
    )
    assert isinstance(notify, EmailStep) and notify.email.to == ("admin@company.com",)
    assert sales.schedule.to_json() == {"cron": "30 8 * * *"}
    assert sales.timezone == "America/New_York"
    assert (sales.timeout_seconds, sales.retry.max_retries, sales.retry.delay_seconds) == (
        300,
        3,
        60,
    )
    (cleanup,) = tasks["System Cleanup"].steps
    assert isinstance(cleanup, PowerShellStep) and cleanup.inline is not None
    assert cleanup.args == ("--verbose", "--deep-clean")
    assert tasks["System Cleanup"].schedule.to_json() == {"interval": {"hours": 6}}
    (python,) = tasks["Data Processing Pipeline"].steps
    assert isinstance(python, PythonStep) and python.env == {"DATA_ENV": "production"}
    assert tasks["Data Processing Pipeline"].schedule.to_json() == {"cron": "*/15 * * * *"}
    (command,) = tasks["Backup Important Files"].steps
    assert isinstance(command, CommandStep) and command.command[0] == "robocopy"
    notes = _notes(incoming)
    assert any(
        "SQL Server-only syntax (DATEADD, GETDATE)" in n for n in notes["Daily Sales Report"]
    )
    assert any(
        "on_failure to alerts@company.com not carried over" in n
        for n in notes["Daily Sales Report"]
    )
    assert any("by slack not carried over" in n for n in notes["Daily Sales Report"])
    assert any(
        "run_as 'DOMAIN\\\\ServiceAccount' not carried over" in n for n in notes["System Cleanup"]
    )
    assert any("execution_policy 'RemoteSigned'" in n for n in notes["System Cleanup"])
    assert any("virtual_env" in n for n in notes["Data Processing Pipeline"])
    assert any("PYTHONPATH" in n for n in notes["Data Processing Pipeline"])
    assert any("Windows paths" in n for n in notes["Backup Important Files"])


def test_v2_yaml_job_files(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks.json")
    incoming, plan = _plan(store, EARLIER / "PS-001.yaml")
    assert incoming.source is ImportSource.V2_YAML and not plan.errors
    (change,) = plan.changes
    task = change.task
    assert task.id == "PS-001" and task.timezone == "UTC"
    assert task.schedule.to_json() == {"cron": "0 */6 * * *"}
    assert (task.timeout_seconds, task.retry.max_retries, task.retry.delay_seconds) == (300, 3, 30)
    (step,) = task.steps
    assert isinstance(step, PowerShellStep) and step.inline is not None
    assert "Get-Process" in step.inline and step.args == ("-LogLevel", "Info")
    assert "category: system-monitoring; tags: health, monitoring" in task.description
    incoming, plan = _plan(store, EARLIER / "SQL-001.yaml")
    (sql_task,) = [c.task for c in plan.changes]
    (sql,) = sql_task.steps
    assert isinstance(sql, SqlStep) and sql.read_only is False
    assert sql_task.schedule.to_json() == {"cron": "0 2 * * 0"}
    (notes,) = _notes(incoming).values()
    assert any("DBCC" in n and "kept but flagged" in n for n in notes)


def test_v2_json_multi_step_jobs(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks.json")
    incoming, plan = _plan(store, EARLIER / "v2_job_001.json")
    assert incoming.source is ImportSource.V2_JSON and not plan.errors
    (task,) = [c.task for c in plan.changes]
    cleanup, report = task.steps
    assert isinstance(cleanup, SqlStep) and cleanup.connection == "prod_db"
    assert cleanup.timeout_seconds == 300 and cleanup.read_only is False
    assert isinstance(report, PowerShellStep) and report.args == ("-date", "{today}")
    assert (task.retry.max_retries, task.timeout_seconds) == (2, 3600)
    assert task.timezone == "America/New_York"
    incoming, plan = _plan(store, EARLIER / "v2_daily_maintenance.json")
    (task,) = [c.task for c in plan.changes]
    assert [step.id for step in task.steps] == ["step1", "step2"]
    (notes,) = _notes(incoming).values()
    assert any("step 'step3' of type 'azure_devops' not carried over" in n for n in notes)
    assert any("SQL Server-only syntax (EXEC)" in n for n in notes)


def test_the_earlier_tools_tasks_json(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks.json")
    incoming, plan = _plan(store, EARLIER / "tasks_004.json")
    assert incoming.source is ImportSource.TASKS and not plan.errors
    (task,) = [c.task for c in plan.changes]
    assert task.id == "abc-123-def-456" and task.schedule.to_json() == {"cron": "0 9 * * *"}
    assert task.query == "SELECT * FROM sales WHERE date = CURRENT_DATE"


def test_from_overrides_detection(tmp_path: Path) -> None:
    store = TaskStore(tmp_path / "tasks.json")
    with pytest.raises(DefinitionError, match="a V1 file has a jobs: list"):
        _plan(store, EARLIER / "PS-001.yaml", source=ImportSource.V1)
