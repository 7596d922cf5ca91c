"""Idempotency keys (src/services/webhook/idempotency.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from src.services.webhook.idempotency import IdempotencyStore

# --- idempotency file -------------------------------------------------------------------------


def test_idempotency_keys_expire_and_the_file_is_compacted(tmp_path: Path) -> None:
    path = tmp_path / "keys.jsonl"
    now = [datetime(2026, 11, 23, 9, 0, tzinfo=UTC)]
    store = IdempotencyStore(path, timedelta(hours=24), clock=lambda: now[0])
    store.remember("task", "old", "run-1")
    now[0] += timedelta(hours=23)
    store.remember("task", "new", "run-2")
    assert store.get("task", "old") is not None
    now[0] += timedelta(hours=2)
    assert store.get("task", "old") is None
    assert store.get("other-task", "new") is None
    with path.open("a") as handle:
        handle.write('{"task_id": "task", "key": "torn"')  # a crash mid-line
    reloaded = IdempotencyStore(path, timedelta(hours=24), clock=lambda: now[0])
    entry = reloaded.get("task", "new")
    assert entry is not None and entry.run_id == "run-2"
    assert reloaded.get("task", "old") is None
    assert len(path.read_text().splitlines()) == 1
    assert path.stat().st_mode & 0o777 == 0o600
