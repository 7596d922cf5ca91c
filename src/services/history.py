"""Run history: an append-only JSON-lines file, one line per step of a run.

A run writes ``started`` when it begins, a line per step it completes
(``exported``, ``emailed``) and ``finished`` at the end, all with the same
``run_id``. Lines are appended under a lock and flushed to disk, so a crash
loses at most the step in progress, and what was already done (an email sent)
is on record. Readers fold the lines of a run into one record.

Retention: lines older than ``keep_days`` are dropped (rewriting the file
atomically, under the same lock) at most once per process per day, and never while
the retention gate refuses (:mod:`src.services.retention`: a wall clock that jumped
must not make real records look old).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from filelock import FileLock

from src.core.clock import parse_instant, to_utc_iso
from src.core.vocabulary import FINAL_STATUSES, RunStatus
from src.services.atomic import atomic_write_bytes
from src.services.permissions import make_private_dir
from src.services.retention import GATE, RetentionGate


@dataclass
class RunRecord:
    """A run, folded from its lines."""

    run_id: str
    task_id: str
    task_name: str
    status: str = RunStatus.RUNNING
    steps: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    #: the record of each step of a task with steps, in the order they ended
    step_results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        """``running`` means no ``finished`` line (yet)."""
        return self.status in FINAL_STATUSES

    @property
    def email_may_have_gone(self) -> bool:
        """Its email was sent, or may have been: recorded as about to be sent and neither
        recorded as sent nor as failed (cut off, or the record of it could not be written).
        Such a run's occurrence is never sent again on the daemon's own."""
        if "emailed" in self.steps:
            return True
        return "emailing" in self.steps and self.data.get("email_sent") is not False

    def state(self) -> dict[str, Any]:
        """Everything folded so far, as JSON (what a run index keeps between lines)."""
        return {
            "run_id": self.run_id,
            "task_id": self.task_id,
            "task_name": self.task_name,
            "status": self.status,
            "steps": self.steps,
            "data": self.data,
            "step_results": self.step_results,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RunRecord:
        """The record :meth:`state` wrote (``step_results`` absent: an older index's)."""
        return cls(
            str(state["run_id"]),
            str(state["task_id"]),
            str(state["task_name"]),
            str(state["status"]),
            list(state["steps"]),
            dict(state["data"]),
            list(state.get("step_results") or []),
        )

    def to_json(self) -> dict[str, Any]:
        out = dict(self.data)
        out.update(
            run_id=self.run_id,
            task_id=self.task_id,
            task_name=self.task_name,
            status=self.status,
            steps=list(self.steps),
        )
        if self.step_results:
            out["step_results"] = [dict(step) for step in self.step_results]
        out.pop("event", None)
        out.pop("at", None)
        return out


class RunHistory:
    """The JSON-lines :class:`~src.services.recorder.RunLog`. Only the recorder appends."""

    def __init__(self, path: Path, keep_days: int = 90, gate: RetentionGate = GATE) -> None:
        self.path = path
        self.keep_days = keep_days
        self.gate = gate
        self._lock = FileLock(str(path) + ".lock", timeout=30, mode=0o640)
        self._pruned_on: str | None = None

    def append(self, event: str, run_id: str, at: datetime, **fields: Any) -> None:
        """Append one line for ``run_id``; durable when this returns.

        Whole or absent: a write cut short (a full disk, a file-size limit) is cut back
        off before the error is raised, and a fragment an earlier crash left at the end
        of the file is closed with a line break first, so it can never swallow this
        record (readers skip the fragment as a torn line).
        """
        line = {"event": event, "run_id": run_id, "at": to_utc_iso(at), **fields}
        data = (json.dumps(line, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        make_private_dir(self.path.parent)
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data
                _write_whole(fd, data, size)
                os.fsync(fd)
            finally:
                os.close(fd)
        self._maybe_prune(at)

    def lines(self, containing: str | None = None) -> Iterator[dict[str, Any]]:
        """Every line, oldest first; a torn last line (a crash mid-write) is skipped.

        ``containing`` skips, before parsing, lines without that text (a run or task id):
        looking one run up in months of history then costs a scan, not a parse per line.
        """
        needle = containing.encode("utf-8") if containing else None
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return
        with handle:
            for raw in handle:
                if needle is not None and needle not in raw:
                    continue
                try:
                    item = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(item, dict) and "run_id" in item:
                    yield item

    def runs(self, task_id: str | None = None) -> list[RunRecord]:
        """Runs folded from their lines, oldest first (optionally of one task)."""
        lines = self.lines(containing=task_id)
        if task_id is not None:
            lines = (line for line in lines if line.get("task_id") == task_id)
        return list(_fold(lines).values())

    def get(self, run_id: str) -> RunRecord | None:
        lines = (line for line in self.lines(containing=run_id) if line.get("run_id") == run_id)
        return _fold(lines).get(run_id)

    def _maybe_prune(self, now: datetime) -> None:
        """Prune when the oldest line is past ``keep_days``: one line read, so a run's
        record does not cost more as the history grows (each run is its own process)."""
        today = now.date().isoformat()
        if self._pruned_on == today or self.gate.refusal() is not None:
            return  # a refused prune is tried again by the next line written
        self._pruned_on = today
        oldest = self._oldest_at()
        if oldest is not None and oldest >= now - timedelta(days=self.keep_days):
            return
        self.prune(now)

    def _oldest_at(self) -> datetime | None:
        """When the first line was written (lines are appended in time order); None when
        the file is empty or its first line cannot be read (then a prune tidies it)."""
        try:
            with self.path.open("rb") as handle:
                first = handle.readline()
            return parse_instant(str(json.loads(first)["at"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def prune(self, now: datetime) -> int:
        """Drop lines of runs that started more than ``keep_days`` ago; returns lines dropped."""
        cutoff = now - timedelta(days=self.keep_days)
        with self._lock:
            lines = list(self.lines())
            old_runs = {
                line["run_id"]
                for line in lines
                if line.get("event") == "started" and parse_instant(str(line["at"])) < cutoff
            }
            if not old_runs:
                return 0
            kept = [line for line in lines if line["run_id"] not in old_runs]
            data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in kept)
            atomic_write_bytes(self.path, data.encode("utf-8"), mode=0o640)
            return len(lines) - len(kept)


def _write_whole(fd: int, data: bytes, size: int) -> None:
    """Write all of ``data`` at the end of ``fd`` (``size`` bytes before it), or none of it."""
    written = 0
    try:
        while written < len(data):
            count = os.write(fd, data[written:])
            if count <= 0:  # pragma: no cover - a regular file never returns 0
                raise OSError(errno.EIO, "short write")
            written += count
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
        raise


def _fold(lines: Iterable[dict[str, Any]]) -> dict[str, RunRecord]:
    """Runs by id, each folded from its lines in order (the latest value of a field wins)."""
    records: dict[str, RunRecord] = {}
    for line in lines:
        run_id = str(line["run_id"])
        records[run_id] = fold_line(records.get(run_id), line)
    return records


def fold_line(record: RunRecord | None, line: dict[str, Any]) -> RunRecord:
    """``record`` (None: the run's first line) with one more of its lines folded in."""
    if record is None:
        record = RunRecord(
            run_id=str(line["run_id"]),
            task_id=str(line.get("task_id", "")),
            task_name=str(line.get("task_name", "")),
        )
    record.steps.append(str(line.get("event")))
    if line.get("event") == "step" and isinstance(line.get("step"), dict):
        record.step_results.append(line["step"])  # its own record, not the run's fields
        return record
    if line.get("event") == "step_started":
        return record  # its step_id and kind would read as the run's
    record.data.update({k: v for k, v in line.items() if v is not None})
    if line.get("event") == "finished":
        record.status = str(line.get("status", RunStatus.FAILED))
    return record
