"""The cluster's runs, folded: ``scheduler_runs``, read by every node's API and pages.

``scheduler_run_lines`` stays the record (one row per line runs.jsonl would hold); folding
months of it for one page of ``GET /api/runs`` would take seconds, so each run is also
kept folded, one row of ``scheduler_runs`` (its record as JSON, and the columns the API
filters and sorts on, indexed as :class:`~src.services.run_index.RunIndex` indexes its
SQLite table). :func:`hold_run` and :func:`fold_in` keep that row in the transaction
that inserts the line (:func:`~src.services.cluster.run_log.insert_line`, whoever writes
it: a run, a peer taking a dead node's run over, ``store copy``), so the two never
disagree; the migration that made the table folded the lines already there
(:func:`fold_all`).

:class:`ClusterRunIndex` is the :class:`~src.services.run_index.HistoryIndex` of cluster
mode: the same answers as the file's index, for the runs of every node (each run names
its node). A database that cannot be reached is
:class:`~src.services.run_index.IndexUnavailable` (the API's 503), saying what to check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from src.core.clock import parse_instant, to_utc_iso
from src.services.cluster.database import ClusterUnavailable, transaction
from src.services.history import RunRecord, fold_line
from src.services.run_index import IndexUnavailable, RunQuery

#: How many runs the migration writes per statement while folding the existing lines.
FOLD_BATCH = 1000
#: Newest first; the first line's id breaks ties (runs begun in the same microsecond).
_ORDER = "ORDER BY at DESC, first_line DESC"


@dataclass(frozen=True)
class HeldRun:
    """A run's row, locked for this transaction: what was folded so far (None: its first
    line), and when it began as the row says."""

    run_id: str
    record: RunRecord | None
    began: datetime | None


def hold_run(conn: Connection, run_id: str, at: str) -> HeldRun:
    """Create or lock ``run_id``'s row, before its next line is inserted: two writers of
    one run (a stalled node and the peer taking its run over) then insert and fold one
    after the other, and the fold follows the lines' order."""
    found = conn.execute(
        sa.text(
            "INSERT INTO scheduler_runs (run_id, task_id, status, at, first_line, record) "
            "VALUES (:r, '', '', CAST(:at AS timestamptz), 0, 'null'::jsonb) "
            "ON CONFLICT (run_id) DO UPDATE SET run_id = EXCLUDED.run_id "
            "RETURNING record::text, at"
        ),
        {"r": run_id, "at": at},
    ).one()
    state = json.loads(found.record)
    if not state:
        return HeldRun(run_id, None, None)
    return HeldRun(run_id, RunRecord.from_state(state), found.at)


def fold_in(conn: Connection, held: HeldRun, line_id: int, line: dict[str, Any]) -> None:
    """Fold ``line`` (just inserted as row ``line_id``) into the run ``held``."""
    record = fold_line(held.record, line)
    conn.execute(
        sa.text(
            "UPDATE scheduler_runs SET task_id = :t, status = :s, trigger = :tr, at = "
            "CAST(:at AS timestamptz), node = :n, record = CAST(:rec AS jsonb), first_line = "
            "CASE WHEN first_line = 0 THEN :id ELSE first_line END WHERE run_id = :r"
        ),
        {**_columns(record, held.began), "id": line_id},
    )


def fold_all(conn: Connection) -> int:
    """Fold every line of ``scheduler_run_lines`` into ``scheduler_runs`` (empty before);
    returns how many runs. One run's lines at a time, so memory stays small."""
    result = conn.execute(  # options of this statement only: the connection is Alembic's
        sa.text("SELECT id, line::text FROM scheduler_run_lines ORDER BY run_id, id"),
        execution_options={"yield_per": FOLD_BATCH * 4},
    )
    batch: list[dict[str, Any]] = []
    count = 0
    run_id: str | None = None
    record: RunRecord | None = None
    first = 0
    for line_id, text in result:
        line = json.loads(text)
        if str(line["run_id"]) != run_id:
            if record is not None:
                batch.append({**_columns(record, None), "id": first})
            run_id, record, first = str(line["run_id"]), None, int(line_id)
        record = fold_line(record, line)
        if len(batch) >= FOLD_BATCH:
            count += _insert(conn, batch)
    if record is not None:
        batch.append({**_columns(record, None), "id": first})
    return count + _insert(conn, batch)


def _insert(conn: Connection, batch: list[dict[str, Any]]) -> int:
    if batch:
        conn.execute(
            sa.text(
                "INSERT INTO scheduler_runs (run_id, task_id, status, trigger, at, node, "
                "first_line, record) VALUES (:r, :t, :s, :tr, CAST(:at AS timestamptz), :n, "
                ":id, CAST(:rec AS jsonb))"
            ),
            batch,
        )
    done = len(batch)
    batch.clear()
    return done


