"""Whether this process may delete old history, exports and outbox messages now.

Retention judges age by the wall clock, and a wall clock that jumped (a bad RTC or NTP
source set 100 days ahead) would make all real records look old: deleting them cannot
be undone, while keeping them a few minutes longer costs nothing. So a prune asks
:data:`GATE` first, and it says no

* while the daemon holds it: after a clock step, and after start, until the wall clock
  has agreed with the monotonic clock for ``CLOCK_STABLE_SECONDS``
  (:mod:`src.services.scheduler.clockwatch`); a run started meanwhile is held too;
* when the wall clock moved against the monotonic clock by more than
  ``STEP_TOLERANCE_SECONDS`` since this process last trusted it (a run that a step
  caught half-way, or a ``manage_tasks.py run`` during a step).

Refusing is never an error: the prune is simply tried again by a later write.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: NTP slews at most 0.5 ms a second; a run lasts minutes: more than this is a step.
STEP_TOLERANCE_SECONDS = 2.0


def _offset(wall: Callable[[], float], monotonic: Callable[[], float]) -> float:
    return wall() - monotonic()


class RetentionGate:
    def __init__(
        self,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        tolerance: float = STEP_TOLERANCE_SECONDS,
    ) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self.tolerance = tolerance
        self._reference = _offset(wall, monotonic)
        self._held: str | None = None

    def hold(self, reason: str) -> None:
        """No pruning until :meth:`trust` (the clock is not trusted: ``reason``)."""
        self._held = reason

    def trust(self) -> None:
        """The clock is settled: allow pruning, judged against the clock as it is now."""
        self._held = None
        self._reference = _offset(self._wall, self._monotonic)

    def adopt(self, reference: float) -> None:
        """Judge the clock against ``reference`` (wall - monotonic, as the daemon read it
        when it started this run: the monotonic clock is the machine's, shared by all its
        processes), so a step between the spawn and this process's first look counts."""
        self._reference = reference

    @staticmethod
    def reference_now() -> float:
        return _offset(time.time, time.monotonic)

    def refusal(self) -> str | None:
        """Why this process must not prune now, or None when it may."""
        if self._held is not None:
            return self._held
        moved = _offset(self._wall, self._monotonic) - self._reference
        if abs(moved) > self.tolerance:
            return f"the wall clock stepped by {moved:+.0f} s while this process ran"
        return None


#: The process's gate: the daemon and a run's worker hold it; prunes ask it.
GATE = RetentionGate()
