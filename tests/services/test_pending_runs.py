"""Run summaries queued while tasks.json's lock is held (src/services/pending_runs.py and
TaskStore.record_run / apply_pending): a run's end never waits on a person's command."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from src.core.task import RunResult, Task
from src.services.pending_runs import PendingRuns
from src.services.task_store import SUMMARY_LOCK_SECONDS, TaskStore
from tests.servers import ROOT

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

_HOLD_THE_LOCK = """
import sys, time
from src.services.task_store import TaskStore
with TaskStore(sys.argv[1]).lock():
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _store(tmp_path: Path) -> TaskStore:
    store = TaskStore(tmp_path / "tasks.json")
    task = Task.from_dict(
        {"id": "t1", "name": "Hourly", "query": "SELECT 1", "schedule": {"cron": "0 * * * *"}}
    )
    store.add(task, now=NOW - timedelta(days=1))
    return store


def _result(minutes: int, status: str = "success") -> RunResult:
    started = NOW + timedelta(minutes=minutes)
    return RunResult(status, started, None if status == "success" else "boom", started)


def test_results_apply_in_any_order_to_the_same_summary(tmp_path: Path) -> None:
    task = _store(tmp_path).load().find("t1")
    results = [_result(0), _result(60, "failed"), _result(120)]
    forward = task
    for result in results:
        forward = forward.with_changes(summary=result.applied_to(forward))
    backward = task
    for result in reversed(results):
        backward = backward.with_changes(summary=result.applied_to(backward))
    assert forward.summary == backward.summary
    assert (forward.summary.run_count, forward.summary.error_count) == (3, 1)
    assert forward.summary.last_run == NOW + timedelta(minutes=120)
    assert forward.summary.last_status == "success"


def test_a_held_lock_queues_the_summary_and_the_next_writer_applies_it(tmp_path: Path) -> None:
    store = _store(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_THE_LOCK, str(store.path), "30"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        started = time.monotonic()
        note = store.record_run("t1", _result(0))
        waited = time.monotonic() - started
        assert note is not None and "is locked by another process" in note
        assert waited < store.lock_timeout  # a bounded wait, not the editor's 30 s
        assert waited >= SUMMARY_LOCK_SECONDS * 0.9
        assert store.apply_pending() == 0  # still held: nothing written, nothing lost
        assert store.load().find("t1").summary.run_count == 0
    finally:
        holder.kill()
        holder.wait()
    assert store.record_run("t1", _result(60, "failed")) is None  # takes the queued one too
    summary = store.load().find("t1").summary
    assert (summary.run_count, summary.error_count, summary.last_status) == (2, 1, "failed")
    assert not store.pending_path.exists()


def test_apply_pending_writes_what_was_queued(tmp_path: Path) -> None:
    store = _store(tmp_path)
    pending = PendingRuns(store.pending_path)
    pending.append("t1", _result(0))
    pending.append("gone", _result(0))  # a task deleted meanwhile: skipped, not an error
    with store.pending_path.open("a") as handle:
        handle.write('{"task_id": "t1", "sta')  # a torn last line waits for its end
    assert store.apply_pending() == 2
    assert store.load().find("t1").summary.run_count == 1
    assert store.pending_path.read_text() == '{"task_id": "t1", "sta'
