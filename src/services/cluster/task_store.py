"""The tasks in the cluster database: :class:`~src.services.task_store.TaskStore`'s rules
on PostgreSQL rows instead of a file.

The store's logic (validation, unique names, summaries on the task as it is now, the
audit hook) is the file store's, unchanged: only where the document is read and written,
and what the lock is, differ.

* The document is assembled from ``scheduler_tasks`` (one row per task, its tasks.json
  form as JSON, in ``position`` order) and the top-level keys kept in ``scheduler_meta``.
* The lock is a transaction holding ``pg_advisory_xact_lock``: every change is read,
  modified and written in that one transaction, so writers on any node serialise and a
  change is all there or not at all. Waiting past the lock timeout is
  :class:`~src.core.errors.StoreBusy`, as for the file.
* A write changes only the rows whose JSON changed, bumps the tasks' revision and sends
  ``NOTIFY scheduler_tasks`` in the same transaction: every node sees the edit at once.
* A run's summary waits for the lock (no ``tasks.json.pending`` queue: the database's
  lock is held for milliseconds, never by a person at a prompt).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from src.core import defaults
from src.core.errors import StoreBusy, StoreError
from src.core.task import RunResult
from src.services.cluster.database import ClusterUnavailable, shown_url, transaction
from src.services.task_store import FORMAT_VERSION, TaskStore, serialize

#: Any two-int key: the tasks' lock, shared by every node and command.
TASKS_LOCK = 0x7A5C5
#: The channel every node listens on for edits.
CHANNEL = "scheduler_tasks"
#: How long a run's summary waits for the lock (a person's edit holds it for milliseconds).
SUMMARY_WAIT_SECONDS = 30.0


def store_label(tasks_file: Path, engine: Engine) -> Path:
    """What messages call this store: beside the tasks file (whose folder stays the base
    of relative paths and of the node's data folder), naming the database."""
    url = engine.url
    return tasks_file.with_name(f"[cluster database {url.database} on {url.host}]")


class ClusterTaskStore(TaskStore):
    def __init__(
        self,
        engine: Engine,
        tasks_file: Path,
        *,
        default_timezone: str = "UTC",
        lock_timeout: float = defaults.LOCK_TIMEOUT_SECONDS,
        on_change: Any = None,
    ) -> None:
        super().__init__(
            store_label(tasks_file, engine),
            default_timezone=default_timezone,
            lock_timeout=lock_timeout,
            on_change=on_change,
        )
        self.engine = engine
        self._local = threading.local()

    # -- where the document lives ------------------------------------------------------------

    def exists(self) -> bool:
        return True

    def location(self) -> str:
        return f"the cluster database {shown_url(self.engine.url.render_as_string(False))}"

    def fingerprint(self) -> tuple[int, ...] | None:
        with transaction(self.engine, "reading the tasks' revision") as conn:
            value = conn.execute(
                sa.text("SELECT value FROM scheduler_meta WHERE key = 'tasks_revision'")
            ).scalar()
        return (int(value or 0),)

    def read_bytes(self) -> bytes | None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return self._read(conn)
        with transaction(self.engine, "reading the tasks") as conn:
            return self._read(conn)

    def _read(self, conn: Connection) -> bytes | None:
        rows = conn.execute(
            sa.text(
                "SELECT id, document::text, position FROM scheduler_tasks ORDER BY position, id"
            )
        ).all()
        extra = conn.execute(
            sa.text("SELECT value::text FROM scheduler_meta WHERE key = 'tasks_extra'")
        ).scalar()
        self._local.rows = {str(row[0]): str(row[1]) for row in rows}
        self._local.positions = {str(row[0]): int(row[2]) for row in rows}
        document: dict[str, Any] = {"version": FORMAT_VERSION}
        document.update(json.loads(extra) if extra else {})
        document["version"] = FORMAT_VERSION
        document["tasks"] = [json.loads(row[1]) for row in rows]
        return serialize(document)

    @contextmanager
    def lock(self, timeout: float | None = None) -> Iterator[None]:
        wait = self.lock_timeout if timeout is None else timeout
        if getattr(self._local, "conn", None) is not None:
            yield  # already held by this thread (a change inside a change)
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.text(f"SET LOCAL lock_timeout = {max(int(wait * 1000), 1)}"))
                try:
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": TASKS_LOCK})
                except sa.exc.OperationalError as exc:
                    if getattr(exc.orig, "pgcode", None) == "55P03":  # lock_not_available
                        raise StoreBusy(
                            f"the tasks in {self.location()} are locked by another command "
                            f"and stayed locked for {wait:g} s; try again"
                        ) from None
                    raise
                conn.execute(sa.text("SET LOCAL lock_timeout = DEFAULT"))
                self._local.conn = conn
                try:
                    yield
                finally:
                    self._local.conn = None
        except sa.exc.DBAPIError as exc:
            raise StoreError(
                f"cannot change the tasks in {self.location()}: "
                f"{str(exc.orig).strip().splitlines()[0] if exc.orig else exc}; nothing was "
                "changed"
            ) from None

    def _write(self, data: bytes, backup: Path | None) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is None:  # pragma: no cover - TaskStore writes only under its lock
            raise StoreError("a write of the cluster's tasks outside their lock")
        document = json.loads(data)
        old: dict[str, str] = getattr(self._local, "rows", None) or {}
        positions: dict[str, int] = getattr(self._local, "positions", None) or {}
        seen: set[str] = set()
        for position, item in enumerate(document.pop("tasks")):
            task_id = str(item["id"])
            seen.add(task_id)
            text = json.dumps(item, ensure_ascii=False)
            if task_id in old and json.loads(old[task_id]) == item:
                # a run's summary changes one task: the others are not written again
                if positions.get(task_id) != position:
                    conn.execute(
                        sa.text("UPDATE scheduler_tasks SET position = :p WHERE id = :id"),
                        {"p": position, "id": task_id},
                    )
                continue
            conn.execute(
                sa.text(
                    "INSERT INTO scheduler_tasks (id, name, position, document, updated_at) "
                    "VALUES (:id, :name, :p, CAST(:doc AS jsonb), now()) "
                    "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, "
                    "position = EXCLUDED.position, document = EXCLUDED.document, "
                    "updated_at = now()"
                ),
                {"id": task_id, "name": str(item.get("name")), "p": position, "doc": text},
            )
        gone = [task_id for task_id in old if task_id not in seen]
        if gone:
            conn.execute(sa.text("DELETE FROM scheduler_tasks WHERE id = ANY(:ids)"), {"ids": gone})
        document.pop("version", None)
        _set_meta(conn, "tasks_extra", json.dumps(document))
        conn.execute(
            sa.text(
                "INSERT INTO scheduler_meta (key, value) VALUES ('tasks_revision', '1') "
                "ON CONFLICT (key) DO UPDATE SET value = to_jsonb("
                "(scheduler_meta.value #>> '{}')::bigint + 1), updated_at = now()"
            )
        )
        conn.execute(sa.text(f"NOTIFY {CHANNEL}"))
        self._local.rows = None
        self._local.positions = None

    # -- a run's summary: waits for the lock instead of queueing ------------------------

    def record_run(self, task_id: str, result: RunResult) -> str | None:
        try:
            with self.lock(timeout=SUMMARY_WAIT_SECONDS):
                self._update_summaries([(task_id, result.applied_to)], task_id)
        except StoreError as exc:
            if isinstance(exc, StoreBusy):
                raise
            raise ClusterUnavailable(5, str(exc)) from None
        return None

    def apply_pending(self) -> int:
        return 0  # nothing is ever queued (see record_run)


def _set_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO scheduler_meta (key, value) VALUES (:k, CAST(:v AS jsonb)) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
        ),
        {"k": key, "v": value},
    )
