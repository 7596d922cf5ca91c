"""The timetable: which occurrence of which task is due, and what to do with missed ones.

An :class:`Occurrence` is (task id, scheduled instant in UTC): the unit of "exactly
once". :class:`Timetable` holds the loaded tasks and their APScheduler jobs
(:mod:`jobs`), applies reloads of tasks.json to them, and turns a fire or a
downtime into a :class:`Due`: the occurrences to run and those to record as
skipped. It decides; the dispatcher (:mod:`dispatch`) acts. Every method takes
``now``.

After downtime the occurrences a task missed are planned per its ``catch_up``
policy (:class:`~src.core.vocabulary.CatchUpPolicy`), within its catch-up window:

* ``skip``   -- none is run; each is recorded as skipped.
* ``latest`` -- (default) the latest one is run; the others are recorded as skipped.
* ``all``    -- every one is run, oldest first.

Occurrences older than the window are recorded as skipped whatever the policy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from src.core.clock import to_utc_iso
from src.core.schedule import Schedule, format_period
from src.core.task import Task
from src.core.vocabulary import CatchUpPolicy, Trigger
from src.services.scheduler.clockwatch import ClockStep
from src.services.scheduler.eventlog import EventLog, local_time, short
from src.services.scheduler.jobs import JobTable
from src.services.scheduler.reloader import Update

#: At most this many missed occurrences of one task are listed one by one; the rest are
#: counted. A 1-minute task down for a day misses 1,440: a line each would drown the log.
MAX_LISTED_MISSED = 1000

#: Banner lines listing tasks one by one; past this, a count (10,000 lines help nobody).
BANNER_MAX_TASKS = 200

OccurrenceKey = tuple[str, str]  # (task id, scheduled time as UTC ISO)


@dataclass(frozen=True)
class Occurrence:
    """One fire of one task: what runs (or is skipped) exactly once."""

    task_id: str
    scheduled_for: datetime  # UTC
    trigger: Trigger = Trigger.SCHEDULE
    attempt: int = 1
    #: set when the id was promised before the run started (a webhook's 202 names it)
    run_id: str | None = None
    not_before: float = 0.0  # monotonic time before which a retry may not start

    @property
    def key(self) -> OccurrenceKey:
        return occurrence_key(self.task_id, self.scheduled_for)


def occurrence_key(task_id: str, scheduled_for: datetime) -> OccurrenceKey:
    return (task_id, to_utc_iso(scheduled_for))


# -- catch-up: pure functions -------------------------------------------------------------


@dataclass(frozen=True)
class CatchUp:
    policy: CatchUpPolicy
    window: timedelta

    def describe(self) -> str:
        return f"catch_up={self.policy}, window {format_period(self.window)}"


def catch_up_of(task: Task, default_window: timedelta) -> CatchUp:
    """The task's catch-up policy and window, the daemon's defaults where it sets none."""
    return CatchUp(
        policy=task.catch_up or CatchUpPolicy.LATEST,
        window=task.catch_up_window or default_window,
    )


@dataclass
class Plan:
    """What to do with a task's missed occurrences."""

    run: list[datetime] = field(default_factory=list)
    skipped: list[tuple[datetime, str]] = field(default_factory=list)
    not_listed: int = 0  # skipped occurrences counted but not listed (see MAX_LISTED_MISSED)

    @property
    def missed(self) -> int:
        return len(self.run) + len(self.skipped) + self.not_listed


def missed_occurrences(
    schedule: Schedule, after: datetime, now: datetime, limit: int = MAX_LISTED_MISSED
) -> tuple[list[datetime], int]:
    """Fire times in ``(after, now]``, oldest first: at most ``limit`` listed (the newest ones),
    and how many older ones were left out."""
    times: list[datetime] = []
    dropped = 0
    for moment in schedule.between(after, now):
        times.append(moment)
        if len(times) > 2 * limit:  # keep memory bounded on a long downtime
            dropped += len(times) - limit
            times = times[-limit:]
    if len(times) > limit:
        dropped += len(times) - limit
        times = times[-limit:]
    return times, dropped


