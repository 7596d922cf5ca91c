"""APScheduler 3.x wiring: one job per enabled task, fired by our own schedule code.

APScheduler keeps the timetable (a sorted job store and one thread that sleeps until
the next fire time); *when* a task fires is decided by ``src.core.schedule``, wrapped
in :class:`ScheduleTrigger`, so cron's day-of-week numbering and the DST rules are
ours (APScheduler's ``CronTrigger.from_crontab`` counts weekdays from Monday = 0 and
fires twice in a repeated hour). Due jobs are not run by APScheduler either:
:class:`DispatchExecutor` hands each (task id, scheduled times) to the daemon at
once, which runs it in a child process, so a slow run never delays another fire.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.base import BaseExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger

from src.core.schedule import Schedule

#: How far behind ``now`` APScheduler may walk a schedule one fire time at a time. Past
#: it (a +100 d clock step, a long suspend) the trigger jumps to the last minute: a 1 s
#: schedule would otherwise be walked 8.6 million times in APScheduler's thread. The
#: daemon plans the missed ones itself from the first fire time (catch-up window).
FAR_BEHIND = timedelta(minutes=1)

#: Called from the scheduler's thread with a task id and the fire times that are due.
FireCallback = Callable[[str, list[datetime]], None]


class ScheduleTrigger(BaseTrigger):  # type: ignore[misc]
    """An APScheduler trigger that asks a :class:`Schedule` for the next fire time.

    ``skew`` is what the daemon's clock is ahead of this machine's wall clock, which
    APScheduler sleeps by: zero alone; in cluster mode the database's clock less the
    local one (:attr:`~src.services.cluster.node.ClusterNode.offset`). APScheduler's
    times are the schedule's less the skew, so a node whose clock runs 30 s ahead fires
    at the database's time, not 30 s before it. One skew per trigger: the round trip is
    exact, so no fire time comes twice."""

    __slots__ = ("schedule", "skew")

    def __init__(self, schedule: Schedule, skew: timedelta = timedelta(0)) -> None:
        self.schedule = schedule
        self.skew = skew

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        now = now + self.skew
        previous = None if previous_fire_time is None else previous_fire_time + self.skew
        if previous is not None and previous < now - FAR_BEHIND:
            found = self.schedule.next_after(now - FAR_BEHIND)
        else:
            found = self.schedule.next_after(previous or now)
        return None if found is None else found - self.skew

    def __str__(self) -> str:
        return self.schedule.describe()


class DispatchExecutor(BaseExecutor):  # type: ignore[misc]
    """Hands due fire times to the daemon; runs nothing itself.

    No instance counting and no misfire grace: overlap, lateness and missed runs are
    the daemon's to judge (and record), not silently dropped here.
    """

    def __init__(self, on_fire: FireCallback) -> None:
        super().__init__()
        self._on_fire = on_fire

    def submit_job(self, job: Any, run_times: list[datetime]) -> None:
        skew = getattr(job.trigger, "skew", timedelta(0))
        self._on_fire(str(job.id), [(t + skew).astimezone(UTC) for t in run_times])

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:  # pragma: no cover
        raise NotImplementedError  # submit_job above never calls it


def _never_called() -> None:  # the job's function: DispatchExecutor never calls it
    raise RuntimeError("jobs are dispatched by DispatchExecutor, not called")


class JobTable:
    """The daemon's APScheduler: add, replace and remove one job per task id."""

    def __init__(self, on_fire: FireCallback) -> None:
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self.scheduler.add_executor(DispatchExecutor(on_fire), "default")
        # APScheduler logs every add/remove at INFO; the daemon logs its own events.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self._ids: set[str] = set()
        #: the daemon's clock less this machine's (see :class:`ScheduleTrigger`); set
        #: before jobs are put, and jobs are put again when it changes
        self.skew = timedelta(0)

    def __contains__(self, task_id: str) -> bool:
        return task_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def put(self, task_id: str, schedule: Schedule, first: datetime | None) -> None:
        """Schedule ``task_id`` to fire first at ``first`` (None: never), then per schedule."""
        self.remove(task_id)
        if first is None:
            return
        self.scheduler.add_job(
            _never_called,
            trigger=ScheduleTrigger(schedule, self.skew),
            id=task_id,
            next_run_time=first - self.skew,
            coalesce=False,
            misfire_grace_time=None,
            max_instances=1_000_000,
        )
        self._ids.add(task_id)

    def remove(self, task_id: str) -> None:
        if task_id in self._ids:
            self._ids.discard(task_id)
            # JobLookupError: a once job already fired and APScheduler dropped it
            with contextlib.suppress(JobLookupError):
                self.scheduler.remove_job(task_id)

    def wakeup(self) -> None:
        """Make APScheduler look again now. It sleeps on a ``threading.Event`` for a
        timeout worked out from the *wall-clock* next fire time, and that timeout runs on
        the monotonic clock: after a step of the wall clock it wakes at the wrong time."""
        if self.scheduler.running:
            self.scheduler.wakeup()

    def start(self) -> None:
        self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
