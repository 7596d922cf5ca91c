"""Start-up recovery: what an earlier daemon left behind, and what was missed meanwhile.

At start, before any new run:

* :func:`sweep_run_files` removes payload and result files of runs an earlier daemon
  started (they died with it) and temp files of atomic writes a crash cut off;
* :class:`HistoryView` reads the run history once: which occurrences were emailed
  (never sent again), which runs were cut off (``started`` without ``finished``),
  which were waiting for a retry, and the last scheduled occurrence per task;
* :func:`recover` records each cut-off run as ``interrupted`` and asks the timetable
  what every enabled task missed since its baseline: the later of the state file's
  last handled occurrence, the history's last scheduled one and the task's creation.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from src.core.clock import parse_instant
from src.core.task import Task
from src.core.vocabulary import SCHEDULED_TRIGGERS, RunStatus
from src.services.history import RunRecord
from src.services.recorder import RunRecorder
from src.services.scheduler.eventlog import EventLog
from src.services.scheduler.state import StateFile
from src.services.scheduler.timetable import Due, OccurrenceKey, Timetable, occurrence_key
from src.services.steps.process import RUN_MARKER, kill_marked

#: An atomic write's temp file lives for milliseconds; one this old was cut off by a crash.
STALE_TEMP_SECONDS = 600


def sweep_run_files(work_dir: Path, atomic_targets: Iterable[Path]) -> None:
    """Remove what runs of an earlier daemon left in the work folder (payloads, result
    temp files of runs cut off by a crash or kill -9). Holding the instance lock means
    none of them is alive: workers die with their daemon (PR_SET_PDEATHSIG)."""
    if work_dir.is_dir():
        for leftover in work_dir.iterdir():
            if leftover.is_file():
                leftover.unlink(missing_ok=True)
    # Temp files of an atomic write cut off by a crash. manage_tasks.py may be writing
    # tasks.json right now, so only temp files too old to belong to a live write go.
    cutoff = time.time() - STALE_TEMP_SECONDS
    for target in atomic_targets:
        for leftover in target.parent.glob(f".{target.name}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()


#: The exporters' temp name (``export/base.py::AtomicFile``): ``.<name>.<8 hex>.part``.
PART_FILE = re.compile(r"\A\..+\.[0-9a-f]{8}\.part\Z")


def sweep_stale_parts(
    exports_dir: Path, tasks: Iterable[Task], kill_grace: float, now: float | None = None
) -> int:
    """Remove the exporters' temp files (``.<name>.<hex>.part``) in the run folders of
    ``exports_dir`` left by a run killed mid-export (``kill -9``, a hard timeout).

    A run still going (``manage_tasks.py run``, which this daemon's lock does not stop)
    may be writing one, so only a file untouched for longer than any run can last goes:
    the longest ``timeout_seconds`` of ``tasks`` plus ``kill_grace``, and never less than
    :data:`STALE_TEMP_SECONDS`. Returns how many were removed."""
    longest = max((task.timeout_seconds for task in tasks), default=0.0)
    cutoff = (time.time() if now is None else now) - max(STALE_TEMP_SECONDS, longest + kill_grace)
    removed = 0
    if not exports_dir.is_dir():
        return 0
    for folder in exports_dir.iterdir():
        if not folder.is_dir() or folder.is_symlink():
            continue
        for leftover in folder.iterdir():
            if not PART_FILE.match(leftover.name) or not leftover.is_file():
                continue
            with contextlib.suppress(FileNotFoundError):
                if leftover.lstat().st_mtime < cutoff:
                    leftover.unlink()
                    removed += 1
    return removed


@dataclass
class HistoryView:
    """What the run history says about scheduled occurrences (read once, at start)."""

    last_scheduled: dict[str, datetime] = field(default_factory=dict)
    delivered: set[OccurrenceKey] = field(default_factory=set)
    unfinished: list[RunRecord] = field(default_factory=list)
    #: occurrences whose latest run was interrupted, or that waited in a daemon's queue
    #: with no record when it died, and that were not delivered
    to_rerun: dict[str, set[datetime]] = field(default_factory=dict)
    #: occurrences whose latest attempt failed transiently: scheduled time -> that attempt
    #: (a retry that was waiting for its backoff when the scheduler stopped)
    retry_pending: dict[str, dict[datetime, int]] = field(default_factory=dict)

    @classmethod
    def build(cls, runs: Iterable[RunRecord]) -> HistoryView:
        view = cls()
        latest_status: dict[OccurrenceKey, str] = {}
        latest_transient: dict[OccurrenceKey, int] = {}
        waiting: set[tuple[str, datetime]] = set()
        for record in runs:
            text = record.data.get("scheduled_for")
            trigger = record.data.get("trigger")
            if not isinstance(text, str) or trigger not in SCHEDULED_TRIGGERS:
                continue
            try:
                moment = parse_instant(text)
            except ValueError:
                continue
            key = occurrence_key(record.task_id, moment)
            previous = view.last_scheduled.get(record.task_id)
            if previous is None or moment > previous:
                view.last_scheduled[record.task_id] = moment
            if record.email_may_have_gone or record.status == RunStatus.SUCCESS:
                view.delivered.add(key)
            queued_for = record.data.get("queued_for")
            if record.status == RunStatus.SKIPPED and isinstance(queued_for, str):
                with contextlib.suppress(ValueError):  # a hand-edited line: nothing owed
                    waiting.add((record.task_id, parse_instant(queued_for)))
            if record.status == RunStatus.RUNNING:
                view.unfinished.append(record)
                latest_status[key] = RunStatus.INTERRUPTED
            else:
                # a later decision (skipped, run again) settles an occurrence
                latest_status[key] = record.status
                error = record.data.get("error")
                if isinstance(error, dict) and error.get("permanent") is False:
                    latest_transient[key] = int(record.data.get("attempt") or 1)
                else:
                    latest_transient.pop(key, None)
        # an occurrence that waited in a daemon's queue when a later one was skipped, and
        # has no record of its own: that daemon died (kill -9) before starting it. It is
        # owed like an interrupted run (per catch_up), though the history has moved past it.
        for task_id, moment in waiting:
            if occurrence_key(task_id, moment) not in latest_status:
                view.to_rerun.setdefault(task_id, set()).add(moment)
        for (task_id, text), status in latest_status.items():
            if (task_id, text) in view.delivered:
                continue
            if status == RunStatus.INTERRUPTED:
                view.to_rerun.setdefault(task_id, set()).add(parse_instant(text))
            elif (
                status in (RunStatus.FAILED, RunStatus.TIMEOUT)
                and (task_id, text) in latest_transient
            ):
                attempt = latest_transient[(task_id, text)]
                view.retry_pending.setdefault(task_id, {})[parse_instant(text)] = attempt
        return view


def recover(
    tasks: Iterable[Task],
    view: HistoryView,
    state: StateFile,
    timetable: Timetable,
    recorder: RunRecorder,
    events: EventLog,
    now: datetime,
) -> list[Due]:
    """Record the runs an earlier daemon left unfinished; return what each enabled task
    missed (per its catch-up policy), for the dispatcher to admit."""
    for record in view.unfinished:
        interrupted(record, recorder, events)
    missed: list[Due] = []
    for task in tasks:
        if not task.enabled:
            continue
        baseline = max(
            (
                t
                for t in (
                    state.last_handled.get(task.id),
                    view.last_scheduled.get(task.id),
                    task.created_at,
                )
                if t is not None
            ),
            default=now,
        )
        # a retry that was waiting for its backoff when the scheduler stopped runs
        # again (per catch_up), as long as the task's retry policy allows another try
        retries = {
            moment
            for moment, attempt in view.retry_pending.get(task.id, {}).items()
            if attempt <= task.retry.max_retries
        }
        reruns = view.to_rerun.get(task.id, set()) | retries
        due = timetable.missed(task, baseline, now, reruns, view.delivered)
        if due is not None:
            missed.append(due)
    return missed


def interrupted(record: RunRecord, recorder: RunRecorder, events: EventLog) -> None:
    emailed = "emailed" in record.steps
    maybe = record.email_may_have_gone and not emailed
    reason = (
        "the scheduler stopped (crash, kill or power loss) during this run"
        + ("; its email had been sent, so it is not sent again" if emailed else "")
        + (
            "; its email was being sent and may have gone out, so it is not sent again "
            "(run the task by hand if it did not arrive)"
            if maybe
            else ""
        )
    )
    # a step's programs outlive a daemon killed with -9 (only the run's own process dies
    # with it): whatever still carries the run's marker is stopped before anything reruns
    left = kill_marked(RUN_MARKER, record.run_id)
    if left:
        reason += f"; {left} process(es) its steps had started were still running and were stopped"
    recorder.interrupted_at_start(record, reason)
    events.warning(
        "interrupted",
        f"run {record.run_id[:8]} of task {record.task_name!r} (scheduled for "
        f"{record.data.get('scheduled_for')}) was interrupted: {reason}",
        run_id=record.run_id,
        task_id=record.task_id,
        emailed=emailed,
    )
