"""Occurrences and what to do with missed ones: pure functions of an injected ``now``.

An occurrence is (task id, scheduled time in UTC): the unit of "exactly once".
After downtime the occurrences a task missed are planned per its ``catch_up``
policy, within its catch-up window:

* ``skip``   -- none is run; each is recorded as skipped.
* ``latest`` -- (default) the latest one is run; the others are recorded as skipped.
* ``all``    -- every one is run, oldest first.

Occurrences older than the window are recorded as skipped whatever the policy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from src.core.errors import ValidationError
from src.core.schedule import Schedule, format_period, parse_period

CATCH_UP_POLICIES = ("skip", "latest", "all")
DEFAULT_CATCH_UP = "latest"
#: At most this many missed occurrences of one task are listed one by one; the rest are
#: counted. A 1-minute task down for a day misses 1,440: a line each would drown the log.
MAX_LISTED_MISSED = 1000


@dataclass(frozen=True)
class CatchUp:
    policy: str
    window: timedelta

    def describe(self) -> str:
        return f"catch_up={self.policy}, window {format_period(self.window)}"


def catch_up_of(extra: Any, default_window: timedelta) -> CatchUp:
    """The task's ``catch_up`` / ``catch_up_window`` fields (kept in the task's extra fields)."""
    policy = extra.get("catch_up", DEFAULT_CATCH_UP) if hasattr(extra, "get") else None
    if policy is None:
        policy = DEFAULT_CATCH_UP
    if policy not in CATCH_UP_POLICIES:
        raise ValidationError(
            "catch_up", f"{policy!r} is not a catch-up policy; use one of skip, latest, all"
        )
    raw_window = extra.get("catch_up_window") if hasattr(extra, "get") else None
    window = default_window if raw_window is None else parse_period(raw_window, "catch_up_window")
    return CatchUp(policy=policy, window=window)


@dataclass
class Plan:
    """What to do with a task's missed occurrences."""

    run: list[datetime] = field(default_factory=list)
    skipped: list[tuple[datetime, str]] = field(default_factory=list)
    not_listed: int = 0  # skipped occurrences counted but not listed (see MAX_LISTED_MISSED)

    @property
    def missed(self) -> int:
        return len(self.run) + len(self.skipped) + self.not_listed


def missed_occurrences(
    schedule: Schedule, after: datetime, now: datetime, limit: int = MAX_LISTED_MISSED
) -> tuple[list[datetime], int]:
    """Fire times in ``(after, now]``, oldest first: at most ``limit`` listed (the newest ones),
    and how many older ones were left out."""
    times: list[datetime] = []
    dropped = 0
    for moment in schedule.between(after, now):
        times.append(moment)
        if len(times) > 2 * limit:  # keep memory bounded on a long downtime
            dropped += len(times) - limit
            times = times[-limit:]
    if len(times) > limit:
        dropped += len(times) - limit
        times = times[-limit:]
    return times, dropped


def plan_catch_up(
    candidates: Iterable[datetime], catch_up: CatchUp, now: datetime, not_listed: int = 0
) -> Plan:
    """Decide, per policy, which missed occurrences run and which are recorded as skipped."""
    times = sorted(set(candidates))
    plan = Plan(not_listed=not_listed)
    oldest = now - catch_up.window
    inside = [t for t in times if t >= oldest]
    for moment in times:
        if moment < oldest:
            plan.skipped.append(
                (moment, f"missed; older than the catch-up window ({catch_up.describe()})")
            )
    if catch_up.policy == "skip":
        plan.skipped.extend((t, f"missed; not run ({catch_up.describe()})") for t in inside)
    elif catch_up.policy == "latest":
        if inside:
            plan.run.append(inside[-1])
            plan.skipped.extend(
                (t, f"missed; only the latest missed run is run ({catch_up.describe()})")
                for t in inside[:-1]
            )
    else:
        plan.run.extend(inside)
    plan.skipped.sort()
    return plan


def retry_delay(attempt: int, delay_seconds: float, backoff: float, cap_seconds: float) -> float:
    """Seconds to wait before attempt ``attempt + 1`` after attempt ``attempt`` failed:
    ``delay * backoff ** (attempt - 1)``, at most ``cap_seconds``."""
    exponent = max(attempt - 1, 0)
    try:
        delay = delay_seconds * (backoff**exponent)
    except OverflowError:
        delay = cap_seconds
    return float(min(max(delay, 0.0), cap_seconds))
