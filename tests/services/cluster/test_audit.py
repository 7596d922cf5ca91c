"""The audit log in the cluster database: src/services/cluster/audit.py on a real
PostgreSQL. One contract, two backends (the file's AuditLog and ClusterAuditLog); then
what only the cluster has: entries written through two nodes read back on either, in
order, each naming its node."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from src.services.audit import AuditLog, TaskAudit
from src.services.cluster.audit import ClusterAuditLog
from src.services.cluster.database import ClusterUnavailable, engine_for
from src.services.cluster.stores import open_audit_log
from src.services.retention import RetentionGate
from tests.services.test_audit import ACTOR, NOW, task

pytestmark = pytest.mark.postgres


@pytest.fixture(params=["file", "cluster"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditLog]:
    if request.param == "file":
        yield AuditLog(tmp_path / "audit.jsonl", keep_days=30, gate=RetentionGate())
        return
    url = request.getfixturevalue("cluster_url")
    chosen = open_audit_log({"CLUSTER_DATABASE_URL": url, "NODE_NAME": "n1"}, tmp_path)
    assert isinstance(chosen, ClusterAuditLog)  # chosen where the task store is
    yield ClusterAuditLog(engine_for(url), "n1", tmp_path, keep_days=30, gate=RetentionGate())


def test_entries_read_back_newest_first_by_task_and_action(log: AuditLog) -> None:
    record = TaskAudit(log, ACTOR)
    old = task()
    new = old.with_changes(connection="postgresql://u:secret@h/db", enabled=False)
    record(None, old)
    record(old, new)
    log.record(ACTOR, "login")
    record(new, None)
    entries, total = log.newest()
    assert total == 4
    assert [e["action"] for e in entries] == ["task.delete", "login", "task.update", "task.create"]
    update = entries[2]
    assert update["changes"]["connection"]["after"] == "postgresql://u:***@h/db"
    assert update["actor"] == "os:alice" and update["via"] == "cli" and update["from"] == "host1"
    assert log.newest("t-1", limit=1)[0][0]["action"] == "task.delete"
    assert log.newest("t-1", limit=2, offset=1)[0][0]["action"] == "task.update"
    page, count = log.newest(action="login")
    assert count == 1 and page[0]["action"] == "login" and "task_id" not in page[0]
    assert [e["action"] for e in log.entries("t-1")] == [
        "task.create",
        "task.update",
        "task.delete",
    ]
    assert log.newest("nope") == ([], 0)


def test_old_entries_are_pruned_after_keep_days(log: AuditLog) -> None:
    log.record(ACTOR, "scheduler.pause", at=NOW - timedelta(days=40))
    log.record(ACTOR, "scheduler.resume", at=NOW - timedelta(days=10))
    log.record(ACTOR, "login", at=NOW)  # this append prunes
    assert [e["action"] for e in log.entries()] == ["scheduler.resume", "login"]


def test_two_nodes_entries_are_read_on_either_in_order(cluster_url: str, tmp_path: Path) -> None:
    engine = engine_for(cluster_url)
    a = ClusterAuditLog(engine, "vps-1", tmp_path / "a", gate=RetentionGate())
    b = ClusterAuditLog(engine, "vps-2", tmp_path / "b", gate=RetentionGate())
    a.record(ACTOR, "scheduler.pause", at=NOW)
    b.record(ACTOR, "scheduler.resume", at=NOW - timedelta(seconds=5))  # a clock behind
    a.record(ACTOR, "login", at=NOW)
    for log in (a, b):
        entries, total = log.newest()
        assert total == 3
        assert [(e["action"], e["node"]) for e in entries] == [
            ("login", "vps-1"),
            ("scheduler.resume", "vps-2"),
            ("scheduler.pause", "vps-1"),
        ]
    assert not (tmp_path / "a" / "audit.jsonl").exists()  # nothing left on the node
    with engine.connect() as conn:
        nodes = conn.execute(sa.text("SELECT node FROM scheduler_audit ORDER BY id")).scalars()
        assert list(nodes) == ["vps-1", "vps-2", "vps-1"]


def test_a_database_away_is_an_os_error_naming_the_entry(tmp_path: Path) -> None:
    log = ClusterAuditLog(
        engine_for("postgresql+psycopg2://x:secret@127.0.0.1:1/none"), "n1", tmp_path
    )
    with pytest.raises(ClusterUnavailable, match="recording the audit entry 'login'") as caught:
        log.record(ACTOR, "login")
    assert isinstance(caught.value, OSError) and "secret" not in str(caught.value)
