"""Storage health: whether the daemon can record what it does, and the writes it holds.

A run that cannot be recorded must not start, and a record the daemon could not write
must not be lost. :class:`StorageHealth` is the main loop's view of the data folder:

* a write that fails (a full disk, a quota, a read-only or failing file system) marks
  it unwritable, with the path and the reason; so does free space under
  ``STORAGE_MIN_FREE_BYTES`` (looked at every ``STORAGE_CHECK_SECONDS``), so runs stop
  before their first record would fail rather than after;
* while it is unwritable no run starts (the daemon holds due occurrences, see
  :mod:`daemon`), and every ``STORAGE_CHECK_SECONDS`` a probe file is written; once the
  probe fits, the held writes are made, oldest first, and runs start again;
* it says so once when it turns unwritable and once when it comes back (never per tick).

:class:`HeldLog` is the run history as the daemon writes it: a line that cannot be
written is kept in memory, in order, behind any already held, and written when the
probe next fits. Reads go to the history as it is on disk. :class:`HeldFires` is what
came due meanwhile.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from src.core.task import Task
from src.services.history import RunRecord
from src.services.recorder import RunLog
from src.services.scheduler.eventlog import EventLog, local_time, short
from src.services.scheduler.timetable import Due, OccurrenceKey, Timetable

#: errno values that mean "no room", as opposed to "not allowed" or a failing device.
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_PROBE_NAME = ".storage-probe"


def describe(exc: OSError) -> str:
    """``No space left on device`` (the system's words for the errno)."""
    return exc.strerror or str(exc)


class StorageHealth:
    """The data folder as the main loop last found it. Main-loop only, except
    :attr:`problem` and :attr:`held_count`, which the HTTP threads read."""

    def __init__(
        self,
        folder: Path,
        events: EventLog,
        *,
        check_seconds: float,
        min_free_bytes: int,
    ) -> None:
        self.folder = folder
        self.events = events
        self.check_seconds = check_seconds
        self.min_free_bytes = min_free_bytes
        #: ``full: <path>: <reason>`` (or ``unwritable: ...``) while runs are held
        self.problem: str | None = None
        self._since: float | None = None
        self._last_check = float("-inf")
        self._held: deque[tuple[str, Callable[[], None]]] = deque()

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def held_count(self) -> int:
        return len(self._held)

    # -- what the daemon's writes report --------------------------------------------------

    def failed(self, what: str, path: Path | str, exc: OSError) -> None:
        """A write of the daemon failed: no run starts until the folder is writable."""
        kind = "full" if exc.errno in _FULL else "unwritable"
        self._turn_bad(f"{kind}: {path}: {describe(exc)}", what)

    def hold(self, what: str, path: Path | str, action: Callable[[], None], exc: OSError) -> None:
        """A write that already failed: made again, in order, when the folder is writable."""
        self._held.append((what, action))
        self.failed(what, path, exc)

    def write(self, what: str, path: Path | str, action: Callable[[], None]) -> bool:
        """Make a write the daemon must not lose; held (in order) when it fails or when
        earlier ones are still held. True when it was written now."""
        if self._held:
            self._held.append((what, action))
            return False
        try:
            action()
        except OSError as exc:
            self._held.append((what, action))
            self.failed(what, path, exc)
            return False
        return True

    # -- the main loop's check ------------------------------------------------------------

    def check(self, *, force: bool = False) -> bool:
        """Look again when ``check_seconds`` have passed; True when it just came back
        (the held writes are made: the caller resumes what it held)."""
        moment = time.monotonic()
        if not force and moment - self._last_check < self.check_seconds:
            return False
        self._last_check = moment
        low = self._low_space()
        if self.ok:
            if low is not None:
                self._turn_bad(low, "free space")
            return False
        if low is not None or not self._probe() or not self._write_held():
            return False
        assert self._since is not None
        away = moment - self._since
        self.events.info(
            "storage",
            f"storage: {self.folder} is writable again after {away:.1f} s; runs start again "
            "and held occurrences are caught up per each task's catch_up",
            seconds=round(away, 1),
        )
        self.problem = None
        self._since = None
        return True

    def give_up(self) -> None:
        """At shutdown: one last try; what stays unwritten is named in the log, so a
        lost record is never a silent one."""
        if self._held and not self._write_held():
            for what, _ in self._held:
                self.events.error("storage", f"not written ({self.problem}): {what}")

    # -- internals -------------------------------------------------------------------------

    def _turn_bad(self, problem: str, what: str) -> None:
        if self.problem is not None:
            return  # said once; the recovery says the rest
        self.problem = problem
        self._since = time.monotonic()
        self._last_check = self._since
        self.events.error(
            "storage",
            f"storage {problem} (writing {what}); no run starts until it can be written, "
            f"due occurrences are held and records kept in memory; checking every "
            f"{self.check_seconds:g} s",
            problem=problem,
        )

    def _low_space(self) -> str | None:
        try:
            stat = os.statvfs(self.folder if self.folder.exists() else self.folder.parent)
        except OSError:
            return None  # a folder not there yet: the probe says whether it can be made
        free = stat.f_bavail * stat.f_frsize
        if free < self.min_free_bytes:
            return (
                f"full: {self.folder}: {free} bytes free, under STORAGE_MIN_FREE_BYTES="
                f"{self.min_free_bytes}"
            )
        return None

    def _probe(self) -> bool:
        """Whether a small file can be written, synced and removed in the folder."""
        path = self.folder / _PROBE_NAME
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o750)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"\0" * 4096)
                os.fsync(fd)
            finally:
                os.close(fd)
            return True
        except OSError:
            return False
        finally:
            with contextlib.suppress(OSError):
                path.unlink()

    def _write_held(self) -> bool:
        while self._held:
            _, action = self._held[0]
            try:
                action()
            except OSError:
                return False
            self._held.popleft()
        return True


