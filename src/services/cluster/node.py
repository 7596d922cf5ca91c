"""This daemon as a node of the cluster: its row, its heartbeat, its clock, dead peers.

* :meth:`ClusterNode.join` writes the node's row with a new ``boot_id`` (a restarted node
  is a new life: claims of its earlier one are dead at once) and measures the offset of
  the local clock from the database's; the daemon's clock is the database's from then on
  (:meth:`ClusterNode.now`), so what is due, and catch-up, are decided on one clock.
* A thread beats every ``CLUSTER_HEARTBEAT_SECONDS``: one UPDATE of the row (runs in
  flight, capacity) that also re-measures the offset. A beat that fails takes the node
  offline (:attr:`Claims.online`): it claims nothing until a beat succeeds again.
* The same thread listens (``LISTEN scheduler_tasks``) and kicks the reload thread when
  any node, command or API call changes a task: edits are seen at once.
* :meth:`ClusterNode.dead_claims` (on the main loop) takes over the running claims of
  nodes that are dead -- heartbeat older than ``CLUSTER_DEAD_AFTER_SECONDS``, stopped, or
  restarted (another ``boot_id``): each run is recorded ``interrupted`` (naming the dead
  node) and its claim made revivable unless an email was, or may have been, sent. The
  caller then plans a re-run under the task's catch-up policy; whichever node claims it
  first runs it. Rows are taken ``FOR UPDATE SKIP LOCKED``: two nodes never take over
  the same run, and the fence on "emailing" (:mod:`run_log`) locks the same row.
"""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from src.core.clock import now as clock_now
from src.core.clock import to_utc_iso
from src.core.errors import ConfigError
from src.core.vocabulary import RunStatus
from src.services.cluster.claims import Claims
from src.services.cluster.database import ClusterUnavailable, transaction
from src.services.cluster.run_log import insert_line
from src.services.cluster.settings import ClusterSettings
from src.services.cluster.task_store import CHANNEL
from src.services.history import RunRecord, fold_line

log = logging.getLogger("db_scheduler.cluster")


@dataclass(frozen=True)
class Reaped:
    """A dead node's run, now recorded interrupted."""

    task_id: str
    scheduled_for: datetime
    run_id: str
    node: str
    emailed: bool


