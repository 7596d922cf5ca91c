"""`add` at a terminal: ask for each field, checking every answer before moving on."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from src.core.connection_names import check_connection
from src.core.email_rules import validate_address
from src.core.errors import ConfigError, ValidationError
from src.core.schedule import SCHEDULE_KINDS, parse_schedule
from src.core.task_edit import TaskEdit, split_addresses
from src.core.task_reader import check_timezone
from src.core.templating import check_template
from src.core.vocabulary import ExportFormat
from src.services.connections import resolve_connection


def _checked(check: Callable[[str], Any]) -> Callable[[str], str]:
    """A click value_proc: re-ask with the check's message when the answer is refused."""

    def proc(value: str) -> str:
        try:
            check(value)
        except (ValidationError, ConfigError) as exc:
            raise click.BadParameter(getattr(exc, "message", str(exc))) from None
        return value

    return proc


def _non_empty(value: str) -> None:
    if not value.strip():
        raise ValidationError("value", "this cannot be empty")


def _addresses(value: str) -> tuple[str, ...]:
    parts = split_addresses([value])
    for index, part in enumerate(parts):
        validate_address(part, f"recipient {index + 1}")
    return parts


def prompt_task(default_timezone: str, env: Mapping[str, str]) -> TaskEdit:
    """Ask for a new task's fields, each checked as it is given (and again on save)."""
    name = click.prompt("Task name", value_proc=_checked(_non_empty))
    description = click.prompt("Description", default="", show_default=False)

    def connection_ok(value: str) -> None:
        check_connection(value, allow_password=False)
        resolve_connection(value, env)

    connection = click.prompt(
        "Connection (name in .env)", default="DATABASE_URL", value_proc=_checked(connection_ok)
    )
    query = click.prompt("SQL query", value_proc=_checked(_non_empty))
    timezone = click.prompt(
        "Timezone", default=default_timezone, value_proc=_checked(check_timezone)
    )
    kind = click.prompt("Schedule kind", type=click.Choice(SCHEDULE_KINDS), default="cron")
    zone = ZoneInfo(timezone)
    questions = {
        "cron": ("Cron expression (minute hour day month weekday)", "0 9 * * 1-5"),
        "interval": ("Every (e.g. 15m, 6h, 1d)", "1d"),
        "once": ("Run at (ISO date-time, e.g. 2026-12-01T09:00)", None),
    }
    question, default = questions[kind]

    def schedule_ok(value: str) -> None:
        parse_schedule({kind: value}, zone, datetime.now(UTC))

    schedule = click.prompt(question, default=default, value_proc=_checked(schedule_ok))
    to = click.prompt(
        "Recipients (comma-separated, empty for none)",
        default="",
        show_default=False,
        value_proc=_checked(_addresses),
    )
    subject = click.prompt(
        "Subject",
        default="{task_name} - {run_date:%Y-%m-%d}",
        value_proc=_checked(lambda v: check_template(v, "subject")),
    )
    asked = {ExportFormat.XLSX: "Excel (.xlsx)", ExportFormat.PDF: "PDF", ExportFormat.CSV: "CSV"}
    exports = {
        fmt: click.confirm(f"Attach {asked[fmt]}?", default=fmt is ExportFormat.XLSX)
        for fmt in ExportFormat
    }
    return TaskEdit(
        name=name,
        description=description,
        connection=connection,
        query=query,
        timezone=timezone,
        schedule=(kind, schedule),
        to=_addresses(to),
        subject=subject,
        exports=exports,
    )
