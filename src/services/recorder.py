"""The run recorder: every record of what happened to a run passes through here.

A run's history lines (``started``, one per step such as ``exported`` and
``emailed``, ``finished``), the decisions the daemon takes without a run
(``skipped``, ``interrupted`` at start-up, killed, timed out, not started) and the
task's run summary in tasks.json (``last_run``, ``last_status``, ``next_run``, ...)
are all written by :class:`RunRecorder`. The runner and the daemon call it; nothing
else writes the history or the summary.

Where the lines go is a :class:`RunLog`: today the JSON-lines file of
:mod:`src.services.history`; another store (SQLite, PostgreSQL) is another
implementation of that protocol, and the recorder does not change.

Which records touch the summary: a run that ended (``finished`` with any status
but ``skipped``) counts in ``run_count`` and, unless it succeeded, ``error_count``.
A skipped occurrence and a run found cut off at start-up (``interrupted`` by a
crash) are history only: no run of the task's own happened in this process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from src.core.clock import now as clock_now
from src.core.clock import to_utc_iso
from src.core.errors import StoreError, TaskNotFound
from src.core.task import RunResult
from src.core.vocabulary import RunStatus, Trigger
from src.services.history import RunRecord
from src.services.task_store import TaskStore

if TYPE_CHECKING:  # the daemon imports the recorder; export and mail load in runs only
    from src.services.export import ExportFile
    from src.services.mail import Delivery

log = logging.getLogger(__name__)


class RunLog(Protocol):
    """Where run records are kept: append a line of a run; read runs back, folded."""

    def append(self, event: str, run_id: str, at: datetime, **fields: Any) -> None: ...

    def lines(self, containing: str | None = None) -> Iterator[dict[str, Any]]: ...

    def runs(self, task_id: str | None = None) -> list[RunRecord]: ...

    def get(self, run_id: str) -> RunRecord | None: ...


@dataclass(frozen=True)
class RunRef:
    """Which run a record is about: what every line of it repeats."""

    run_id: str
    task_id: str
    task_name: str
    trigger: Trigger
    scheduled_for: datetime
    attempt: int = 1


def error_json(kind: str, message: str, permanent: bool) -> dict[str, Any]:
    """A run's error as records and the HTTP API show it."""
    return {"type": kind, "message": message, "permanent": permanent}


def file_json(exported: ExportFile) -> dict[str, Any]:
    """An exported file as a run record shows it."""
    return {
        "format": exported.format,
        "path": str(exported.path),
        "size_bytes": exported.size_bytes,
        "rows": exported.rows_written,
    }


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    """A sent (or outboxed) message as a run record shows it."""
    return {
        "recipients": delivery.recipients,
        "message_id": delivery.message_id,
        "outbox_path": str(delivery.outbox_path) if delivery.outbox_path else None,
        "attachments": delivery.attachments_mode,
        "size_bytes": delivery.size_bytes,
        "server": delivery.server,
        "attempts": delivery.attempts,
        "refused": {k: f"{c} {t}" for k, (c, t) in delivery.refused.items()} or None,
        "attached": [p.name for p in delivery.attached] or None,
        "left_off": [str(p) for p in delivery.left_off] or None,
        "attachments_reason": delivery.size_reason or None,
    }


