"""Start-up recovery (src/services/scheduler/recovery.py): what the history says is still
owed after a restart."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from src.core.task import Task
from src.core.vocabulary import RunStatus, Trigger
from src.services.history import RunHistory
from src.services.recorder import RunRecorder, RunRef
from src.services.scheduler.recovery import HistoryView, sweep_stale_parts
from src.services.task_store import TaskStore
from tests.daemon_harness import in_process_daemon


def _history_lines(history: RunHistory, task_id: str, at: datetime, *steps: dict) -> None:
    recorder = RunRecorder(history, None, clock=lambda: at)
    for index, fields in enumerate(steps):
        run_id = f"r{index}-{at:%H%M}"
        ref = RunRef(run_id, task_id, "Hourly", Trigger.SCHEDULE, at, fields.get("attempt", 1))
        recorder.started(ref, at)
        if fields["status"] == RunStatus.SKIPPED:
            recorder.skipped(ref, fields["reason"])
        else:
            status = RunStatus(fields["status"])
            recorder.finished(ref, status, started_at=at, at=at, error=fields.get("error"))


def test_a_retry_pending_when_the_scheduler_stopped_runs_after_the_restart(
    tmp_path: Path,
) -> None:
    zone = ZoneInfo("UTC")
    now = datetime(2026, 6, 10, 12, 30, tzinfo=zone)
    store = TaskStore(tmp_path / "tasks.json")
    task = Task.from_dict(
        {
            "id": "retry-1",
            "name": "Hourly",
            "query": "SELECT 1",
            "schedule": {"cron": "0 * * * *"},
            "retry": {"max_retries": 2},
            "catch_up": "all",
        }
    )
    store.add(task, now=now - timedelta(days=3))
    history = RunHistory(tmp_path / "data" / "runs.jsonl")
    transient = {"status": "failed", "error": {"type": "query", "permanent": False}}
    permanent = {"status": "failed", "error": {"type": "query", "permanent": True}}
    noon = datetime(2026, 6, 10, 12, tzinfo=zone)
    _history_lines(history, "retry-1", noon - timedelta(hours=2), {**transient, "attempt": 3})
    _history_lines(history, "retry-1", noon - timedelta(hours=1), permanent)
    _history_lines(history, "retry-1", noon, {**transient, "attempt": 1})
    daemon = in_process_daemon(tmp_path, now)
    daemon.start()
    # 10:00 used up its retries, 11:00 failed for good; 12:00 was waiting for attempt 2
    assert [o.scheduled_for.hour for o in daemon.dispatch.queue] == [12]
    # a later decision settles an occurrence: recorded as skipped, it is not picked again
    _history_lines(history, "retry-1", noon, {"status": "skipped", "reason": "test"})
    used_up = {noon - timedelta(hours=2): 3}  # listed, but the daemon sees no try left
    assert HistoryView.build(history.runs()).retry_pending == {"retry-1": used_up}


def test_partial_export_files_go_only_past_the_longest_a_run_may_last(tmp_path: Path) -> None:
    run_dir = tmp_path / "exports" / "20260101T000000Z_T_run"
    run_dir.mkdir(parents=True)
    part = run_dir / ".T.csv.0123abcd.part"
    part.write_text("x")
    now = part.stat().st_mtime
    long_task = [
        Task.from_dict(
            {"id": "t", "name": "T", "query": "SELECT 1", "schedule": None, "timeout_seconds": 3600}
        )
    ]
    assert sweep_stale_parts(tmp_path / "exports", long_task, 15, now=now + 3000) == 0
    assert part.exists()  # its run may still be going: it may last 3615 s
    assert sweep_stale_parts(tmp_path / "exports", long_task, 15, now=now + 3700) == 1
    assert not part.exists()


def test_an_occurrence_queued_when_the_daemon_died_is_owed_after_the_restart(
    tmp_path: Path,
) -> None:
    """All run slots busy: 09:00 waits in the queue and 09:01, due meanwhile, is recorded
    skipped. kill -9 then leaves 09:00 with no record while the history has moved past it;
    the skip names it (``queued_for``), so the next start still owes it (per catch_up). In
    a cluster any node's start reads the same history (tests/campaigns/test_cluster.py)."""
    from src.services.scheduler.timetable import Occurrence

    zone = ZoneInfo("UTC")
    nine = datetime(2026, 6, 10, 9, 0, tzinfo=zone)
    (tmp_path / "demo.db").touch()
    task = Task.from_dict(
        {
            "id": "minutely",
            "name": "Minutely",
            "query": "SELECT 1",
            "schedule": {"cron": "* * * * *"},
            "catch_up": "latest",
        }
    )
    TaskStore(tmp_path / "tasks.json").add(task, now=nine - timedelta(seconds=30))
    first = in_process_daemon(tmp_path, nine - timedelta(seconds=15))  # nothing missed
    first.start()
    first.dispatch.enqueue(Occurrence(task.id, nine))  # waits: no slot (never started here)
    first.dispatch.enqueue(Occurrence(task.id, nine + timedelta(minutes=1)))
    history = RunHistory(tmp_path / "data" / "runs.jsonl")
    skipped = [r for r in history.runs() if r.data["scheduled_for"] == "2026-06-10T09:01:00Z"]
    assert [(r.status, r.data.get("queued_for")) for r in skipped] == [
        (RunStatus.SKIPPED, "2026-06-10T09:00:00Z")
    ]
    # the daemon dies here (kill -9): 09:00 has no record, 09:01 is the history's latest
    assert HistoryView.build(history.runs()).to_rerun == {task.id: {nine}}
    second = in_process_daemon(tmp_path, nine + timedelta(minutes=1, seconds=20))
    second.start()
    assert [(o.scheduled_for, o.trigger) for o in second.dispatch.queue] == [
        (nine, Trigger.CATCH_UP)
    ]
    # once 09:00 has a record of its own (run, or skipped by a policy), nothing is owed
    _history_lines(history, task.id, nine, {"status": "success"})
    assert HistoryView.build(history.runs()).to_rerun == {}
