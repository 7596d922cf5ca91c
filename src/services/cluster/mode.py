"""What the daemon holds in cluster mode: the node, its stores, and when to look for dead
peers. The daemon asks :meth:`ClusterMode.from_env`; None means single-machine mode, and
the daemon is exactly what it was."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from pathlib import Path

from src.services.cluster.claims import Claims
from src.services.cluster.database import engine_for, shown_url
from src.services.cluster.node import ClusterNode, Reaped
from src.services.cluster.pause import ClusterPause
from src.services.cluster.run_log import ClusterRunLog
from src.services.cluster.schema import require_current, upgrade
from src.services.cluster.settings import ClusterSettings
from src.services.cluster.task_store import ClusterTaskStore

log = logging.getLogger("db_scheduler.cluster")


class ClusterMode:
    def __init__(self, settings: ClusterSettings, node: ClusterNode) -> None:
        self.settings = settings
        self.node = node
        self.engine = node.engine
        self._last_reap = 0.0
        self._pruned_on: str | None = None

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], *, capacity: int, running: Callable[[], int]
    ) -> ClusterMode | None:
        settings = ClusterSettings.from_env(env)
        if settings is None:
            return None
        engine = engine_for(settings.url, settings.statement_timeout_seconds, settings.node_name)
        return cls(settings, ClusterNode(settings, engine, capacity=capacity, running=running))

    @property
    def claims(self) -> Claims:
        return self.node.claims

    @property
    def online(self) -> bool:
        return self.node.claims.online

    def describe(self) -> str:
        return (
            f"node {self.node.name!r} of the cluster on "
            f"{shown_url(self.engine.url.render_as_string(False))}"
        )

    # -- the stores ----------------------------------------------------------------------------

    def task_store(self, tasks_file: Path, default_timezone: str) -> ClusterTaskStore:
        return ClusterTaskStore(self.engine, tasks_file, default_timezone=default_timezone)

    def run_log(self, keep_days: int) -> ClusterRunLog:
        return ClusterRunLog(self.engine, self.node.name, keep_days)

    def prune_history(self, now: datetime, keep_days: int) -> int | None:
        """Once a day (the first call of ``now``'s day): the runs that began more than
        ``keep_days`` ago dropped from the cluster's history; the lines dropped, or None
        when it was done today already."""
        today = now.date().isoformat()
        if self._pruned_on == today:
            return None
        dropped = self.run_log(keep_days).prune(now)
        self._pruned_on = today  # a failed prune (the database away) is tried again
        return dropped

    def pause(self) -> ClusterPause:
        return ClusterPause(self.engine)

    # -- life ----------------------------------------------------------------------------------

    def start(self, *, upgrade_schema: bool, on_edit: Callable[[], None]) -> None:
        """Upgrade (when asked) or check the schema, join, start beating and listening."""
        if upgrade_schema:
            before, after = upgrade(self.engine)
            if before != after:
                log.info("cluster schema upgraded from %s to %s", before or "nothing", after)
        require_current(self.engine)
        self.node.join()
        self.node.on_edit = on_edit
        self.node.start()

    def stop(self) -> None:
        self.node.leave()

    def dead_claims(self, in_flight: Collection[str] = ()) -> list[Reaped]:
        """Dead peers' runs taken over, and this node's own claims that no run of
        ``in_flight`` (run ids) holds, looked for once per heartbeat interval."""
        moment = time.monotonic()
        if moment - self._last_reap < self.settings.heartbeat_seconds:
            return []
        self._last_reap = moment
        return self.node.dead_claims(in_flight)
