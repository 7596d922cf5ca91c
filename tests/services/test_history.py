"""Run history (src/services/history.py): retention and a torn last line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from src.services.history import RunHistory


def test_history_retention_drops_old_runs(tmp_path):
    history = RunHistory(tmp_path / "runs.jsonl", keep_days=30)
    now = datetime(2026, 11, 23, tzinfo=UTC)
    for run_id, age in (("old", 40), ("recent", 5)):
        at = now - timedelta(days=age)
        history.append("started", run_id, at, task_id="t", task_name="T")
        history.append("finished", run_id, at, task_id="t", status="success")
    # appending on a new day pruned the 40-day-old run (keep_days=30)
    assert [r.run_id for r in history.runs()] == ["recent"]
    assert history.runs()[0].status == "success"
    assert history.prune(now + timedelta(days=26)) == 2
    assert history.runs() == []


def test_history_skips_a_torn_last_line(tmp_path):
    path = tmp_path / "runs.jsonl"
    history = RunHistory(path)
    history.append("started", "r1", datetime(2026, 11, 23, tzinfo=UTC), task_id="t")
    with path.open("a") as handle:
        handle.write('{"event": "finished", "run_id": "r1", "sta')  # crash mid-write
    (record,) = history.runs()
    assert record.status == "running"
