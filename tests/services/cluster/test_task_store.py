"""The cluster's tasks: src/services/cluster/task_store.py, the file store's contract on a
real PostgreSQL (add, edit, delete, summaries, unique names, the lock, NOTIFY)."""

from __future__ import annotations

import select
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from src.core.errors import DuplicateTaskName, StoreBusy, TaskNotFound
from src.core.task import RunResult, Task
from src.services.cluster.database import engine_for
from src.services.cluster.task_store import CHANNEL, ClusterTaskStore

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def task(name: str, every: str = "1h") -> Task:
    return Task.from_dict(
        {
            "id": str(uuid.uuid4()),
            "name": name,
            "query": "SELECT 1",
            "schedule": {"interval": every},
            "email": {"to": ["a@example.com"]},
        }
    )


def _store(url: str, tmp_path: Path, **kw: float) -> ClusterTaskStore:
    return ClusterTaskStore(engine_for(url), tmp_path / "tasks.json", **kw)  # type: ignore[arg-type]


def test_changes_read_back_in_order_on_another_store(cluster_url: str, tmp_path: Path) -> None:
    one, two = _store(cluster_url, tmp_path), _store(cluster_url, tmp_path)
    assert one.load().tasks == [] and one.exists()
    first = one.add(task("Daily"), NOW)
    one.add(task("Weekly"), NOW)
    before = two.fingerprint()
    two.update("Daily", lambda t: t.with_changes(description="sales"), NOW)
    assert two.fingerprint() != before
    assert [t.name for t in one.load().tasks] == ["Daily", "Weekly"]
    assert one.load().find(first.id).description == "sales"
    with pytest.raises(DuplicateTaskName):
        one.add(task("daily"), NOW)
    two.delete("Weekly")
    assert [t.name for t in one.load().tasks] == ["Daily"]
    with pytest.raises(TaskNotFound):
        one.delete("Weekly")
    assert "[cluster database" in str(one.path) and "cluster database" in one.location()


def test_a_runs_summary_lands_on_the_task_as_it_is_now(cluster_url: str, tmp_path: Path) -> None:
    store = _store(cluster_url, tmp_path)
    added = store.add(task("Daily"), NOW)
    store.update("Daily", lambda t: t.with_changes(description="edited meanwhile"), NOW)
    assert store.record_run(added.id, RunResult("success", NOW, None, NOW)) is None
    now = store.load().find("Daily")
    assert now.description == "edited meanwhile"
    assert now.summary.last_status == "success" and now.summary.run_count == 1
    assert store.apply_pending() == 0


def test_a_runs_summary_rewrites_its_task_row_only(cluster_url: str, tmp_path: Path) -> None:
    """With many tasks, a run's summary is one row written, not one per task (each
    written row gets a new xmin); a delete still keeps the others' order."""
    store = _store(cluster_url, tmp_path)
    added = [store.add(task(f"Task {n}"), NOW) for n in range(30)]

    def versions() -> dict[str, str]:
        with engine_for(cluster_url).begin() as conn:
            rows = conn.execute(sa.text("SELECT id, xmin::text FROM scheduler_tasks")).all()
        return {str(r[0]): str(r[1]) for r in rows}

    before = versions()
    store.record_run(added[7].id, RunResult("success", NOW, None, NOW))
    after = versions()
    assert [i for i in after if after[i] != before[i]] == [added[7].id]
    store.delete("Task 3")
    assert [t.name for t in store.load().tasks] == [f"Task {n}" for n in range(30) if n != 3]


def test_a_second_writer_waits_for_the_lock_then_is_busy(cluster_url: str, tmp_path: Path) -> None:
    holder = _store(cluster_url, tmp_path)
    waiter = _store(cluster_url, tmp_path, lock_timeout=0.3)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder.lock():
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    try:
        with pytest.raises(StoreBusy, match="locked by another command and stayed locked"):
            waiter.add(task("Blocked"), NOW)
    finally:
        release.set()
        thread.join()
    waiter.add(task("Later"), NOW)
    assert [t.name for t in holder.load().tasks] == ["Later"]


def test_every_change_is_announced_to_listeners(cluster_url: str, tmp_path: Path) -> None:
    raw = engine_for(cluster_url).raw_connection()
    try:
        raw.set_isolation_level(0)  # type: ignore[attr-defined]
        cursor = raw.cursor()
        cursor.execute(f"LISTEN {CHANNEL}")
        _store(cluster_url, tmp_path).add(task("Announced"), NOW)
        connection = raw.driver_connection  # type: ignore[attr-defined]
        assert select.select([connection], [], [], 5)[0]
        connection.poll()
        assert [n.channel for n in connection.notifies] == [CHANNEL]
    finally:
        raw.close()
