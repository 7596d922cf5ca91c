"""The task form, to create a report task or edit one: every field of a one-query
report, checked by the API's code (:func:`src.services.api.tasks.create` and
:func:`~src.services.api.tasks.change`: the model's validation, then what ``add`` /
``edit`` refuse) and each message shown beside its field, in the CLI's words.

An edit carries the task's ETag (a hidden field, the form's If-Match): saved over a
change made meanwhile (the CLI, another page, the API), it is refused and the page
shows which fields now differ in the file; nothing is overwritten and nothing typed is
lost. The next 5 fire times are shown as the schedule is typed (``static/app.js`` asks
:func:`schedule_preview`, the same parser the save uses).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, jsonify, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from src.core import defaults
from src.core.clock import local_text
from src.core.clock import now as clock_now
from src.core.errors import ValidationError
from src.core.schedule import SCHEDULE_KINDS, format_period, parse_schedule
from src.core.task import Task
from src.core.task_reader import check_timezone
from src.core.vocabulary import CatchUpPolicy, ExportFormat, SendIf
from src.services.api.context import context
from src.services.api.tasks import change, create, lookup
from src.services.auth.roles import Role
from src.services.task_changes import definition_form, etag_of
from src.services.web.common import blueprint, looking, render
from src.services.webhook.errors import ApiError, fail

#: The fields of tasks.json the form writes; an edit keeps every other field as it is.
FORM_FIELDS = (
    "name",
    "description",
    "enabled",
    "connection",
    "query",
    "query_file",
    "params",
    "types",
    "columns",
    "schedule",
    "timezone",
    "exports",
    "email",
    "timeout_seconds",
    "read_only",
    "catch_up",
    "catch_up_window",
    "webhook",
    "retry",
)
JSON_INPUTS = ("params", "types", "columns")
EXPORTS = tuple(ExportFormat.values())
#: Field paths of the model's messages -> the input they are shown beside (first match).
_INPUTS = (
    ("schedule.start", "schedule_start"),
    ("schedule", "schedule_value"),
    ("email.to", "email_to"),
    ("email.cc", "email_cc"),
    ("email.bcc", "email_bcc"),
    ("email.subject", "email_subject"),
    ("email.body", "email_body"),
    ("email.send_if", "email_send_if"),
    ("retry.max_retries", "retry_max_retries"),
    ("retry.delay_seconds", "retry_delay_seconds"),
    ("retry.backoff", "retry_backoff"),
    *((f"exports.{fmt}", f"export_{fmt}_options") for fmt in EXPORTS),
)


def input_for(field: str) -> str:
    """The input a message about ``field`` (``email.to[0]``, ``schedule.cron``) goes by."""
    plain = re.sub(r"\[\d+\]", "", field)
    for prefix, name in _INPUTS:
        if plain == prefix or plain.startswith(prefix + "."):
            return name
    top = plain.split(".", 1)[0]
    return top if top in FORM_FIELDS else "form"


def new_values() -> dict[str, str]:
    """The form of a new task: the defaults `add` uses."""
    return {
        "name": "",
        "description": "",
        "enabled": "on",
        "connection": defaults.CONNECTION,
        "query": "",
        "query_file": "",
        "params": "",
        "types": "",
        "columns": "",
        "schedule_kind": "cron",
        "schedule_value": "0 8 * * 1-5",
        "schedule_start": "",
        "timezone": context().default_timezone,
        "export_xlsx": "on",
        "email_to": "",
        "email_cc": "",
        "email_bcc": "",
        "email_subject": "",
        "email_body": "",
        "email_send_if": SendIf.ALWAYS.value,
        "timeout_seconds": f"{defaults.TIMEOUT_SECONDS:g}",
        "read_only": "on",
        "catch_up": "",
        "catch_up_window": "",
        "webhook": "on",
        "retry_max_retries": str(defaults.RETRY_MAX),
        "retry_delay_seconds": f"{defaults.RETRY_DELAY_SECONDS:g}",
        "retry_backoff": f"{defaults.RETRY_BACKOFF:g}",
    }


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1) if value else ""


def values_of(task: Task) -> dict[str, str]:
    """The form filled from a task's tasks.json form (what the file holds, not defaults
    made explicit)."""
    data = definition_form(task)
    schedule = data.get("schedule") or {}
    kind = next((k for k in SCHEDULE_KINDS if k in schedule), "none")
    value = schedule.get(kind, "") if kind != "none" else ""
    email = data.get("email") or {}
    retry = data.get("retry") or {}
    out = {
        "name": task.name,
        "description": task.description,
        "enabled": "on" if task.enabled else "",
        "connection": task.connection,
        "query": task.query or "",
        "query_file": task.query_file or "",
        "params": _json_text(data.get("params")),
        "types": _json_text(data.get("types")),
        "columns": _json_text(data.get("columns")),
        "schedule_kind": kind,
        "schedule_value": value if isinstance(value, str) else json.dumps(value),
        "schedule_start": str(schedule.get("start") or ""),
        "timezone": task.timezone,
        "email_to": ", ".join(email.get("to") or []),
        "email_cc": ", ".join(email.get("cc") or []),
        "email_bcc": ", ".join(email.get("bcc") or []),
        "email_subject": str(email.get("subject") or ""),
        "email_body": str(email.get("body") or ""),
        "email_send_if": str(email.get("send_if") or SendIf.ALWAYS.value),
        "timeout_seconds": f"{task.timeout_seconds:g}",
        "read_only": "on" if task.read_only else "",
        "catch_up": task.catch_up.value if task.catch_up else "",
        "catch_up_window": format_period(task.catch_up_window) if task.catch_up_window else "",
        "webhook": "on" if task.webhook else "",
        "retry_max_retries": str(retry.get("max_retries", task.retry.max_retries)),
        "retry_delay_seconds": f"{task.retry.delay_seconds:g}",
        "retry_backoff": f"{task.retry.backoff:g}",
    }
    for fmt in EXPORTS:
        options = dict(task.exports.get(fmt) or {})
        on = fmt in task.exports and options.pop("enabled", True) is not False
        out[f"export_{fmt}"] = "on" if on else ""
        out[f"export_{fmt}_options"] = _json_text(options)
    return out


def _number(text: str) -> Any:
    """A number typed in a box: an int or float when it reads as one, else the text (the
    model then refuses it in its own words)."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def _addresses(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,;\n]", text) if part.strip()]


