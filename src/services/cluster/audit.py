"""The audit log in the cluster database: :class:`~src.services.audit.AuditLog`'s contract
on ``scheduler_audit``, so a change made through any node, or the CLI on any machine, is
read back on every node, in the order it was written.

What an entry says, and the masking of secrets, are the file log's
(:meth:`AuditLog.record <src.services.audit.AuditLog.record>`): only where it is kept
differs. Each entry names the node (``NODE_NAME``) that wrote it. The row's ``id`` is the
order (the file's is the order of its lines); ``task_id`` and ``action`` are columns of
their own, indexed, so a page of one task's entries does not read the whole log.
Entries older than ``AUDIT_KEEP_DAYS`` are deleted at most once a day per process (never
while the retention gate refuses), like the file's prune.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from src.services.audit import AUDIT_KEEP_DAYS, AuditLog
from src.services.cluster.database import transaction
from src.services.retention import GATE, RetentionGate

#: Entries read at a time by :meth:`ClusterAuditLog.entries`.
FETCH_ROWS = 2000


class ClusterAuditLog(AuditLog):
    def __init__(
        self,
        engine: Engine,
        node: str,
        data_dir: Path,
        keep_days: int = AUDIT_KEEP_DAYS,
        *,
        gate: RetentionGate = GATE,
    ) -> None:
        # the file's path is kept for messages only: nothing is written there
        super().__init__(data_dir / "audit.jsonl", keep_days, gate=gate)
        self.engine = engine
        self.node = node
        self._pruned_on: str | None = None

    def _write(self, entry: dict[str, Any]) -> None:
        entry.setdefault("node", self.node)
        with transaction(self.engine, f"recording the audit entry {entry['action']!r}") as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO scheduler_audit (at, node, task_id, action, line) VALUES "
                    "(CAST(:at AS timestamptz), :node, :task, :action, CAST(:line AS jsonb))"
                ),
                {
                    "at": entry["at"],
                    "node": entry["node"],
                    "task": entry.get("task_id"),
                    "action": entry["action"],
                    "line": json.dumps(entry, ensure_ascii=False, default=str),
                },
            )

    def entries(self, task: str | None = None) -> Iterator[dict[str, Any]]:
        where, args = _where(task, None)
        with transaction(self.engine, "reading the audit log") as conn:
            result = conn.execution_options(yield_per=FETCH_ROWS).execute(
                sa.text(f"SELECT line::text FROM scheduler_audit {where} ORDER BY id"), args
            )
            rows = [json.loads(text) for (text,) in result]
        yield from rows

    def newest(
        self, task: str | None = None, limit: int = 50, offset: int = 0, action: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        where, args = _where(task, action)
        with transaction(self.engine, "reading the audit log") as conn:
            total = conn.execute(sa.text(f"SELECT count(*) FROM scheduler_audit {where}"), args)
            rows = conn.execute(
                sa.text(
                    f"SELECT line::text FROM scheduler_audit {where} "
                    "ORDER BY id DESC LIMIT :limit OFFSET :offset"
                ),
                {**args, "limit": limit, "offset": offset},
            ).scalars()
            return [json.loads(text) for text in rows], int(total.scalar_one())

    def _maybe_prune(self, now: datetime) -> None:
        today = now.date().isoformat()
        if self._pruned_on == today or self.gate.refusal() is not None:
            return  # a refused prune is tried again by the next entry
        self._pruned_on = today
        self.prune(now)

    def prune(self, now: datetime) -> int:
        cutoff = now - timedelta(days=self.keep_days)
        with transaction(self.engine, "pruning the audit log") as conn:
            deleted = conn.execute(
                sa.text("DELETE FROM scheduler_audit WHERE at < :c"), {"c": cutoff}
            )
            return int(deleted.rowcount)


def _where(task: str | None, action: str | None) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    args: dict[str, Any] = {}
    if task is not None:
        clauses.append("task_id = :task")
        args["task"] = task
    if action is not None:
        clauses.append("action = :action")
        args["action"] = action
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", args
