"""The options `add` and `edit` share, and how they become a task's fields."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import click

from src.core.errors import ValidationError
from src.core.schedule import SCHEDULE_KINDS

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
        "--timezone", help="IANA zone of the schedule (default: DEFAULT_TIMEZONE, else UTC)."
    ),
    click.option("--to", "to", multiple=True, help="Recipient (repeat, or comma-separate)."),
    click.option("--cc", multiple=True, help="Cc recipient (repeat, or comma-separate)."),
    click.option("--bcc", multiple=True, help="Bcc recipient (repeat, or comma-separate)."),
    click.option("--subject", help="Subject template, e.g. '{task_name} {run_date:%Y-%m-%d}'."),
    click.option("--body", help="Body template (plain text; a preview table is added)."),
    click.option(
        "--send-if",
        type=click.Choice(["always", "rows", "no_rows"]),
        help="Send always, only when there are rows, or only when there are none.",
    ),
    click.option("--xlsx/--no-xlsx", default=None, help="Attach an Excel file."),
    click.option("--pdf/--no-pdf", default=None, help="Attach a PDF."),
    click.option("--csv/--no-csv", default=None, help="Attach a CSV file."),
    click.option("--timeout", type=click.FloatRange(min=1), help="Seconds before a run stops."),
    click.option(
        "--read-only/--read-write",
        "read_only",
        default=None,
        help="Run the query in a read-only transaction (PostgreSQL, MySQL/MariaDB, SQLite).",
    ),
    click.option(
        "--catch-up",
        type=click.Choice(["skip", "latest", "all"]),
        help="Runs missed while the daemon was down: skip, latest (one run), all.",
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


def _addresses(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in re.split(r"[,;]", value) if part.strip()]


def _params(values: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ValidationError("--param", f"{value!r} is not NAME=VALUE (e.g. region=north)")
        params[name.strip()] = text
    return params


def schedule_from_options(opts: dict[str, Any]) -> dict[str, Any] | None:
    given = {
        kind: value
        for kind, value in zip(
            SCHEDULE_KINDS, (opts.get("cron"), opts.get("every"), opts.get("once_at")), strict=True
        )
        if value is not None
    }
    if len(given) > 1:
        raise click.UsageError("give one schedule: --cron, --every or --at, not several")
    if not given:
        return None
    kind, value = next(iter(given.items()))
    return {kind: value}


def apply_options(data: dict[str, Any], opts: dict[str, Any]) -> dict[str, Any]:
    """The task dict ``data`` with every given option applied (only given fields change)."""
    out = dict(data)
    for key in ("name", "description", "connection", "timezone"):
        if opts.get(key) is not None:
            out[key] = opts[key]
    if opts.get("query") is not None and opts.get("query_file") is not None:
        raise click.UsageError("give --query or --query-file, not both")
    if opts.get("query") is not None:
        out["query"] = opts["query"]
        out.pop("query_file", None)
    if opts.get("query_file") is not None:
        out["query_file"] = opts["query_file"]
        out.pop("query", None)
    schedule = schedule_from_options(opts)
    if schedule is not None:
        out["schedule"] = schedule
    email = dict(out.get("email") or {})
    for key in ("to", "cc", "bcc"):
        if opts.get(key):
            email[key] = _addresses(opts[key])
    for key in ("subject", "body", "send_if"):
        if opts.get(key) is not None:
            email[key] = opts[key]
    out["email"] = email
    exports = dict(out.get("exports") or {})
    for fmt in ("xlsx", "pdf", "csv"):
        if opts.get(fmt) is not None:
            current = exports.get(fmt)
            if isinstance(current, dict):
                exports[fmt] = {**current, "enabled": opts[fmt]}
            else:
                exports[fmt] = opts[fmt]
    out["exports"] = exports
    if opts.get("timeout") is not None:
        out["timeout_seconds"] = opts["timeout"]
    for key in ("catch_up", "catch_up_window", "webhook"):
        if opts.get(key) is not None:
            out[key] = opts[key]
    if opts.get("read_only") is not None:
        out["read_only"] = opts["read_only"]
    if opts.get("retries") is not None:
        out["retry"] = {**(out.get("retry") or {}), "max_retries": opts["retries"]}
    if opts.get("params"):
        out["params"] = {**(out.get("params") or {}), **_params(opts["params"])}
    return out


def any_task_option(opts: dict[str, Any]) -> bool:
    return any(value not in (None, (), False) for value in opts.values())
