"""The run history in the cluster database: a :class:`~src.services.recorder.RunLog`.

Each line :class:`~src.services.history.RunHistory` would append to runs.jsonl is a row
of ``scheduler_run_lines`` (the line as JSON, plus the node that wrote it), committed
before :meth:`ClusterRunLog.append` returns: durable as the file's fsync. Its run is
folded, in the same transaction, into ``scheduler_runs`` exactly as the file's readers
fold lines (:func:`~src.services.history.fold_line`); readers read those folds.

Some lines also move the occurrence's claim (``scheduler_occurrences``), in the same
transaction, so the claim and the history never disagree:

* a ``finished`` line that says a scheduled occurrence was ``skipped`` claims it: written
  only when no other node decided that occurrence (else it is not written at all);

* ``emailing`` is the fence: written only while the run's claim is still this run's and
  running (the row locked ``FOR UPDATE``). A node declared dead whose run was taken over
  cannot record "emailing", so it sends nothing (the runner sends only after that line).
* ``finished`` ends the claim (``done``, and whether a retry may take it again). A second
  ``interrupted`` for a claim already ended (the node itself at restart, and a peer that
  saw it die) is not written twice.

A database that cannot be reached is :class:`~src.services.cluster.database.ClusterUnavailable`
(an OSError): the run records nothing and, before its email, sends nothing.
"""

from __future__ import annotations

import errno
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from src.core.clock import to_utc_iso
from src.core.defaults import HISTORY_KEEP_DAYS
from src.core.vocabulary import SCHEDULED_TRIGGERS, RunStatus
from src.services.cluster.claims import insert_claim
from src.services.cluster.database import ClusterUnavailable, transaction
from src.services.cluster.run_index import fold_in, hold_run
from src.services.history import RunRecord

log = logging.getLogger("db_scheduler.cluster")

#: How many lines a read fetches at a time (months of history are not held at once).
FETCH_ROWS = 2000


class ClaimLost(ClusterUnavailable):
    """The run's claim is no longer its own (its node was declared dead and a peer took
    the occurrence over): the run must not go on to send anything."""


