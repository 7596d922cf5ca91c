"""How tasks look on a terminal: tables, details, times in the task's zone."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from src.core.cell_text import cell_text, numeric_columns
from src.core.clock import local_text
from src.core.errors import TaskNotFound
from src.core.schedule import format_period
from src.core.steps import Step
from src.core.task import Task
from src.core.vocabulary import DEFAULT_CATCH_UP

if TYPE_CHECKING:
    from src.services.history import RunRecord
    from src.services.report_preview import Preview
    from src.services.runner import RunOutcome
    from src.services.task_store import TaskFile

#: Task names listed after "no task ..." at most.
NAMES_LISTED = 20


def local_time(moment: datetime | None, task: Task) -> str:
    """An instant in the task's zone, e.g. ``2026-11-24 09:00 CET``."""
    return local_text(moment, task.zone)


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    max_widths: dict[int, int],
    right: Sequence[bool] = (),
) -> str:
    """A plain aligned text table; cells longer than their column's cap end in an ellipsis.
    Columns marked in ``right`` (numbers) are right-aligned, their headers too."""

    def cut(text: str, index: int) -> str:
        cap = max_widths.get(index)
        return text if cap is None or len(text) <= cap else text[: cap - 1] + "…"

    cells = [[cut(str(c), i) for i, c in enumerate(row)] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]

    def pad(text: str, i: int) -> str:
        return text.rjust(widths[i]) if i < len(right) and right[i] else text.ljust(widths[i])

    lines = ["  ".join(pad(h, i) for i, h in enumerate(headers)).rstrip()]
    for row in cells:
        lines.append("  ".join(pad(c, i) for i, c in enumerate(row)).rstrip())
    return "\n".join(lines)


def task_table(tasks: Sequence[Task], now: datetime) -> str:
    rows = [
        [
            task.id[:8],
            task.name,
            task.schedule.describe(),
            task.timezone,
            "yes" if task.enabled else "no",
            local_time(task.next_run(now), task),
            task.summary.last_status or "-",
        ]
        for task in tasks
    ]
    headers = ["ID", "NAME", "SCHEDULE", "ZONE", "ENABLED", "NEXT RUN", "LAST STATUS"]
    return table(headers, rows, {1: 32, 2: 48})


def task_json(task: Task, now: datetime, upcoming: int | None = None) -> dict[str, Any]:
    """The task as stored, plus what `list`/`show` compute (next run, fire times)."""
    data = task.to_dict()
    data["schedule_text"] = task.schedule.describe()
    computed = task.next_run(now)
    data["next_run"] = computed.isoformat().replace("+00:00", "Z") if computed else None
    if upcoming:
        data["upcoming"] = [
            t.isoformat().replace("+00:00", "Z") for t in task.upcoming(now, upcoming)
        ]
    return data


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def task_details(task: Task, now: datetime, upcoming: int, stats: str | None = None) -> str:
    """``stats``: the task's success rate and durations over the kept history."""
    email = task.email
    exports = ", ".join(
        fmt + (f" {_options(opts)}" if _options(opts) else "")
        for fmt, opts in task.exports.items()
        if opts.get("enabled", True)
    )
    query = task.query if task.query is not None else f"(from file {task.query_file})"
    lines = [
        f"ID:           {task.id}",
        f"Name:         {task.name}",
        f"Description:  {task.description or '-'}",
        f"Enabled:      {'yes' if task.enabled else 'no'}",
        f"Connection:   {task.connection}",
        f"Schedule:     {task.schedule.describe()}",
        f"Timezone:     {task.timezone}",
        f"Exports:      {exports or 'none'}",
        f"To:           {', '.join(email.to) or '-'}",
    ]
    if email.cc:
        lines.append(f"Cc:           {', '.join(email.cc)}")
    if email.bcc:
        lines.append(f"Bcc:          {', '.join(email.bcc)}")
    lines += [
        f"Subject:      {email.subject}",
        f"Send if:      {email.send_if}",
        f"Timeout:      {task.timeout_seconds:g} s",
        f"Writes:       {_writes_text(task)}",
        f"Catch-up:     {task.catch_up or DEFAULT_CATCH_UP}"
        + (f", window {format_period(task.catch_up_window)}" if task.catch_up_window else "")
        + ("" if task.webhook else "; webhook runs refused"),
        f"Retry:        {task.retry.max_retries} retries, {task.retry.delay_seconds:g} s delay, "
        f"x{task.retry.backoff:g} backoff",
        f"Created:      {local_time(task.created_at, task)}",
        f"Updated:      {local_time(task.updated_at, task)}",
        f"Last run:     {local_time(task.summary.last_run, task)}"
        + (f" ({task.summary.last_status})" if task.summary.last_status else ""),
        f"Runs:         {task.summary.run_count} ({task.summary.error_count} failed)",
    ]
    if stats is not None:
        lines.append(f"History:      {stats}")
    if task.summary.last_error:
        lines.append(f"Last error:   {task.summary.last_error}")
    if task.params:
        lines.append(f"Params:       {json.dumps(dict(task.params), default=str)}")
    lines += _report_lines(task)
    if task.steps:
        lines.append(f"Steps:        {len(task.steps)}, in this order")
        lines += [f"  {line}" for step in task.steps for line in _step_definition(step)]
    else:
        lines.append("Query:")
        lines += [f"  {line}" for line in (query or "").splitlines()]
    times = task.upcoming(now, upcoming)
    lines.append(f"Next {upcoming} runs:" if times else "Next runs:    none")
    lines += [f"  {local_time(t, task)}" for t in times]
    if not task.enabled:
        lines.append("  (disabled: enable it with `manage_tasks.py enable`)")
    return "\n".join(lines)


