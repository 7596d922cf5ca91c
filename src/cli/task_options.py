"""The options `add` and `edit` share, and the TaskEdit they ask for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from src.core.errors import ConflictingValues
from src.core.task_edit import TaskEdit, one_schedule, parse_params, split_addresses
from src.core.vocabulary import CatchUpPolicy, ExportFormat, SendIf

F = Callable[..., Any]

_OPTIONS: list[Callable[[F], F]] = [
    click.option("--name", help="Task name (unique, any case)."),
    click.option("--description", help="What the report is for."),
    click.option(
        "--connection",
        help="Connection name from .env: DATABASE_URL (default), DB_SALES_URL or sales.",
    ),
    click.option("--query", help="The SQL text."),
    click.option(
        "--query-file",
        type=click.Path(dir_okay=False),
        help="A .sql file holding the query (read at each run).",
    ),
    click.option("--cron", help="Cron schedule, 5 fields: '0 9 * * 1-5' = 09:00 on weekdays."),
    click.option("--every", help="Interval schedule: 15m, 6h, 1d, 1h30m."),
    click.option("--at", "once_at", help="Run once at an ISO date-time: 2026-12-01T09:00."),
    click.option(
        "--no-schedule",
        is_flag=True,
        default=None,
        help="No schedule: the task runs only by webhook or `manage_tasks.py run`.",
    ),
    click.option(
        "--timezone", help="IANA zone of the schedule (default: DEFAULT_TIMEZONE, else UTC)."
    ),
    click.option("--to", "to", multiple=True, help="Recipient (repeat, or comma-separate)."),
    click.option("--cc", multiple=True, help="Cc recipient (repeat, or comma-separate)."),
    click.option("--bcc", multiple=True, help="Bcc recipient (repeat, or comma-separate)."),
    click.option("--subject", help="Subject template, e.g. '{task_name} {run_date:%Y-%m-%d}'."),
    click.option("--body", help="Body template (plain text; a preview table is added)."),
    click.option(
        "--send-if",
        type=click.Choice(SendIf.values()),
        help=f"When to send the email: {SendIf.describe()}.",
    ),
    *(
        click.option(f"--{fmt}/--no-{fmt}", default=None, help=f"Attach {fmt.help}.")
        for fmt in ExportFormat
    ),
    click.option("--timeout", type=click.FloatRange(min=1), help="Seconds before a run stops."),
    click.option(
        "--read-only/--read-write",
        "read_only",
        default=None,
        help="Run the query in a read-only transaction (PostgreSQL, MySQL/MariaDB, SQLite).",
    ),
    click.option(
        "--catch-up",
        type=click.Choice(CatchUpPolicy.values()),
        help=f"Runs missed while the daemon was down: {CatchUpPolicy.describe()}.",
    ),
    click.option("--catch-up-window", help="Ignore missed runs older than this (e.g. 24h)."),
    click.option(
        "--webhook/--no-webhook",
        "webhook",
        default=None,
        help="Whether the HTTP API may trigger this task.",
    ),
    click.option("--retries", type=click.IntRange(min=0), help="Retries after a failed run."),
    click.option(
        "--param",
        "params",
        multiple=True,
        metavar="NAME=VALUE",
        help="Bind parameter for :NAME in the query (repeat).",
    ),
]


def task_options(fn: F) -> F:
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return fn


#: What each conflict of the model is called in terms of this CLI's options (exit 2).
_CONFLICTS = {
    "schedule": "give one schedule: --cron, --every, --at or --no-schedule, not several",
    "query": "give --query or --query-file, not both",
}


def task_edit(opts: dict[str, Any], enabled: bool | None = None) -> TaskEdit:
    """The change the options ask for; two values that exclude each other are a usage error."""
    try:
        return TaskEdit(
            schedule=one_schedule(
                opts["cron"], opts["every"], opts["once_at"], bool(opts["no_schedule"])
            ),
            **{key: opts[key] for key in _SAME_NAME},
            to=split_addresses(opts["to"]) or None,
            cc=split_addresses(opts["cc"]) or None,
            bcc=split_addresses(opts["bcc"]) or None,
            send_if=SendIf(opts["send_if"]) if opts["send_if"] else None,
            exports={fmt: opts[fmt] for fmt in ExportFormat if opts[fmt] is not None},
            timeout_seconds=opts["timeout"],
            catch_up=CatchUpPolicy(opts["catch_up"]) if opts["catch_up"] else None,
            params=parse_params(opts["params"], "--param"),
            enabled=enabled,
        )
    except ConflictingValues as exc:
        raise click.UsageError(_CONFLICTS[exc.field]) from None


_SAME_NAME = (
    "name",
    "description",
    "connection",
    "query",
    "query_file",
    "timezone",
    "subject",
    "body",
    "read_only",
    "catch_up_window",
    "webhook",
    "retries",
)


def any_task_option(opts: dict[str, Any]) -> bool:
    """Whether any option was given (a flag's False, as --no-pdf, counts)."""
    return any(value not in (None, ()) for value in opts.values())
