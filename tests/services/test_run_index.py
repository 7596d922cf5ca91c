"""The run index beside the history: src/services/run_index.py, against RunHistory's own
fold of the same file (the JSON-lines history stays the record)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from src.services.history import RunHistory
from src.services.retention import RetentionGate
from src.services.run_index import IndexUnavailable, RunIndex, RunQuery

START = datetime(2026, 3, 1, tzinfo=UTC)


def write_runs(history: RunHistory, count: int, first: int = 0) -> None:
    for n in range(first, first + count):
        at = START + timedelta(minutes=n)
        run_id, task = f"run-{n:04d}", f"task-{n % 3}"
        history.append(
            "started",
            run_id,
            at,
            task_id=task,
            task_name=task,
            trigger="schedule" if n % 2 else "webhook",
            started_at=at.isoformat(),
        )
        history.append("exported", run_id, at, task_id=task, rows=n)
        history.append(
            "finished",
            run_id,
            at,
            task_id=task,
            task_name=task,
            status="failed" if n % 5 == 0 else "success",
        )


def test_pages_match_the_history_and_follow_appends(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "runs.jsonl", keep_days=3650, gate=RetentionGate())
    write_runs(history, 30)
    index = RunIndex(history.path)
    page, total = index.page(RunQuery(task_id="task-1", limit=4))
    expected = [r.to_json() for r in reversed(history.runs("task-1"))]
    assert total == len(expected) == 10 and page == expected[:4]
    failed, count = index.page(RunQuery(status="failed", trigger="webhook", limit=50))
    assert count == 3 and {r["run_id"] for r in failed} == {"run-0000", "run-0010", "run-0020"}
    window, _ = index.page(RunQuery(since="2026-03-01T00:10:00Z", until="2026-03-01T00:12:00Z"))
    assert [r["run_id"] for r in window] == ["run-0011", "run-0010"]
    write_runs(history, 2, first=30)  # appended after the index was built
    history.append("started", "run-9999", START, task_id="task-0", task_name="task-0")
    newest, total = index.page(RunQuery(limit=1))
    assert total == 33 and newest[0]["run_id"] == "run-0031"
    record, lines = index.lines_of("run-0031") or (None, [])
    assert record is not None and record.status == "success" and record.data["rows"] == 31
    assert [line["event"] for line in lines] == ["started", "exported", "finished"]
    assert index.get("run-9999") == history.get("run-9999")


def test_a_rewritten_history_is_indexed_again_and_a_torn_line_waits(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "runs.jsonl", keep_days=3650, gate=RetentionGate())
    write_runs(history, 5)
    index = RunIndex(history.path)
    assert index.page(RunQuery())[1] == 5
    kept = history.path.read_bytes().splitlines(keepends=True)[6:]  # the first 2 runs pruned
    tmp = history.path.with_suffix(".tmp")
    tmp.write_bytes(b"".join(kept))
    os.replace(tmp, history.path)  # a new file, as the prune's atomic rewrite makes
    assert index.page(RunQuery())[1] == 3
    with history.path.open("ab") as handle:
        handle.write(b'{"event": "started", "run_id": "half')  # being written
    assert index.page(RunQuery())[1] == 3
    with history.path.open("ab") as handle:
        handle.write(b'", "task_id": "t", "at": "2026-03-02T00:00:00Z"}\n')
    assert index.page(RunQuery(task_id="t"))[1] == 1


def test_an_index_that_cannot_be_written_says_so_and_catches_up_later(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "runs.jsonl")
    write_runs(history, 4)
    blocked = tmp_path / "index"
    blocked.write_text("a file where the index's folder should be")
    index = RunIndex(history.path, blocked / "runs.sqlite")
    with pytest.raises(IndexUnavailable) as caught:
        index.page(RunQuery(limit=10))
    message = str(caught.value)
    assert str(history.path) in message and "is intact" in message
    assert "catches up by itself" in message
    assert history.runs()  # the history is untouched
    blocked.unlink()  # space (or permission) is back
    rows, total = index.page(RunQuery(limit=10))
    assert total == 4 and rows[0]["run_id"] == "run-0003"
