"""Schedules: when a task fires, computed from an injected ``now``.

Three kinds, written in tasks.json as exactly one key of the ``schedule`` object
(or ``"schedule": null``: no schedule, the task runs only when triggered):

* ``{"cron": "0 9 * * 1-5"}`` -- standard 5-field cron, evaluated in the task's zone.
  Day-of-week is cron's (0 or 7 = Sunday, 1 = Monday); names (``mon``, ``jan``)
  and the macros ``@hourly @daily @midnight @weekly @monthly @yearly @annually``
  are accepted. The day fields follow Vixie/Debian cron's star rule: a day field
  written starting with ``*`` (``*``, ``*/2``) does not restrict, and a day must match
  both fields; only when both restrict does a day matching either fire
  (``0 0 */15 * 1``: Mondays that are the 1st, 16th or 31st; ``0 0 13 * 5``: every
  13th and every Friday).
* ``{"interval": "15m"}`` or ``{"interval": {"hours": 6}}`` -- a fixed period of
  elapsed time, counted from ``start`` (an instant; default: the task's creation).
* ``{"once": "2026-12-01T09:00"}`` -- one instant; a time without an offset is
  read in the task's zone.

Daylight saving time, for cron (the rule of Vixie/Debian cron's clock-change handling):

* A wall time that does not exist (spring forward: 02:30 on the night clocks go
  from 02:00 to 03:00) fires once, at the first instant after the gap (03:00).
* A wall time that happens twice (fall back: 01:30 when clocks go from 02:00 back
  to 01:00) fires once, at its first occurrence.
* Schedules whose hour field allows every hour (``*/15 * * * *``, ``@hourly``) follow
  elapsed time instead: they fire at every instant whose wall time matches -- both
  passes of a repeated hour, each instant once -- and have no times in a skipped one.

``next_after`` returns the earliest such instant, which around a repeated hour is not
the first in wall-clock order (01:00 EST comes after 01:15 EDT).

Longer than ~400 lines on purpose: the three kinds share one interface and one
DST rule, and the cron evaluator is most of it; split, the DST handling would be
read in two places.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from src.core.errors import ValidationError

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# (name, low, high, names mapped to numbers starting at ``low``)
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
#: How far ahead a cron expression is searched (covers ``0 0 29 2 1``: Feb 29 on a Monday).
_SEARCH_DAYS = 366 * 28
#: More than any clock change (1 h; 30 min on Lord Howe; 2 h in a few historic zones).
_MAX_SHIFT = timedelta(hours=3)


class Schedule:
    """When a task fires. Subclasses are small and pure: no clock, no I/O."""

    kind: str

    def next_after(self, after: datetime) -> datetime | None:
        """The first fire time strictly after ``after`` (aware), in UTC; None if none is left."""
        raise NotImplementedError

    def describe(self) -> str:
        """The schedule in words, for ``list`` and ``show``."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any] | None:
        raise NotImplementedError

    def upcoming(self, now: datetime, count: int) -> list[datetime]:
        """The next ``count`` fire times after ``now``, in UTC."""
        times: list[datetime] = []
        moment = now
        while len(times) < count:
            nxt = self.next_after(moment)
            if nxt is None:
                break
            times.append(nxt)
            moment = nxt
        return times

    def between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Fire times in ``(start, end]``, in UTC."""
        moment = start
        while True:
            nxt = self.next_after(moment)
            if nxt is None or nxt > end:
                return
            yield nxt
            moment = nxt


# --- cron -------------------------------------------------------------------------------


def _parse_value(token: str, field: str, low: int, high: int, names: tuple[str, ...]) -> int:
    lowered = token.lower()
    if names and lowered in names:
        return names.index(lowered) + low
    # ASCII digits only: str.isdigit() also accepts '²' and '٣', which int() then rejects.
    if not (token.isascii() and token.isdigit()):
        accepted = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
        raise ValueError(f"{field} value {token!r} is not a number ({accepted})")
    value = int(token)
    if not low <= value <= high:
        raise ValueError(f"{field} value {value} is out of range {low}-{high}")
    return value


def _weekday_wrap_hint(start: int, stop: int) -> str:
    """What to write instead of a weekday range that runs past Saturday (``sat-sun``)."""
    days = [*range(start, 7), *range(0, stop + 1)]
    numbers = sorted(set(days))
    return f"{','.join(_DAYS[d] for d in days)}' or '{','.join(str(d) for d in numbers)}"


def _parse_field(text: str, index: int) -> frozenset[int]:
    """Parse one cron field to the set of values it allows."""
    field, low, high, names = _FIELDS[index]
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ValueError(
                f"{field} field {text!r} has an empty list item; remove the extra comma"
            )
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text:
                raise ValueError(
                    f"{field} step in {part!r} is empty; write a whole number after '/' "
                    f"(e.g. '*/15')"
                )
            if not (step_text.isascii() and step_text.isdigit()) or int(step_text) == 0:
                raise ValueError(
                    f"{field} step {step_text!r} in {part!r} must be a whole number above 0 "
                    f"(e.g. '*/15')"
                )
            step = int(step_text)
            if not base:
                raise ValueError(
                    f"{field} {part!r} has nothing before '/'; write '*/{step_text}' "
                    f"or a range such as '{low}-{high}/{step_text}'"
                )
        if base == "*":
            start, stop = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            if not first:
                raise ValueError(
                    f"{field} range {base!r} has no start; write it low-high (e.g. '{low}-{last}')"
                )
            if not last:
                raise ValueError(
                    f"{field} range {base!r} has no end; write it low-high (e.g. '{first}-{high}')"
                )
            start = _parse_value(first, field, low, high, names)
            stop = _parse_value(last, field, low, high, names)
            if stop < start:
                if index == 4 and step == 1:
                    raise ValueError(
                        f"{field} range {base!r} runs past Saturday (Sunday is 0); "
                        f"write '{_weekday_wrap_hint(start, stop)}'"
                    )
                raise ValueError(f"{field} range {base!r} runs backwards; write it low-high")
        else:
            start = _parse_value(base, field, low, high, names)
            # '1/2' runs to the field's end; for weekdays that is Saturday (7 only names Sunday)
            stop = (6 if index == 4 else high) if slash else start
        values.update(range(start, stop + 1, step))
    if index == 4 and 7 in values:  # cron allows 7 for Sunday
        values.discard(7)
        values.add(0)
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule(Schedule):
    expression: str
    zone: ZoneInfo
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_any: bool  # the day-of-month field starts with '*' (cron's star rule)
    weekdays_any: bool  # the day-of-week field starts with '*'
    hours_any: bool  # every hour of the day: fires in both passes of a repeated hour

    kind = "cron"

    @classmethod
    def parse(cls, expression: str, zone: ZoneInfo, field: str = "schedule.cron") -> CronSchedule:
        text = " ".join(expression.split())
        fields_hint = (
            "minute hour day-of-month month day-of-week (e.g. '0 9 * * 1-5' for 09:00 on weekdays)"
        )
        if not text:
            raise ValidationError(
                field, f"cron expression {expression!r} is empty; write 5 fields: {fields_hint}"
            )
        if text.startswith("@") and text.lower() not in _MACROS:
            macros = " ".join(_MACROS)
            why = (
                "tasks run on a schedule, not when the daemon starts"
                if text.lower() == "@reboot"
                else "it is not a cron macro"
            )
            raise ValidationError(
                field,
                f"cron expression {expression!r} is not supported ({why}); "
                f"write one of {macros}, or 5 fields: {fields_hint}",
            )
        expanded = _MACROS.get(text.lower(), text)
        parts = expanded.split(" ")
        if len(parts) != 5:
            raise ValidationError(
                field,
                f"cron expression {expression!r} has {len(parts)} fields; expected 5: "
                + fields_hint,
            )
        try:
            parsed = [_parse_field(part, i) for i, part in enumerate(parts)]
        except ValueError as exc:
            raise ValidationError(field, f"cron expression {expression!r}: {exc}") from None
        schedule = cls(
            expression=text,
            zone=zone,
            minutes=parsed[0],
            hours=parsed[1],
            days=parsed[2],
            months=parsed[3],
            weekdays=parsed[4],
            # Vixie/Debian cron (entry.c): a day field written starting with '*' (also '*/2')
            # does not restrict; the day fields are ORed only when both restrict.
            days_any=parts[2].startswith("*"),
            weekdays_any=parts[4].startswith("*"),
            hours_any=len(parsed[1]) == 24,
        )
        if not schedule._can_ever_fire():
            raise ValidationError(field, f"cron expression {expression!r} never fires")
        return schedule

    def _can_ever_fire(self) -> bool:
        longest = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30}
        if not (self.days_any or self.weekdays_any):
            return True  # ORed: some weekday falls in any month
        # ANDed: every valid (month, day) falls on each weekday within 28 years
        return any(day <= longest.get(month, 31) for month in self.months for day in self.days)

    def _day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = (day.isoweekday() % 7) in self.weekdays
        if self.days_any or self.weekdays_any:
            return in_days and in_weekdays
        return in_days or in_weekdays

    def _instants(self, wall: datetime) -> tuple[datetime, ...]:
        """The UTC instants at which the wall time ``wall`` (naive) fires, per the DST rules."""
        first = wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        if first == second:
            return (first,)
        if first < second:  # the wall time happens twice (fall back)
            return (first, second) if self.hours_any else (first,)
        # the wall time does not exist (spring forward)
        return () if self.hours_any else (_end_of_gap(wall, self.zone),)

    def _walls(self, start: datetime) -> Iterator[datetime]:
        """Matching wall times (naive, in the zone) from ``start`` on, in wall-clock order."""
        hours = sorted(self.hours)
        minutes = sorted(self.minutes)
        first_day = start.date()
        for offset in range(_SEARCH_DAYS):
            day = first_day + timedelta(days=offset)
            if not self._day_matches(day):
                continue
            for hour in hours:
                if offset == 0 and hour < start.hour:
                    continue
                for minute in minutes:
                    if offset == 0 and (hour, minute) < (start.hour, start.minute):
                        continue
                    yield datetime.combine(day, time(hour, minute))

    def next_after(self, after: datetime) -> datetime | None:
        # Wall-clock order is not time order around a repeated hour: 01:00 EST (second pass)
        # comes after 01:15 EDT. So start the walk at the first wall time that can fire after
        # ``after`` under either offset in force nearby, and return the earliest instant found,
        # not the first.
        offsets = [
            offset
            for moment in (after - _MAX_SHIFT, after + _MAX_SHIFT)
            if (offset := moment.astimezone(self.zone).utcoffset()) is not None
        ]
        start = after.astimezone(UTC).replace(tzinfo=None) + min(offsets)
        best: datetime | None = None
        horizon: datetime | None = None
        for wall in self._walls(start):
            if horizon is not None and wall > horizon:
                break
            instants = self._instants(wall)
            for instant in instants:
                if instant > after and (best is None or instant < best):
                    best = instant
                    # A second-pass instant can be beaten by a later wall time of the first
                    # pass, up to the length of the repeated stretch; nothing later can.
                    horizon = wall + (instants[-1] - instants[0])
        return best

    def describe(self) -> str:
        return _describe_cron(self.expression)

    def to_json(self) -> dict[str, Any]:
        return {"cron": self.expression}


@lru_cache(maxsize=4096)
def _describe_cron(expression: str) -> str:
    try:
        from cron_descriptor import Options, get_description

        options = Options()
        options.use_24hour_time_format = True
        options.verbose = False
        return f"{get_description(expression, options)} ({expression})"
    except Exception:  # the describer is cosmetic; a failure must not hide the task
        return f"cron {expression}"


def _end_of_gap(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first real instant after the DST gap that swallowed ``wall``."""
    probe = wall.replace(second=0, microsecond=0)
    for _ in range(48 * 60):  # gaps last an hour or so; a skipped day (Samoa 2011) is 24 h
        probe += timedelta(minutes=1)
        instant = probe.replace(tzinfo=zone).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == probe:
            return instant
    raise ValueError(f"no valid time after {wall} in {zone.key}")


