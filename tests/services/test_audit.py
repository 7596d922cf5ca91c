"""The audit log: src/services/audit.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from src.core.task import Task
from src.services.audit import Actor, AuditLog, TaskAudit, mask_secrets, task_action
from src.services.retention import RetentionGate

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ACTOR = Actor("os:alice", "cli", "host1")


def task(**changes: object) -> Task:
    data = {
        "id": "t-1",
        "name": "Sales",
        "query": "SELECT 1",
        "schedule": {"cron": "0 9 * * *"},
        "email": {"to": ["a@example.com"]},
        **changes,
    }
    return Task.from_dict(data)


def test_secrets_are_masked_wherever_they_are() -> None:
    masked = mask_secrets(
        {
            "connection": "postgresql://reports:pa55@db.example.com/dw",
            "odbc": "mssql+pyodbc:///?odbc_connect=DRIVER=x;UID=u;PWD=hunter2;",
            "params": {"api_token": "abc", "region": "north"},
            "SMTP_PASSWORD": "mail-secret",
            "list": ["mysql://u:p@h/d"],
        }
    )
    text = json.dumps(masked)
    for secret in ("pa55", "hunter2", "abc", "mail-secret", ":p@"):
        assert secret not in text
    assert masked["connection"] == "postgresql://reports:***@db.example.com/dw"
    assert masked["params"]["region"] == "north"


def test_task_changes_are_written_with_before_after_and_action(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", gate=RetentionGate())
    record = TaskAudit(log, ACTOR)
    old = task()
    new = old.with_changes(connection="postgresql://u:secret@h/db", enabled=False)
    record(None, old)
    record(old, new)
    record(new, new.with_changes(enabled=True))
    record(new, None)
    entries, total = log.newest()
    assert total == 4
    assert [e["action"] for e in entries] == [
        "task.delete",
        "task.enable",
        "task.update",
        "task.create",
    ]
    update = entries[2]
    assert update["actor"] == "os:alice" and update["via"] == "cli" and update["from"] == "host1"
    assert update["changes"] == {
        "connection": {"before": "DATABASE_URL", "after": "postgresql://u:***@h/db"},
        "enabled": {"before": True, "after": False},
    }
    assert "secret" not in (tmp_path / "audit.jsonl").read_text()
    assert log.newest("t-1", limit=1)[0][0]["action"] == "task.delete"
    assert task_action(old, old.with_changes(enabled=False)) == "task.disable"


def test_old_entries_are_pruned_after_keep_days(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", keep_days=30, gate=RetentionGate())
    log.record(ACTOR, "scheduler.pause", at=NOW - timedelta(days=40))
    log.record(ACTOR, "scheduler.resume", at=NOW - timedelta(days=10))
    log.record(ACTOR, "login", at=NOW)  # this append prunes
    assert [e["action"] for e in log.entries()] == ["scheduler.resume", "login"]
