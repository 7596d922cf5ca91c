"""TaskStore.update_summary: a run's end rewrites its own task's summary only.

The other tasks are neither validated nor normalized (a 10,000-task file costs a JSON
load per run, not a validation of every task), and anything unusual takes the full
path with its errors: nothing is "repaired" by overwriting.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from src.core.errors import StoreError, TaskNotFound
from src.core.task import Summary, Task
from src.services.task_store import TaskStore

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _task(task_id: str, name: str) -> dict:
    return {"id": task_id, "name": name, "query": "SELECT 1", "schedule": {"cron": "0 * * * *"}}


def _summarize(task: Task) -> Summary:
    return Summary(last_run=NOW, last_status="success", run_count=task.summary.run_count + 1)


def _write(path: Path, document: object) -> None:
    path.write_text(json.dumps(document, indent=2))


def test_only_the_run_task_changes_and_others_stay_as_written(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    other = {**_task("b", "Other"), "hand_written_note": "kept", "exports": {"csv": True}}
    _write(path, {"version": 1, "tasks": [_task("a", "Mine"), other], "owner": "ops"})
    changed = TaskStore(path).update_summary("a", _summarize)
    assert changed.summary.run_count == 1
    document = json.loads(path.read_text())
    assert document["owner"] == "ops"
    assert document["tasks"][1] == other  # not normalized, not touched
    mine = document["tasks"][0]
    assert (mine["last_status"], mine["run_count"]) == ("success", 1)
    assert mine["next_run"] is None  # what summarize gave, nothing else decided here
    assert TaskStore(path).load().find("a").summary.run_count == 1


def test_another_invalid_task_does_not_block_the_summary(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    broken = {**_task("b", "Broken"), "schedule": {"cron": "99 * * * *"}}
    _write(path, {"version": 1, "tasks": [_task("a", "Mine"), broken]})
    TaskStore(path).update_summary("a", _summarize)
    document = json.loads(path.read_text())
    assert document["tasks"][1] == broken
    assert document["tasks"][0]["run_count"] == 1


def test_the_run_task_no_longer_valid_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    _write(path, {"version": 1, "tasks": [{**_task("a", "Mine"), "timezone": "Mars/Base"}]})
    before = path.read_bytes()
    with pytest.raises(StoreError, match="timezone: 'Mars/Base' is not an IANA zone"):
        TaskStore(path).update_summary("a", _summarize)
    assert path.read_bytes() == before


def test_a_deleted_task_is_not_found(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    _write(path, {"version": 1, "tasks": [_task("a", "Mine")]})
    with pytest.raises(TaskNotFound):
        TaskStore(path).update_summary("gone", _summarize)


@pytest.mark.parametrize("text", ["{ not json", '{"version": 1, "tasks": {}}', ""])
def test_a_broken_file_takes_the_full_path_and_is_not_overwritten(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "tasks.json"
    path.write_text(text)
    with pytest.raises((StoreError, TaskNotFound)):
        TaskStore(path).update_summary("a", _summarize)
    assert path.read_text() == text


def test_the_earlier_tools_format_is_converted_with_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    legacy = [
        {
            "task_id": "a",
            "name": "Legacy",
            "database_type": "sqlite",
            "query": "SELECT 1",
            "schedule_type": "cron",
            "schedule_config": {"hour": 9, "minute": 0},
            "is_active": True,
        }
    ]
    _write(path, legacy)
    TaskStore(path).update_summary("a", _summarize)
    assert json.loads((tmp_path / "tasks.json.bak").read_text()) == legacy
    document = json.loads(path.read_text())
    assert document["version"] == 2 and document["tasks"][0]["run_count"] == 1


def test_a_version_1_file_is_converted_by_the_first_summary_with_a_backup(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tasks.json"
    other = {**_task("b", "Other"), "schedule": {"cron": "99 * * * *"}}  # not even valid
    _write(path, {"version": 1, "tasks": [_task("a", "Mine"), other]})
    original = path.read_text()
    TaskStore(path).update_summary("a", _summarize)
    assert (tmp_path / "tasks.json.v1.bak").read_text() == original
    document = json.loads(path.read_text())
    assert document["version"] == 2
    assert document["tasks"][1] == other
