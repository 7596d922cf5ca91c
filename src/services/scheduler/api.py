"""The daemon as the HTTP API sees it: :class:`DaemonControl` over the daemon's state.

Every method here runs in an HTTP server thread. Reads take snapshots the main loop
publishes (the task list, counters, the last tick); the one write, ``trigger``, is
handed to the main loop through :class:`~src.services.webhook.control.Handoff`, so
the daemon's state keeps a single owner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from src.core.task import Task
from src.services.history import RunHistory
from src.services.webhook.control import HealthState, TriggerResult

if TYPE_CHECKING:  # the daemon imports this module
    from src.services.scheduler.daemon import Daemon


class DaemonApi:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        # its own reader: RunHistory keeps per-instance pruning state the main loop owns
        self._history = RunHistory(daemon.settings.history_path, daemon.settings.history_keep_days)

    def trigger(self, task: Task, *, trigger: str, idempotency_key: str | None) -> TriggerResult:
        task_id = task.id
        return self.daemon.handoff.call(lambda: self.daemon.dispatch.queue_webhook(task_id))

    def run_status(self, run_id: str) -> dict[str, Any] | None:
        live = self.daemon.dispatch.webhook_runs.get(run_id)
        return {"status": live[0], "task_name": live[1]} if live else None

    def health(self) -> HealthState:
        return self.daemon.health()

    def tasks(self) -> list[Task]:
        return self.daemon.timetable.snapshot

    def history(self) -> RunHistory:
        return self._history