def _report_lines(task: Task) -> list[str]:
    """How the report looks, where the task says: its columns, locale and chart."""
    lines = []
    for name, spec in task.columns.items():
        settings = json.dumps(spec.to_dict(), ensure_ascii=False)
        lines.append(f"Column:       {name} {settings}")
    if task.locale is not None:
        lines.append(f"Locale:       {task.locale}")
    chart = task.chart
    if chart is not None:
        title = f" {chart.title!r}" if chart.title else ""
        lines.append(f"Chart:        {chart.type} of {', '.join(chart.y)} by {chart.x}{title}")
    return lines


def _step_definition(step: Step) -> list[str]:
    """A step of `show`: its id, kind and name, then what it runs, one line each."""
    head = f"{step.id} ({step.kind}): {step.name}"
    if step.on_failure != "stop":
        head += f"  [on_failure: {step.on_failure}]"
    shown = {k: v for k, v in step.to_dict().items() if k not in ("id", "name", "kind")}
    shown.pop("on_failure", None)
    return [head] + [f"    {key}: {json.dumps(value, default=str)}" for key, value in shown.items()]


def _writes_text(task: Task) -> str:
    if task.read_only:
        return "no (read-only transaction; --read-write allows writing)"
    return "allowed (read_only: false; the SQL may change data)"


def _options(options: Any) -> str:
    shown = {k: v for k, v in dict(options).items() if k != "enabled"}
    return json.dumps(shown) if shown else ""


def outcome_text(outcome: RunOutcome) -> str:
    """What `run` prints: status, rows, files, where the email went, the error."""
    task = outcome.task
    lines = [
        f"Run {outcome.run_id} of {task.name!r}: {outcome.status} in {outcome.duration:.1f} s",
    ]
    if outcome.step_results:
        from src.services.steps.sequence import step_outcome_lines

        lines += step_outcome_lines(outcome.step_results)
    elif outcome.rowcount is not None and not outcome.columns:
        lines.append(f"Statement affected {outcome.rowcount} rows")
    else:
        lines.append(f"Rows: {outcome.rows}")
    for exported in outcome.files:
        lines.append(f"File: {exported.path} ({exported.size_bytes:,} bytes)")
    if outcome.delivery is not None:
        lines.append(f"Email: {outcome.delivery.describe()}")
    elif outcome.email_skipped:
        lines.append(f"Email: not sent ({outcome.email_skipped})")
    lines += [f"Note: {note}" for note in outcome.notes]
    if outcome.error is not None:
        kind = "permanent" if outcome.error.permanent else "transient, worth a retry"
        lines.append(f"Error ({outcome.error.kind}, {kind}): {outcome.error}")
    return "\n".join(lines)


# Query errors recorded before they led with the cause began with where they happened:
# "connection 'sqlite:///x.db' (sqlite:///x.db): SQL syntax error (near ...)".
_LEADING_WHERE = re.compile(r"^connection '[^']*' \([^()]*\): ")


def short_error(message: str) -> str:
    """An error as a table cell: its first line, without a leading "connection ... :" part,
    so a cut cell still shows the cause (`show` and `history --json` give it whole)."""
    lines = message.strip().splitlines()
    first = lines[0] if lines else ""
    return _LEADING_WHERE.sub("", first)


def history_table(records: Sequence[RunRecord]) -> str:
    rows = []
    for record in records:
        data = record.data
        started = str(data.get("started_at") or data.get("at") or "-").replace("T", " ")
        error = data.get("error") or {}
        detail = short_error(error.get("message", "") if isinstance(error, dict) else str(error))
        # skipped / interrupted runs carry a reason instead of an error
        detail = detail or str(data.get("reason") or "")
        rows.append(
            [
                record.run_id[:8],
                started.replace("Z", " UTC"),
                record.task_name,
                str(data.get("trigger", "-")),
                record.status,
                str(data.get("rows", "-")),
                f"{data['duration_seconds']:.1f}s" if "duration_seconds" in data else "-",
                detail,
            ]
        )
    headers = ["RUN", "STARTED", "TASK", "TRIGGER", "STATUS", "ROWS", "TIME", "ERROR / REASON"]
    return table(headers, rows, {2: 32, 7: 60})


