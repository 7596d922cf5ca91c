"""What the API's routes share: the daemon, the stores, the accounts, the audit log.

The tasks, the run index and the audit log are the ones
:mod:`src.services.cluster.stores` chooses: the files, or in cluster mode the cluster
database, so every node's API reads and writes what every other node sees."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app

from src.core.clock import now as clock_now
from src.services.api.catalog import TaskCatalog
from src.services.audit import Actor, AuditLog, TaskAudit
from src.services.auth.accounts import AccountStore, accounts_path
from src.services.auth.sessions import LoginThrottle, SessionStore
from src.services.cluster.settings import ClusterSettings
from src.services.cluster.stores import open_audit_log, open_run_index, open_task_store
from src.services.run_index import HistoryIndex, IndexUnavailable
from src.services.settings import Settings
from src.services.task_store import TaskStore
from src.services.webhook.control import DaemonControl
from src.services.webhook.settings import HEALTH_MAX_TICK_AGE

log = logging.getLogger("db_scheduler.webhook")


@dataclass
class ApiContext:
    control: DaemonControl
    tasks_file: Path
    env: Mapping[str, str]
    settings: Settings
    webhook_token: str
    accounts: AccountStore
    audit: AuditLog
    runs: HistoryIndex
    catalog: TaskCatalog
    #: WEBHOOK_ALLOW_QUERY_TOKEN (set from the webhook's settings by create_app): a
    #: ``?token=`` in the URL is taken, for cron services that cannot send a header
    allow_query_token: bool = field(default=False, init=False)
    #: HEALTH_MAX_TICK_AGE (set by create_app): the dashboard's health says what /health says
    health_max_tick_age: float = field(default=HEALTH_MAX_TICK_AGE, init=False)
    sessions: SessionStore = field(default_factory=SessionStore)
    logins: LoginThrottle = field(default_factory=LoginThrottle)

    @classmethod
    def build(
        cls,
        control: DaemonControl,
        tasks_file: Path,
        env: Mapping[str, str],
        settings: Settings,
        webhook_token: str,
    ) -> ApiContext:
        store = open_task_store(tasks_file, env)
        return cls(
            control=control,
            tasks_file=tasks_file,
            env=dict(env),
            settings=settings,
            webhook_token=webhook_token,
            accounts=AccountStore(accounts_path(settings.data_dir)),
            audit=open_audit_log(env, settings.data_dir),
            runs=open_run_index(settings, env),
            catalog=TaskCatalog(store, control.tasks),
        )

    @property
    def default_timezone(self) -> str:
        return self.env.get("DEFAULT_TIMEZONE") or "UTC"

    def store(self, actor: Actor) -> TaskStore:
        """The tasks (the file, or the cluster's), with every change ``actor`` makes
        written to the audit log."""
        return open_task_store(self.tasks_file, self.env, on_change=TaskAudit(self.audit, actor))

    @property
    def cluster(self) -> ClusterSettings | None:
        """The cluster's settings; None on a single machine."""
        return ClusterSettings.from_env(self.env)

    def nodes(self) -> list[dict[str, Any]] | None:
        """The cluster's nodes as ``manage_tasks.py nodes --json`` shows them (/api/cluster,
        /metrics and the dashboard); None on a single machine."""
        settings = self.cluster
        if settings is None:
            return None
        from src.services.cluster.database import engine_for
        from src.services.cluster.roster import list_nodes

        engine = engine_for(settings.url, settings.statement_timeout_seconds, settings.node_name)
        return [row.to_json() for row in list_nodes(engine, settings.dead_after_seconds)]

    def warm_up(self) -> threading.Thread:
        """Bring the run index up to date and work out every task's next fire time in the
        background (a first build of a large history, or 10,000 cron searches, take a
        while; the first request should not wait for them)."""
        thread = threading.Thread(target=self._refresh, name="run-index", daemon=True)
        thread.start()
        return thread

    def _refresh(self) -> None:
        from src.services.api.scheduler import SOONEST  # a blueprint's module: on use

        SOONEST.soonest(self.control.tasks(), clock_now(), 1)
        try:
            self.runs.refresh()
        except IndexUnavailable as exc:  # the first request that needs it tries again
            log.warning("HTTP API: %s", exc)


def context() -> ApiContext:
    found = current_app.extensions["db_scheduler_api"]
    assert isinstance(found, ApiContext)
    return found
