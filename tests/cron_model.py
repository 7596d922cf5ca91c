"""A small model of Debian cron: the judge for the schedule tests (src/core/schedule.py).

It shares no code with the product. It reads a 5-field line the way Vixie/Debian cron's
``entry.c`` does (a day field that starts with ``*`` does not restrict, so the two day
fields are ORed only when both restrict) and finds fire times the way ``cron.c`` does:
it walks real time minute by minute, looks at the wall clock and fires when the line
matches. Around clock changes it applies the rule docs/tasks-json.md states:

* a line whose hour field allows every hour fires at every real minute whose wall time
  matches (both passes of a repeated hour; nothing in a skipped one);
* any other line runs once per wall time: a wall time seen again after the clocks went
  back does not fire again, and wall times the clocks skipped fire once, at the first
  minute after the jump (cron.c runs the skipped fixed-time jobs when time jumps ahead).

Debian cron calls a job "wildcard" when its minute *or* hour field starts with ``*``;
this product (and this model) look at the hour field only. That difference is documented
in docs/tasks-json.md.

Slow on purpose (one zone conversion per minute): use it over hours or days, not years,
and ``matching_days`` for the day rule over long spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MINUTE = timedelta(minutes=1)


def _number(token: str, names: list[str], offset: int) -> int:
    if token.lower() in names:
        return names.index(token.lower()) + offset
    return int(token)


def parse_field(text: str, low: int, high: int, names: list[str] = []) -> set[int]:  # noqa: B006
    """Values a (valid) cron field allows. ``entry.c``'s get_list / get_range, in short."""
    offset = low if names else 0
    values: set[int] = set()
    for item in text.split(","):
        span, _, step = item.partition("/")
        if span == "*":
            first, last = low, high
        elif "-" in span:
            a, b = span.split("-")
            first, last = _number(a, names, offset), _number(b, names, offset)
        else:
            first = _number(span, names, offset)
            last = high if step else first
        values.update(range(first, last + 1, int(step) if step else 1))
    return values


@dataclass
class CronModel:
    minutes: set[int]
    hours: set[int]
    days: set[int]
    months: set[int]
    weekdays: set[int]  # 0 = Sunday
    days_star: bool
    weekdays_star: bool

    @classmethod
    def parse(cls, line: str) -> CronModel:
        fields = MACROS.get(line.strip().lower(), line).split()
        weekdays = parse_field(fields[4], 0, 6, DAYS)  # "1/2" runs to Saturday
        if 7 in weekdays:
            weekdays = (weekdays - {7}) | {0}
        return cls(
            minutes=parse_field(fields[0], 0, 59),
            hours=parse_field(fields[1], 0, 23),
            days=parse_field(fields[2], 1, 31),
            months=parse_field(fields[3], 1, 12, MONTHS),
            weekdays=weekdays,
            days_star=fields[2].startswith("*"),
            weekdays_star=fields[4].startswith("*"),
        )

    @property
    def every_hour(self) -> bool:
        return self.hours == set(range(24))

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = day.isoweekday() % 7 in self.weekdays
        if self.days_star or self.weekdays_star:  # cron.c: ANDed unless both restrict
            return dom and dow
        return dom or dow

    def matches(self, wall: datetime) -> bool:
        return wall.minute in self.minutes and wall.hour in self.hours and self.day_matches(wall)

    def matching_days(self, first: date, last: date) -> list[date]:
        """Days in ``[first, last]`` on which the line fires."""
        days = (first + timedelta(days=n) for n in range((last - first).days + 1))
        return [day for day in days if self.day_matches(day)]

    def fire_times(self, zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
        """Fire times in ``(start, end]`` (aware), in UTC, walking real time minute by minute."""
        # Begin well before ``start`` so that the wall clock's high-water mark is known.
        moment = (start.astimezone(UTC) - timedelta(hours=6)).replace(second=0, microsecond=0)
        high_water = _wall(moment, zone)
        times: list[datetime] = []
        while moment < end:
            moment += MINUTE
            wall = _wall(moment, zone)
            if self.every_hour:
                fires = self.matches(wall)
            elif wall <= high_water:
                fires = False  # the clocks went back: this wall time has had its run
            else:  # ordinarily one minute; after a jump ahead, every skipped one too
                skipped = high_water + MINUTE
                fires = False
                while skipped <= wall and not fires:
                    fires = self.matches(skipped)
                    skipped += MINUTE
            high_water = max(high_water, wall)
            if fires and start < moment <= end:
                times.append(moment)
        return times


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def transitions(zone: ZoneInfo, year: int) -> list[datetime]:
    """The instants (UTC) at which ``zone`` changes its offset during ``year``."""
    found: list[datetime] = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    offset = moment.astimezone(zone).utcoffset()
    while moment.year == year:
        step = moment + timedelta(hours=1)
        if step.astimezone(zone).utcoffset() != offset:
            low, high = 0, 60  # minutes after ``moment``: the change is in (low, high]
            while high - low > 1:
                middle = (low + high) // 2
                if (moment + middle * MINUTE).astimezone(zone).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            found.append(moment + high * MINUTE)
            offset = step.astimezone(zone).utcoffset()
        moment = step
    return found
