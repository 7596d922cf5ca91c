"""``manage_tasks.py store copy``: a single machine's tasks and history into the cluster
database, or the cluster's back out into a tasks file and its history -- checked, and
all or nothing.

Into the database: one transaction writes every task and every history line, reads them
back and compares them with the source before it commits; the database must hold no
tasks and no history yet (a copy never merges two sets of tasks). Out to files: the tasks
file and the history are written to temporary files, read back and compared, then
renamed into place; neither target may exist yet.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from src.core.errors import StoreError
from src.services.atomic import fsync_directory
from src.services.cluster.database import shown_url, transaction
from src.services.cluster.run_log import insert_line
from src.services.cluster.schema import require_current
from src.services.cluster.task_store import ClusterTaskStore
from src.services.history import RunHistory
from src.services.recorder import RunLog
from src.services.task_store import TaskFile, TaskStore, serialize


@dataclass(frozen=True)
class Copied:
    tasks: int
    lines: int
    target: str

    def describe(self) -> str:
        return (
            f"copied {self.tasks} task(s) and {self.lines} history line(s) to {self.target}; "
            "read back and compared: identical"
        )


def _documents(tasks: TaskFile) -> list[dict[str, Any]]:
    return [task.to_dict() for task in tasks.tasks]


def copy_into_database(
    source: TaskStore, history: RunLog, engine: Engine, tasks_file: Path
) -> Copied:
    """``source`` (tasks.json) and ``history`` (runs.jsonl) into the empty cluster database."""
    require_current(engine)
    tasks = source.load()
    lines = list(history.lines())
    where = shown_url(engine.url.render_as_string(hide_password=False))
    target = ClusterTaskStore(engine, tasks_file, default_timezone=source.default_timezone)
    with transaction(engine, "copying the tasks and history in") as conn:
        held = conn.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM scheduler_tasks), "
                "(SELECT count(*) FROM scheduler_run_lines)"
            )
        ).one()
        if held[0] or held[1]:
            raise StoreError(
                f"the cluster database {where} already holds {held[0]} task(s) and {held[1]} "
                "history line(s); a copy goes only into an empty cluster (nothing was copied)"
            )
        target._local.conn = conn  # the store's writes join this one transaction
        try:
            target._read(conn)
            target._write(serialize(tasks.to_document()), None)
            for line in lines:
                insert_line(conn, line)
            back = target.parse(target._read(conn))
        finally:
            target._local.conn = None
        count = conn.execute(sa.text("SELECT count(*) FROM scheduler_run_lines")).scalar()
        _compare(_documents(tasks), _documents(back), len(lines), int(count or 0), where)
    return Copied(len(tasks.tasks), len(lines), where)


def copy_out_to_files(
    source: ClusterTaskStore, history: RunLog, tasks_file: Path, history_file: Path
) -> Copied:
    """The cluster's tasks and history into a new tasks file and history file."""
    for path in (tasks_file, history_file):
        if path.exists():
            raise StoreError(
                f"{path} already exists; a copy writes only new files (move it away first; "
                "nothing was copied)"
            )
    tasks = source.load()
    lines = list(history.lines())
    history_file.parent.mkdir(parents=True, exist_ok=True)
    temps = [
        tasks_file.with_name(f".{tasks_file.name}.copy.tmp"),
        history_file.with_name(f".{history_file.name}.copy.tmp"),
    ]
    try:
        temps[0].write_bytes(serialize(tasks.to_document()))
        text = "".join(json.dumps(line, ensure_ascii=False, default=str) + "\n" for line in lines)
        temps[1].write_bytes(text.encode("utf-8"))
        for temp in temps:
            with temp.open("rb") as handle:
                os.fsync(handle.fileno())
        back = TaskStore(temps[0], default_timezone=source.default_timezone).load()
        read_lines = list(RunHistory(temps[1]).lines())
        _compare(_documents(tasks), _documents(back), len(lines), len(read_lines), str(tasks_file))
        os.replace(temps[1], history_file)
        try:
            os.replace(temps[0], tasks_file)
        except OSError:
            history_file.unlink(missing_ok=True)  # all or nothing
            raise
        for folder in {tasks_file.parent, history_file.parent}:
            fsync_directory(folder)
    finally:
        for temp in temps:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
    return Copied(len(tasks.tasks), len(lines), f"{tasks_file} and {history_file}")


def _compare(
    want: list[dict[str, Any]], got: list[dict[str, Any]], lines: int, got_lines: int, where: str
) -> None:
    if want != got:
        differ = [a.get("name") for a, b in zip(want, got, strict=False) if a != b]
        raise StoreError(
            f"the tasks read back from {where} differ from the source "
            f"({len(want)} vs {len(got)} task(s); differing: {differ[:5]}); nothing was copied"
        )
    if lines != got_lines:
        raise StoreError(
            f"{got_lines} history line(s) read back from {where}, {lines} in the source; "
            "nothing was copied"
        )