# --- interval ---------------------------------------------------------------------------

_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_INTERVAL_RE = re.compile(r"(\d+)\s*([wdhms])")
_UNIT_WORDS = ("weeks", "days", "hours", "minutes", "seconds")


def parse_period(value: Any, field: str = "schedule.interval") -> timedelta:
    """``15m``, ``6h``, ``1d``, ``1h30m``, ``90s``, ``2w`` or ``{"hours": 6, "minutes": 30}``."""
    accepted = "a duration such as '15m', '6h', '1d', '1h30m' or an object like {\"hours\": 6}"
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(_UNIT_WORDS))
        if unknown:
            raise ValidationError(
                field, f"unknown unit {unknown[0]!r}; use {', '.join(_UNIT_WORDS)}"
            )
        amounts: dict[str, float] = {}
        for key, amount in value.items():
            if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
                raise ValidationError(f"{field}.{key}", f"{amount!r} is not a non-negative number")
            amounts[key] = amount
        period = timedelta(**amounts)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if not text or _INTERVAL_RE.sub("", text):
            raise ValidationError(field, f"interval {value!r} is not understood; use {accepted}")
        period = timedelta()
        for amount, unit in _INTERVAL_RE.findall(text):
            period += timedelta(**{_UNITS[unit]: int(amount)})
    else:
        raise ValidationError(field, f"interval {value!r} is not understood; use {accepted}")
    if period < timedelta(seconds=1):
        raise ValidationError(field, f"interval {value!r} is shorter than one second")
    return period


