"""Reading the earlier tool's tasks.json: a bare JSON list of flat task objects.

That tool stored ``task_id``, ``database_url``, ``schedule_type`` +
``schedule_config`` (APScheduler trigger fields such as ``{"hour": 9, "minute": 0}``),
``email_recipients``, ``export_excel``... ``convert_legacy_task`` maps one such object
to the current form; the store converts the whole file on its first write, after
keeping a copy.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any

from src.core.errors import ValidationError

LEGACY_FIELDS = (
    "task_id",
    "name",
    "description",
    "database_type",
    "database_url",
    "query",
    "schedule_type",
    "schedule_config",
    "email_recipients",
    "email_subject",
    "export_excel",
    "export_pdf",
    "is_active",
    "created_at",
    "last_run",
    "next_run",
    "run_count",
    "error_count",
    "last_error",
)

# APScheduler 3 numbers weekdays from Monday = 0; cron from Sunday = 0.
_APS_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_APS_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
#: CronTrigger's fields, coarsest first, with what a field left out means when a finer
#: one is given (``DEFAULT_VALUES`` in apscheduler/triggers/cron/fields.py); a field left
#: out that is finer than every given one takes its minimum, so {"day": "*"} is daily at
#: 00:00:00, not every second.
_APS_ORDER = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
_APS_MINIMUM = {"month": "1", "day": "1", "hour": "0", "minute": "0", "second": "0"}
_APS_RANGE = {
    "month": (1, 12),
    "day": (1, 31),
    "day_of_week": (0, 6),
    "hour": (0, 23),
    "minute": (0, 59),
    "second": (0, 59),
}
_NUMBERS = re.compile(r"([0-9]+)(?:-([0-9]+))?(?:/([0-9]+))?")
_NAMES = re.compile(r"([a-z]+)(?:-([a-z]+))?")
_CRON_SHAPE = '{"cron": "<minute> <hour> <day> <month> <weekday>"}'


def is_legacy_document(document: Any) -> bool:
    return isinstance(document, list)


def _aps_values(name: str, text: str, field: str) -> frozenset[int]:
    """The values an APScheduler 3 cron field allows (its own numbering), or refuse it."""
    low, high = _APS_RANGE[name]
    names = {"month": _APS_MONTHS, "day_of_week": _APS_DAYS}.get(name, ())
    values: set[int] = set()
    for item in re.split(r"\s*,\s*", text.strip().lower()):
        star = re.fullmatch(r"\*(?:/([0-9]+))?", item)
        numbers = _NUMBERS.fullmatch(item)
        named = _NAMES.fullmatch(item) if names else None
        first, last, step = -1, -1, 1  # refused below unless a form matches
        if star:
            first, last, step = low, high, int(star[1] or 1)
        elif numbers:
            first = int(numbers[1])
            last = int(numbers[2]) if numbers[2] else (high if numbers[3] else first)
            step = int(numbers[3] or 1)
        elif named and named[1] in names and (not named[2] or named[2] in names):
            first = names.index(named[1]) + low
            last = names.index(named[2]) + low if named[2] else first
        if first < low or last > high or last < first or step < 1:
            raise ValidationError(
                field,
                f"{name} {text!r}: {item!r} has no exact 5-field cron equivalent (values "
                f"{low}-{high}"
                + (f" or {names[0]}-{names[-1]}" if names else "")
                + f", low-high, */step); rewrite the schedule as {_CRON_SHAPE}",
            )
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _cron_text(values: frozenset[int], low: int, high: int) -> str:
    """A cron field for ``values``: ``*``, ``*/n``, ``a-b/n`` or a list of values and ranges."""
    ordered = sorted(values)
    if ordered == list(range(low, high + 1)):
        return "*"
    for step in range(2, high - low + 1):
        if ordered == list(range(low, high + 1, step)):
            return f"*/{step}"
    steps = {b - a for a, b in itertools.pairwise(ordered)}
    if len(ordered) >= 3 and len(steps) == 1 and steps != {1}:
        return f"{ordered[0]}-{ordered[-1]}/{steps.pop()}"
    runs: list[list[int]] = []
    for value in ordered:
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    return ",".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def _cron_weekdays(values: frozenset[int]) -> str:
    """APScheduler weekdays (Monday = 0) as a cron field of names: ``mon-fri``, ``sat,sun``."""
    if len(values) == 7:
        return "*"
    parts: list[str] = []
    run: list[int] = []
    for day in [*range(6), -1]:  # Monday..Saturday, then flush; Sunday goes last
        if day in values:
            run.append(day)
            continue
        if len(run) >= 3:
            parts.append(f"{_APS_DAYS[run[0]]}-{_APS_DAYS[run[-1]]}")
        else:
            parts.extend(_APS_DAYS[d] for d in run)
        run = []
    if 6 in values:
        parts.append("sun")
    return ",".join(parts)


def _cron_from_config(config: Mapping[str, Any], field: str) -> str:
    """The 5-field cron line that fires exactly when APScheduler 3's CronTrigger(**config) does."""
    unsupported = sorted(set(config) & {"start_date", "end_date"})
    if unsupported:
        raise ValidationError(
            field,
            f"the earlier tool's cron field {unsupported[0]!r} has no 5-field cron equivalent; "
            f"rewrite the schedule as {_CRON_SHAPE}",
        )
    unknown = sorted(set(config) - set(_APS_ORDER))
    if unknown:
        raise ValidationError(field, f"unknown cron field {unknown[0]!r}")
    given = [name for name in _APS_ORDER if config.get(name) is not None]
    if not given:
        raise ValidationError(
            field,
            f"an empty cron schedule_config ran every second in the earlier tool; "
            f"rewrite the schedule as {_CRON_SHAPE}",
        )
    finest = max(_APS_ORDER.index(name) for name in given)
    text = {
        name: str(config[name])
        if name in given
        else (_APS_MINIMUM.get(name, "*") if index > finest else "*")
        for index, name in enumerate(_APS_ORDER)
    }
    for name in ("year", "week"):
        if text[name].strip() != "*":
            raise ValidationError(
                field,
                f"the earlier tool's cron field {name!r} has no 5-field cron equivalent; "
                f"rewrite the schedule as {_CRON_SHAPE}",
            )
    values = {name: _aps_values(name, text[name], field) for name in _APS_RANGE}
    if values["second"] != {0}:
        raise ValidationError(
            field,
            f"the earlier tool's cron field 'second' has no 5-field cron equivalent "
            f"(second {text['second']!r}; cron runs at second 0); rewrite the schedule as "
            f"{_CRON_SHAPE}",
        )
    day = _cron_text(values["day"], 1, 31)
    weekday = _cron_weekdays(values["day_of_week"])
    # APScheduler needs both day fields to match. Cron ANDs them only when one of them
    # starts with '*' (the star rule), so '*/n' in either field keeps the meaning.
    cron_days = frozenset((d + 1) % 7 for d in values["day_of_week"])
    for step in range(2, 7):
        if not day.startswith("*") and cron_days == frozenset(range(0, 7, step)):
            weekday = f"*/{step}"
    minute = _cron_text(values["minute"], 0, 59)
    hour = _cron_text(values["hour"], 0, 23)
    month = _cron_text(values["month"], 1, 12)
    if not (day.startswith("*") or weekday.startswith("*")):
        raise ValidationError(
            field,
            f"the earlier tool ran only on days matching both day {text['day']!r} and "
            f"day_of_week {text['day_of_week']!r}; cron runs on days matching either, so "
            f"there is no exact equivalent; pick one, e.g. "
            f'{{"cron": "{minute} {hour} {day} {month} *"}} or '
            f'{{"cron": "{minute} {hour} * {month} {weekday}"}}',
        )
    return f"{minute} {hour} {day} {month} {weekday}"