class ClusterRunLog:
    """``keep_days``: :meth:`prune` drops the runs that began longer ago, with their
    lines, as runs.jsonl drops them (``HISTORY_KEEP_DAYS``); each node's daemon prunes
    once a day (``ClusterMode.prune_history``), not each run it starts."""

    def __init__(self, engine: Engine, node: str, keep_days: int = HISTORY_KEEP_DAYS) -> None:
        self.engine = engine
        self.node = node
        self.keep_days = keep_days

    def append(self, event: str, run_id: str, at: datetime, **fields: Any) -> None:
        line = {"event": event, "run_id": run_id, "at": to_utc_iso(at), **fields}
        line.setdefault("node", self.node)
        with transaction(self.engine, f"recording the {event!r} line of run {run_id[:8]}") as conn:
            if event == "emailing":
                _fence(conn, run_id)
            if _skips_an_occurrence(line) and not _claim_skipped(conn, line, self.node):
                log.info(
                    "occurrence %s of task %s: decided by another node, not recorded here",
                    line.get("scheduled_for"),
                    str(line.get("task_id"))[:8],
                )
                return
            if event == "finished" and not _end_claim(conn, run_id, line):
                return  # an interrupted claim already ended: recorded once
            insert_line(conn, line)

    def prune(self, now: datetime) -> int:
        """Drop the runs that began more than ``keep_days`` before ``now``, with their
        lines (every node may: deleting twice deletes nothing); returns the lines dropped."""
        cutoff = now - timedelta(days=self.keep_days)
        with transaction(self.engine, "pruning the run history") as conn:
            dropped = conn.execute(
                sa.text(
                    "WITH gone AS (DELETE FROM scheduler_runs WHERE at < :c RETURNING run_id) "
                    "DELETE FROM scheduler_run_lines WHERE run_id IN (SELECT run_id FROM gone)"
                ),
                {"c": cutoff},
            )
            return int(dropped.rowcount)

    def lines(self, containing: str | None = None) -> Iterator[dict[str, Any]]:
        query = "SELECT line::text FROM scheduler_run_lines"
        params: dict[str, Any] = {}
        if containing:
            query += " WHERE run_id = :c OR task_id = :c"
            params["c"] = containing
        yield from self._select(query + " ORDER BY id", params)

    def runs(self, task_id: str | None = None) -> list[RunRecord]:
        """Every run (of ``task_id``), in the order of their first lines: the folds
        :func:`insert_line` keeps in ``scheduler_runs``, not the lines folded again."""
        query = "SELECT record::text FROM scheduler_runs WHERE first_line > 0"
        params: dict[str, Any] = {}
        if task_id is not None:
            query += " AND task_id = :t"
            params["t"] = task_id
        states = self._select(query + " ORDER BY first_line", params)
        return [RunRecord.from_state(state) for state in states]

    def get(self, run_id: str) -> RunRecord | None:
        states = list(
            self._select(
                "SELECT record::text FROM scheduler_runs WHERE run_id = :r AND first_line > 0",
                {"r": run_id},
            )
        )
        return RunRecord.from_state(states[0]) if states else None

    def _select(self, query: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        with transaction(self.engine, "reading the run history") as conn:
            result = conn.execution_options(yield_per=FETCH_ROWS).execute(sa.text(query), params)
            rows = [json.loads(row[0]) for row in result]
        yield from rows


def insert_line(conn: Connection, line: dict[str, Any]) -> None:
    """One line of the history, and its run folded anew (``scheduler_runs``, what the
    API reads), in the caller's transaction: every writer of a line comes through here."""
    text = json.dumps(line, ensure_ascii=False, default=str)
    held = hold_run(conn, str(line["run_id"]), str(line["at"]))
    line_id = conn.execute(
        sa.text(
            "INSERT INTO scheduler_run_lines (run_id, task_id, event, at, node, line) "
            "VALUES (:run_id, :task_id, :event, :at, :node, CAST(:line AS jsonb)) RETURNING id"
        ),
        {
            "run_id": line["run_id"],
            "task_id": line.get("task_id"),
            "event": line["event"],
            "at": line["at"],
            "node": line.get("node"),
            "line": text,
        },
    ).scalar_one()
    fold_in(conn, held, int(line_id), json.loads(text))  # as a reader gets it back


def _skips_an_occurrence(line: dict[str, Any]) -> bool:
    return (
        line["event"] == "finished"
        and line.get("status") == RunStatus.SKIPPED
        and line.get("trigger") in SCHEDULED_TRIGGERS
        and bool(line.get("scheduled_for"))
    )


def _claim_skipped(conn: Connection, line: dict[str, Any], node: str) -> bool:
    """A skipped occurrence's record claims it, in the line's own transaction."""
    task_id = str(line.get("task_id"))
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": task_id})
    return insert_claim(
        conn, task_id, str(line["scheduled_for"]), "skipped", node, "-", line["run_id"], 1
    )


def _fence(conn: Connection, run_id: str) -> None:
    claim = conn.execute(
        sa.text(
            "SELECT state, run_id, node FROM scheduler_occurrences WHERE run_id = :r FOR UPDATE"
        ),
        {"r": run_id},
    ).first()
    if claim is None:
        # No claim names this run: a webhook or manual run (never claimed), or a run of
        # the schedule whose occurrence a peer took over and claimed again under a new
        # run id (its node was stopped, not its run). Its start line tells them apart.
        trigger = conn.execute(
            sa.text(
                "SELECT line->>'trigger' FROM scheduler_run_lines "
                "WHERE run_id = :r AND event = 'started' LIMIT 1"
            ),
            {"r": run_id},
        ).scalar()
        if trigger not in SCHEDULED_TRIGGERS:
            return
        raise ClaimLost(
            errno.ESTALE,
            f"run {run_id[:8]} lost its claim (its node was taken for dead and the "
            "occurrence was taken over and claimed again); nothing more is sent from this run",
        )
    if claim.state != "running":
        raise ClaimLost(
            errno.ESTALE,
            f"run {run_id[:8]} lost its claim (its node was taken for dead and the "
            "occurrence was taken over); nothing more is sent from this run",
        )


def _end_claim(conn: Connection, run_id: str, line: dict[str, Any]) -> bool:
    """End the run's claim with its final status; False when the line is a second
    ``interrupted`` for a claim that already ended (not written again)."""
    status = str(line.get("status") or "")
    error = line.get("error")
    retryable = (
        status in (RunStatus.FAILED, RunStatus.TIMEOUT)
        and isinstance(error, dict)
        and error.get("permanent") is False
    )
    ended = conn.execute(
        sa.text(
            "UPDATE scheduler_occurrences SET state = 'done', status = :s, retryable = :rt, "
            "updated_at = now() WHERE run_id = :r AND state = 'running' RETURNING 1"
        ),
        {"s": status, "rt": retryable, "r": run_id},
    ).first()
    if ended is not None or status != RunStatus.INTERRUPTED:
        return True
    claimed = conn.execute(
        sa.text("SELECT 1 FROM scheduler_occurrences WHERE run_id = :r"), {"r": run_id}
    ).first()
    return claimed is None