class ClusterNode:
    def __init__(
        self,
        settings: ClusterSettings,
        engine: Engine,
        *,
        capacity: int,
        running: Callable[[], int],
        local_clock: Callable[[], datetime] = clock_now,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.name = settings.node_name
        self.boot_id = str(uuid.uuid4())
        self.capacity = capacity
        self.running = running  # runs in flight now (read from the heartbeat thread)
        self.local_clock = local_clock
        self.claims = Claims(engine, self.name, self.boot_id)
        self.address: str | None = settings.address
        #: database time minus local time, in seconds (measured at each beat)
        self.offset = 0.0
        self.beats = 0
        self.on_edit: Callable[[], None] = lambda: None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: Any = None

    # -- the clock ---------------------------------------------------------------------------

    def now(self) -> datetime:
        """The database's clock, as measured at the last beat."""
        return self.local_clock() + timedelta(seconds=self.offset)

    def _measure(self, db_now: datetime, sent: datetime, received: datetime) -> None:
        midpoint = sent + (received - sent) / 2
        self.offset = (db_now - midpoint).total_seconds()

    # -- joining and leaving ----------------------------------------------------------------

    def join(self) -> None:
        """Write this node's row (a new life); refuse a name a live node on another host
        uses (two nodes under one name would read each other's claims as their own)."""
        host = socket.gethostname()
        sent = self.local_clock()
        with transaction(self.engine, f"joining the cluster as node {self.name!r}") as conn:
            other = conn.execute(
                sa.text(
                    "SELECT host, pid, extract(epoch FROM now() - heartbeat_at) AS age, "
                    "stopped_at FROM scheduler_nodes WHERE name = :n FOR UPDATE"
                ),
                {"n": self.name},
            ).first()
            if (
                other is not None
                and other.host != host
                and other.stopped_at is None
                and float(other.age) < self.settings.dead_after_seconds
            ):
                raise ConfigError(
                    f"node name {self.name!r} is in use by a live node on host {other.host} "
                    f"(pid {other.pid}, heartbeat {float(other.age):.1f} s ago); give this "
                    "node another NODE_NAME"
                )
            db_now = conn.execute(
                sa.text(
                    "INSERT INTO scheduler_nodes (name, boot_id, host, pid, address, capacity, "
                    "running, started_at, heartbeat_at, stopped_at) VALUES (:n, :b, :h, :p, "
                    ":a, :c, 0, now(), now(), NULL) ON CONFLICT (name) DO UPDATE SET "
                    "boot_id = EXCLUDED.boot_id, host = EXCLUDED.host, pid = EXCLUDED.pid, "
                    "address = EXCLUDED.address, capacity = EXCLUDED.capacity, running = 0, "
                    "started_at = now(), heartbeat_at = now(), stopped_at = NULL "
                    "RETURNING now()"
                ),
                {
                    "n": self.name,
                    "b": self.boot_id,
                    "h": host,
                    "p": os.getpid(),
                    "a": self.address,
                    "c": self.capacity,
                },
            ).scalar_one()
        self._measure(db_now, sent, self.local_clock())

    def leave(self) -> None:
        """A clean stop: the row says so (its runs have ended: none is taken over)."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(self.settings.heartbeat_seconds + 5)
        try:
            with transaction(self.engine, "leaving the cluster") as conn:
                conn.execute(
                    sa.text(
                        "UPDATE scheduler_nodes SET stopped_at = now(), running = 0 "
                        "WHERE name = :n AND boot_id = :b"
                    ),
                    {"n": self.name, "b": self.boot_id},
                )
        except ClusterUnavailable as exc:  # its peers see the silence instead
            log.warning("%s", exc)

    # -- the heartbeat thread ----------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="cluster-heartbeat", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        interval = self.settings.heartbeat_seconds
        next_beat = time.monotonic()
        while not self._stopped.is_set():
            if time.monotonic() >= next_beat:
                self.beat()
                next_beat = time.monotonic() + interval
            self._listen(max(min(next_beat - time.monotonic(), interval), 0.05))

    def beat(self) -> bool:
        """One heartbeat; True when the database answered (the node is online)."""
        was = self.claims.online
        sent = self.local_clock()
        try:
            with transaction(self.engine, "heartbeat") as conn:
                db_now = conn.execute(
                    sa.text(
                        "UPDATE scheduler_nodes SET heartbeat_at = now(), running = :r, "
                        "capacity = :c WHERE name = :n AND boot_id = :b RETURNING now()"
                    ),
                    {"r": self.running(), "c": self.capacity, "n": self.name, "b": self.boot_id},
                ).scalar()
        except ClusterUnavailable as exc:
            if was:
                log.error("%s; this node claims nothing until the database answers again", exc)
            self.claims.online = False
            self._close_listener()
            return False
        if db_now is None:
            log.error(
                "node %r: its row was taken by another start under the same name; this node "
                "stops claiming (give each node its own NODE_NAME)",
                self.name,
            )
            self.claims.online = False
            return False
        self._measure(db_now, sent, self.local_clock())
        self.beats += 1
        if not was:
            log.warning("node %r: the cluster database answers again; claiming again", self.name)
            self.on_edit()  # edits made meanwhile were not announced to this node
        self.claims.online = True
        return True

    def _listen(self, timeout: float) -> None:
        """Wait up to ``timeout`` for an edit's NOTIFY; kick the reload thread on one."""
        if self._listener is None:
            if not self.claims.online:
                self._stopped.wait(timeout)
                return
            try:
                raw = self.engine.raw_connection()
                raw.set_isolation_level(0)  # autocommit: a LISTEN must not sit in a transaction
                cursor = raw.cursor()
                cursor.execute(f"LISTEN {CHANNEL}")
                cursor.close()
                self._listener = raw
            except Exception as exc:  # any failure: the beat says offline; polling still works
                log.warning("LISTEN %s failed (%s); edits are seen by polling", CHANNEL, exc)
                self._stopped.wait(timeout)
                return
        connection = self._listener.driver_connection
        try:
            ready, _, _ = select.select([connection], [], [], timeout)
            if ready:
                connection.poll()
                if connection.notifies:
                    connection.notifies.clear()
                    self.on_edit()
        except Exception as exc:  # a broken connection: opened again at the next wait
            log.warning("listening for edits: %s; listening again", exc)
            self._close_listener()

    def _close_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.invalidate()
            except Exception as exc:  # already broken: nothing more to close
                log.debug("closing the listener: %s", exc)
            self._listener = None

    # -- dead peers --------------------------------------------------------------------------

    def dead_claims(self, in_flight: Collection[str] = ()) -> list[Reaped]:
        """Take over the running claims of dead nodes (see the module's docstring), and
        this node's own claims that none of its runs in flight (``in_flight``, run ids)
        holds: a claim whose commit reached the database while the node saw the
        connection fail (it took the claim for lost and held or dropped the occurrence).
        Such a claim would otherwise stay ``running`` for as long as this node lives,
        blocking its task on every node. Only claims older than the dead limit are
        looked at, so a claim being started is never taken for one."""
        if not self.claims.online:
            return []
        try:
            with transaction(self.engine, "taking over the runs of dead nodes") as conn:
                rows = conn.execute(
                    sa.text(
                        "SELECT o.task_id, o.scheduled_at, o.node, o.run_id, o.attempt, "
                        "n.heartbeat_at, n.boot_id AS node_boot, n.stopped_at "
                        "FROM scheduler_occurrences o "
                        "LEFT JOIN scheduler_nodes n ON n.name = o.node "
                        "WHERE o.state = 'running' AND (n.name IS NULL OR "
                        "n.boot_id <> o.boot_id OR n.stopped_at IS NOT NULL OR "
                        "n.heartbeat_at < now() - make_interval(secs => :dead) OR "
                        "(o.node = :me AND o.boot_id = :boot AND "
                        "o.claimed_at < now() - make_interval(secs => :dead) AND "
                        "NOT (o.run_id = ANY(:mine)))) "
                        "ORDER BY o.scheduled_at FOR UPDATE OF o SKIP LOCKED LIMIT 200"
                    ),
                    {
                        "dead": self.settings.dead_after_seconds,
                        "me": self.name,
                        "boot": self.boot_id,
                        "mine": list(in_flight),
                    },
                ).all()
                return [self._take_over(conn, row) for row in rows]
        except ClusterUnavailable as exc:
            log.warning("%s", exc)
            return []

    def _take_over(self, conn: Connection, row: Any) -> Reaped:
        lines = conn.execute(
            sa.text("SELECT line::text FROM scheduler_run_lines WHERE run_id = :r ORDER BY id"),
            {"r": row.run_id},
        ).all()
        record: RunRecord | None = None
        for (text,) in lines:
            record = fold_line(record, json.loads(text))
        emailed = record is not None and record.email_may_have_gone
        orphan = row.node == self.name and row.node_boot == self.boot_id
        cause = (
            f"node {row.node} claimed this occurrence but started no run of it (the "
            "database connection failed as the claim was committed)"
            if orphan
            else f"node {row.node} stopped heart-beating (dead past "
            f"{self.settings.dead_after_seconds:g} s, or restarted) during this run"
        )
        reason = f"{cause}; taken over by node {self.name}" + (
            "; its email was sent or may have gone out, so it is not sent again" if emailed else ""
        )
        now = self.now()
        base = record.to_json() if record is not None else {}
        insert_line(
            conn,
            {
                "event": "finished",
                "run_id": row.run_id,
                "at": to_utc_iso(now),
                "task_id": row.task_id,
                "task_name": base.get("task_name") or _task_name(conn, row.task_id),
                # only the schedule's occurrences are claimed (cut off before its start line)
                "trigger": base.get("trigger") or "schedule",
                "scheduled_for": to_utc_iso(row.scheduled_at),
                "attempt": row.attempt,
                "status": RunStatus.INTERRUPTED,
                "finished_at": to_utc_iso(now),
                "reason": reason,
                "node": row.node,
                "recorded_by": self.name,
            },
        )
        conn.execute(
            sa.text(
                "UPDATE scheduler_occurrences SET state = :s, status = 'interrupted', "
                "updated_at = now() WHERE task_id = :t AND scheduled_at = :at"
            ),
            {"s": "done" if emailed else "interrupted", "t": row.task_id, "at": row.scheduled_at},
        )
        log.warning(
            "run %s of task %s (scheduled %s) on dead node %s recorded interrupted%s",
            str(row.run_id)[:8],
            str(row.task_id)[:8],
            to_utc_iso(row.scheduled_at),
            row.node,
            "; its email may have gone out: not run again" if emailed else "",
        )
        return Reaped(row.task_id, row.scheduled_at, row.run_id, row.node, emailed)


def _task_name(conn: Connection, task_id: str) -> str | None:
    name = conn.execute(
        sa.text("SELECT name FROM scheduler_tasks WHERE id = :t"), {"t": task_id}
    ).scalar()
    return str(name) if name is not None else None
