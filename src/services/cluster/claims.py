"""Claims: an occurrence (task, scheduled instant) is run, or recorded skipped, by exactly
one node -- the one whose claim the database accepted.

A claim is one transaction on ``scheduler_occurrences``, whose primary key is the
occurrence:

1. ``pg_advisory_xact_lock`` on the task: claims of one task serialise, so two nodes can
   never both see "the previous run is not running" for two of its occurrences;
2. the database's ``now()`` decides whether the occurrence is due (a node whose clock
   runs ahead waits; :data:`~src.services.cluster.settings.CLAIM_EARLY_SECONDS`);
3. the row is inserted; if it exists, it is taken over only when it is *revivable*: its
   run was interrupted with no email on record (its node died), or it failed in a way a
   retry may help. Otherwise another node has it: ``taken``.

What is claimed here is then run (or recorded skipped) by this node and no other; what
is taken is dropped without a record, because its claimer records it.
Quartz's clustered JDBC store serialises the same way (a row lock per trigger group)
and kagkarlsson/db-scheduler claims with an optimistic ``UPDATE ... WHERE version = ?``;
here the primary key and one per-task advisory lock do both jobs.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from src.services.cluster.database import ClusterUnavailable, transaction
from src.services.cluster.settings import CLAIM_EARLY_SECONDS

log = logging.getLogger("db_scheduler.cluster")

#: An existing claim that may be taken again: its run was cut off before any email (its
#: node died), or it failed transiently and a retry may help.
REVIVABLE = "(o.state = 'interrupted' OR (o.state = 'done' AND o.retryable))"


@dataclass(frozen=True)
class Claim:
    """What the database said: ``claimed`` (run it, as ``run_id``), ``taken`` (another
    node has it), ``busy`` (the task's previous run is still running somewhere: record it
    skipped, ``reason`` says why), ``early`` (not due by the database's clock: try again in
    ``wait`` seconds) or ``offline`` (the database cannot be reached)."""

    outcome: str
    run_id: str | None = None
    reason: str = ""
    wait: float = 0.0


class Claims:
    def __init__(self, engine: Engine, node: str, boot_id: str) -> None:
        self.engine = engine
        self.node = node
        self.boot_id = boot_id
        #: set by the node's heartbeat: False while the database cannot be reached
        self.online = True
        #: claims made (for the benchmark and /metrics): count and total seconds
        self.count = 0
        self.seconds = 0.0

    def claim(self, task_id: str, scheduled_for: datetime, attempt: int) -> Claim:
        """Claim the occurrence to run it."""
        if not self.online:
            return Claim("offline")
        started = time.perf_counter()
        try:
            with transaction(self.engine, f"claiming task {task_id[:8]}") as conn:
                return self._claim(conn, task_id, scheduled_for, attempt)
        except ClusterUnavailable as exc:
            log.warning("%s; not claimed (this node stops claiming until it is back)", exc)
            self.online = False
            return Claim("offline")
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - started

    def _claim(
        self, conn: Connection, task_id: str, scheduled_for: datetime, attempt: int
    ) -> Claim:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": task_id})
        row = conn.execute(
            sa.text(
                "SELECT now() AS db_now, o.state, o.boot_id, o.run_id, "
                f"{REVIVABLE} AS revivable FROM (SELECT 1) AS one LEFT JOIN "
                "scheduler_occurrences o ON o.task_id = :t AND o.scheduled_at = :at"
            ),
            {"t": task_id, "at": scheduled_for},
        ).one()
        early = (scheduled_for - row.db_now).total_seconds()
        if early > CLAIM_EARLY_SECONDS:
            return Claim("early", wait=early)
        if row.state is not None:
            if row.state == "running" and row.boot_id == self.boot_id:
                return Claim("claimed", run_id=row.run_id)  # ours: held and started again
            if not row.revivable:
                return Claim("taken")
        busy = conn.execute(
            sa.text(
                "SELECT node, run_id FROM scheduler_occurrences WHERE task_id = :t "
                "AND state = 'running' AND scheduled_at <> :at LIMIT 1"
            ),
            {"t": task_id, "at": scheduled_for},
        ).first()
        if busy is not None:
            return Claim(
                "busy",
                reason=f"the previous run (run {str(busy.run_id)[:8]}, on node "
                f"{busy.node}) is still running",
            )
        run_id = str(uuid.uuid4())
        won = self._insert(conn, task_id, scheduled_for, "running", run_id, attempt)
        return Claim("claimed", run_id=run_id) if won else Claim("taken")

    def may_skip(self, task_id: str, scheduled_for: datetime) -> bool:
        """Whether recording this occurrence skipped is this node's to do (no node has
        decided it yet). The record itself claims it, in one transaction with its line
        (:mod:`run_log`), so a skip is never claimed without being on record."""
        if not self.online:
            return False
        try:
            with transaction(self.engine, f"looking at task {task_id[:8]}") as conn:
                row = conn.execute(
                    sa.text(
                        f"SELECT {REVIVABLE} AS free FROM scheduler_occurrences o "
                        "WHERE o.task_id = :t AND o.scheduled_at = :at"
                    ),
                    {"t": task_id, "at": scheduled_for},
                ).first()
        except ClusterUnavailable as exc:
            log.warning("%s; not recorded here", exc)
            self.online = False
            return False
        return row is None or bool(row.free)

    def _insert(
        self,
        conn: Connection,
        task_id: str,
        scheduled_for: datetime,
        state: str,
        run_id: str,
        attempt: int,
    ) -> bool:
        return insert_claim(
            conn, task_id, scheduled_for, state, self.node, self.boot_id, run_id, attempt
        )


def insert_claim(
    conn: Connection,
    task_id: str,
    scheduled_for: datetime | str,
    state: str,
    node: str,
    boot_id: str,
    run_id: str,
    attempt: int,
) -> bool:
    """Claim an occurrence (the task's advisory lock held); False: another node has it."""
    won = conn.execute(
        sa.text(
            "INSERT INTO scheduler_occurrences AS o (task_id, scheduled_at, state, node, "
            "boot_id, run_id, attempt) VALUES (:t, :at, :state, :node, :boot, :run, :a) "
            "ON CONFLICT (task_id, scheduled_at) DO UPDATE SET state = EXCLUDED.state, "
            "node = EXCLUDED.node, boot_id = EXCLUDED.boot_id, run_id = EXCLUDED.run_id, "
            "attempt = EXCLUDED.attempt, status = NULL, retryable = false, "
            f"claimed_at = now(), updated_at = now() WHERE {REVIVABLE} RETURNING 1"
        ),
        {
            "t": task_id,
            "at": scheduled_for,
            "state": state,
            "node": node,
            "boot": boot_id,
            "run": run_id,
            "a": attempt,
        },
    ).first()
    return won is not None
