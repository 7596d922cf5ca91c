"""Reading the earlier tool's tasks.json: a bare JSON list of flat task objects.

That tool stored ``task_id``, ``database_url``, ``schedule_type`` +
``schedule_config`` (APScheduler trigger fields such as ``{"hour": 9, "minute": 0}``),
``email_recipients``, ``export_excel``... ``convert_legacy_task`` maps one such object
to the current form; the store converts the whole file on its first write, after
keeping a copy.
"""

from __future__ import annotations

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


def is_legacy_document(document: Any) -> bool:
    return isinstance(document, list)


def _aps_weekdays(value: Any) -> str:
    """APScheduler day_of_week (``mon-fri``, ``0-4``, ``0,2``) to a cron field with names."""
    text = str(value).strip().lower()

    def name(token: str) -> str:
        return _APS_DAYS[int(token)] if token.isdigit() and int(token) < 7 else token

    parts = []
    for part in text.split(","):
        low, sep, high = part.partition("-")
        parts.append(f"{name(low)}-{name(high)}" if sep else name(low))
    return ",".join(parts)


def _cron_from_config(config: Mapping[str, Any], field: str) -> str:
    unsupported = sorted(set(config) & {"year", "week", "second", "start_date", "end_date"})
    if unsupported:
        raise ValidationError(
            field,
            f"the earlier tool's cron field {unsupported[0]!r} has no 5-field cron equivalent; "
            'rewrite the schedule as {"cron": "<minute> <hour> <day> <month> <weekday>"}',
        )
    unknown = sorted(set(config) - {"minute", "hour", "day", "month", "day_of_week"})
    if unknown:
        raise ValidationError(field, f"unknown cron field {unknown[0]!r}")
    minute = str(config.get("minute", 0))
    hour = str(config.get("hour", "*"))
    day = str(config.get("day", "*"))
    month = str(config.get("month", "*"))
    weekday = _aps_weekdays(config["day_of_week"]) if "day_of_week" in config else "*"
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
