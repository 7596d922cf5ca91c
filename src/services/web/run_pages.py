"""The runs: a list filtered by task, status, trigger and day, with the runs in flight
on top, that updates itself while runs go (``static/app.js`` asks :func:`run_rows`, the
same rows as HTML, every 2 s; without script the page is whole as served); and a run's
page: its lines (and steps), error, duration, rows, files and email. A file's link is
:func:`run_file_page`: the API's download, with its refusals as a page a person reads
(in cluster mode: which node has the file, where, and what to do)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from flask import request
from werkzeug.wrappers import Response as BaseResponse

from src.core.clock import to_utc_iso
from src.core.vocabulary import FINAL_STATUSES, RunStatus, Trigger
from src.services.api.context import context
from src.services.api.run_files import run_file
from src.services.api.tasks import lookup
from src.services.run_index import RunQuery
from src.services.web.common import PAGE_SIZE, blueprint, looking, render, zone
from src.services.webhook.errors import fail


def _choice(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name) or None
    if value is not None and value not in allowed:
        fail(400, f"{name}={value[:40]!r} is not one of {', '.join(allowed)}")
    return value


def _day(name: str) -> datetime | None:
    """A date of the form's date box, as the start of that day in DEFAULT_TIMEZONE."""
    text = request.args.get(name) or ""
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        fail(400, f"{name}={text[:20]!r} is not a date such as 2026-03-01")
    return datetime.combine(day, time(0), tzinfo=zone())


def _selection() -> tuple[RunQuery, dict[str, Any]]:
    """The runs the query string asks for, and the form's values to show again."""
    ref = (request.args.get("task") or "").strip()
    task = lookup(ref) if ref else None
    since, until = _day("since"), _day("until")
    page = request.args.get("page") or "1"
    if not (page.isascii() and page.isdigit()) or not 1 <= int(page) <= 100_000:
        fail(400, f"page={page[:20]!r}: give a whole number from 1")
    query = RunQuery(
        task_id=task.id if task else None,
        status=_choice("status", RunStatus.values()),
        trigger=_choice("trigger", Trigger.values()),
        since=to_utc_iso(since) if since else None,
        until=to_utc_iso(until + timedelta(days=1)) if until else None,
        limit=PAGE_SIZE,
        offset=(int(page) - 1) * PAGE_SIZE,
    )
    shown = {
        "task": ref,
        "task_found": task,
        "status": query.status,
        "trigger": query.trigger,
        "since": request.args.get("since") or "",
        "until": request.args.get("until") or "",
        "page": int(page),
    }
    return query, shown


def _rows() -> dict[str, Any]:
    ctx = context()
    query, shown = _selection()
    runs, total = ctx.runs.page(query)
    in_flight = [
        run
        for run in ctx.control.in_flight()
        if query.task_id in (None, run.get("task_id")) and query.status in (None, run.get("status"))
    ]
    recorded = {run["run_id"] for run in runs}
    return {
        **shown,
        "runs": runs,
        "total": total,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "in_flight": [run for run in in_flight if run.get("run_id") not in recorded],
        "statuses": RunStatus.values(),
        "triggers": Trigger.values(),
    }


@blueprint.get("/runs")
def run_list() -> BaseResponse:
    looking()
    return render("runs.html", title="Runs", section="runs", **_rows())


@blueprint.get("/runs/rows")
def run_rows() -> BaseResponse:
    """The list's rows alone (for the page's script, which puts them in place)."""
    looking()
    return render("_run_rows.html", **_rows())


@blueprint.get("/runs/<run_id>")
def run_page(run_id: str) -> BaseResponse:
    looking()
    ctx = context()
    found = ctx.runs.lines_of(run_id)
    if found is None:
        live = ctx.control.run_status(run_id)
        if live is None:
            fail(404, f"no run {run_id[:64]!r}; runs are kept in the history for HISTORY_KEEP_DAYS")
        return render(
            "run.html",
            title=f"Run {run_id[:8]}",
            section="runs",
            run={"run_id": run_id, **live},
            lines=[],
            files=[],
            going=True,
        )
    record, lines = found
    run = record.to_json()
    files = [
        {"name": Path(str(item.get("path", ""))).name, **item}
        for item in run.get("files") or []
        if isinstance(item, dict) and item.get("path")
    ]
    return render(
        "run.html",
        title=f"Run {run_id[:8]} of {record.task_name}",
        section="runs",
        run=run,
        lines=[_line(line) for line in lines],
        files=files,
        going=record.status not in FINAL_STATUSES,
    )


@blueprint.get("/runs/<run_id>/files/<name>")
def run_file_page(run_id: str, name: str) -> BaseResponse:
    looking()
    return run_file(run_id, name)


def _line(line: dict[str, Any]) -> dict[str, Any]:
    """A line of the history: its event and time, and the rest of what it says."""
    rest = {k: v for k, v in line.items() if k not in ("event", "at", "run_id", "task_id")}
    return {"event": line.get("event", "?"), "at": line.get("at"), "rest": rest}
