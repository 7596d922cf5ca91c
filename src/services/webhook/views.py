"""The JSON the API answers with: the same shapes as ``list/show/history --json``.

``task_json`` mirrors ``src.cli.render.task_json`` (a service may not import the
CLI); a test checks that the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from src.core import defaults
from src.core.clock import to_utc_iso
from src.core.task import Task
from src.services.history import RunRecord
from src.services.run_stats import stats_of
from src.services.webhook.control import HealthState


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def task_json(task: Task, now: datetime, upcoming: int | None = None) -> dict[str, Any]:
    """The task as stored, plus what `list`/`show` compute (next run, fire times)."""
    data = task.to_dict()
    data["schedule_text"] = task.schedule.describe()
    computed = task.next_run(now)
    data["next_run"] = _iso(computed) if computed else None
    if upcoming:
        data["upcoming"] = [_iso(t) for t in task.upcoming(now, upcoming)]
    return data


def task_detail_json(task: Task, now: datetime, runs: Sequence[RunRecord]) -> dict[str, Any]:
    """``show --json``: the task, its next fire times, its success rate and durations over
    the kept history, and its last runs (newest first)."""
    data = task_json(task, now, defaults.SHOW_UPCOMING)
    data["stats"] = stats_of(task.id, task.name, runs).to_json()
    recent = list(runs)[-defaults.SHOW_RECENT_RUNS :]
    data["recent_runs"] = [record.to_json() for record in reversed(recent)]
    return data


def runs_json(runs: Sequence[RunRecord], limit: int) -> list[dict[str, Any]]:
    """``history --json``: newest first, at most ``limit``."""
    return [record.to_json() for record in list(reversed(runs))[:limit]]


def health_json(state: HealthState, healthy: bool, problems: list[str]) -> dict[str, Any]:
    return {
        "status": "ok" if healthy else "unhealthy",
        "scheduler": state.scheduler_state,
        "tasks_loaded": state.tasks_loaded,
        "tasks_file": "unreadable" if state.tasks_file_error else "ok",
        "storage": "full" if state.storage_error else "ok",
        "held_records": state.held_records,
        "last_tick": to_utc_iso(state.last_tick) if state.last_tick else None,
        "queue_depth": state.queue_depth,
        "running": state.running,
        "clock": state.clock or "ok",
        "paused": state.paused,
        "problems": problems,
    }


def health_problems(state: HealthState, now: datetime, max_age: float) -> list[str]:
    """What keeps the scheduler from being healthy, in words (empty: healthy): /health and
    the dashboard."""
    problems: list[str] = []
    if state.scheduler_state != "running":
        problems.append(f"the scheduler is {state.scheduler_state}")
    if state.last_tick is None:
        problems.append("the scheduler loop has not run yet")
    else:
        age = (now - state.last_tick).total_seconds()
        if age > max_age:
            problems.append(
                f"the scheduler loop has not gone round for {age:.0f} s (limit {max_age:g} s)"
            )
    if state.tasks_file_error:
        problems.append(
            "tasks.json cannot be read or is invalid; the scheduler keeps running the last "
            "good set of tasks (the daemon's log says what is wrong)"
        )
    if state.storage_error:
        problems.append(
            "the data folder cannot be written (full or failing); no run starts and due "
            "occurrences are held until it can (the daemon's log names the path and reason)"
        )
    return problems
