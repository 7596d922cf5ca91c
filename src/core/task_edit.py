"""A change to a task in typed values: what `add`, `edit` and the interactive prompt build.

The CLI turns its options into a :class:`TaskEdit`; the edit applies itself through
the tasks.json form, so a task made or changed here passes the one validator
(``Task.from_dict``) with its messages and field names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from src.core.clock import to_utc_iso
from src.core.errors import ConflictingValues, ValidationError
from src.core.schedule import SCHEDULE_KINDS, format_period
from src.core.task import Task, new_task_id
from src.core.vocabulary import CatchUpPolicy, ExportFormat, SendIf

#: A schedule as (kind, value): ("cron", "0 9 * * 1-5"), ("interval", "15m"), ("once", ISO),
#: or NO_SCHEDULE (the task runs only when triggered).
ScheduleSpec = tuple[str, str]
NO_SCHEDULE: ScheduleSpec = ("none", "")


@dataclass(frozen=True)
class TaskEdit:
    """Each field that is not None (or not empty, for ``exports`` and ``params``) is set;
    every other field of the task stays as it is."""

    name: str | None = None
    description: str | None = None
    connection: str | None = None
    query: str | None = None
    query_file: str | None = None
    schedule: ScheduleSpec | None = None
    timezone: str | None = None
    to: tuple[str, ...] | None = None
    cc: tuple[str, ...] | None = None
    bcc: tuple[str, ...] | None = None
    subject: str | None = None
    body: str | None = None
    send_if: SendIf | None = None
    #: per format: turn its export on (True) or off (False); options are kept
    exports: Mapping[ExportFormat, bool] = field(default_factory=dict)
    timeout_seconds: float | None = None
    read_only: bool | None = None
    catch_up: CatchUpPolicy | None = None
    #: a timedelta, or a duration as tasks.json takes it ("6h")
    catch_up_window: timedelta | str | None = None
    webhook: bool | None = None
    retries: int | None = None
    #: bind parameters added (or replaced by name); the others stay
    params: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool | None = None
    #: per column, the ``columns`` settings to set (None removes one); see report_edit.py
    columns: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: the chart settings to set (the others stay; None removes one), or no chart at all
    chart: Mapping[str, Any] = field(default_factory=dict)
    no_chart: bool = False
    locale: str | None = None

    def __post_init__(self) -> None:
        if self.query is not None and self.query_file is not None:
            raise ConflictingValues("query", "give either query or query_file, not both")
        if self.chart and self.no_chart:
            raise ConflictingValues("chart", "give a chart or no chart, not both")
        if self.schedule not in (None, NO_SCHEDULE) and self.schedule[0] not in SCHEDULE_KINDS:
            raise ValidationError(
                "schedule",
                f"unknown kind {self.schedule[0]!r}; use one of " + ", ".join(SCHEDULE_KINDS),
            )

    @property
    def empty(self) -> bool:
        """True when the edit changes nothing."""
        return self == TaskEdit()

    def apply(self, task: Task, *, default_timezone: str = "UTC") -> Task:
        """``task`` with this edit applied; raises TaskValidationErrors naming each bad field."""
        data = self.applied_to(task.to_dict())
        return Task.from_dict(data, default_timezone=default_timezone)

    def create(
        self, now: datetime, *, default_timezone: str = "UTC", task_id: str | None = None
    ) -> Task:
        """A new task from this edit, created at ``now`` (which anchors interval schedules)."""
        base = {
            "id": task_id or new_task_id(),
            "exports": {ExportFormat.XLSX.value: True},
            "created_at": to_utc_iso(now),
        }
        return Task.from_dict(self.applied_to(base), default_timezone=default_timezone)

    def applied_to(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The tasks.json form ``data`` with this edit applied (not validated)."""
        out = dict(data)
        for key in (
            "name", "description", "connection", "timezone", "read_only", "enabled", "locale"
        ):  # fmt: skip
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.query is not None:
            out["query"] = self.query
            out.pop("query_file", None)
        if self.query_file is not None:
            out["query_file"] = self.query_file
            out.pop("query", None)
        if self.schedule == NO_SCHEDULE:
            out["schedule"] = None
        elif self.schedule is not None:
            kind, value = self.schedule
            out["schedule"] = {kind: value}
        email = dict(out.get("email") or {})
        for key in ("to", "cc", "bcc"):
            if getattr(self, key) is not None:
                email[key] = list(getattr(self, key))
        for key in ("subject", "body", "send_if"):
            if getattr(self, key) is not None:
                email[key] = str(getattr(self, key))
        out["email"] = email
        exports = dict(out.get("exports") or {})
        for fmt, on in self.exports.items():
            current = exports.get(fmt)
            exports[fmt.value] = {**current, "enabled": on} if isinstance(current, dict) else on
        out["exports"] = exports
        if self.timeout_seconds is not None:
            out["timeout_seconds"] = self.timeout_seconds
        if self.catch_up is not None:
            out["catch_up"] = self.catch_up.value
        if isinstance(self.catch_up_window, timedelta):
            out["catch_up_window"] = format_period(self.catch_up_window)
        elif self.catch_up_window is not None:
            out["catch_up_window"] = self.catch_up_window
        if self.webhook is not None:
            out["webhook"] = self.webhook
        if self.retries is not None:
            out["retry"] = {**(out.get("retry") or {}), "max_retries": self.retries}
        if self.params:
            out["params"] = {**(out.get("params") or {}), **self.params}
        if self.columns:
            _apply_columns(out, self.columns)
        if self.no_chart:
            out.pop("chart", None)
        elif self.chart:
            current = out.get("chart")
            chart = {**(current if isinstance(current, Mapping) else {}), **self.chart}
            out["chart"] = {key: value for key, value in chart.items() if value is not None}
        return out