def schedule_form(kind: str, value: str, start: str) -> Any:
    """The tasks.json ``schedule`` the three schedule inputs describe."""
    if kind == "none":
        return None
    if kind not in SCHEDULE_KINDS:
        return {kind: value}  # the model names the kinds it knows
    written: Any = value.strip()
    if kind == "interval" and written.startswith("{"):
        # {"hours": 6}, as tasks.json may write an interval; else the model says what it may be
        with contextlib.suppress(ValueError):
            written = json.loads(written)
    form: dict[str, Any] = {kind: written}
    if kind == "interval" and start.strip():
        form["start"] = start.strip()
    return form


def read_form(form: Mapping[str, str]) -> tuple[dict[str, Any], list[ValidationError]]:
    """The task's tasks.json form from the posted fields, and the fields that are not
    even JSON (the model checks everything else)."""
    errors: list[ValidationError] = []
    data: dict[str, Any] = {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
        "enabled": bool(form.get("enabled")),
        "connection": form.get("connection", "").strip() or defaults.CONNECTION,
        "schedule": schedule_form(
            form.get("schedule_kind", "cron"),
            form.get("schedule_value", ""),
            form.get("schedule_start", ""),
        ),
        "timezone": form.get("timezone", "").strip(),
        "timeout_seconds": _number(form.get("timeout_seconds", "")),
        "read_only": bool(form.get("read_only")),
        "webhook": bool(form.get("webhook")),
        "retry": {
            "max_retries": _number(form.get("retry_max_retries", "")),
            "delay_seconds": _number(form.get("retry_delay_seconds", "")),
            "backoff": _number(form.get("retry_backoff", "")),
        },
    }
    if form.get("query_file", "").strip():
        data["query_file"] = form["query_file"].strip()
    else:
        data["query"] = form.get("query", "")
    for name in JSON_INPUTS:
        text = form.get(name, "").strip()
        if text:
            try:
                data[name] = json.loads(text)
            except ValueError as exc:
                errors.append(ValidationError(name, f"is not valid JSON ({exc}); write an object"))
    exports: dict[str, Any] = {}
    for fmt in EXPORTS:
        on = bool(form.get(f"export_{fmt}"))
        text = form.get(f"export_{fmt}_options", "").strip()
        options: Any = {}
        if text:
            try:
                options = json.loads(text)
            except ValueError as exc:
                errors.append(
                    ValidationError(f"exports.{fmt}", f"options are not valid JSON ({exc})")
                )
        if isinstance(options, dict) and options:
            exports[fmt] = {**options, "enabled": on}
        else:
            exports[fmt] = on if not text else options
    data["exports"] = exports
    email: dict[str, Any] = {
        "to": _addresses(form.get("email_to", "")),
        "cc": _addresses(form.get("email_cc", "")),
        "bcc": _addresses(form.get("email_bcc", "")),
        "send_if": form.get("email_send_if", SendIf.ALWAYS.value),
    }
    for key in ("subject", "body"):
        if form.get(f"email_{key}", "").strip():
            email[key] = form[f"email_{key}"]
    data["email"] = email
    if form.get("catch_up", "").strip():
        data["catch_up"] = form["catch_up"].strip()
    if form.get("catch_up_window", "").strip():
        data["catch_up_window"] = form["catch_up_window"].strip()
    return data, errors