class HeldLog:
    """The run history for the daemon's own records: a line that cannot be written is
    held by :class:`StorageHealth` and written later, never dropped."""

    def __init__(self, log: RunLog, path: Path, storage: StorageHealth) -> None:
        self.inner = log
        self.path = path
        self.storage = storage

    def append(self, event: str, run_id: str, at: datetime, **fields: Any) -> None:
        def write() -> None:
            self.inner.append(event, run_id, at, **fields)

        self.storage.write(f"the {event!r} record of run {run_id[:8]}", self.path, write)

    def lines(self, containing: str | None = None) -> Iterator[dict[str, Any]]:
        return self.inner.lines(containing)

    def runs(self, task_id: str | None = None) -> list[RunRecord]:
        return self.inner.runs(task_id)

    def get(self, run_id: str) -> RunRecord | None:
        return self.inner.get(run_id)


class HeldFires:
    """Occurrences that came due while nothing could be recorded: per task, the instant
    just before the first of them. When storage is back, each task's missed occurrences
    since then are planned by its ``catch_up`` policy, as after downtime."""

    def __init__(
        self,
        events: EventLog,
        *,
        event: str = "held",
        why: str = "runs cannot be recorded; caught up per its catch_up when they can",
    ) -> None:
        self.events = events
        #: the log event and reason (a full disk; the pause, src/services/scheduler/pause.py)
        self.event = event
        self.why = why
        self.since: dict[str, datetime] = {}

    def add(self, task: Task, times: list[datetime]) -> None:
        first = min(times) - timedelta(microseconds=1)
        if task.id not in self.since:  # once per task and outage
            self.events.warning(
                self.event,
                f"task {short(task)}: occurrence {local_time(min(times), task)} held: {self.why}",
                task_id=task.id,
            )
        self.since[task.id] = min(first, self.since.get(task.id, first))

    def due(self, timetable: Timetable, delivered: set[OccurrenceKey], now: datetime) -> list[Due]:
        """What each task missed while held, planned per its policy; forgets them."""
        plans: list[Due] = []
        for task_id, baseline in self.since.items():
            task = timetable.tasks.get(task_id)
            if task is None or not task.enabled:
                continue
            due = timetable.missed(task, baseline, now, set(), delivered)
            if due is not None:
                plans.append(due)
        self.since.clear()
        return plans