def format_period(period: timedelta) -> str:
    """``timedelta(hours=1, minutes=30)`` -> ``1h30m`` (the short form tasks.json uses)."""
    seconds = int(period.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def _period_words(period: timedelta) -> str:
    seconds = int(period.total_seconds())
    for word, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            amount = seconds // size
            return f"every {word}" if amount == 1 else f"every {amount} {word}s"
    return f"every {seconds} seconds"


@dataclass(frozen=True)
class IntervalSchedule(Schedule):
    period: timedelta
    start: datetime  # aware; fire times are start + k * period
    raw: Any = None  # what tasks.json said, written back unchanged
    raw_start: str | None = None  # the "start" tasks.json gave, if any (kept as written)

    kind = "interval"

    def next_after(self, after: datetime) -> datetime | None:
        # In UTC: arithmetic on datetimes sharing a zone is wall-clock arithmetic in Python.
        start, moment = self.start.astimezone(UTC), after.astimezone(UTC)
        if moment < start and self.raw_start is not None:
            return start  # a start the task gives: nothing fires before it
        # Counted from the task's creation, the grid runs both ways: a clock stepped back
        # past the creation (NTP correcting a fast clock) keeps the rhythm instead of
        # waiting for the creation time to come round again.
        return start + ((moment - start) // self.period + 1) * self.period

    def describe(self) -> str:
        return _period_words(self.period)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "interval": self.raw if self.raw is not None else format_period(self.period)
        }
        if self.raw_start is not None:
            out["start"] = self.raw_start
        return out


# --- once -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OnceSchedule(Schedule):
    at: datetime  # aware
    raw: str

    kind = "once"

    def next_after(self, after: datetime) -> datetime | None:
        return self.at.astimezone(UTC) if self.at > after else None

    def describe(self) -> str:
        return f"once at {self.at.strftime('%Y-%m-%d %H:%M %Z')}"

    def to_json(self) -> dict[str, Any]:
        return {"once": self.raw}


# --- none -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoSchedule(Schedule):
    """``"schedule": null``: the task never fires by itself; it runs when triggered (the
    webhook, ``manage_tasks.py run``). Written as null, never left out, so a schedule
    forgotten by mistake is still an error."""

    kind = "none"

    def next_after(self, after: datetime) -> datetime | None:
        return None

    def describe(self) -> str:
        return "none (runs only by webhook or `manage_tasks.py run`)"

    def to_json(self) -> None:
        return None


def parse_local_datetime(text: str, zone: ZoneInfo, field: str) -> datetime:
    """An ISO date-time; without an offset it is read in ``zone`` and must exist there."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            field, f"{text!r} is not an ISO date-time; write it like 2026-12-01T09:00"
        ) from None
    if moment.tzinfo is not None:
        return moment
    local = moment.replace(tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        raise ValidationError(
            field,
            f"{text!r} does not exist in {zone.key} (the clocks skip it for daylight saving "
            "time); pick a time outside the gap",
        )
    return local


# --- loading ----------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _parse_cron(expression: str, zone: ZoneInfo, field: str) -> CronSchedule:
    """Parsed schedules are immutable, so tasks sharing an expression share one."""
    return CronSchedule.parse(expression, zone, field)


SCHEDULE_KINDS = ("cron", "interval", "once")


def parse_schedule(
    data: Any, zone: ZoneInfo, default_start: datetime, field: str = "schedule"
) -> Schedule:
    """Build a Schedule from its tasks.json form; raises ValidationError naming the field."""
    example = (
        '{"cron": "0 9 * * 1-5"}, {"interval": "15m"}, {"once": "2026-12-01T09:00"}, or null '
        "for a task run only by webhook or `manage_tasks.py run`"
    )
    if data is None:
        return NoSchedule()
    if not isinstance(data, Mapping):
        raise ValidationError(field, f"{data!r} is not a schedule object; use {example}")
    kinds = [kind for kind in SCHEDULE_KINDS if kind in data]
    if len(kinds) != 1:
        found = "none" if not kinds else " and ".join(kinds)
        raise ValidationError(
            field, f"needs exactly one of cron, interval, once (found {found}); use {example}"
        )
    kind = kinds[0]
    value = data[kind]
    if kind == "cron":
        if not isinstance(value, str):
            raise ValidationError(f"{field}.cron", f"{value!r} is not a cron expression string")
        return _parse_cron(value, zone, f"{field}.cron")
    if kind == "interval":
        period = parse_period(value, f"{field}.interval")
        start = default_start
        if data.get("start") is not None:
            if not isinstance(data["start"], str):
                raise ValidationError(f"{field}.start", f"{data['start']!r} is not a date-time")
            start = parse_local_datetime(data["start"], zone, f"{field}.start")
        return IntervalSchedule(period=period, start=start, raw=value, raw_start=data.get("start"))
    if not isinstance(value, str):
        raise ValidationError(f"{field}.once", f"{value!r} is not an ISO date-time string")
    return OnceSchedule(at=parse_local_datetime(value, zone, f"{field}.once"), raw=value)