def _schedule(item: Mapping[str, Any]) -> dict[str, Any]:
    kind = item.get("schedule_type")
    config = item.get("schedule_config") or {}
    field = "schedule_config"
    if not isinstance(config, Mapping):
        raise ValidationError(field, f"{config!r} is not an object")
    if kind == "cron":
        return {"cron": _cron_from_config(config, field)}
    if kind == "interval":
        units = {
            k: v for k, v in config.items() if k in ("weeks", "days", "hours", "minutes", "seconds")
        }
        if not units:
            raise ValidationError(
                field, f"interval {dict(config)!r} has no weeks/days/hours/minutes"
            )
        schedule: dict[str, Any] = {"interval": units}
        if config.get("start_date"):
            schedule["start"] = str(config["start_date"])
        return schedule
    if kind in ("once", "date"):
        at = config.get("run_date") or config.get("datetime") or config.get("at")
        if not at:
            raise ValidationError(
                field, f"a one-time schedule needs run_date, got {dict(config)!r}"
            )
        return {"once": str(at)}
    raise ValidationError("schedule_type", f"{kind!r} is not one of cron, interval, once (or date)")


def convert_legacy_task(item: Any) -> dict[str, Any]:
    """One task of the earlier tool, in the current tasks.json form (not yet validated)."""
    if not isinstance(item, Mapping):
        raise ValidationError("task", f"expected an object, got {type(item).__name__}")
    exports: dict[str, Any] = {
        "xlsx": bool(item.get("export_excel", True)),
        "pdf": bool(item.get("export_pdf", False)),
    }
    recipients = item.get("email_recipients") or []
    if isinstance(recipients, str):
        recipients = [part.strip() for part in recipients.split(",") if part.strip()]
    converted: dict[str, Any] = {
        "id": item.get("task_id") or item.get("id"),
        "name": item.get("name"),
        "description": item.get("description") or "",
        "enabled": bool(item.get("is_active", True)),
        "connection": item.get("database_url") or "DATABASE_URL",
        "query": item.get("query"),
        "schedule": _schedule(item),
        "exports": exports,
        "email": {"to": recipients},
        "created_at": item.get("created_at"),
        "last_run": item.get("last_run"),
        "run_count": item.get("run_count") or 0,
        "error_count": item.get("error_count") or 0,
    }
    if item.get("email_subject"):
        # The earlier tool sent subjects verbatim: escape braces so they stay literal.
        converted["email"]["subject"] = (
            str(item["email_subject"]).replace("{", "{{").replace("}", "}}")
        )
    if item.get("last_error"):
        converted["last_error"] = item["last_error"]
    if item.get("database_type"):
        converted["legacy_database_type"] = item["database_type"]
    for key, value in item.items():
        if key not in LEGACY_FIELDS and key not in converted:
            converted[key] = value
    return converted


def aps_schedule(kind: Any, config: Any) -> dict[str, Any]:
    """An APScheduler 3 trigger (``cron`` / ``interval`` / ``date`` and its fields, as the
    earlier systems wrote them) as a schedule of this tool; ValidationError when it has no
    exact equivalent."""
    return _schedule({"schedule_type": kind, "schedule_config": config})
