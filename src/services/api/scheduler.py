"""/api/scheduler: the scheduler's state, runs in flight, the next runs; pause, resume."""

from __future__ import annotations

import heapq
import threading
import time
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
#: The next runs of 10,000 tasks take ~0.3 s to work out: kept this long.
NEXT_RUNS_CACHE_SECONDS = 10.0
_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()


def next_runs(tasks: list[Task], now: datetime) -> list[dict[str, Any]]:
    key = (id(tasks), len(tasks))
    with _cache_lock:
        if _cache.get("key") == key and time.monotonic() - _cache["at"] < NEXT_RUNS_CACHE_SECONDS:
            return list(_cache["value"])
    soonest = heapq.nsmallest(
        NEXT_RUNS,
        ((moment, task.name, task) for task in tasks if (moment := task.next_run(now))),
        key=lambda item: (item[0], item[1]),
    )
    value = [
        {"task_id": task.id, "task_name": task.name, "at": to_utc_iso(moment)}
        for moment, _, task in soonest
    ]
    with _cache_lock:
        _cache.update(key=key, at=time.monotonic(), value=value)
    return value


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
