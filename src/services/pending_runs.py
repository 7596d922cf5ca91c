"""Run summaries waiting for tasks.json's lock: a queue file beside it.

A run's end adds its result to its task's summary in tasks.json, under the store's
lock. A person's ``manage_tasks.py`` (stopped in a terminal, waiting on a prompt) may
hold that lock for minutes; a run must not wait on it, or the task stays busy and its
next occurrences are skipped. So a writer that cannot have the lock within a moment
appends the result here (``tasks.json.pending``, one JSON line per run, fsynced) and
the next writer that holds the lock (the daemon looks every second) applies and
removes them. Results apply in any order to the same summary
(:class:`~src.core.task.RunResult`).

The one crash window: after tasks.json was written and before the applied lines were
removed, a crash applies them a second time (a count one too high); the history, not
the summary, is the record of runs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from src.core.clock import parse_instant
from src.core.task import RunResult
from src.services.atomic import atomic_write_bytes


@dataclass(frozen=True)
class Queued:
    """Results read from the queue, and how many bytes of it they took."""

    entries: list[tuple[str, RunResult]] = field(default_factory=list)
    size: int = 0


class PendingRuns:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(str(path) + ".lock", timeout=30, mode=0o640)

    def append(self, task_id: str, result: RunResult) -> None:
        line = json.dumps({"task_id": task_id, **result.to_json()}, ensure_ascii=False) + "\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self) -> Queued:
        """Every whole line queued so far (a torn last line is left for later)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return Queued()
        whole = raw[: raw.rfind(b"\n") + 1]
        entries = [_entry(json.loads(line)) for line in whole.splitlines() if line.strip()]
        return Queued([e for e in entries if e is not None], len(whole))

    def drop(self, queued: Queued) -> None:
        """Remove what ``queued`` read; lines appended since stay."""
        if queued.size == 0:
            return
        with self._lock:
            rest = self.path.read_bytes()[queued.size :]
            if rest:
                atomic_write_bytes(self.path, rest)
            else:
                self.path.unlink(missing_ok=True)


def _entry(item: Any) -> tuple[str, RunResult] | None:
    try:
        return str(item["task_id"]), RunResult(
            status=str(item["status"]),
            started_at=parse_instant(str(item["started_at"])),
            error=item.get("error"),
            ended_at=parse_instant(str(item["ended_at"])),
        )
    except (KeyError, TypeError, ValueError):
        return None  # not ours: skipped, and removed with the rest
