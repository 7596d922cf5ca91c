"""The options `add` and `edit` share, and the TaskEdit they ask for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from src.core.errors import ConflictingValues
from src.core.report_edit import column_changes, parse_chart
from src.core.task_edit import TaskEdit, one_schedule, parse_params, split_addresses
from src.core.vocabulary import (
    CatchUpPolicy,
    ChartType,
    ExportFormat,
    HighlightStyle,
    ReportLocale,
    SendIf,
    TotalKind,
    ValueFormat,
)

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
    # -- how the report looks (docs/reports.md); each column option repeats, one column each
    click.option(
        "--label",
        "labels",
        multiple=True,
        metavar="COLUMN=LABEL",
        help="Header shown for a column: --label revenue=Revenue.",
    ),
    click.option(
        "--format",
        "formats",
        multiple=True,
        metavar="COLUMN=FORMAT",
        help="How a column's values read: "
        + ", ".join(ValueFormat.values())
        + "; with arguments currency:EUR[:2], number[:2], percent[:1], date[:dd.mm.yyyy], "
        "boolean:paid/open; none removes it. E.g. --format revenue=currency:EUR:2.",
    ),
    click.option(
        "--thousands",
        multiple=True,
        metavar="COLUMN=on|off",
        help="Thousands separator of a formatted column (on by default).",
    ),
    click.option(
        "--total",
        "totals",
        multiple=True,
        metavar="COLUMN=TOTAL",
        help=f"A totals row cell: {', '.join(TotalKind.values())}; none removes it. "
        "E.g. --total revenue=sum.",
    ),
    click.option(
        "--hide", multiple=True, metavar="COLUMN", help="Fetch a column but show it nowhere."
    ),
    click.option("--show", multiple=True, metavar="COLUMN", help="Show a hidden column again."),
    click.option(
        "--highlight",
        "highlights",
        multiple=True,
        metavar="RULE",
        help="Mark cells: COLUMN, an operator (< <= > >= = !=), a number, = and a style ("
        + ", ".join(HighlightStyle.values())
        + "), e.g. 'margin<0=negative'. The rules given for a column replace its rules; "
        "COLUMN=none removes them.",
    ),
    click.option(
        "--chart",
        metavar="TYPE:x=COLUMN:y=COLUMN[,COLUMN]:title=TEXT",
        help=f"A chart ({', '.join(ChartType.values())}) in the xlsx, the PDF and the email, "
        "one point per row: --chart bar:x=region:y=revenue:title='Revenue by region'. "
        "edit changes only the parts given.",
    ),
    click.option("--no-chart", is_flag=True, default=None, help="Remove the task's chart."),
    click.option(
        "--locale",
        type=click.Choice(ReportLocale.values()),
        help="How numbers, amounts and month names read in the PDF, the email and the "
        f"dry run: {ReportLocale.describe()}.",
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
    "chart": "give --chart or --no-chart, not both",
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
            columns=column_changes(
                opts["labels"],
                opts["formats"],
                opts["thousands"],
                opts["totals"],
                opts["hide"],
                opts["show"],
                opts["highlights"],
            ),
            chart=parse_chart(opts["chart"]) if opts["chart"] else {},
            no_chart=bool(opts["no_chart"]),
            locale=opts["locale"],
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
