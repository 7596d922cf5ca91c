"""The task form's fields and the tasks.json form of a task, both ways: the form
filled from a task (:func:`values_of`) or with `add`'s defaults (:func:`new_values`);
a posted form read into the tasks.json form (:func:`read_form`) for the API's checks;
each message's field path to the input it goes beside (:func:`input_for`); and, after a
conflict, this person's changes put on top of the task as it is now (:func:`merge`).
The report's own inputs (``columns``, ``locale``, ``chart``) are in
:mod:`src.services.web.report_fields`.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from src.core import defaults
from src.core.errors import ValidationError
from src.core.schedule import SCHEDULE_KINDS, format_period
from src.core.task import Task
from src.core.task_reader import TASK_FIELDS
from src.core.vocabulary import ExportFormat, SendIf
from src.services.api.context import context
from src.services.task_changes import definition_form
from src.services.web.report_fields import (
    NO_CHART,
    chart_form,
    chart_values,
    column_values,
    read_columns_form,
    report_input_for,
)

#: The fields of tasks.json the form writes (every definition field but the id, kept by
#: the server, and steps, edited by import/export or the API); an edit keeps the rest.
FORM_FIELDS = tuple(
    name for name in TASK_FIELDS[: TASK_FIELDS.index("created_at")] if name not in ("id", "steps")
)
JSON_INPUTS = ("params", "types")
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


def input_for(field: str, columns: Sequence[str] = ()) -> str:
    """The input a message about ``field`` (``email.to[0]``, ``schedule.cron``,
    ``columns.revenue.format``) goes by; ``columns``: the column named in each row."""
    found = report_input_for(field, columns)
    if found is not None:
        return found
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
        "locale": "",
        "chart_type": NO_CHART,
        "chart_x": "",
        "chart_y": "",
        "chart_title": "",
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
        "locale": str(data.get("locale") or ""),
        **chart_values(data.get("chart")),
        **column_values(data.get("columns") or {}),
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
    columns, column_errors = read_columns_form(form)
    errors.extend(column_errors)
    if columns:
        data["columns"] = columns
    if form.get("locale", "").strip():
        data["locale"] = form["locale"].strip()
    chart = chart_form(form)
    if chart is not None:
        data["chart"] = chart
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


def _export_meaning(value: Any) -> tuple[bool, Any]:
    """What an ``exports`` entry says: on or off, and its options (absent: off)."""
    if isinstance(value, dict):
        options = {k: v for k, v in value.items() if k != "enabled"}
        return value.get("enabled", True) is not False, options
    return value is True, {}


def exports_as_written(form: Mapping[str, Any], current: Any) -> dict[str, Any]:
    """The form's ``exports``, each entry that means what the task's own says written as
    the task writes it (``"csv"`` left out, not ``false``; ``{"max_rows": 100}``, not
    ``{"max_rows": 100, "enabled": true}``): a save that changes nothing changes no byte."""
    written = current if isinstance(current, dict) else {}
    out: dict[str, Any] = {}
    for fmt, value in form.items():
        if _export_meaning(value) != _export_meaning(written.get(fmt)):
            out[fmt] = value
        elif fmt in written:
            out[fmt] = written[fmt]
    return out


def base_of(text: str) -> dict[str, str]:
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
