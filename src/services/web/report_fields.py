"""The report's inputs of the task form: how its result reads (docs/reports.md).

``columns`` is a row of inputs per column (``col_<row>_<setting>``: name, label, format,
decimals, currency, pattern, the two words, thousands, hidden, total, highlight), the
highlight rules in ``--highlight``'s grammar without the column (``<0=negative``, read by
:mod:`src.core.report_edit`); ``chart`` is four inputs (``chart_type``, ``chart_x``,
``chart_y``, ``chart_title``), ``locale`` a menu. Both ways: a task's settings into the
inputs (:func:`column_values`, :func:`chart_values`), the inputs into tasks.json's shape
(:func:`read_columns_form`, :func:`chart_form`), which the model then checks as it checks
``add`` and the API; and a message's field path to its row's input
(:func:`report_input_for`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from src.core.errors import ValidationError
from src.core.report_edit import column_rules_text, parse_column_rules

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


def report_input_for(field: str, names: Sequence[str]) -> str | None:
    """The input of a message about the chart (``chart.y``) or a column
    (``columns.revenue.currency``: in the row that names it, the longest name that fits,
    as names may hold dots); None for any other field, or a column no row names."""
    if field == "chart" or field.startswith("chart."):
        return _CHART_INPUTS.get(re.split(r"[.\[]", field + ".")[1], "chart_type")
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


def chart_values(chart: Mapping[str, Any] | None) -> dict[str, str]:
    """The chart's four inputs from tasks.json's ``chart`` (None: no chart)."""
    chart = chart or {}
    return {
        "chart_type": str(chart.get("type") or NO_CHART),
        "chart_x": str(chart.get("x") or ""),
        "chart_y": ", ".join(chart.get("y") or []),
        "chart_title": str(chart.get("title") or ""),
    }


def column_values(columns: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
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
        entry["decimals"] = _whole(typed("decimals"))
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


def _whole(text: str) -> Any:
    """Decimals typed in a box: an int when it reads as one, else the text (the model
    then refuses it in its own words)."""
    try:
        return int(text.strip())
    except ValueError:
        return text.strip()