class RunRecorder:
    def __init__(
        self,
        log_: RunLog,
        store: TaskStore | None,
        *,
        clock: Callable[[], datetime] = clock_now,
        hold: Callable[[str, Path, Callable[[], None], OSError], None] | None = None,
    ) -> None:
        self.log = log_
        self.store = store  # None: history only (a reader's tool, a test of the history)
        self.clock = clock
        #: the daemon's: a summary that cannot be written (a full disk) is handed here,
        #: with the write to try again; elsewhere it is a note on the run
        self.hold = hold

    # -- a run's own lines (the runner) -----------------------------------------------------

    def started(self, run: RunRef, at: datetime) -> None:
        self._line("started", run, at, started_at=to_utc_iso(at))

    def step(self, run: RunRef, event: str, **fields: Any) -> None:
        """A step the run completed (``exported``, ``emailed``): durable when this returns,
        so what was done (an email sent) is on record before the next step starts."""
        self.log.append(event, run.run_id, self.clock(), task_id=run.task_id, **fields)

    def step_started(self, run: RunRef, step_id: str, kind: str) -> None:
        """A step of a task with steps begins: a run cut off now is known to have been
        in this step."""
        self.log.append(
            "step_started",
            run.run_id,
            self.clock(),
            task_id=run.task_id,
            step_id=step_id,
            kind=kind,
        )

    def step_ended(self, run: RunRef, result: dict[str, Any]) -> None:
        """A step's record (status, times, CPU and memory, exit code, rows, files, the
        last lines of output, the error): folded into the run's ``step_results``."""
        self.log.append("step", run.run_id, self.clock(), task_id=run.task_id, step=result)

    def finished(
        self,
        run: RunRef,
        status: RunStatus,
        *,
        started_at: datetime,
        at: datetime,
        error: dict[str, Any] | None = None,
        **fields: Any,
    ) -> str | None:
        """The run's last line, then the task's summary. Returns a note when the summary
        could not be written (the history has the run either way)."""
        self._finished_line(run, status, at, error=error, **fields)
        message = str(error.get("message") or "") if error else ""
        return self._summary(run, status, started_at, at, message)

    # -- decisions without a finished run of the worker (the daemon) ------------------------

    def skipped(self, run: RunRef, reason: str, *, queued_for: datetime | None = None) -> None:
        """An occurrence not run (overlap, catch-up policy, already emailed, a promised
        webhook run dropped): history only. ``queued_for``: the task's earlier occurrence
        that was waiting in the daemon's queue, not yet on record (see
        :class:`~src.services.scheduler.recovery.HistoryView`)."""
        fields = {"queued_for": to_utc_iso(queued_for)} if queued_for is not None else {}
        self._finished_line(run, RunStatus.SKIPPED, self.clock(), reason=reason, **fields)

    def interrupted_at_start(self, record: RunRecord, reason: str) -> None:
        """A run an earlier daemon started and never finished (crash, kill -9, power loss)."""
        now = self.clock()
        self.log.append(
            "finished",
            record.run_id,
            now,
            task_id=record.task_id,
            task_name=record.task_name,
            trigger=record.data.get("trigger"),
            scheduled_for=record.data.get("scheduled_for"),
            attempt=record.data.get("attempt"),
            status=RunStatus.INTERRUPTED,
            finished_at=to_utc_iso(now),
            reason=reason,
        )

    def ended_without_result(
        self, run: RunRef, status: RunStatus, message: str, *, started_at: datetime
    ) -> str | None:
        """A run whose worker could not record its own end: killed at its timeout or at
        shutdown, crashed, or never started. A crash may be transient; the others not."""
        permanent = status != RunStatus.FAILED
        return self.finished(
            run,
            status,
            started_at=started_at,
            at=self.clock(),
            error=error_json(str(status), message, permanent),
        )

    # -- internals --------------------------------------------------------------------------

    def _finished_line(self, run: RunRef, status: RunStatus, at: datetime, **fields: Any) -> None:
        self._line("finished", run, at, status=status, finished_at=to_utc_iso(at), **fields)

    def _line(self, event: str, run: RunRef, at: datetime, **fields: Any) -> None:
        """A line that says which run it is about in full (the ``started`` and ``finished``
        lines; a step's line carries only the run and task ids)."""
        self.log.append(
            event,
            run.run_id,
            at,
            task_id=run.task_id,
            task_name=run.task_name,
            trigger=run.trigger,
            scheduled_for=to_utc_iso(run.scheduled_for),
            attempt=run.attempt,
            **fields,
        )

    def _summary(
        self, run: RunRef, status: RunStatus, started_at: datetime, at: datetime, error: str
    ) -> str | None:
        """The run's result added to its task's summary, under the store's lock, on the task
        as it is now in tasks.json (never a stale copy of its definition); queued when a
        person's command holds the lock (see :mod:`src.services.pending_runs`). Returns a
        note when the summary was queued or could not be written."""
        if self.store is None:
            return None
        result = RunResult(str(status), started_at, error or None, at)
        store = self.store
        try:
            return store.record_run(run.task_id, result)
        except OSError as exc:  # tasks.json is untouched: it is replaced only when whole
            if self.hold is not None:
                what = f"the summary of task {run.task_id[:8]} (run {run.run_id[:8]})"
                self.hold(what, store.path, lambda: self._summary_again(run, result), exc)
                return None
            log.warning("run %s: could not update the task summary: %s", run.run_id, exc)
            return f"task summary not updated: {exc.strerror or exc}"
        except TaskNotFound:
            log.info("task %s was deleted during its run; the run is in the history", run.task_id)
        except StoreError as exc:
            # tasks.json broken by hand mid-run: the history holds the run; say so loudly
            log.warning("run %s: could not update the task summary: %s", run.run_id, exc)
            return f"task summary not updated: {exc}"
        return None

    def _summary_again(self, run: RunRef, result: RunResult) -> None:
        """A held summary written later: on the task as it is then; gone or broken: logged."""
        assert self.store is not None
        try:
            self.store.record_run(run.task_id, result)
        except (TaskNotFound, StoreError) as exc:
            log.warning("run %s: held task summary not written: %s", run.run_id, exc)
