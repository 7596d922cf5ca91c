"""The task form, to create a report task or edit one: every field of a one-query
report, checked by the API's code (:func:`src.services.api.tasks.create` and
:func:`~src.services.api.tasks.change`: the model's validation, then what ``add`` /
``edit`` refuse) and each message shown beside its field, in the CLI's words.

An edit carries the task's ETag (a hidden field, the form's If-Match): saved over a
change made meanwhile (the CLI, another page, the API), it is refused: nothing is
overwritten, and the form comes back holding the other change with this person's on
top (:func:`~src.services.web.task_fields.merge`), saying which fields differ.
The next 5 fire times are shown as the schedule is typed (``static/app.js`` asks
:func:`schedule_preview`, the same parser the save uses).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, jsonify, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from src.core import defaults
from src.core.clock import local_text
from src.core.clock import now as clock_now
from src.core.errors import TaskValidationErrors, ValidationError
from src.core.schedule import SCHEDULE_KINDS, parse_schedule
from src.core.task import Task, new_task_id
from src.core.task_reader import check_timezone
from src.core.vocabulary import (
    CatchUpPolicy,
    ChartType,
    ReportLocale,
    SendIf,
    TotalKind,
    ValueFormat,
)
from src.services.api.context import context
from src.services.api.tasks import change, create, lookup
from src.services.auth.roles import Role
from src.services.task_changes import build, definition_form, etag_of
from src.services.web.common import blueprint, looking, render
from src.services.web.report_fields import (
    BLANK_COLUMN_ROWS,
    NO_CHART,
    THOUSANDS,
    column_names,
    column_rows,
)
from src.services.web.task_fields import (
    EXPORTS,
    FORM_FIELDS,
    base_of,
    exports_as_written,
    input_for,
    merge,
    new_values,
    read_form,
    schedule_form,
    values_of,
)
from src.services.webhook.errors import ApiError, fail


def _messages(entries: list[dict[str, str]], values: Mapping[str, str]) -> dict[str, list[str]]:
    """The API's 422 entries by the input they belong beside (a column's, in the row of
    the form ``values`` that names it)."""
    names = column_names(values)
    by_input: dict[str, list[str]] = {}
    for entry in entries:
        by_input.setdefault(input_for(entry["field"], names), []).append(
            f"{entry['field']}: {entry['message']}"
        )
    return by_input


def _show(
    values: Mapping[str, str],
    *,
    task: Task | None,
    etag: str | None,
    errors: dict[str, list[str]] | None = None,
    conflict: list[dict[str, str]] | None = None,
    base: Mapping[str, str] | None = None,
    status: int = 200,
) -> BaseResponse:
    """The form; ``base``: the values the edit started from (carried in the form, so that
    a conflict can tell the fields this person changed from the ones someone else did)."""
    return render(
        "task_form.html",
        status,
        title=f"Edit {task.name}" if task else "New task",
        section="tasks",
        task=task,
        etag=etag,
        values=values,
        errors=errors or {},
        conflict=conflict,
        base=json.dumps(dict(base or {}), ensure_ascii=False),
        preview=_preview(
            values.get("schedule_kind", ""),
            values.get("schedule_value", ""),
            values.get("schedule_start", ""),
            values.get("timezone", ""),
        ),
        kinds=(*SCHEDULE_KINDS, "none"),
        send_ifs=SendIf.values(),
        catch_ups=CatchUpPolicy.values(),
        exports=EXPORTS,
        rows=column_rows(values) + BLANK_COLUMN_ROWS,
        formats=ValueFormat.values(),
        totals=TotalKind.values(),
        thousands=tuple(THOUSANDS),
        locales={locale.value: f"{locale.value}: {locale.help}" for locale in ReportLocale},
        chart_types=(NO_CHART, *ChartType.values()),
    )


def _refused(exc: ApiError, values: Mapping[str, str]) -> dict[str, list[str]]:
    if exc.status != 422:
        raise exc
    return _messages(list(exc.extra.get("errors") or []), values)


def _unreadable(
    values: Mapping[str, str],
    data: Mapping[str, Any],
    errors: list[ValidationError],
    task: Task | None,
) -> dict[str, list[str]]:
    """What the form itself could not read (JSON that is not, a column row without a
    name) and, in the same answer, what the model says of the rest: one save shows
    every message. Nothing is saved."""
    found = list(errors)
    kept = {k: v for k, v in definition_form(task).items() if k not in FORM_FIELDS} if task else {}
    try:
        build(
            {**kept, **data},
            task_id=task.id if task else new_task_id(),
            current=task,
            now=clock_now(),
            default_timezone=context().default_timezone,
        )
    except TaskValidationErrors as exc:
        found.extend(exc.errors)
    return _messages([{"field": e.field, "message": e.message} for e in found], values)


@blueprint.get("/tasks/new")
def new_task() -> BaseResponse:
    looking(Role.EDITOR)
    return _show(new_values(), task=None, etag=None)


@blueprint.post("/tasks/new")
def create_task() -> BaseResponse:
    principal = looking(Role.EDITOR)
    values = request.form.to_dict()
    data, errors = read_form(values)
    if errors:
        found = _unreadable(values, data, errors, None)
        return _show(values, task=None, etag=None, errors=found, status=422)
    try:
        task = create(data, principal)
    except ApiError as exc:
        return _show(values, task=None, etag=None, errors=_refused(exc, values), status=422)
    return redirect(f"/tasks/{task.id}?done=created", code=303)


def _editable(ref: str) -> Task:
    task = lookup(ref)
    if task.steps:
        fail(
            409,
            f"task {task.name!r} has {len(task.steps)} steps; this form edits one-query "
            "reports. Change its steps with `manage_tasks.py export` and `import` "
            "(docs/steps.md), or over the API (PUT /api/tasks/{ref})",
        )
    return task


@blueprint.get("/tasks/<ref>/edit")
def edit_task(ref: str) -> BaseResponse:
    looking(Role.EDITOR)
    task = _editable(ref)
    values = values_of(task)
    return _show(values, task=task, etag=etag_of(task), base=values)


@blueprint.post("/tasks/<ref>/edit")
def save_task(ref: str) -> BaseResponse:
    principal = looking(Role.EDITOR)
    task = _editable(ref)
    values = request.form.to_dict()
    base = base_of(values.pop("base", ""))
    wanted = values.get("etag") or ""
    if not wanted:
        fail(428, "the form carries no ETag of the task; open the task's edit page again")
    data, errors = read_form(values)
    if errors:
        found = _unreadable(values, data, errors, task)
        return _show(values, task=task, etag=wanted, errors=found, base=base, status=422)

    def form_of(current: Task) -> dict[str, Any]:
        now = definition_form(current)
        kept = {k: v for k, v in now.items() if k not in FORM_FIELDS}
        return {**kept, **data, "exports": exports_as_written(data["exports"], now.get("exports"))}

    try:
        saved = change(task.id, form_of, wanted, principal)
    except ApiError as exc:
        if exc.status == 412:
            current = lookup(task.id)
            theirs = values_of(current)
            merged, conflict = merge(base, values, theirs)
            return _show(
                merged,
                task=current,
                etag=etag_of(current),
                conflict=conflict,
                base=theirs,
                status=412,
            )
        return _show(
            values, task=task, etag=wanted, errors=_refused(exc, values), base=base, status=422
        )
    return redirect(f"/tasks/{saved.id}?done=saved", code=303)


def _preview(kind: str, value: str, start: str, timezone: str) -> dict[str, Any]:
    """The schedule in words and its next fire times in the zone typed, or the message
    the save would give (the model's own parser: one place)."""
    try:
        zone_name = check_timezone(timezone.strip())
        zone = ZoneInfo(zone_name)
        now = clock_now()
        schedule = parse_schedule(schedule_form(kind, value, start), zone, now)
    except ValidationError as exc:
        return {
            "ok": False,
            "field": exc.field,
            "input": input_for(exc.field),
            "message": exc.message,
        }
    return {
        "ok": True,
        "text": schedule.describe(),
        "zone": zone_name,
        "next": [
            local_text(moment, zone) for moment in schedule.upcoming(now, defaults.SHOW_UPCOMING)
        ],
    }


@blueprint.get("/tasks/schedule-preview")
def schedule_preview() -> tuple[Response, int]:
    """JSON for the form's script: ``{"ok": true, "text", "zone", "next": [...]}`` or
    ``{"ok": false, "field", "input", "message"}`` (422)."""
    looking()
    args = request.args
    found = _preview(
        args.get("kind", "cron"),
        args.get("value", "")[:500],
        args.get("start", "")[:100],
        args.get("timezone", "")[:100],
    )
    return jsonify(found), 200 if found["ok"] else 422