def _columns(record: RunRecord, began: Any) -> dict[str, Any]:
    """The row's columns; ``began`` (the row's ``at`` so far) is kept once set, as the
    file's index keeps when a run began."""
    data = record.data
    if began is None:
        began = _instant(data.get("started_at")) or _instant(data.get("at")) or data.get("at")
    return {
        "r": record.run_id,
        "t": record.task_id,
        "s": record.status,
        "tr": data.get("trigger"),
        "at": began,
        "n": data.get("node"),
        "rec": json.dumps(record.state(), ensure_ascii=False, default=str),
    }


def _instant(value: object) -> str | None:
    if not value:
        return None
    try:
        return to_utc_iso(parse_instant(str(value)))
    except (ValueError, OverflowError):
        return None


class ClusterRunIndex:
    """The cluster's runs for the API: :class:`~src.services.run_index.RunIndex`'s answers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def page(self, query: RunQuery) -> tuple[list[dict[str, Any]], int]:
        where, args = _where(query)
        with self._reading() as conn:
            total = conn.execute(sa.text(f"SELECT count(*) FROM scheduler_runs {where}"), args)
            rows = self._records(conn, where, args, query.limit, query.offset)
            return [record.to_json() for record in rows], int(total.scalar_one())

    def newest(self, query: RunQuery) -> list[dict[str, Any]]:
        where, args = _where(query)
        with self._reading() as conn:
            rows = self._records(conn, where, args, query.limit, query.offset)
        return [record.to_json() for record in rows]

    def status_counts(self, since: str) -> dict[str, int]:
        with self._reading() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT status, count(*) FROM scheduler_runs "
                    "WHERE at >= CAST(:since AS timestamptz) GROUP BY status"
                ),
                {"since": since},
            ).all()
        return {str(status): int(count) for status, count in rows if count}

    def get(self, run_id: str) -> RunRecord | None:
        with self._reading() as conn:
            text = conn.execute(
                sa.text("SELECT record::text FROM scheduler_runs WHERE run_id = :r"),
                {"r": run_id},
            ).scalar()
        return RunRecord.from_state(json.loads(text)) if text else None

    def lines_of(self, run_id: str) -> tuple[RunRecord, list[dict[str, Any]]] | None:
        with self._reading() as conn:
            text = conn.execute(
                sa.text("SELECT record::text FROM scheduler_runs WHERE run_id = :r"),
                {"r": run_id},
            ).scalar()
            if not text:
                return None
            lines = conn.execute(
                sa.text("SELECT line::text FROM scheduler_run_lines WHERE run_id = :r ORDER BY id"),
                {"r": run_id},
            ).scalars()
            return RunRecord.from_state(json.loads(text)), [json.loads(line) for line in lines]

    def latest(self, task_id: str, count: int) -> list[RunRecord]:
        with self._reading() as conn:
            rows = self._records(conn, "WHERE task_id = :task_id", {"task_id": task_id}, count, 0)
        rows.reverse()
        return rows

    def refresh(self) -> int:
        """Nothing to catch up (the writers keep the table); checks the database answers."""
        with self._reading() as conn:
            conn.execute(sa.text("SELECT 1 FROM scheduler_runs LIMIT 1"))
        return 0

    def close(self) -> None:
        """Nothing held: the engine's pool is the process's."""

    @staticmethod
    def _records(
        conn: Connection, where: str, args: dict[str, Any], limit: int, offset: int
    ) -> list[RunRecord]:
        texts = conn.execute(
            sa.text(f"SELECT record::text FROM scheduler_runs {where} {_ORDER} LIMIT :l OFFSET :o"),
            {**args, "l": limit, "o": offset},
        ).scalars()
        return [RunRecord.from_state(json.loads(text)) for text in texts]

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with transaction(self.engine, "reading the cluster's runs") as conn:
                yield conn
        except ClusterUnavailable as exc:
            raise IndexUnavailable(
                f"{exc}. The run history is the cluster's: check that the database answers "
                "from this node (CLUSTER_DATABASE_URL; `manage_tasks.py db status`), then "
                "try again."
            ) from exc


def _where(query: RunQuery) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    args: dict[str, Any] = {}
    for column, value in (
        ("task_id", query.task_id),
        ("status", query.status),
        ("trigger", query.trigger),
    ):
        if value is not None:
            clauses.append(f"{column} = :{column}")
            args[column] = value
    if query.since is not None:
        clauses.append("at >= CAST(:since AS timestamptz)")
        args["since"] = query.since
    if query.until is not None:
        clauses.append("at < CAST(:until AS timestamptz)")
        args["until"] = query.until
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", args
