"""The task form's fields and the tasks.json form of a task, both ways: the form
filled from a task (:func:`values_of`) or with `add`'s defaults (:func:`new_values`);
a posted form read into the tasks.json form (:func:`read_form`) for the API's checks;
each message's field path to the input it goes beside (:func:`input_for`); and, after a
conflict, this person's changes put on top of the task as it is now (:func:`merge`).

``columns`` is a row of inputs per column (``col_<row>_<setting>``: name, label, format,
decimals, currency, pattern, the two words, thousands, hidden, total, highlight), the
highlight rules in ``--highlight``'s grammar without the column (``<0=negative``,
:mod:`src.core.report_edit`); ``chart`` is four inputs, ``locale`` a menu. The form only
writes the tasks.json shape: the model checks it, as it checks ``add`` and the API.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from src.core import defaults
from src.core.errors import ValidationError
from src.core.report_edit import column_rules_text, parse_column_rules
from src.core.schedule import SCHEDULE_KINDS, format_period
from src.core.task import Task
from src.core.vocabulary import ExportFormat, SendIf
from src.services.api.context import context
from src.services.task_changes import definition_form

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
    "locale",
    "chart",
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
JSON_INPUTS = ("params", "types")
EXPORTS = tuple(ExportFormat.values())
#: A column row's inputs (``col_<row>_<setting>``); ``true`` / ``false``: ``words``.
COLUMN_INPUTS = (
    "name",
    "label",
    "format",
    "decimals",
    "currency",
    "pattern",
    "true",
    "false",
    "thousands",
    "hidden",
    "total",
    "highlight",
)
#: Empty column rows the form shows below the task's own (the script adds more).
BLANK_COLUMN_ROWS = 3
#: ``thousands``: the menu's words for true and false (empty: not set, so on).
THOUSANDS = {"on": True, "off": False}
NO_CHART = "none"
_COLUMN_INPUT = re.compile(r"col_(\d+)_([a-z]+)")
#: A form-only problem of a row (settings without a name, a name twice): its field path.
_ROW_FIELD = re.compile(r"columns \(row (\d+)\)")
#: A column setting's field path -> the row's input it goes beside (else the name's).
_SETTING_INPUTS = {key: key for key in COLUMN_INPUTS} | {"words": "true"}
_CHART_INPUTS = {"type": "chart_type", "x": "chart_x", "y": "chart_y", "title": "chart_title"}
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


def column_input(row: int, setting: str) -> str:
    """The name of a column row's input: ``col_0_currency``."""
    return f"col_{row}_{setting}"


def column_names(values: Mapping[str, str]) -> list[str]:
    """The column named in each row of a posted form (``""`` for a row without one)."""
    rows = column_rows(values)
    return [values.get(column_input(row, "name"), "").strip() for row in range(rows)]


def column_rows(values: Mapping[str, str]) -> int:
    """How many column rows ``values`` fills (up to the last one holding anything)."""
    used = [
        int(match[1])
        for name, value in values.items()
        if (match := _COLUMN_INPUT.fullmatch(name)) and value.strip()
    ]
    return max(used) + 1 if used else 0


def _column_input_for(field: str, names: Sequence[str]) -> str | None:
    """The input of a message about a column (``columns.revenue.currency``): in the row
    that names it (the longest name that fits, as names may hold dots)."""
    if match := _ROW_FIELD.fullmatch(field):
        return column_input(int(match[1]) - 1, "name")
    fits = [
        (len(name), row)
        for row, name in enumerate(names)
        if name and (field == f"columns.{name}" or field.startswith(f"columns.{name}."))
    ]
    if not fits:
        return None
    row = max(fits, key=lambda fit: (fit[0], -fit[1]))[1]  # a name twice: its first row
    name = names[row]
    setting = re.sub(r"\[\d+\].*", "", field[len(f"columns.{name}.") :]).split(".", 1)[0]
    return column_input(row, _SETTING_INPUTS.get(setting, "name"))


def input_for(field: str, columns: Sequence[str] = ()) -> str:
    """The input a message about ``field`` (``email.to[0]``, ``schedule.cron``,
    ``columns.revenue.format``) goes by; ``columns``: the column named in each row."""
    if field.startswith("columns"):
        found = _column_input_for(field, columns)
        if found is not None:
            return found
    if field.startswith("chart."):
        return _CHART_INPUTS.get(field.split(".")[1].split("[")[0], "chart_type")
    if field == "chart":
        return "chart_type"
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
        **_chart_values(data.get("chart")),
        **_column_values(data.get("columns") or {}),
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


