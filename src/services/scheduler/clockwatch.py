"""Clock steps: the wall clock against the monotonic clock.

The wall clock (``CLOCK_REALTIME``) can be *stepped*: NTP correcting a slow clock, an
administrator's ``date -s``, a bad RTC or NTP source. The monotonic clock cannot. Their
difference (the *offset*) is constant while the wall clock runs true and moves by a few
milliseconds a minute while NTP slews it; a step moves it at once by the step's size.
A machine waking from suspend looks the same (the monotonic clock stood still): that
is right too, because the fire times it slept through are just as passed over.

:class:`ClockWatch` is fed both clocks by the main loop (on every tick, and the tick
comes at least every ``CLOCK_CHECK_SECONDS``) and says when the offset moved by more
than ``CLOCK_STEP_SECONDS``: a :class:`ClockStep`. After a step -- and after start,
when nothing is known yet -- the clock is *unsettled* until the offset has held for
``CLOCK_STABLE_SECONDS``; while it is, nothing is deleted by retention (a clock 100
days fast would otherwise delete 100 days of real history). Pure: time is injected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from src.core.clock import to_utc_iso
from src.services.retention import RetentionGate


@dataclass(frozen=True)
class ClockStep:
    """The wall clock jumped by ``seconds`` (positive: forward) and read ``after`` then;
    the fire times in ``(before, after]`` were passed over (forward) or are lived
    again (backward)."""

    seconds: float
    after: datetime  # the wall clock just after the step

    @property
    def before(self) -> datetime:
        """What the wall clock would read now had it not stepped."""
        return self.after - timedelta(seconds=self.seconds)

    @property
    def forward(self) -> bool:
        return self.seconds > 0

    def describe(self) -> str:
        return f"{format_step(self.seconds)} at {to_utc_iso(self.after)}"

    def message(self) -> str:
        return (
            f"the wall clock stepped {self.describe()}; timers re-planned, retention "
            "paused until the clock is stable"
        )


def format_step(seconds: float) -> str:
    """``+1 h``, ``-30 s``, ``+100 d``: the size of a step, roughly, with its sign."""
    sign = "+" if seconds >= 0 else "-"
    size = abs(seconds)
    for unit, length in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if size >= length * 0.995:  # a +1 h step measured at 3,599.99 s is still +1 h
            return f"{sign}{size / length:.3g} {unit}"
    return f"{sign}{size:.3g} s"


class ClockWatch:
    def __init__(
        self, wall: datetime, monotonic: float, *, step_seconds: float, stable_seconds: float
    ) -> None:
        self.step_seconds = step_seconds
        self.stable_seconds = stable_seconds
        self._offset = wall.timestamp() - monotonic
        self._steady_since = monotonic  # start counts as unsettled: nothing is known yet
        self.last_step: ClockStep | None = None
        self._holding = False

    def observe(self, wall: datetime, monotonic: float) -> ClockStep | None:
        """Compare the clocks; a :class:`ClockStep` when the wall clock jumped."""
        offset = wall.timestamp() - monotonic
        moved = offset - self._offset
        self._offset = offset  # follow NTP's slewing: only a jump counts
        if abs(moved) <= self.step_seconds:
            return None
        self._steady_since = monotonic
        self.last_step = ClockStep(moved, wall)
        return self.last_step

    def settled(self, monotonic: float) -> bool:
        """Whether the offset has held for ``stable_seconds`` (since start or a step)."""
        return monotonic - self._steady_since >= self.stable_seconds

    def hold(self, gate: RetentionGate, monotonic: float) -> str | None:
        """Hold ``gate`` while the clock is unsettled, trust it again once it is settled;
        returns the reason to hand to the runs started meanwhile (None: they may prune)."""
        waiting = self.waiting(monotonic)
        if waiting is None:
            if self._holding:
                gate.trust()
                self._holding = False
            return None
        reason = f"the clock is not trusted yet: {waiting}"
        gate.hold(reason)
        self._holding = True
        return reason

    def step_note(self, monotonic: float) -> str | None:
        """For /health: the step being waited out, None when there is none."""
        return None if self.last_step is None else self.waiting(monotonic)

    def waiting(self, monotonic: float) -> str | None:
        """Why the clock is not trusted yet (for /health and the runs), None when it is."""
        if self.settled(monotonic):
            return None
        left = self.stable_seconds - (monotonic - self._steady_since)
        if self.last_step is None:
            return f"just started, trusted in {left:.0f} s"
        return f"stepped {self.last_step.describe()}, waiting until stable ({left:.0f} s left)"
