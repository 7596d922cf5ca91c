"""`store copy`: src/services/cluster/copy.py -- tasks.json -> PostgreSQL -> tasks.json."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from src.core.errors import StoreError
from src.core.vocabulary import RunStatus, Trigger
from src.services.cluster.copy import copy_into_database, copy_out_to_files
from src.services.cluster.database import engine_for
from src.services.cluster.run_log import ClusterRunLog
from src.services.cluster.task_store import ClusterTaskStore
from src.services.history import RunHistory
from src.services.recorder import RunRecorder, RunRef
from src.services.task_store import TaskStore
from tests.services.cluster.test_task_store import task

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _single_machine(folder: Path) -> tuple[TaskStore, RunHistory]:
    store = TaskStore(folder / "tasks.json", default_timezone="Europe/Berlin")
    for name in ("Daily sales", "Weekly stock", "Élan ünïcode"):
        store.add(task(name), NOW)
    history = RunHistory(folder / "data" / "runs.jsonl")
    recorder = RunRecorder(history, store, clock=lambda: NOW)
    first = store.load().tasks[0]
    ref = RunRef("run-1", first.id, first.name, Trigger.SCHEDULE, NOW)
    recorder.started(ref, NOW)
    recorder.finished(ref, RunStatus.SUCCESS, started_at=NOW, at=NOW, rows=5)
    return store, history


def test_a_round_trip_gives_the_same_tasks_and_history(cluster_url: str, tmp_path: Path) -> None:
    store, history = _single_machine(tmp_path / "one")
    engine = engine_for(cluster_url)
    copied = copy_into_database(store, history, engine, tmp_path / "one" / "tasks.json")
    assert (copied.tasks, copied.lines) == (3, 2)
    assert "read back and compared: identical" in copied.describe()
    cluster = ClusterTaskStore(engine, tmp_path / "x.json", default_timezone="Europe/Berlin")
    log = ClusterRunLog(engine, "n")
    assert log.get("run-1") is not None and log.get("run-1").status == "success"  # type: ignore[union-attr]
    back = tmp_path / "two" / "tasks.json"
    out = copy_out_to_files(cluster, log, back, tmp_path / "two" / "data" / "runs.jsonl")
    assert (out.tasks, out.lines) == (3, 2)
    again = TaskStore(back, default_timezone="Europe/Berlin").load().tasks
    assert [t.to_dict() for t in again] == [t.to_dict() for t in store.load().tasks]
    assert again[0].summary.run_count == 1
    assert list(RunHistory(tmp_path / "two" / "data" / "runs.jsonl").lines()) == list(
        history.lines()
    )


def test_a_copy_never_merges_into_a_cluster_that_has_tasks(
    cluster_url: str, tmp_path: Path
) -> None:
    store, history = _single_machine(tmp_path)
    engine = engine_for(cluster_url)
    copy_into_database(store, history, engine, tmp_path / "tasks.json")
    with pytest.raises(StoreError, match=r"already holds 3 task\(s\) and 2 history line"):
        copy_into_database(store, history, engine, tmp_path / "tasks.json")


def test_a_copy_out_never_overwrites_a_file(cluster_url: str, tmp_path: Path) -> None:
    engine = engine_for(cluster_url)
    target = tmp_path / "tasks.json"
    target.write_text("{}")
    cluster = ClusterTaskStore(engine, target)
    with pytest.raises(StoreError, match="already exists; a copy writes only new files"):
        copy_out_to_files(cluster, ClusterRunLog(engine, "n"), target, tmp_path / "runs.jsonl")
    assert target.read_text() == "{}" and not (tmp_path / "runs.jsonl").exists()