def plan_catch_up(
    candidates: Iterable[datetime], catch_up: CatchUp, now: datetime, not_listed: int = 0
) -> Plan:
    """Decide, per policy, which missed occurrences run and which are recorded as skipped."""
    times = sorted(set(candidates))
    plan = Plan(not_listed=not_listed)
    oldest = now - catch_up.window
    inside = [t for t in times if t >= oldest]
    for moment in times:
        if moment < oldest:
            plan.skipped.append(
                (moment, f"missed; older than the catch-up window ({catch_up.describe()})")
            )
    if catch_up.policy == CatchUpPolicy.SKIP:
        plan.skipped.extend((t, f"missed; not run ({catch_up.describe()})") for t in inside)
    elif catch_up.policy == CatchUpPolicy.LATEST:
        if inside:
            plan.run.append(inside[-1])
            plan.skipped.extend(
                (t, f"missed; only the latest missed run is run ({catch_up.describe()})")
                for t in inside[:-1]
            )
    else:
        plan.run.extend(inside)
    plan.skipped.sort()
    return plan


# -- the timetable ------------------------------------------------------------------------


@dataclass
class Due:
    """What the timetable says to do for one task: occurrences to run, in order, and
    occurrences to record as skipped (with why). ``chained``: catch-up decided these run,
    so they wait behind the task's own queued or running runs instead of being refused
    as an overlap."""

    task: Task
    run: list[Occurrence] = field(default_factory=list)
    skipped: list[tuple[datetime, str]] = field(default_factory=list)
    chained: bool = False
    #: catch_up=latest: the latest occurrence replaces older ones of the task still queued
    #: (after a pause, SIGSTOP or a busy spell, the stale one must not run instead of it)
    supersedes: bool = False
    summary: str | None = None  # a catch-up, for the start-up banner