def step_lines(records: Sequence[RunRecord]) -> str:
    """The steps of the runs that have them, one line each under its run's id (empty when
    no run has steps)."""
    lines: list[str] = []
    for record in records:
        if not record.step_results:
            continue
        lines.append(f"Steps of run {record.run_id[:8]}:")
        for step in record.step_results:
            lines.append("  " + _step_line(step))
    return "\n".join(lines).rstrip() if lines else ""


def _step_line(step: dict[str, Any]) -> str:
    figures = []
    if isinstance(step.get("duration_seconds"), int | float):
        figures.append(f"{step['duration_seconds']:.1f} s")
    for key, label in (("rows", "rows"), ("rows_affected", "rows affected")):
        if step.get(key) is not None:
            figures.append(f"{step[key]} {label}")
    if step.get("exit_code") is not None:
        figures.append(f"exit {step['exit_code']}")
    if step.get("cpu_user_seconds") is not None:
        figures.append(
            f"cpu {step['cpu_user_seconds']:.2f}+{step.get('cpu_system_seconds', 0):.2f} s"
        )
    if step.get("max_rss_bytes"):
        figures.append(f"peak {step['max_rss_bytes'] / 2**20:.0f} MB")
    if step.get("files"):
        figures.append(f"{len(step['files'])} file(s)")
    error = step.get("error")
    detail = error.get("message") if isinstance(error, dict) else step.get("reason")
    return (
        f"{step.get('id')} ({step.get('kind')}): {step.get('status')}"
        + (f", {', '.join(figures)}" if figures else "")
        + (f" -- {short_error(str(detail))}" if detail else "")
    )


def preview_text(outcome: RunOutcome) -> str:
    """The first rows of a dry run, as a table."""
    if not outcome.columns:
        return "(the statement returned no rows)"
    zone, layout = outcome.task.zone, outcome.layout
    if layout is not None:  # the task's columns: formats and a totals row, as in the email
        rows = [[layout.text(i, v, zone) for i, v in enumerate(row)] for row in outcome.preview]
        if rows and layout.has_totals:
            rows.append(layout.total_texts(zone))
    else:
        rows = [[cell_text(v, zone) for v in row] for row in outcome.preview]
    shown = f"First {len(outcome.preview)} of {outcome.rows} rows:" if rows else "No rows."
    caps = dict.fromkeys(range(len(outcome.columns)), 30)
    right = numeric_columns(outcome.preview, len(outcome.columns))
    return shown + ("\n" + table(outcome.columns, rows, caps, right) if rows else "")


def find_or_list(task_file: TaskFile, ref: str) -> Task:
    """The task ``ref`` names; when there is none, the error lists the names there are."""
    try:
        return task_file.find(ref)
    except TaskNotFound as exc:
        tasks = task_file.tasks
        if not tasks:
            raise TaskNotFound(f"{exc} The tasks file has no tasks yet.") from None
        names = ", ".join(repr(task.name) for task in tasks[:NAMES_LISTED])
        more = f" and {len(tasks) - NAMES_LISTED} more" if len(tasks) > NAMES_LISTED else ""
        raise TaskNotFound(f"{exc}\nTasks: {names}{more}") from None


def preview_summary(made: Preview) -> str:
    """What `preview` prints: where everything went, and what a run would send."""
    outcome = made.outcome
    lines = [
        f"Preview of {outcome.task.name!r} (nothing sent, nothing recorded): {made.folder}",
        f"  Page:  {made.page}",
    ]
    if made.eml is not None and outcome.message is not None:
        built = outcome.message
        files = {
            "attached": f"{len(built.attached)} files attached",
            "zipped": "the files zipped",
            "left_off": "the files left off, too large",
        }.get(built.attachments_mode, "no files")
        lines.append(
            f"  Email: {made.eml} ({built.size_bytes:,} bytes to "
            f"{', '.join(built.recipients)}, {files})"
        )
    else:
        lines.append(f"  Email: none would be sent ({outcome.email_skipped})")
    lines += [f"  File:  {f.path} ({f.size_bytes:,} bytes)" for f in outcome.files]
    lines += [f"  Image: {path}" for path in made.images]
    lines.append(f"  Rows:  {outcome.rows:,}")
    lines += [f"Note: {note}" for note in outcome.notes]
    return "\n".join(lines)
