"""The cluster's pause: :class:`~src.services.scheduler.pause.PauseFile`'s contract on one
row of ``scheduler_pause``, so a pause from any node, the CLI or the API holds on all."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from src.services.cluster.database import ClusterUnavailable, transaction
from src.services.scheduler.pause import PauseState


class ClusterPause:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._state = PauseState(False)

    def read(self) -> PauseState:
        """The cluster's pause; while the database cannot be read, the last state read (a
        node that cannot reach the database claims nothing anyway)."""
        try:
            with transaction(self.engine, "reading the pause") as conn:
                row = conn.execute(
                    sa.text("SELECT paused, since, by FROM scheduler_pause WHERE id = 1")
                ).first()
        except ClusterUnavailable:
            return self._state
        self._state = PauseState(bool(row.paused), row.since, row.by) if row else PauseState(False)
        return self._state

    def write(self, paused: bool, by: str, now: datetime) -> PauseState:
        """Pause or resume; pausing an already paused cluster keeps who paused it first."""
        with transaction(self.engine, "pausing" if paused else "resuming") as conn:
            row = conn.execute(
                sa.text("SELECT paused, since, by FROM scheduler_pause WHERE id = 1 FOR UPDATE")
            ).first()
            if paused and row is not None and row.paused:
                return PauseState(True, row.since, row.by)
            state = PauseState(True, now, by) if paused else PauseState(False)
            conn.execute(
                sa.text(
                    "INSERT INTO scheduler_pause (id, paused, since, by) "
                    "VALUES (1, :p, :since, :by) ON CONFLICT (id) DO UPDATE SET "
                    "paused = EXCLUDED.paused, since = EXCLUDED.since, by = EXCLUDED.by"
                ),
                {"p": paused, "since": now, "by": by},
            )
        self._state = state
        return state
