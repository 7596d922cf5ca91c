"""The daemon as the HTTP API sees it: :class:`DaemonControl` over the daemon's state.

Every method here runs in an HTTP server thread. Reads take snapshots the main loop
publishes (the task list, counters, the last tick); the one write, ``trigger``, is
handed to the main loop through :class:`~src.services.webhook.control.Handoff`, so
the daemon's state keeps a single owner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from src.core.clock import to_utc_iso
from src.core.task import Task
from src.services.api import ApiContext
from src.services.history import RunHistory
from src.services.recorder import RunLog
from src.services.webhook import HttpServer, WebhookSettings, create_app
from src.services.webhook.control import HealthState, TriggerResult

if TYPE_CHECKING:  # the daemon imports this module
    from src.services.scheduler.daemon import Daemon


class DaemonApi:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        # its own reader: RunHistory keeps per-instance pruning state the main loop owns
        self._history: RunLog = RunHistory(
            daemon.settings.history_path, daemon.settings.history_keep_days
        )
        if daemon.cluster is not None:  # the cluster's history, whichever node ran the run
            self._history = daemon.cluster.run_log(daemon.settings.history_keep_days)

    def trigger(self, task: Task, *, trigger: str, idempotency_key: str | None) -> TriggerResult:
        task_id = task.id
        return self.daemon.handoff.call(lambda: self.daemon.dispatch.queue_webhook(task_id))

    def run_status(self, run_id: str) -> dict[str, Any] | None:
        live = self.daemon.dispatch.webhook_runs.get(run_id)
        return {"status": live[0], "task_name": live[1]} if live else None

    def health(self) -> HealthState:
        """The scheduler as the main loop last left it."""
        daemon = self.daemon
        return HealthState(
            scheduler_state=daemon.phase,
            tasks_loaded=len(daemon.timetable.snapshot),
            last_tick=daemon.last_tick,
            tasks_file_error=daemon.timetable.error,
            queue_depth=len(daemon.dispatch.queue),
            running=len(daemon.dispatch.busy.running),
            storage_error=daemon.storage.problem,
            held_records=daemon.storage.held_count,
            clock=daemon.clockwatch.step_note(daemon.monotonic()),
            paused=daemon.paused.paused,
        )

    def tasks(self) -> list[Task]:
        return self.daemon.timetable.snapshot

    def history(self) -> RunLog:
        return self._history

    def pause_state(self) -> dict[str, Any]:
        return self.daemon.paused.to_json()

    def set_paused(self, paused: bool, by: str) -> dict[str, Any]:
        daemon = self.daemon
        return daemon.handoff.call(lambda: daemon.set_paused(paused, by)).to_json()

    def in_flight(self) -> list[dict[str, Any]]:
        return self.daemon.handoff.call(self._in_flight)

    def _in_flight(self) -> list[dict[str, Any]]:
        """On the main loop: the dispatcher's running children and queue, as they are."""
        dispatch = self.daemon.dispatch
        out: list[dict[str, Any]] = []
        for child in dispatch.busy.running.values():
            out.append(
                {
                    "run_id": child.run_id,
                    "task_id": child.occurrence.task_id,
                    "task_name": child.task_name,
                    "status": "running",
                    "trigger": str(child.occurrence.trigger),
                    "started_at": to_utc_iso(child.started_wall),
                }
            )
        for occurrence in dispatch.queue:
            task = dispatch.tasks.get(occurrence.task_id)
            out.append(
                {
                    "run_id": occurrence.run_id,
                    "task_id": occurrence.task_id,
                    "task_name": task.name if task else None,
                    "status": "queued",
                    "trigger": str(occurrence.trigger),
                    "started_at": None,
                }
            )
        return out


def serve_http(daemon: Daemon, web: WebhookSettings) -> HttpServer:
    """Start the daemon's HTTP API (its own threads) and return its server."""
    daemon.metrics.seed(daemon.history)
    control = DaemonApi(daemon)
    context = ApiContext.build(
        control, daemon.tasks_file, daemon.env, daemon.settings, webhook_token=web.token
    )
    context.warm_up()
    app = create_app(control, web, context=context, metrics=daemon.metrics, clock=daemon.clock)
    http = HttpServer(
        app,
        web.listen.host,
        web.listen.port,
        trusted_proxy=web.trusted_proxy,
        max_body_bytes=web.max_body_bytes,
    )
    http.start()
    return http
