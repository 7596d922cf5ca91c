"""The run recorder: what each record says, what it does to the summary, and that it is
the only writer of run records and summaries in src/.

The contract tests run against every RunLog implementation (today the JSON-lines
history); a second store is added to ``LOGS`` and must pass the same tests.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from src.core.task import Task
from src.core.vocabulary import RunStatus, Trigger
from src.services.history import RunHistory
from src.services.recorder import RunLog, RunRecorder, RunRef, error_json
from src.services.task_store import TaskStore
from tests.servers import ROOT

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

LOGS: dict[str, Callable[[Path], RunLog]] = {
    "jsonl": lambda folder: RunHistory(folder / "runs.jsonl"),
}


@pytest.fixture(params=sorted(LOGS))
def log(request: pytest.FixtureRequest, tmp_path: Path) -> RunLog:
    return LOGS[request.param](tmp_path)


@pytest.fixture
def store(tmp_path: Path) -> TaskStore:
    store = TaskStore(tmp_path / "tasks.json")
    task = Task.from_dict(
        {
            "id": "task-1",
            "name": "Hourly",
            "query": "SELECT 1",
            "schedule": {"cron": "0 * * * *"},
            "timezone": "Europe/Berlin",
        }
    )
    store.add(task, now=NOW - timedelta(days=1))
    return store


def _ref(run_id: str = "run-1", trigger: Trigger = Trigger.SCHEDULE, attempt: int = 1) -> RunRef:
    return RunRef(run_id, "task-1", "Hourly", trigger, NOW, attempt)


def test_a_run_is_folded_from_its_started_step_and_finished_lines(
    log: RunLog, store: TaskStore
) -> None:
    recorder = RunRecorder(log, store, clock=lambda: NOW + timedelta(seconds=3))
    recorder.started(_ref(), NOW)
    recorder.step(_ref(), "exported", rows=2, files=[])
    note = recorder.finished(
        _ref(), RunStatus.SUCCESS, started_at=NOW, at=NOW + timedelta(seconds=4), rows=2
    )
    assert note is None
    record = log.get("run-1")
    assert record is not None
    assert record.status == RunStatus.SUCCESS
    assert record.steps == ["started", "exported", "finished"]
    assert record.data["trigger"] == "schedule"
    assert record.data["scheduled_for"] == "2026-11-30T09:00:00Z"
    assert record.data["attempt"] == 1
    assert record.data["rows"] == 2


def test_finished_updates_the_summary_next_run_from_the_schedule(
    log: RunLog, store: TaskStore
) -> None:
    recorder = RunRecorder(log, store, clock=lambda: NOW)
    recorder.started(_ref(), NOW)
    recorder.finished(
        _ref(),
        RunStatus.FAILED,
        started_at=NOW,
        at=NOW + timedelta(minutes=5),
        error=error_json("query", "no such table: sales", True),
    )
    summary = store.load().find("task-1").summary
    assert summary.last_run == NOW
    assert summary.last_status == "failed"
    assert summary.last_error == "no such table: sales"
    assert summary.next_run == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # the schedule's
    assert (summary.run_count, summary.error_count) == (1, 1)
    recorder.finished(_ref("run-2"), RunStatus.SUCCESS, started_at=NOW, at=NOW)
    summary = store.load().find("task-1").summary
    assert (summary.last_status, summary.last_error) == ("success", None)
    assert (summary.run_count, summary.error_count) == (2, 1)


def test_skipped_and_interrupted_at_start_are_history_only(log: RunLog, store: TaskStore) -> None:
    recorder = RunRecorder(log, store, clock=lambda: NOW)
    recorder.skipped(_ref("skip-1", Trigger.CATCH_UP), "missed; not run")
    recorder.started(_ref("cut-1"), NOW)
    (cut,) = [r for r in log.runs() if r.run_id == "cut-1"]
    recorder.interrupted_at_start(cut, "the scheduler stopped")
    records = {r.run_id: r for r in log.runs("task-1")}
    assert records["skip-1"].status == RunStatus.SKIPPED
    assert records["skip-1"].data["reason"] == "missed; not run"
    assert records["cut-1"].status == RunStatus.INTERRUPTED
    assert records["cut-1"].data["trigger"] == "schedule"
    assert store.load().find("task-1").summary.run_count == 0


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(RunStatus.TIMEOUT, True), (RunStatus.INTERRUPTED, True), (RunStatus.FAILED, False)],
)
def test_a_run_without_a_result_says_whether_a_retry_can_help(
    log: RunLog, store: TaskStore, status: RunStatus, permanent: bool
) -> None:
    recorder = RunRecorder(log, store, clock=lambda: NOW)
    recorder.started(_ref(), NOW)
    recorder.ended_without_result(_ref(), status, "it ended", started_at=NOW)
    record = log.get("run-1")
    assert record is not None and record.status == status
    assert record.data["error"] == {
        "type": str(status),
        "message": "it ended",
        "permanent": permanent,
    }
    assert store.load().find("task-1").summary.error_count == 1


def test_a_deleted_task_keeps_its_run_in_the_history(log: RunLog, store: TaskStore) -> None:
    store.delete("task-1")
    recorder = RunRecorder(log, store, clock=lambda: NOW)
    recorder.started(_ref(), NOW)
    assert recorder.finished(_ref(), RunStatus.SUCCESS, started_at=NOW, at=NOW) is None
    record = log.get("run-1")
    assert record is not None and record.status == RunStatus.SUCCESS


def test_a_broken_tasks_file_is_a_note_not_a_lost_record(log: RunLog, store: TaskStore) -> None:
    store.path.write_text("{ not json")
    recorder = RunRecorder(log, store, clock=lambda: NOW)
    note = recorder.finished(_ref(), RunStatus.SUCCESS, started_at=NOW, at=NOW)
    assert note is not None and note.startswith("task summary not updated: ")
    record = log.get("run-1")
    assert record is not None and record.status == RunStatus.SUCCESS
    assert store.path.read_text() == "{ not json"  # never "repaired" by overwriting


# -- the recorder is the only writer ----------------------------------------------------------

RECORDER = Path("src/services/recorder.py")
STORE = Path("src/services/task_store.py")
#: The JSON-lines log itself appends (it is the RunLog). A run's result (RunResult) is
#: made by the recorder alone (pending_runs reads queued ones back); the model builds
#: Summary values (RunResult.applied_to, the reader); only the recorder asks the store to
#: record a run.
OWNERS = {
    "append": {RECORDER, Path("src/services/history.py")},
    "RunResult": {RECORDER, Path("src/services/pending_runs.py")},
    "Summary": {Path("src/core/task.py"), Path("src/core/task_reader.py")},
    "record_run": {RECORDER},
}
EVENTS = {"started", "exported", "emailing", "emailed", "finished"}


def _writers() -> dict[str, set[Path]]:
    """Who calls a RunLog's ``append`` with a run event, builds a ``RunResult`` or a
    ``Summary``, or calls the store's ``record_run`` / ``update_summary``."""
    found: dict[str, set[Path]] = {kind: set() for kind in OWNERS}
    for path in sorted((ROOT / "src").rglob("*.py")):
        relative = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name) and func.id in ("Summary", "RunResult"):
                found[func.id].add(relative)
            if not isinstance(func, ast.Attribute):
                continue
            first = node.args[0] if node.args else None
            if func.attr == "append" and isinstance(first, ast.Constant) and first.value in EVENTS:
                found["append"].add(relative)
            if func.attr in ("record_run", "update_summary") and relative != STORE:
                found["record_run"].add(relative)
    return found


def test_only_the_recorder_writes_run_records_and_summaries() -> None:
    writers = _writers()
    for kind, owners in OWNERS.items():
        assert writers[kind] <= owners, f"{kind} written outside the recorder: {writers[kind]}"
    assert RECORDER in writers["append"] and RECORDER in writers["record_run"]