def _messages(entries: list[dict[str, str]]) -> dict[str, list[str]]:
    """The API's 422 entries by the input they belong beside."""
    by_input: dict[str, list[str]] = {}
    for entry in entries:
        by_input.setdefault(input_for(entry["field"]), []).append(
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
    )


def _refused(exc: ApiError) -> dict[str, list[str]]:
    if exc.status != 422:
        raise exc
    return _messages(list(exc.extra.get("errors") or []))


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
        entries = [{"field": e.field, "message": e.message} for e in errors]
        return _show(values, task=None, etag=None, errors=_messages(entries), status=422)
    try:
        task = create(data, principal)
    except ApiError as exc:
        return _show(values, task=None, etag=None, errors=_refused(exc), status=422)
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
    base = _base(values.pop("base", ""))
    wanted = values.get("etag") or ""
    if not wanted:
        fail(428, "the form carries no ETag of the task; open the task's edit page again")
    data, errors = read_form(values)
    if errors:
        entries = [{"field": e.field, "message": e.message} for e in errors]
        return _show(
            values, task=task, etag=wanted, errors=_messages(entries), base=base, status=422
        )

    def form_of(current: Task) -> dict[str, Any]:
        kept = {k: v for k, v in definition_form(current).items() if k not in FORM_FIELDS}
        return {**kept, **data}

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
        return _show(values, task=task, etag=wanted, errors=_refused(exc), base=base, status=422)
    return redirect(f"/tasks/{saved.id}?done=saved", code=303)


def _base(text: str) -> dict[str, str]:
    try:
        found = json.loads(text) if text else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def merge(
    base: Mapping[str, str], mine: Mapping[str, str], theirs: Mapping[str, str]
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """After a conflict: the form with this person's changes (inputs that differ from
    ``base``, where the edit started) on top of the task as it is now (``theirs``), and
    each input that differs now, saying whose value the form holds."""
    merged = dict(mine)
    report: list[dict[str, str]] = []
    for name, now in theirs.items():
        was, typed = base.get(name, now).strip(), mine.get(name, "").strip()
        if now.strip() == typed:
            continue
        if typed == was:  # only they changed it: theirs goes in the form
            merged[name] = now
            report.append({"input": name, "file": now, "form": now, "kept": "theirs"})
        elif now.strip() == was:  # only this person changed it
            continue
        else:  # both did: the person's value stays, theirs is shown
            report.append({"input": name, "file": now, "form": mine.get(name, ""), "kept": "yours"})
    return merged, report


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