class Timetable:
    def __init__(self, jobs: JobTable, events: EventLog, default_window: timedelta) -> None:
        self.jobs = jobs
        self.events = events
        self.default_window = default_window
        self.tasks: dict[str, Task] = {}
        #: the task list as loaded, replaced (never changed) for the HTTP threads to read
        self.snapshot: list[Task] = []
        self.error: str | None = None  # why the last reload was refused, until a good one
        self._loaded_at: datetime | None = None
        #: fire times in (start, end] were jumped over by the latest forward clock step
        self._passed_over: tuple[datetime, datetime] | None = None

    def load(self, tasks: Iterable[Task], now: datetime, *, schedule: bool) -> None:
        """The tasks read at start; ``schedule``: give each enabled task its job."""
        self._loaded_at = now
        for task in tasks:
            self.tasks[task.id] = task
            if schedule and task.enabled:
                self.jobs.put(task.id, task.schedule, task.schedule.next_after(now))
        self.snapshot = list(self.tasks.values())

    def missed(
        self,
        task: Task,
        baseline: datetime,
        now: datetime,
        reruns: set[datetime],
        delivered: set[OccurrenceKey],
    ) -> Due | None:
        """The occurrences ``task`` missed since ``baseline`` (plus ``reruns``: cut-off or
        retry-pending ones), planned per its catch-up policy; None when there are none."""
        policy = catch_up_of(task, self.default_window)
        # Occurrences older than the window are never run: they are not even listed, so a
        # task created a year ago costs one window of schedule arithmetic, not a year.
        since = max(baseline, now - policy.window)
        missed, not_listed = missed_occurrences(task.schedule, since, now)
        candidates = [t for t in {*missed, *reruns} if occurrence_key(task.id, t) not in delivered]
        if not candidates and not not_listed:
            return None
        plan = plan_catch_up(candidates, policy, now, not_listed)
        if plan.not_listed:
            self.events.info(
                "missed",
                f"task {short(task)}: {plan.not_listed} older missed occurrence(s) not listed",
                task_id=task.id,
                count=plan.not_listed,
            )
        runs = ", ".join(local_time(t, task) for t in plan.run) or "none"
        return Due(
            task,
            run=[Occurrence(task.id, moment, trigger=Trigger.CATCH_UP) for moment in plan.run],
            skipped=plan.skipped,
            chained=True,
            supersedes=policy.policy == CatchUpPolicy.LATEST,
            summary=(
                f"task {short(task)}: {plan.missed} missed occurrence(s) ({policy.describe()}); "
                f"running: {runs}"
            ),
        )

    def fired(
        self, task_id: str, times: list[datetime], now: datetime, delivered: set[OccurrenceKey]
    ) -> Due | None:
        """APScheduler says ``task_id`` is due at ``times`` (several: the machine slept or
        the clock jumped, so some are late and follow the catch-up policy)."""
        task = self.tasks.get(task_id)
        if task is None or not task.enabled:
            return None
        if len(times) > 1 or self._jumped_over(times[0]):
            return self.missed(task, times[0] - timedelta(microseconds=1), now, set(), delivered)
        return Due(task, run=[Occurrence(task_id, times[0])])

    def _jumped_over(self, moment: datetime) -> bool:
        span = self._passed_over
        return span is not None and span[0] < moment <= span[1]

    def on_clock_step(self, step: ClockStep, now: datetime) -> None:
        """Re-plan every job at once after the wall clock jumped.

        Forward: APScheduler is woken, finds the fire times the step jumped over due now
        and hands them over; :meth:`fired` plans them per each task's catch-up policy
        (they are missed occurrences, like the machine's sleep). Backward: every job is
        put again at its next fire time after ``now``, or the next fire would wait for
        the clock to catch up with where it was (an hour of silence after -1 h).
        """
        if step.forward:
            self._passed_over = (step.before, now)
            self.jobs.wakeup()
            return
        self._passed_over = None
        for task in self.tasks.values():
            if task.enabled and task.id in self.jobs:
                self.jobs.put(task.id, task.schedule, task.schedule.next_after(now))

    def apply(self, update: Update, now: datetime) -> None:
        """Bring the jobs in line with a reload; an invalid file keeps the last good set."""
        if update.error is not None:
            self.events.error(
                "reload-failed",
                f"tasks file not reloaded, still running the {len(self.tasks)} task(s) "
                f"loaded before: {update.error}",
            )
            self.error = update.error
            return
        was_bad = self.error is not None
        self.error = None
        previous_load = self._loaded_at or now
        self._loaded_at = update.read_at
        changes = 0
        for task in update.tasks.values():
            old = self.tasks.get(task.id)
            self.tasks[task.id] = task
            if task.id not in update.redefined:
                continue  # only its run summary changed (the daemon's own runs): no churn
            changes += 1
            self._reschedule(task, old, previous_load, now)
        for task_id in update.removed:
            gone = self.tasks.pop(task_id)
            self.jobs.remove(task_id)
            changes += 1
            self.events.info(
                "removed", f"task {short(gone)}: deleted; no more runs", task_id=task_id
            )
        self.snapshot = [self.tasks[task_id] for task_id in update.order]
        if changes or update.forced or was_bad:
            self.events.info(
                "reloaded",
                f"tasks file reloaded{' (valid again)' if was_bad else ''}: {changes} "
                f"change(s), {len(self.jobs)} job(s)",
                changes=changes,
                jobs=len(self.jobs),
            )

    def _reschedule(
        self, task: Task, old: Task | None, previous_load: datetime, now: datetime
    ) -> None:
        if not task.enabled:
            self.jobs.remove(task.id)
            self.events.info(
                "disabled" if old is not None else "added",
                f"task {short(task)}: "
                + ("disabled; no more runs" if old is not None else "added (disabled)"),
                task_id=task.id,
            )
            return
        if old is None:
            # fire times since it was created (or since the last look) are not lost
            since = max(
                t for t in (task.created_at, previous_load - timedelta(seconds=1)) if t is not None
            )
            first = task.schedule.next_after(min(since, now))
            verb = "added"
        else:
            first = task.schedule.next_after(now)
            verb = "enabled" if not old.enabled else "rescheduled"
        self.jobs.put(task.id, task.schedule, first)
        self.events.info(
            verb,
            f"task {short(task)}: {verb}; {task.schedule.describe()}; next run "
            f"{local_time(first, task)} ({task.timezone})",
            task_id=task.id,
            next_run=to_utc_iso(first) if first else None,
        )

    def announce(self, now: datetime) -> None:
        """One banner line per task (up to BANNER_MAX_TASKS): its schedule and next run."""
        for index, task in enumerate(sorted(self.tasks.values(), key=lambda t: t.name.casefold())):
            if index >= BANNER_MAX_TASKS:
                self.events.info(
                    "scheduled",
                    f"... and {len(self.tasks) - BANNER_MAX_TASKS} more task(s); "
                    "`manage_tasks.py next` lists upcoming runs",
                )
                break
            if not task.enabled:
                self.events.info(
                    "scheduled", f"task {short(task)}: disabled", task_id=task.id, enabled=False
                )
                continue
            upcoming = task.schedule.next_after(now)
            self.events.info(
                "scheduled",
                f"task {short(task)}: {task.schedule.describe()}; next run "
                f"{local_time(upcoming, task)} ({task.timezone})",
                task_id=task.id,
                next_run=to_utc_iso(upcoming) if upcoming else None,
            )
