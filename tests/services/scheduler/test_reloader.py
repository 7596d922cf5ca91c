"""The reload thread's side: decoding tasks.json task by task, and what an Update says.

The store writes the files (as manage_tasks.py does); the reloader reads them. The
daemon's process tests (tests/services/scheduler/test_daemon.py) cover the same paths end to end.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from src.core.clock import now as clock_now
from src.core.task import Summary, Task, new_task_id
from src.services.scheduler.reloader import Reloader, decode_items
from src.services.task_store import TaskStore

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def _task(name: str, **extra: Any) -> Task:
    data = {
        "id": new_task_id(),
        "name": name,
        "query": "SELECT 1",
        "schedule": {"cron": "0 9 * * *"},
        "email": {"to": ["boss@example.com"]},
        **extra,
    }
    return Task.from_dict(data)


@pytest.fixture
def store(tmp_path: Path) -> TaskStore:
    store = TaskStore(tmp_path / "tasks.json")
    store.add(_task("Alpha"), NOW)
    store.add(_task("Bêta ünïcode", description='quotes " and \\ and \n'), NOW)
    return store


def _reloader(store: TaskStore, on_update: Any = lambda: None) -> Reloader:
    reloader = Reloader(store, clock_now, 0.05, on_update)
    reloader.prime()
    return reloader


def _rewrite(store: TaskStore, text: str) -> None:
    store.path.write_text(text, encoding="utf-8")


# --- decoding ---------------------------------------------------------------------------------


def test_decoded_items_are_what_json_loads_gives(store: TaskStore) -> None:
    raw = store.read_bytes()
    assert raw is not None
    items = decode_items(raw)
    assert items is not None
    assert [item.value for item in items] == json.loads(raw)["tasks"]
    for item in items:  # the text is the object's own, for change detection
        assert json.loads(item.text) == item.value
    compact = json.dumps(json.loads(raw), separators=(",", ":")).encode()
    assert [i.value for i in decode_items(compact) or []] == json.loads(raw)["tasks"]


@pytest.mark.parametrize(
    "text",
    [
        '{"version": 1, "tasks": [',  # torn
        '{"version": 1, "tasks": []} trailing',
        '{"version": 3, "tasks": []}',
        '[{"name": "legacy list"}]',
        '{"version": 1, "tasks": [{"name": "no id"}]}',
        '{"version": 1, "tasks": [1]}',
        '{"version": 1, "tasks": {}}',
        '{"version": 1, "tasks": [], }',
    ],
)
def test_unusual_files_go_to_the_full_parse(text: str) -> None:
    assert decode_items(text.encode()) is None


def test_empty_and_missing_files_have_no_tasks() -> None:
    assert decode_items(None) == []
    assert decode_items(b"  \n") == []
    assert decode_items(b'{"version": 1}') == []


# --- updates ----------------------------------------------------------------------------------


def test_nothing_changed_is_no_update(store: TaskStore) -> None:
    reloader = _reloader(store)
    assert reloader.check() is None
    store.path.write_bytes(store.read_bytes() or b"")  # same bytes, new mtime
    assert reloader.check() is None


def test_a_summary_write_updates_the_task_and_moves_no_job(store: TaskStore) -> None:
    reloader = _reloader(store)
    alpha = store.load().find("Alpha")
    store.update(
        alpha.id,
        lambda t: t.with_changes(summary=Summary(last_status="success", run_count=1)),
        touch=False,
    )
    update = reloader.check()
    assert update is not None
    assert set(update.tasks) == {alpha.id}  # only the task whose text changed is re-read
    assert update.tasks[alpha.id].summary.run_count == 1
    assert update.redefined == set() and update.removed == [] and update.error is None
    assert update.order == [t.id for t in store.load().tasks]


def test_edit_add_delete_are_redefinitions(store: TaskStore) -> None:
    reloader = _reloader(store)
    alpha = store.load().find("Alpha")
    beta = store.load().find("Bêta ünïcode")
    store.update(alpha.id, lambda t: t.with_changes(query="SELECT 2"))
    gamma = store.add(_task("Gamma"), NOW)
    store.delete(beta.id)
    update = reloader.check()
    assert update is not None
    assert update.redefined == {alpha.id, gamma.id}
    assert update.tasks[alpha.id].query == "SELECT 2"
    assert update.removed == [beta.id]
    assert update.order == [alpha.id, gamma.id]


def test_invalid_file_is_reported_once_and_valid_again_is_an_update(store: TaskStore) -> None:
    reloader = _reloader(store)
    good = store.path.read_text(encoding="utf-8")
    _rewrite(store, good[: len(good) // 2])
    update = reloader.check()
    assert update is not None and update.error is not None
    assert str(store.path) in update.error and "line" in update.error  # the store's message
    assert reloader.check() is None  # the same bad file: said once
    _rewrite(store, good)
    again = reloader.check()
    assert again is not None and again.error is None
    assert again.redefined == set()  # same definitions: nothing to reschedule


def test_bad_field_and_duplicate_name_give_the_stores_message(store: TaskStore) -> None:
    reloader = _reloader(store)
    document = json.loads(store.path.read_text(encoding="utf-8"))
    document["tasks"][0]["schedule"] = {"cron": "61 * * * *"}
    _rewrite(store, json.dumps(document))
    bad = reloader.check()
    assert bad is not None and bad.error is not None
    assert "schedule" in bad.error and "1 problem(s)" in bad.error
    document = json.loads(store.path.read_text(encoding="utf-8"))
    document["tasks"][0]["schedule"] = {"cron": "0 9 * * *"}
    document["tasks"][1]["name"] = document["tasks"][0]["name"].upper()
    _rewrite(store, json.dumps(document))
    duplicate = reloader.check()
    assert duplicate is not None and duplicate.error is not None
    assert "also used by another task" in duplicate.error


def test_forced_reload_reports_even_without_changes(store: TaskStore) -> None:
    reloader = _reloader(store)
    update = reloader.check(force=True)
    assert update is not None and update.forced
    assert update.redefined == set() and update.removed == []


def test_the_thread_hands_updates_over_and_wakes_the_loop(store: TaskStore) -> None:
    woken = threading.Event()
    reloader = _reloader(store, woken.set)
    reloader.start()
    try:
        store.add(_task("Delta"), NOW)
        assert woken.wait(30), "no update within the hang guard"
        update = reloader.updates.popleft()
        assert [t.name for t in update.tasks.values()] == ["Delta"]
    finally:
        reloader.stop()


def test_the_first_rewrite_of_a_hand_written_file_redefines_nothing(tmp_path: Path) -> None:
    hand_written = {
        "version": 1,
        "tasks": [
            {
                "id": "h1",
                "name": "Hand",
                "query": "SELECT 1",
                "schedule": {"cron": "@daily"},
                "exports": {"csv": True},
                "email": {"to": ["a@example.com"]},
            }
        ],
    }
    store = TaskStore(tmp_path / "tasks.json")
    store.path.write_text(json.dumps(hand_written))
    reloader = _reloader(store)
    # the daemon's first summary write normalizes the whole file (defaults filled in)
    store.update("h1", lambda t: t.with_changes(summary=Summary(run_count=1)), touch=False)
    assert "cc" in json.loads(store.path.read_text())["tasks"][0]["email"]
    update = reloader.check()
    assert update is not None and update.tasks["h1"].summary.run_count == 1
    assert update.redefined == set()
