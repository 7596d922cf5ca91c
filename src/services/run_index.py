"""An index of the run history for the HTTP API: a SQLite file beside ``runs.jsonl``.

The JSON-lines history stays the record (the recorder appends to it, every reader
and tool reads it, a person can grep it); folding 1,000,000 runs (4,000,000 lines,
~1 GB) out of it takes minutes, far from the 100 ms a page of ``GET /api/runs`` may
take. So :class:`RunIndex` keeps each run, folded, in SQLite
(``runs.jsonl.index.sqlite``), indexed by task, status, trigger and time, and
remembers how far into the JSON-lines file it has read: each query first folds in
only the lines appended since (a few, usually none). The index is a cache: deleted,
or when the history was rewritten (pruned: a new file), it is rebuilt from the file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from src.core.clock import parse_instant, to_utc_iso
from src.core.vocabulary import RunStatus
from src.services.history import RunRecord, fold_line

#: 2: records keep their steps' results (``step_results``); an index of 1 is rebuilt
SCHEMA_VERSION = "2"
#: Lines folded per transaction while catching up (bounded memory on a first build).
BATCH_LINES = 20_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    task_id TEXT NOT NULL,
    status TEXT NOT NULL,
    trigger TEXT,
    at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_task_at ON runs (task_id, at DESC);
CREATE INDEX IF NOT EXISTS runs_at ON runs (at DESC);
CREATE INDEX IF NOT EXISTS runs_status_at ON runs (status, at DESC);
CREATE INDEX IF NOT EXISTS runs_trigger_at ON runs (trigger, at DESC);
"""


@dataclass(frozen=True)
class RunQuery:
    """Which runs: each filter that is not None must match; ``since`` / ``until`` bound
    when the run began (UTC ISO text, compared as text: the history writes one format)."""

    task_id: str | None = None
    status: str | None = None
    trigger: str | None = None
    since: str | None = None
    until: str | None = None
    limit: int = 50
    offset: int = 0


class IndexUnavailable(Exception):
    """The index cannot be opened or brought up to date (a full disk, a permission): the
    history is intact; the index catches up by itself once it can write again."""


class HistoryIndex(Protocol):
    """What the API and the pages read runs through: :class:`RunIndex` (runs.jsonl's
    index), or in cluster mode the cluster's runs table
    (:class:`~src.services.cluster.run_index.ClusterRunIndex`); chosen by
    :func:`~src.services.cluster.stores.open_run_index`. A failure to read is
    :class:`IndexUnavailable` (the API's 503) saying what to do."""

    def page(self, query: RunQuery) -> tuple[list[dict[str, Any]], int]: ...

    def newest(self, query: RunQuery) -> list[dict[str, Any]]: ...

    def status_counts(self, since: str) -> dict[str, int]: ...

    def get(self, run_id: str) -> RunRecord | None: ...

    def lines_of(self, run_id: str) -> tuple[RunRecord, list[dict[str, Any]]] | None: ...

    def latest(self, task_id: str, count: int) -> list[RunRecord]: ...

    def refresh(self) -> int: ...

    def close(self) -> None: ...


