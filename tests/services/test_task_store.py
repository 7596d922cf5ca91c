"""tasks.json store: round trips, bad files left untouched, legacy files, concurrency."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from src.core.errors import StoreError
from src.core.task import Task
from src.services.task_store import TaskStore
from tests.servers import ROOT

SEED_LEGACY = [
    {
        "task_id": "abc-123-def-456",
        "name": "Daily Sales Report",
        "description": "Daily sales summary",
        "database_type": "postgresql",
        "database_url": "postgresql://report:s3cret@db.example.com/sales",
        "query": "SELECT * FROM sales WHERE date = CURRENT_DATE",
        "schedule_type": "cron",
        "schedule_config": {"hour": 9, "minute": 0},
        "email_recipients": ["manager@company.com"],
        "email_subject": "Daily Sales Report",
        "export_excel": True,
        "is_active": True,
        "created_at": "2024-12-19T10:00:00",
        "last_run": "2024-12-19T09:00:00",
        "next_run": "2024-12-20T09:00:00",
        "run_count": 5,
        "error_count": 0,
    }
]


def documented_example() -> str:
    text = (ROOT / "docs" / "tasks-json.md").read_text()
    match = re.search(r"```json\n(.*?)```", text, re.S)
    assert match, "docs/tasks-json.md must hold a full example"
    return match.group(1)


def assert_kept(before: dict, after: dict, where: str = "task") -> None:
    for key, value in before.items():
        assert key in after, f"{where}.{key} was dropped"
        if isinstance(value, dict) and isinstance(after[key], dict):
            assert_kept(value, after[key], f"{where}.{key}")
        else:
            assert after[key] == value, f"{where}.{key}: {value!r} became {after[key]!r}"


def new_task(name: str = "Daily sales", **extra: object) -> Task:
    data = {
        "id": f"id-{name}",
        "name": name,
        "query": "SELECT 1",
        "schedule": {"cron": "0 9 * * *"},
        **extra,
    }
    return Task.from_dict(data)


def test_missing_file_is_an_empty_store(tmp_path):
    store = TaskStore(tmp_path / "tasks.json")
    assert store.load().tasks == []
    assert not (tmp_path / "tasks.json").exists()


def test_documented_example_loads_and_round_trips_unchanged(tmp_path):
    path = tmp_path / "tasks.json"
    path.write_text(documented_example())
    store = TaskStore(path)
    loaded = store.load()
    assert [t.name for t in loaded.tasks] == ["Daily sales", "Stock check", "Year-end close"]
    first = loaded.tasks[0]
    assert first.email.send_if == "rows"
    assert first.exports["pdf"] == {"max_rows": 2000, "orientation": "landscape"}
    assert first.enabled_exports == ["xlsx", "pdf"]
    assert first.summary.run_count == 15
    original = json.loads(path.read_text())
    # a change to another task rewrites the file; every field of the first survives as written
    store.update("Stock check", lambda t: t.with_changes(description="changed"))
    rewritten = json.loads(path.read_text())
    assert rewritten["tasks"][0] == original["tasks"][0]
    assert rewritten["tasks"][1]["description"] == "changed"
    # every value written in the other tasks survives too (an interval's start was lost
    # once); the rewrite only adds defaults
    for before, after in zip(original["tasks"][1:], rewritten["tasks"][1:], strict=True):
        before.pop("description", None)
        assert_kept(before, after)
    assert store.load().tasks[0] == first


def test_unknown_fields_survive_a_round_trip(tmp_path):
    path = tmp_path / "tasks.json"
    document = {
        "version": 1,
        "owner": "ops",
        "tasks": [
            {
                "id": "a1",
                "name": "A",
                "query": "SELECT 1",
                "schedule": {"cron": "0 9 * * *"},
                "team": "finance",
                "email": {"to": ["a@example.com"], "reply_to": "x@example.com"},
                "retry": {"max_retries": 1, "jitter": True},
            }
        ],
    }
    path.write_text(json.dumps(document))
    store = TaskStore(path)
    store.update("A", lambda t: t.with_changes(description="now described"))
    saved = json.loads(path.read_text())
    assert saved["owner"] == "ops"
    assert saved["tasks"][0]["team"] == "finance"
    assert saved["tasks"][0]["email"]["reply_to"] == "x@example.com"
    assert saved["tasks"][0]["retry"]["jitter"] is True


def test_corrupt_json_is_reported_with_line_and_column_and_left_alone(tmp_path):
    path = tmp_path / "tasks.json"
    broken = '{\n  "version": 1,\n  "tasks": [\n    {"name": "x",}\n  ]\n}\n'
    path.write_text(broken)
    store = TaskStore(path)
    with pytest.raises(StoreError) as caught:
        store.add(new_task())
    assert str(caught.value) == (
        f"{path}: line 4 column 18: Expecting property name enclosed in double quotes. "
        "Fix the JSON by hand (the file was not changed), then run `manage_tasks.py validate`."
    )
    assert path.read_text() == broken


def test_invalid_task_names_task_and_field_and_file_is_left_alone(tmp_path):
    path = tmp_path / "tasks.json"
    document = {
        "version": 1,
        "tasks": [
            {"id": "1", "name": "Good", "query": "SELECT 1", "schedule": {"cron": "0 9 * * *"}},
            {
                "id": "2",
                "name": "Bad",
                "query": "SELECT 1",
                "schedule": {"cron": "0 25 * * *"},
                "timezone": "Mars/Base",
            },
        ],
    }
    text = json.dumps(document, indent=2)
    path.write_text(text)
    with pytest.raises(StoreError) as caught:
        TaskStore(path).update("Good", lambda t: t.with_changes(enabled=False))
    assert str(caught.value) == (
        f"{path}: 1 problem(s); the file was not changed:\n"
        "  task #2 'Bad': timezone: 'Mars/Base' is not an IANA zone; "
        "use a name such as 'Europe/Berlin'"
    )
    assert path.read_text() == text


def test_duplicate_names_in_file_are_reported(tmp_path):
    path = tmp_path / "tasks.json"
    tasks = [new_task("Sales").to_dict(), {**new_task("sales").to_dict(), "id": "other"}]
    path.write_text(json.dumps({"version": 1, "tasks": tasks}))
    with pytest.raises(StoreError, match="name: also used by another task"):
        TaskStore(path).load()


def test_newer_format_version_is_refused(tmp_path):
    path = tmp_path / "tasks.json"
    path.write_text('{"version": 3, "tasks": []}')
    with pytest.raises(StoreError, match="format version 3 is not supported"):
        TaskStore(path).load()


def test_version_1_loads_as_is_and_first_write_converts_with_backup(tmp_path):
    """Version 1 (before steps) reads unchanged; the first write keeps it as .v1.bak and
    writes version 2; the task is the same one-query report it was."""
    path = tmp_path / "tasks.json"
    original = json.dumps({"version": 1, "tasks": [new_task("Old").to_dict()]}, indent=2)
    path.write_text(original)
    store = TaskStore(path)
    task_file = store.load()
    assert task_file.version == 1 and task_file.converts
    assert path.read_text() == original  # loading never writes
    before = task_file.tasks[0]
    store.update("Old", lambda t: t.with_changes(description="touched"))
    assert (tmp_path / "tasks.json.v1.bak").read_text() == original
    document = json.loads(path.read_text())
    assert document["version"] == 2
    assert "steps" not in document["tasks"][0] and document["tasks"][0]["query"] == before.query
    after = TaskStore(path).load()
    assert after.version == 2 and not after.converts
    assert after.tasks[0].with_changes(description="", updated_at=None) == before.with_changes(
        updated_at=None
    )


def test_write_is_atomic_and_keeps_file_mode(tmp_path):
    path = tmp_path / "tasks.json"
    store = TaskStore(path)
    store.add(new_task("A"))
    os.chmod(path, 0o600)
    store.add(new_task("B"))
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert [t.name for t in store.load().tasks] == ["A", "B"]


def test_legacy_list_loads_as_is_and_first_write_converts_with_backup(tmp_path):
    path = tmp_path / "tasks.json"
    original = json.dumps(SEED_LEGACY, indent=2)
    path.write_text(original)
    store = TaskStore(path)
    task_file = store.load()
    assert task_file.legacy
    (task,) = task_file.tasks
    assert task.id == "abc-123-def-456"
    assert task.schedule.to_json() == {"cron": "0 9 * * *"}
    assert task.email.to == ("manager@company.com",)
    assert task.email.subject == "{{Daily Sales Report}}".replace("{{", "").replace("}}", "")
    assert task.exports == {"xlsx": {"enabled": True}, "pdf": {"enabled": False}}
    assert task.summary.run_count == 5
    assert task.summary.last_run == datetime(2024, 12, 19, 9, 0, tzinfo=UTC)
    assert path.read_text() == original  # loading never writes
    store.update("Daily Sales Report", lambda t: t.with_changes(description="converted"))
    assert (tmp_path / "tasks.json.bak").read_text() == original
    converted = json.loads(path.read_text())
    assert converted["version"] == 2
    assert converted["tasks"][0]["connection"] == "postgresql://report:s3cret@db.example.com/sales"
    assert converted["tasks"][0]["legacy_database_type"] == "postgresql"
    assert TaskStore(path).load().legacy is False


def test_legacy_weekday_numbers_are_translated(tmp_path):
    item = {**SEED_LEGACY[0], "schedule_config": {"hour": 8, "minute": 30, "day_of_week": "0-4"}}
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps([item]))
    (task,) = TaskStore(path).load().tasks
    assert task.schedule.to_json() == {"cron": "30 8 * * mon-fri"}


def test_legacy_interval_and_unsupported_fields(tmp_path):
    path = tmp_path / "tasks.json"
    interval = {**SEED_LEGACY[0], "schedule_type": "interval", "schedule_config": {"minutes": 15}}
    path.write_text(json.dumps([interval]))
    assert TaskStore(path).load().tasks[0].schedule.describe() == "every 15 minutes"
    seconds = {**SEED_LEGACY[0], "schedule_config": {"second": 5}}
    path.write_text(json.dumps([seconds]))
    with pytest.raises(StoreError, match="cron field 'second' has no 5-field cron equivalent"):
        TaskStore(path).load()


def test_fifty_concurrent_add_processes_leave_fifty_tasks(tmp_path):
    path = tmp_path / "tasks.json"
    sqlite3.connect(tmp_path / "demo.db").close()  # add compiles the SQL against it
    env = {**os.environ, "DATABASE_URL": "sqlite:///demo.db", "TASKS_FILE": str(path)}
    script = str(ROOT / "manage_tasks.py")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                script,
                "add",
                "--name",
                f"task {i}",
                "--query",
                "SELECT 1",
                "--every",
                "1h",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(50)
    ]
    results = [(p.wait(timeout=120), p.stderr.read().decode()) for p in procs]
    for proc in procs:
        proc.stdout.close()
        proc.stderr.close()
    assert [r for r in results if r[0] != 0] == []
    names = sorted(t.name for t in TaskStore(path).load().tasks)
    assert names == sorted(f"task {i}" for i in range(50))
