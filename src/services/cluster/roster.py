"""The cluster's roster: every node the cluster has seen, as ``manage_tasks.py nodes``,
``/api/cluster``, ``/metrics`` and a download asked of another node
(:mod:`~src.services.cluster.peer_files`) read it. A node is alive while its heartbeat
is younger than the dead limit and it has not stopped; its runs in flight are the
claims its present life holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from src.core.clock import to_utc_iso
from src.services.cluster.database import transaction


@dataclass(frozen=True)
class NodeRow:
    """A node as ``manage_tasks.py nodes`` and ``/api/cluster`` show it."""

    name: str
    host: str
    pid: int
    boot_id: str
    address: str | None
    capacity: int
    running: int
    started_at: datetime
    heartbeat_at: datetime
    heartbeat_age: float
    stopped_at: datetime | None
    alive: bool
    claims_running: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "host": self.host,
            "pid": self.pid,
            "boot_id": self.boot_id,
            "address": self.address,
            "capacity": self.capacity,
            "runs_in_flight": self.running,
            "claims_running": self.claims_running,
            "started_at": to_utc_iso(self.started_at),
            "heartbeat_at": to_utc_iso(self.heartbeat_at),
            "heartbeat_age_seconds": round(self.heartbeat_age, 3),
            "stopped_at": to_utc_iso(self.stopped_at) if self.stopped_at else None,
            "state": "alive" if self.alive else ("stopped" if self.stopped_at else "dead"),
        }


def list_nodes(engine: Engine, dead_after: float) -> list[NodeRow]:
    """Every node the cluster has seen, with the runs its claims have in flight."""
    with transaction(engine, "listing the nodes") as conn:
        rows = conn.execute(
            sa.text(
                "SELECT n.*, extract(epoch FROM now() - n.heartbeat_at) AS age, "
                "(SELECT count(*) FROM scheduler_occurrences o WHERE o.node = n.name "
                "AND o.boot_id = n.boot_id AND o.state = 'running') AS claims "
                "FROM scheduler_nodes n ORDER BY n.name"
            )
        ).all()
    return [
        NodeRow(
            name=row.name,
            host=row.host,
            pid=row.pid,
            boot_id=row.boot_id,
            address=row.address,
            capacity=row.capacity,
            running=row.running,
            started_at=row.started_at,
            heartbeat_at=row.heartbeat_at,
            heartbeat_age=float(row.age),
            stopped_at=row.stopped_at,
            alive=row.stopped_at is None and float(row.age) <= dead_after,
            claims_running=int(row.claims),
        )
        for row in rows
    ]