class RunIndex:
    def __init__(self, history_path: Path, index_path: Path | None = None) -> None:
        self.history_path = history_path
        self.path = index_path or history_path.with_name(history_path.name + ".index.sqlite")
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    # -- reading --------------------------------------------------------------------------

    def page(self, query: RunQuery) -> tuple[list[dict[str, Any]], int]:
        """The runs ``query`` selects, newest first, and how many match in all."""
        where, args = _where(query)
        with self._connection() as db:
            total = db.execute(f"SELECT count(*) FROM runs {where}", args).fetchone()[0]
            rows = db.execute(
                f"SELECT record FROM runs {where} ORDER BY at DESC, rowid DESC LIMIT ? OFFSET ?",
                [*args, query.limit, query.offset],
            ).fetchall()
        return [_record(text).to_json() for (text,) in rows], int(total)

    def newest(self, query: RunQuery) -> list[dict[str, Any]]:
        """The runs ``query`` selects, newest first, without counting them all (a chart)."""
        where, args = _where(query)
        with self._connection() as db:
            rows = db.execute(
                f"SELECT record FROM runs {where} ORDER BY at DESC, rowid DESC LIMIT ? OFFSET ?",
                [*args, query.limit, query.offset],
            ).fetchall()
        return [_record(text).to_json() for (text,) in rows]

    def status_counts(self, since: str) -> dict[str, int]:
        """How many runs began at or after ``since`` (UTC ISO text), per status: one range
        of the (status, at) index per status, so a day of a large history counts fast."""
        with self._connection() as db:
            counts = {
                status: int(
                    db.execute(
                        "SELECT count(*) FROM runs WHERE status = ? AND at >= ?", (status, since)
                    ).fetchone()[0]
                )
                for status in RunStatus.values()
            }
        return {status: count for status, count in counts.items() if count}

    def get(self, run_id: str) -> RunRecord | None:
        found = self.lines_of(run_id)
        return found[0] if found else None

    def lines_of(self, run_id: str) -> tuple[RunRecord, list[dict[str, Any]]] | None:
        """The run, folded, and every line of it as written (oldest first)."""
        with self._connection() as db:
            row = db.execute("SELECT record FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        lines: list[dict[str, Any]] = json.loads(row[0])["lines"]
        return _record(row[0]), lines

    def latest(self, task_id: str, count: int) -> list[RunRecord]:
        """The task's ``count`` latest runs, oldest first (as RunHistory.runs gives them)."""
        with self._connection() as db:
            rows = db.execute(
                "SELECT record FROM runs WHERE task_id = ? ORDER BY at DESC, rowid DESC LIMIT ?",
                (task_id, count),
            ).fetchall()
        return [_record(text) for (text,) in reversed(rows)]

    # -- keeping up with the file -----------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._up_to_date()
            assert self._db is not None
            yield self._db

    def _up_to_date(self) -> int:
        """Open the index if need be and fold in the history's new lines (lock held)."""
        try:
            if self._db is None:
                self._db = self._open()
            return self._catch_up(self._db)
        except (sqlite3.Error, OSError) as exc:
            if self._db is not None:
                self._db.close()
                self._db = None  # opened afresh next time
            raise IndexUnavailable(
                f"the run index {self.path} cannot be brought up to date ({exc}); the "
                f"history {self.history_path} is intact. Free space in (or allow writing "
                f"to) {self.path.parent}: the index catches up by itself."
            ) from exc

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        os.chmod(self.path, 0o640)  # runs name tasks and recipients, like the history
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        return db

    def refresh(self) -> int:
        """Fold in what the history gained since the last look; returns lines read."""
        with self._lock:
            return self._up_to_date()

    def _catch_up(self, db: sqlite3.Connection) -> int:
        try:
            handle = self.history_path.open("rb")
        except FileNotFoundError:
            self._reset(db, None)
            return 0
        with handle:
            info = os.fstat(handle.fileno())
            identity = f"{SCHEMA_VERSION}:{info.st_dev}:{info.st_ino}"
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            offset = int(meta.get("offset", 0))
            if meta.get("file") != identity or offset > info.st_size:
                self._reset(db, identity)  # another file (pruned, replaced): start over
                offset = 0
            if offset == info.st_size:
                return 0
            handle.seek(offset)
            return self._fold_from(db, handle, offset)

    def _reset(self, db: sqlite3.Connection, identity: str | None) -> None:
        with db:
            db.execute("DELETE FROM runs")
            db.execute("DELETE FROM meta")
            if identity is not None:
                db.execute("INSERT INTO meta VALUES ('file', ?), ('offset', '0')", (identity,))

    def _fold_from(self, db: sqlite3.Connection, handle: Any, offset: int) -> int:
        read = 0
        while True:
            pending: dict[str, tuple[RunRecord, list[dict[str, Any]]]] = {}
            count = 0
            for raw in handle:
                if not raw.endswith(b"\n"):
                    break  # a line still being written: read again next time
                offset += len(raw)
                count += 1
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue  # a torn line from a crash, as RunHistory skips it
                if not isinstance(line, dict) or "run_id" not in line:
                    continue
                run_id = str(line["run_id"])
                known = pending.get(run_id) or self._stored(db, run_id)
                record, lines = known if known else (None, [])
                lines.append(line)
                pending[run_id] = (fold_line(record, line), lines)
                if count >= BATCH_LINES:
                    break
            self._store(db, pending, offset)
            read += count
            if count < BATCH_LINES:
                return read

    @staticmethod
    def _stored(
        db: sqlite3.Connection, run_id: str
    ) -> tuple[RunRecord, list[dict[str, Any]]] | None:
        row = db.execute("SELECT record FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return (_record(row[0]), json.loads(row[0])["lines"]) if row else None

    @staticmethod
    def _store(
        db: sqlite3.Connection,
        records: dict[str, tuple[RunRecord, list[dict[str, Any]]]],
        offset: int,
    ) -> None:
        with db:
            db.executemany(
                "INSERT INTO runs (run_id, task_id, status, trigger, at, record) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
                "task_id = excluded.task_id, status = excluded.status, "
                "trigger = excluded.trigger, record = excluded.record",
                [
                    (
                        r.run_id,
                        r.task_id,
                        r.status,
                        r.data.get("trigger"),
                        _instant(r.data.get("started_at") or r.data.get("at")),
                        json.dumps({**r.state(), "lines": lines}, ensure_ascii=False, default=str),
                    )
                    for r, lines in records.values()
                ],
            )
            db.execute("UPDATE meta SET value = ? WHERE key = 'offset'", (str(offset),))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def _instant(value: object) -> str:
    """When the run began as the UTC ``...Z`` text the filters compare with (a line
    written with another offset sorts among the others by its instant)."""
    try:
        return to_utc_iso(parse_instant(str(value)))
    except (ValueError, OverflowError):
        return str(value or "")


def _record(text: str) -> RunRecord:
    return RunRecord.from_state(json.loads(text))


def _where(query: RunQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for column, value in (
        ("task_id", query.task_id),
        ("status", query.status),
        ("trigger", query.trigger),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if query.since is not None:
        clauses.append("at >= ?")
        args.append(query.since)
    if query.until is not None:
        clauses.append("at < ?")
        args.append(query.until)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", args
