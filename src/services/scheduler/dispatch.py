"""Dispatch: the run queue, the no-overlap rule, child processes, retries, webhook runs.

The timetable says what is due (:class:`~src.services.scheduler.timetable.Due`);
:class:`Dispatcher` admits it: records what is skipped, queues the rest, starts
queued occurrences as child runs (:mod:`child`) while run slots are free, reaps the
children that ended, records what their worker could not (killed, crashed, never
started) and schedules retries. Exactly once: an occurrence whose email went out
is never started again. All of it runs on the daemon's main loop.

Longer than ~400 lines on purpose: the queue, the no-overlap rule and the children
are one state owned by the main loop; the retry policy is already its own module
(retries.py).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from src.core.clock import to_utc_iso
from src.core.task import Task
from src.core.vocabulary import SCHEDULED_TRIGGERS, RunStatus, Trigger
from src.services.history import RunRecord
from src.services.recorder import RunRecorder, RunRef
from src.services.scheduler.child import ChildRun, PayloadNotWritten
from src.services.scheduler.eventlog import EventLog, local_time, short
from src.services.scheduler.retries import decide_retry
from src.services.scheduler.settings import DaemonSettings
from src.services.scheduler.state import StateFile
from src.services.scheduler.storage import StorageHealth
from src.services.scheduler.timetable import Due, Occurrence, OccurrenceKey
from src.services.scheduler.worker import EXIT_NOT_RECORDED
from src.services.webhook import Metrics, TriggerResult

if TYPE_CHECKING:  # cluster mode only (src/services/cluster/)
    from src.services.cluster.claims import Claims


@dataclass(frozen=True)
class ChildSetup:
    """What every child run is started with, besides its task and occurrence."""

    work_dir: Path
    tasks_file: Path
    env_file: Path | None
    default_timezone: str
    log_level: str
    log_format: str


@dataclass
class OnceResult:
    runs: int = 0
    failed: int = 0


@dataclass
class Busy:
    """Why a task cannot start another run now."""

    running: dict[str, ChildRun] = field(default_factory=dict)
    queued: dict[str, int] = field(default_factory=dict)  # task id -> occurrences waiting
    retrying: dict[str, Occurrence] = field(default_factory=dict)

    def add_queued(self, task_id: str) -> None:
        self.queued[task_id] = self.queued.get(task_id, 0) + 1

    def remove_queued(self, task_id: str) -> None:
        left = self.queued.get(task_id, 0) - 1
        if left > 0:
            self.queued[task_id] = left
        else:
            self.queued.pop(task_id, None)

    def reason(self, task_id: str) -> str | None:
        if task_id in self.running:
            child = self.running[task_id]
            return (
                f"the previous run (run {child.run_id[:8]}, started "
                f"{to_utc_iso(child.started_wall)}) is still running"
            )
        if task_id in self.queued:
            return "the previous occurrence is still queued (all run slots are busy)"
        if task_id in self.retrying:
            return "the previous occurrence is waiting for its retry"
        return None


class Dispatcher:
    def __init__(
        self,
        tasks: dict[str, Task],
        settings: DaemonSettings,
        setup: ChildSetup,
        *,
        recorder: RunRecorder,
        state: StateFile,
        storage: StorageHealth,
        events: EventLog,
        metrics: Metrics,
        clock: Callable[[], datetime],
        once: bool,
    ) -> None:
        self.tasks = tasks  # the timetable's: read only here
        self.settings = settings
        self.setup = setup
        self.recorder = recorder
        self.state = state
        self.storage = storage  # while it cannot be written, no run starts
        self.events = events
        self.metrics = metrics
        self.clock = clock
        self.once = once
        self.busy = Busy()
        self.queue: deque[Occurrence] = deque()
        #: occurrences whose email went out: never started again
        self.delivered: set[OccurrenceKey] = set()
        self.webhook_runs: dict[str, tuple[str, str]] = {}  # run id -> (status, task name)
        self.once_result = OnceResult()
        self.stopping = False
        #: why runs must not prune (the clock is not trusted yet), passed to each run
        self.retention_hold: str | None = None
        #: cluster mode: each scheduled occurrence is claimed before it runs or is recorded
        #: skipped, and one another node claimed is left to it (src/services/cluster/claims.py)
        self.cluster: Claims | None = None
        #: cluster mode: occurrences not yet due by the database's clock (this node's runs
        #: ahead), tried again when they are
        self.early: list[Occurrence] = []

    @property
    def idle(self) -> bool:
        return not (self.queue or self.busy.running or self.busy.retrying)

    # -- admitting what is due ---------------------------------------------------------------

    def admit(self, due: Due, now: datetime) -> None:
        for moment, reason in due.skipped:
            self.skip(due.task, moment, reason, Trigger.CATCH_UP)
        if due.supersedes and due.run:
            self._supersede(due.task, due.run[0].scheduled_for)
        for occurrence in due.run:
            # what catch-up decided to run waits for the task's own runs, in order, instead
            # of being refused as an overlap (catch_up=all runs every one of them)
            self.enqueue(occurrence, behind_own=due.chained)

    def enqueue(self, occurrence: Occurrence, *, behind_own: bool = False) -> None:
        task = self.tasks[occurrence.task_id]
        self.state.mark(task.id, occurrence.scheduled_for)
        reason = None if behind_own else self.busy.reason(task.id)
        if reason is not None and self._only_triggered_runs_ahead(task.id):
            # A webhook run costs no scheduled report: the occurrence waits behind it (never
            # two runs of one task at once) and starts when it ends.
            self.events.info(
                "waiting",
                f"task {short(task)}: occurrence {local_time(occurrence.scheduled_for, task)} "
                f"waits: {reason}; it runs right after",
                task_id=task.id,
                scheduled_for=to_utc_iso(occurrence.scheduled_for),
            )
            reason = None
        if reason is not None:
            self.skip(
                task,
                occurrence.scheduled_for,
                reason,
                occurrence.trigger,
                queued_for=self._waiting(task.id),
            )
            return
        self.busy.add_queued(task.id)
        self.queue.append(occurrence)

    def _waiting(self, task_id: str) -> datetime | None:
        """The task's occurrence of the schedule waiting in the queue with nothing on record
        yet (a retry's earlier attempt is). The skip of a later occurrence names it: that
        skip moves the history past it, so a restart after kill -9 (or, in a cluster, any
        node's start) would otherwise never see that it was owed."""
        return next(
            (
                o.scheduled_for
                for o in self.queue
                if o.task_id == task_id and o.trigger in SCHEDULED_TRIGGERS and o.run_id is None
            ),
            None,
        )

    def _supersede(self, task: Task, latest: datetime) -> None:
        """Drop queued occurrences of ``task``'s schedule older than ``latest`` (recorded
        skipped): with catch_up=latest, the latest due occurrence is the one that runs."""
        stale = [
            o
            for o in self.queue
            if o.task_id == task.id and o.trigger in SCHEDULED_TRIGGERS and o.scheduled_for < latest
        ]
        for occurrence in stale:
            self.queue.remove(occurrence)
            self.busy.remove_queued(task.id)
            self.skip(
                task,
                occurrence.scheduled_for,
                "superseded by a later occurrence that is due (catch_up=latest)",
                occurrence.trigger,
            )

    def _only_triggered_runs_ahead(self, task_id: str) -> bool:
        """Whether all that keeps ``task_id`` busy is webhook runs (running or queued): a
        scheduled occurrence then waits instead of being skipped. One occurrence of the
        schedule already waiting, or a retry, is still a reason to skip the next."""
        child = self.busy.running.get(task_id)
        if child is not None and child.occurrence.trigger in SCHEDULED_TRIGGERS:
            return False
        if task_id in self.busy.retrying:
            return False
        return all(o.trigger == Trigger.WEBHOOK for o in self.queue if o.task_id == task_id)

    def skip(
        self,
        task: Task,
        scheduled_for: datetime,
        reason: str,
        trigger: Trigger,
        *,
        queued_for: datetime | None = None,
    ) -> None:
        run_id = str(uuid.uuid4())
        if trigger in SCHEDULED_TRIGGERS:  # a webhook run is no occurrence of the schedule
            self.state.mark(task.id, scheduled_for)
            if self.cluster is not None and not self.cluster.may_skip(task.id, scheduled_for):
                return  # another node decided this occurrence, and records it
        self.metrics.observe_run(
            {"task_id": task.id, "task_name": task.name, "status": RunStatus.SKIPPED}
        )
        ref = RunRef(run_id, task.id, task.name, trigger, scheduled_for)
        self.recorder.skipped(ref, reason, queued_for=queued_for)
        self.events.info(
            "skipped",
            f"task {short(task)}: occurrence {local_time(scheduled_for, task)} skipped: {reason}",
            task_id=task.id,
            run_id=run_id,
            scheduled_for=to_utc_iso(scheduled_for),
            reason=reason,
        )

    def queue_webhook(self, task_id: str) -> TriggerResult:
        """Queue a webhook run of ``task_id`` now, under the no-overlap rule.

        Its run id is made here and used by the run, so the id in the 202 is the one in
        the history. A refusal queues nothing: a 202 always becomes a run or a record.
        """
        if self.stopping:
            return TriggerResult(None, False, "the scheduler is stopping", unavailable=True)
        task = self.tasks.get(task_id)
        if task is None:
            return TriggerResult(None, False, "the task was deleted from the tasks file")
        if not task.enabled:
            return TriggerResult(None, False, "the task is disabled")
        if not self.storage.ok:  # a run that could not be recorded must not start
            return TriggerResult(
                None,
                False,
                "the scheduler's data folder cannot be written (see /health); no run starts "
                "until it can",
                unavailable=True,
            )
        reason = self.busy.reason(task_id)
        if reason is not None:
            return TriggerResult(None, False, reason)
        run_id = str(uuid.uuid4())
        occurrence = Occurrence(task_id, self.clock(), trigger=Trigger.WEBHOOK, run_id=run_id)
        self.busy.add_queued(task_id)
        self.queue.append(occurrence)
        self.webhook_runs[run_id] = ("queued", task.name)  # the API logs the call itself
        return TriggerResult(run_id, True)

    # -- starting -------------------------------------------------------------------------

    def release_retries(self) -> None:
        moment = time.monotonic()
        for occurrence in [o for o in self.early if o.not_before <= moment]:
            self.early.remove(occurrence)
            self.queue.append(occurrence)
            self.busy.add_queued(occurrence.task_id)
        for task_id, occurrence in list(self.busy.retrying.items()):
            if occurrence.not_before <= moment:
                del self.busy.retrying[task_id]
                self.busy.add_queued(task_id)
                self.queue.append(occurrence)

    def start_queued(self, now: datetime) -> None:
        waiting: list[Occurrence] = []  # next occurrences of tasks that are running
        while (
            self.queue
            and self.storage.ok
            and len(self.busy.running) < self.settings.max_concurrent_runs
            and (self.cluster is None or self.cluster.online)
        ):
            occurrence = self.queue.popleft()
            if occurrence.task_id in self.busy.running:
                waiting.append(occurrence)
                continue
            self.busy.remove_queued(occurrence.task_id)
            task = self.tasks.get(occurrence.task_id)
            if task is None or not task.enabled:
                if occurrence.run_id is not None:
                    self._drop(
                        occurrence, "the task was deleted or disabled before this run started"
                    )
                self.events.info(
                    "dropped",
                    f"occurrence {to_utc_iso(occurrence.scheduled_for)} of task "
                    f"{occurrence.task_id[:8]} not started: the task was deleted or disabled",
                    task_id=occurrence.task_id,
                )
                continue
            # exactly once: this occurrence's report already went out. Only the schedule's
            # occurrences count; a webhook run is an extra run, whatever second it starts in.
            if occurrence.trigger in SCHEDULED_TRIGGERS and occurrence.key in self.delivered:
                self.skip(
                    task,
                    occurrence.scheduled_for,
                    "its email was already sent (exactly once per occurrence)",
                    occurrence.trigger,
                )
                continue
            run_id = occurrence.run_id
            if self.cluster is not None and occurrence.trigger in SCHEDULED_TRIGGERS:
                claim = self.cluster.claim(task.id, occurrence.scheduled_for, occurrence.attempt)
                if claim.outcome == "offline":  # held: claimed once the database is back
                    self.hold(occurrence)
                    break
                if claim.outcome == "early":
                    self.early.append(replace(occurrence, not_before=time.monotonic() + claim.wait))
                    continue
                if claim.outcome == "busy":
                    self.skip(task, occurrence.scheduled_for, claim.reason, occurrence.trigger)
                    continue
                if claim.outcome == "taken":
                    self.events.log(
                        logging.DEBUG,
                        "taken",
                        f"task {short(task)}: occurrence "
                        f"{local_time(occurrence.scheduled_for, task)} is another node's",
                        task_id=task.id,
                    )
                    continue
                run_id = claim.run_id
            self._spawn(task, occurrence, now, run_id)
        self.queue.extendleft(reversed(waiting))

    def _spawn(
        self, task: Task, occurrence: Occurrence, now: datetime, run_id: str | None = None
    ) -> None:
        run_id = run_id or occurrence.run_id or str(uuid.uuid4())
        hard_timeout = float(task.timeout_seconds) + self.settings.run_kill_grace_seconds
        setup = self.setup
        try:
            child = ChildRun.spawn(
                occurrence,
                run_id,
                task.to_dict(),
                work_dir=setup.work_dir,
                tasks_file=setup.tasks_file,
                env_file=setup.env_file,
                default_timezone=setup.default_timezone,
                log_level=setup.log_level,
                log_format=setup.log_format,
                hard_timeout=hard_timeout,
                now=now,
                retention_hold=self.retention_hold,
            )
        except PayloadNotWritten as exc:  # nothing started: held until it can be recorded
            self.storage.failed(f"the payload file of run {run_id[:8]}", exc.path, exc.error)
            self.hold(occurrence)
            return
        except OSError as exc:
            self.events.error(
                "failed", f"task {short(task)}: cannot start a run process: {exc}", task_id=task.id
            )
            ref = self._ref(occurrence, run_id, task.name)
            message = f"cannot start: {exc}"
            self.recorder.ended_without_result(ref, RunStatus.FAILED, message, started_at=now)
            self.webhook_runs.pop(run_id, None)
            self.metrics.observe_run(
                {"task_id": task.id, "task_name": task.name, "status": RunStatus.FAILED}
            )
            return
        self.busy.running[task.id] = child
        if run_id in self.webhook_runs:
            self.webhook_runs[run_id] = ("running", task.name)
        late_ms = (now - occurrence.scheduled_for).total_seconds() * 1000
        self.events.info(
            "started",
            f"task {short(task)}: run {run_id[:8]} started (scheduled "
            f"{local_time(occurrence.scheduled_for, task)}, {occurrence.trigger}, attempt "
            f"{occurrence.attempt}, pid {child.pid}, {late_ms:.0f} ms late)",
            task_id=task.id,
            run_id=run_id,
            scheduled_for=to_utc_iso(occurrence.scheduled_for),
            trigger=occurrence.trigger,
            attempt=occurrence.attempt,
            pid=child.pid,
            late_ms=round(late_ms, 1),
        )

    def hold(self, occurrence: Occurrence) -> None:
        """Back to the head of the queue: it starts first once runs can be recorded."""
        self.busy.add_queued(occurrence.task_id)
        self.queue.appendleft(occurrence)

    @staticmethod
    def _ref(occurrence: Occurrence, run_id: str, task_name: str) -> RunRef:
        return RunRef(
            run_id,
            occurrence.task_id,
            task_name,
            occurrence.trigger,
            occurrence.scheduled_for,
            occurrence.attempt,
        )

    # -- ending -----------------------------------------------------------------------------

    def reap(self) -> None:
        for task_id, child in list(self.busy.running.items()):
            code = child.poll()
            if code is None:
                child.enforce(self.settings.term_to_kill_seconds)
                continue
            del self.busy.running[task_id]
            try:
                self._finished(child, code, self.clock())
            finally:
                child.cleanup()
                self.webhook_runs.pop(child.run_id, None)  # the history has it from here on

    def _finished(self, child: ChildRun, code: int, now: datetime) -> None:
        occurrence = child.occurrence
        task = self.tasks.get(occurrence.task_id)
        name = task.name if task else child.task_name
        result = child.result()
        if result is None and code == EXIT_NOT_RECORDED:
            # its `started` line did not fit: it did nothing, so it is held, not failed
            self.storage.failed(
                f"the 'started' record of run {child.run_id[:8]}",
                self.storage.folder,
                OSError(f"run {child.run_id[:8]} could not record its start (see its log line)"),
            )
            self.hold(occurrence)
            return
        unreadable = False
        if result is None:  # the result file did not fit: the history may have the run's end
            try:
                result = _result_of(self.recorder.log.get(child.run_id))
            except OSError:  # the cluster database is away: see below
                unreadable = True
        emailed = bool(result and result.get("emailed"))
        if result is None:
            # cut off without a result: if its history says the email was being sent, it
            # may have gone out, and a retry could send it twice; a history that cannot be
            # read (the cluster database is away) is taken to say so: never sent twice
            record = None if unreadable else self.recorder.log.get(child.run_id)
            emailed = unreadable or (record is not None and record.email_may_have_gone)
        if emailed and occurrence.trigger in SCHEDULED_TRIGGERS:
            self.delivered.add(occurrence.key)
        permanent = True
        if result is None:
            limit = task.timeout_seconds if task else None
            status, message = child.without_result(
                code, limit, self.settings.run_kill_grace_seconds
            )
            if emailed:
                message += (
                    "; its email was being sent and may have gone out, so it is not sent again"
                )
            permanent = status != RunStatus.FAILED  # a crash may be transient
            ref = self._ref(occurrence, child.run_id, name)
            self.recorder.ended_without_result(ref, status, message, started_at=child.started_wall)
        else:
            status = RunStatus(str(result.get("status")))
            error = result.get("error") or {}
            message = str(error.get("message")) if error else ""
            permanent = bool(error.get("permanent", True))
        duration = time.monotonic() - child.started
        rows = result.get("rows") if result else None
        self.metrics.observe_run(
            {
                "task_id": occurrence.task_id,
                "task_name": name,
                "status": status,
                "duration_seconds": (result or {}).get("duration", duration),
                "rows": rows,
                "emailed": emailed,
                "finished_at": now,
            }
        )
        ok = status == RunStatus.SUCCESS
        self.events.log(
            logging.INFO if ok else logging.WARNING,
            "finished",
            f"task {name!r}: run {child.run_id[:8]} finished: {status}"
            + (f", {rows} rows" if rows is not None else "")
            + f", {duration:.1f} s"
            + (f"; {message}" if message else ""),
            task_id=occurrence.task_id,
            run_id=child.run_id,
            status=status,
            rows=rows,
            duration_seconds=round(duration, 3),
            attempt=occurrence.attempt,
            error=message or None,
        )
        self.once_result.runs += 1
        if not ok:
            retry_pending = self._maybe_retry(task, occurrence, status, permanent, emailed)
            if self.once and not retry_pending:
                self.once_result.failed += 1

    def _maybe_retry(
        self,
        task: Task | None,
        occurrence: Occurrence,
        status: RunStatus,
        permanent: bool,
        emailed: bool,
    ) -> bool:
        """Schedule the next attempt when the task's retry policy allows; True if it did."""
        if task is None or self.stopping:
            return False
        decision = decide_retry(
            task,
            occurrence,
            status,
            permanent=permanent,
            emailed=emailed,
            cap_seconds=self.settings.retry_max_delay_seconds,
            now_monotonic=time.monotonic(),
        )
        if decision.not_retried is not None:
            self.events.info(
                "not-retried",
                f"task {short(task)}: not retried: {decision.not_retried}",
                task_id=task.id,
            )
        retry = decision.attempt
        if retry is None:
            return False
        self.busy.retrying[task.id] = retry
        self.events.info(
            "retry",
            f"task {short(task)}: attempt {retry.attempt} of {task.retry.max_retries + 1} "
            f"in {decision.delay:g} s",
            task_id=task.id,
            attempt=retry.attempt,
            delay_seconds=decision.delay,
        )
        return True

    # -- the wall clock stepped back ---------------------------------------------------------

    def clock_stepped_back(self, now: datetime, by: str) -> None:
        """Occurrences dated after ``now`` came from a clock that ran ahead (a bogus +100 d,
        now corrected): those queued or waiting for a retry are recorded ``skipped`` and
        dropped, so no report dated in that future keeps going out; and their reports
        count as not sent, so the real occurrence at that instant runs when it comes."""
        reason = f"scheduled for a time the clock has not reached: it stepped back {by}"
        kept: deque[Occurrence] = deque()
        for occurrence in self.queue:
            task = self.tasks.get(occurrence.task_id)
            if occurrence.trigger in SCHEDULED_TRIGGERS and occurrence.scheduled_for > now and task:
                self.busy.remove_queued(task.id)
                self.skip(task, occurrence.scheduled_for, reason, occurrence.trigger)
            else:
                kept.append(occurrence)
        self.queue = kept
        for task_id, occurrence in list(self.busy.retrying.items()):
            task = self.tasks.get(task_id)
            if occurrence.scheduled_for > now and task:
                del self.busy.retrying[task_id]
                self.skip(task, occurrence.scheduled_for, reason, occurrence.trigger)
        self.delivered = {key for key in self.delivered if key[1] <= to_utc_iso(now)}

    # -- stopping ---------------------------------------------------------------------------

    def stop(self) -> int:
        """No new runs: drop the queue and pending retries (left to catch-up at the next
        start); a webhook run promised by a 202 is recorded as skipped. Returns how many
        occurrences were left."""
        self.stopping = True
        dropped = len(self.queue) + len(self.busy.retrying)
        for occurrence in self.queue:
            if occurrence.run_id is not None:  # its 202 promised a run: say what became of it
                self._drop(
                    occurrence, "the scheduler stopped before this run started; trigger it again"
                )
        self.queue.clear()
        self.busy.queued.clear()
        self.busy.retrying.clear()
        return dropped

    def _drop(self, occurrence: Occurrence, reason: str) -> None:
        """A promised webhook run that will not start: recorded ``skipped`` under its id."""
        assert occurrence.run_id is not None
        name = self.webhook_runs.pop(occurrence.run_id, ("", ""))[1]
        self.recorder.skipped(self._ref(occurrence, occurrence.run_id, name), reason)
        self.metrics.observe_run(
            {"task_id": occurrence.task_id, "task_name": name, "status": RunStatus.SKIPPED}
        )

    def seconds_to_next_event(self, limit: float) -> float:
        """How long the loop may sleep: until a child's deadline or a retry's time."""
        timeout = limit
        moment = time.monotonic()
        for child in self.busy.running.values():
            timeout = min(timeout, child.seconds_to_next_check())
        for occurrence in [*self.busy.retrying.values(), *self.early]:
            timeout = min(timeout, max(occurrence.not_before - moment, 0.0))
        return timeout


def _result_of(record: RunRecord | None) -> dict[str, Any] | None:
    """A finished run's record as the worker's result would have said it."""
    if record is None or not record.finished:
        return None
    return {
        "status": record.status,
        "rows": record.data.get("rows"),
        "emailed": record.email_may_have_gone,
        "error": record.data.get("error"),
    }