def _chart_values(chart: Mapping[str, Any] | None) -> dict[str, str]:
    chart = chart or {}
    return {
        "chart_type": str(chart.get("type") or NO_CHART),
        "chart_x": str(chart.get("x") or ""),
        "chart_y": ", ".join(chart.get("y") or []),
        "chart_title": str(chart.get("title") or ""),
    }


def _column_values(columns: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """A row of inputs per entry of tasks.json's ``columns``, in its order."""
    out: dict[str, str] = {}
    for row, (name, entry) in enumerate(columns.items()):
        words = entry.get("words") or ["", ""]
        thousands = entry.get("thousands")
        settings = {
            "name": name,
            "label": entry.get("label") or "",
            "format": entry.get("format") or "",
            "decimals": "" if entry.get("decimals") is None else str(entry["decimals"]),
            "currency": entry.get("currency") or "",
            "pattern": entry.get("pattern") or "",
            "true": words[0],
            "false": words[1],
            "thousands": next((w for w, v in THOUSANDS.items() if v is thousands), ""),
            "hidden": "on" if entry.get("hidden") else "",
            "total": entry.get("total") or "",
            "highlight": column_rules_text(entry.get("highlight") or []),
        }
        out.update({column_input(row, key): str(value) for key, value in settings.items()})
    return out


def _column_entry(
    values: Mapping[str, str], row: int, name: str, errors: list[ValidationError]
) -> dict[str, Any]:
    """tasks.json's entry for one row, its settings in the model's order (the model
    checks them: a currency not in ISO 4217, decimals with a date...)."""

    def typed(key: str) -> str:
        return values.get(column_input(row, key), "")

    entry: dict[str, Any] = {}
    for key in ("label", "format"):
        if typed(key).strip():
            entry[key] = typed(key) if key == "label" else typed(key).strip()
    if typed("decimals").strip():
        entry["decimals"] = _number(typed("decimals"))
    if typed("currency").strip():
        entry["currency"] = typed("currency").strip().upper()  # as --format does
    if typed("pattern").strip():
        entry["pattern"] = typed("pattern")
    if typed("true").strip() or typed("false").strip():
        entry["words"] = [typed("true"), typed("false")]
    thousands = typed("thousands").strip()
    if thousands:
        entry["thousands"] = THOUSANDS.get(thousands, thousands)  # else the model says so
    if typed("hidden"):
        entry["hidden"] = True
    if typed("total").strip():
        entry["total"] = typed("total").strip()
    if typed("highlight").strip():
        field = f"columns.{name}.highlight"
        try:
            entry["highlight"] = parse_column_rules(typed("highlight"), field)
        except ValidationError as exc:
            errors.append(exc)
    return entry


def read_columns_form(
    values: Mapping[str, str],
) -> tuple[dict[str, dict[str, Any]], list[ValidationError]]:
    """tasks.json's ``columns`` from the column rows (an empty row is left out; a row
    with settings but no name, or a name given twice, is refused beside that name)."""
    errors: list[ValidationError] = []
    columns: dict[str, dict[str, Any]] = {}
    rows_of: dict[str, int] = {}
    for row, name in enumerate(column_names(values)):
        field = f"columns (row {row + 1})"
        filled = [
            key for key in COLUMN_INPUTS[1:] if values.get(column_input(row, key), "").strip()
        ]
        if not name:
            if filled:
                errors.append(
                    ValidationError(
                        field,
                        f"has settings ({', '.join(filled)}) but no column name; name the "
                        "column as the query's result does, or clear the row",
                    )
                )
            continue
        if name in rows_of:
            errors.append(
                ValidationError(
                    field,
                    f"{name!r} is the column of row {rows_of[name] + 1} already; give each "
                    "column one row",
                )
            )
            continue
        rows_of[name] = row
        columns[name] = _column_entry(values, row, name, errors)
    return columns, errors


def chart_form(values: Mapping[str, str]) -> dict[str, Any] | None:
    """tasks.json's ``chart`` from its four inputs (None: no chart). A chart without a
    type but with columns keeps them, so that the model says a type is missing."""
    kind = values.get("chart_type", NO_CHART).strip()
    x, y, title = (values.get(f"chart_{key}", "") for key in ("x", "y", "title"))
    if kind in ("", NO_CHART) and not (x.strip() or y.strip() or title.strip()):
        return None
    chart: dict[str, Any] = {} if kind in ("", NO_CHART) else {"type": kind}
    chart["x"] = x.strip()
    chart["y"] = [name.strip() for name in y.split(",") if name.strip()]
    if title.strip():
        chart["title"] = title
    return chart


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
