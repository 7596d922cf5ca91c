"""What the HTTP API needs from the daemon: a small protocol the daemon implements.

The API runs in the HTTP server's threads; the daemon's state belongs to its main
thread. :class:`Handoff` carries a call from an HTTP thread to the main loop and
brings the answer back (with a timeout), so a daemon implements ``trigger`` as
``return self.handoff.call(lambda: self._queue_webhook_run(task.id))`` and calls
``self.handoff.run_pending()`` once per tick.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from src.core.task import Task
from src.services.recorder import RunLog

T = TypeVar("T")

#: The main loop wakes at once on a handoff; this is only a guard against a stuck loop.
HANDOFF_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class TriggerResult:
    """The daemon's answer to a trigger.

    ``accepted``: a run ``run_id`` was queued. Otherwise ``reason`` says why not;
    ``unavailable`` marks a refusal that is not about the task (the daemon is
    stopping) and becomes 503 instead of 409. A refused occurrence the daemon
    recorded as ``skipped`` may carry that record's ``run_id``.
    """

    run_id: str | None
    accepted: bool
    reason: str | None = None
    unavailable: bool = False


@dataclass(frozen=True)
class HealthState:
    """The scheduler as the main loop last saw it.

    ``scheduler_state``: ``starting``, ``running`` or ``stopping``. ``last_tick``:
    when the main loop last went round (aware UTC). ``tasks_file_error``: set while
    tasks.json cannot be read or is invalid (the daemon keeps the last good set).
    ``storage_error``: set while the data folder cannot be written (the daemon holds runs).
    """

    scheduler_state: str
    tasks_loaded: int
    last_tick: datetime | None
    tasks_file_error: str | None = None
    queue_depth: int = 0
    running: int = 0
    #: a wall-clock step being waited out (``stepped +100 d at ..., waiting until stable``)
    clock: str | None = None
    #: ``full: <path>: <reason>`` while the data folder cannot be written (no run starts)
    storage_error: str | None = None
    held_records: int = 0  # records the daemon could not write yet, kept in memory
    #: paused: no new scheduled runs (src/services/scheduler/pause.py); a state, not a fault
    paused: bool = False


class DaemonControl(Protocol):
    """Implemented by the daemon; every method is called from an HTTP server thread."""

    def trigger(self, task: Task, *, trigger: str, idempotency_key: str | None) -> TriggerResult:
        """Queue a run of ``task`` now under the task's no-overlap rule.

        The run id must be assigned here and used by the run itself (its history
        lines), so the status URL answered at once keeps working.
        """
        ...

    def run_status(self, run_id: str) -> dict[str, Any] | None:
        """What the daemon knows of a run not (yet) in the history: ``{"status": "queued",
        ...}`` for a queued one; None when it knows nothing of it."""
        ...

    def health(self) -> HealthState: ...

    def tasks(self) -> list[Task]:
        """The tasks the daemon runs (the last good set when tasks.json is broken)."""
        ...

    def history(self) -> RunLog: ...

    def pause_state(self) -> dict[str, Any]:
        """``{"paused": bool, "paused_since": ISO or None, "paused_by": str or None}``."""
        ...

    def set_paused(self, paused: bool, by: str) -> dict[str, Any]:
        """Pause or resume the scheduler (persisted); returns the new pause state."""
        ...

    def in_flight(self) -> list[dict[str, Any]]:
        """Runs queued or running now: run_id (when known), task_id, task_name, status,
        trigger, started_at."""
        ...


class Unavailable(Exception):
    """The daemon did not answer in time (its main loop is stuck or stopping)."""


class Handoff:
    """Calls from other threads, run on the thread that calls :meth:`run_pending`."""

    def __init__(self, wake: Callable[[], None], timeout: float = HANDOFF_TIMEOUT_SECONDS) -> None:
        self._wake = wake
        self.timeout = timeout
        self._calls: deque[tuple[Callable[[], Any], Future[Any]]] = deque()
        self._lock = threading.Lock()
        self._closed = False

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the main thread and return its result (or raise its exception).

        Raises :class:`Unavailable` when the main loop does not run it within the
        timeout; the call is then cancelled (it will not run later).
        """
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise Unavailable("the scheduler is stopping")
            self._calls.append((fn, future))
        self._wake()
        try:
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            if future.cancel():
                raise Unavailable(
                    f"the scheduler did not answer within {self.timeout:g} s"
                ) from None
            return future.result()  # it started just now: wait for it to finish

    def run_pending(self) -> int:
        """Run the calls waiting (main thread); returns how many ran."""
        ran = 0
        while True:
            with self._lock:
                if not self._calls:
                    return ran
                fn, future = self._calls.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except Exception as exc:  # handed to the caller, who decides
                future.set_exception(exc)
            ran += 1

    def close(self) -> None:
        """Refuse new calls and fail the waiting ones (at shutdown)."""
        with self._lock:
            self._closed = True
            pending = list(self._calls)
            self._calls.clear()
        for _, future in pending:
            if future.set_running_or_notify_cancel():
                future.set_exception(Unavailable("the scheduler is stopping"))