def _apply_columns(out: dict[str, Any], changes: Mapping[str, Mapping[str, Any]]) -> None:
    """The ``columns`` object of ``out`` with ``changes`` applied: a setting set, or removed
    when None; a column left with no setting is removed, and so is an empty object."""
    current = out.get("columns")
    columns = {
        name: dict(entry) if isinstance(entry, Mapping) else entry
        for name, entry in (current.items() if isinstance(current, Mapping) else ())
    }
    for name, settings in changes.items():
        entry = columns.get(name)
        entry = dict(entry) if isinstance(entry, Mapping) else {}
        for key, value in settings.items():
            if value is None:
                entry.pop(key, None)
            else:
                entry[key] = value
        if entry:
            columns[name] = entry
        else:
            columns.pop(name, None)
    if columns:
        out["columns"] = columns
    else:
        out.pop("columns", None)


def one_schedule(
    cron: str | None = None,
    interval: str | None = None,
    once: str | None = None,
    none: bool = False,
) -> ScheduleSpec | None:
    """The one schedule given, or None; two or more kinds are refused."""
    given = [
        (kind, value)
        for kind, value in zip(SCHEDULE_KINDS, (cron, interval, once), strict=True)
        if value is not None
    ]
    if none:
        given.append(NO_SCHEDULE)
    if len(given) > 1:
        raise ConflictingValues(
            "schedule", "give one of " + ", ".join(SCHEDULE_KINDS) + ", not several"
        )
    return given[0] if given else None


def split_addresses(values: Iterable[str]) -> tuple[str, ...]:
    """``("a@x.com, b@x.com", "c@x.com")`` -> three addresses (comma or semicolon separated)."""
    return tuple(
        part.strip() for value in values for part in re.split(r"[,;]", value) if part.strip()
    )


def parse_params(values: Iterable[str], field: str = "params") -> dict[str, str]:
    """``("region=north", "year=2026")`` -> ``{"region": "north", "year": "2026"}``."""
    params: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ValidationError(field, f"{value!r} is not NAME=VALUE (e.g. region=north)")
        params[name.strip()] = text
    return params
