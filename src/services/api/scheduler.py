"""/api/scheduler: the scheduler's state, runs in flight, the next runs; pause, resume."""

from __future__ import annotations

import heapq
import threading
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify

from src.core.clock import now as clock_now
from src.core.clock import to_utc_iso
from src.core.task import Task
from src.services.api.authn import actor, require
from src.services.api.context import context
from src.services.auth.roles import Principal, Role

blueprint = Blueprint("scheduler", __name__)
NEXT_RUNS = 10


class SoonestRuns:
    """The soonest fire times of many tasks, kept per task between calls.

    Working out the next fire time of 10,000 tasks takes ~0.3-1 s (each a cron search);
    a task's next fire time changes only when it has passed or its schedule, zone or
    enabled flag changed, so each call works out just those again (a few, usually none)
    and answers exactly, never a cached list that may hold a run already gone.
    """

    def __init__(self) -> None:
        self._known: dict[str, tuple[Any, datetime | None]] = {}
        self._lock = threading.Lock()

    def soonest(self, tasks: list[Task], now: datetime, count: int) -> list[tuple[datetime, Task]]:
        with self._lock:
            fresh: dict[str, tuple[Any, datetime | None]] = {}
            for task in tasks:
                key = (task.enabled, task.timezone, task.schedule)
                found = self._known.get(task.id)
                if found is None or found[0] != key or (found[1] is not None and found[1] <= now):
                    found = (key, task.next_run(now))
                fresh[task.id] = found
            self._known = fresh
            moments = {task_id: moment for task_id, (_, moment) in fresh.items() if moment}
        soonest = heapq.nsmallest(
            count,
            ((moment, task.name, task) for task in tasks if (moment := moments.get(task.id))),
            key=lambda item: (item[0], item[1]),
        )
        return [(moment, task) for moment, _, task in soonest]

    def clear(self) -> None:
        with self._lock:
            self._known = {}


SOONEST = SoonestRuns()


def next_runs(tasks: list[Task], now: datetime) -> list[dict[str, Any]]:
    return [
        {"task_id": task.id, "task_name": task.name, "at": to_utc_iso(moment)}
        for moment, task in SOONEST.soonest(tasks, now, NEXT_RUNS)
    ]


def state() -> dict[str, Any]:
    control = context().control
    health = control.health()
    tasks = control.tasks()
    return {
        "state": health.scheduler_state,
        **control.pause_state(),
        "tasks": {
            "total": len(tasks),
            "enabled": sum(1 for t in tasks if t.enabled),
            "failing": sum(
                1 for t in tasks if t.summary.last_status not in (None, "success", "skipped")
            ),
        },
        "last_tick": to_utc_iso(health.last_tick) if health.last_tick else None,
        "queue_depth": health.queue_depth,
        "in_flight": control.in_flight(),
        "next_runs": next_runs(tasks, clock_now()),
    }


@blueprint.get("/api/scheduler")
def show() -> Response:
    require(Role.VIEWER)
    return jsonify(state())


def set_paused(paused: bool, principal: Principal) -> dict[str, Any]:
    """Pause or resume the scheduler (persisted by the daemon), with the audit entry."""
    ctx = context()
    result = ctx.control.set_paused(paused, principal.label)
    ctx.audit.record(actor(principal), "scheduler.pause" if paused else "scheduler.resume")
    return result


def _set(paused: bool) -> Response:
    return jsonify(set_paused(paused, require(Role.OPERATOR)))


@blueprint.post("/api/scheduler/pause")
def pause() -> Response:
    return _set(True)


@blueprint.post("/api/scheduler/resume")
def resume() -> Response:
    return _set(False)
