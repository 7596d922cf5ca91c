"""The task model: what a scheduled report is, validated when saved or loaded.

``Task.from_dict`` reads the tasks.json form through :mod:`task_reader`, which
collects every problem it finds (field path, bad value, what is accepted);
``Task.to_dict`` writes it back, with fields this version does not know kept as they
were.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from src.core import defaults
from src.core.chart import ChartSpec
from src.core.clock import to_utc_iso
from src.core.column_format import ColumnSpec
from src.core.schedule import OnceSchedule, Schedule, format_period
from src.core.steps import Step
from src.core.vocabulary import (
    CatchUpPolicy,
    ColumnType,
    ExportFormat,
    ReportLocale,
    RunStatus,
    SendIf,
)

# --- small value objects ------------------------------------------------------------------


@dataclass(frozen=True)
class EmailSpec:
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    subject: str = defaults.EMAIL_SUBJECT
    body: str = defaults.EMAIL_BODY
    send_if: SendIf = SendIf.ALWAYS
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.to + self.cc + self.bcc

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out.update(
            to=list(self.to),
            cc=list(self.cc),
            bcc=list(self.bcc),
            subject=self.subject,
            body=self.body,
            send_if=self.send_if,
        )
        return out


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = defaults.RETRY_MAX
    delay_seconds: float = defaults.RETRY_DELAY_SECONDS
    backoff: float = defaults.RETRY_BACKOFF
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out.update(
            max_retries=self.max_retries, delay_seconds=self.delay_seconds, backoff=self.backoff
        )
        return out


@dataclass(frozen=True)
class Summary:
    """The run summary the daemon keeps on each task."""

    last_run: datetime | None = None
    last_status: str | None = None
    last_error: str | None = None
    next_run: datetime | None = None
    run_count: int = 0
    error_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "last_run": to_utc_iso(self.last_run) if self.last_run else None,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "next_run": to_utc_iso(self.next_run) if self.next_run else None,
            "run_count": self.run_count,
            "error_count": self.error_count,
        }


SUMMARY_FIELDS = tuple(Summary().to_dict())


@dataclass(frozen=True)
class RunResult:
    """What one ended run adds to its task's summary. Applying results in any order gives
    the same summary: counts add up, and the ``last_*`` fields come from the run that
    started last (a result queued while tasks.json was locked may be applied late)."""

    status: str
    started_at: datetime
    error: str | None
    ended_at: datetime

    def applied_to(self, task: Task) -> Summary:
        summary = task.summary
        failed = self.status != RunStatus.SUCCESS
        newest = summary.last_run is None or self.started_at >= summary.last_run
        return Summary(
            last_run=self.started_at if newest else summary.last_run,
            last_status=self.status if newest else summary.last_status,
            last_error=(self.error or None) if newest else summary.last_error,
            next_run=task.next_run(max(self.ended_at, summary.last_run or self.ended_at)),
            run_count=summary.run_count + 1,
            error_count=summary.error_count + (1 if failed else 0),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "started_at": to_utc_iso(self.started_at),
            "error": self.error,
            "ended_at": to_utc_iso(self.ended_at),
        }


# --- the task -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    id: str
    name: str
    schedule: Schedule
    timezone: str
    query: str | None = None
    query_file: str | None = None
    description: str = ""
    enabled: bool = True
    connection: str = defaults.CONNECTION
    params: Mapping[str, Any] = field(default_factory=dict)
    #: Column name -> its type, where the database does not say (SQLite dates)
    types: Mapping[str, ColumnType] = field(default_factory=dict)
    #: Column name -> its label, format, hidden flag and total (src/core/column_format.py)
    columns: Mapping[str, ColumnSpec] = field(default_factory=dict)
    #: How numbers, amounts and month names read (None: not set, the default en)
    locale: ReportLocale | None = None
    #: A chart over the result's rows in the xlsx, the PDF and the email (src/core/chart.py)
    chart: ChartSpec | None = None
    exports: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    email: EmailSpec = field(default_factory=EmailSpec)
    timeout_seconds: float = defaults.TIMEOUT_SECONDS
    read_only: bool = defaults.READ_ONLY
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: None: not set, the daemon's default (latest)
    catch_up: CatchUpPolicy | None = None
    #: None: not set, the daemon's CATCH_UP_WINDOW
    catch_up_window: timedelta | None = None
    #: False refuses runs triggered over the HTTP API
    webhook: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None
    summary: Summary = field(default_factory=Summary)
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: The steps run in order (src/core/steps.py); empty: the one-query report of ``query``
    steps: tuple[Step, ...] = ()

    @property
    def runs_code(self) -> bool:
        """Whether a step runs a program on the machine (command, python, powershell)."""
        return any(step.runs_code for step in self.steps)

    def _daemon_fields(self) -> dict[str, Any]:
        """catch_up, catch_up_window and webhook in tasks.json form, only when set."""
        out: dict[str, Any] = {}
        if self.catch_up is not None:
            out["catch_up"] = self.catch_up.value
        if self.catch_up_window is not None:
            out["catch_up_window"] = format_period(self.catch_up_window)
        if not self.webhook:
            out["webhook"] = False
        return out

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def enabled_exports(self) -> list[str]:
        return [
            fmt
            for fmt in ExportFormat
            if fmt in self.exports and self.exports[fmt].get("enabled", True)
        ]

    def upcoming(self, now: datetime, count: int = 5) -> list[datetime]:
        """The next ``count`` fire times after ``now`` (UTC); none when disabled."""
        return self.schedule.upcoming(now, count) if self.enabled else []

    def next_run(self, now: datetime) -> datetime | None:
        return self.schedule.next_after(now) if self.enabled else None

    def past_once(self, now: datetime) -> str | None:
        """Why a ``once`` schedule will never fire (its time is not after ``now``), or None."""
        if not isinstance(self.schedule, OnceSchedule) or self.schedule.at > now:
            return None
        zone = self.zone
        at = self.schedule.at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        current = now.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        return f"the once time {at} ({self.timezone}) is in the past: it is now {current}"

    def with_changes(self, **changes: Any) -> Task:
        return replace(self, **changes)

    # -- tasks.json form --

    @classmethod
    def from_dict(cls, data: Any, *, default_timezone: str = "UTC") -> Task:
        """Validate the tasks.json form of one task; raise TaskValidationErrors listing all
        problems."""
        from src.core.task_reader import TaskReader  # it builds Tasks: imported on use

        return TaskReader(data, default_timezone).read()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name}
        out.update(self.extra)
        out.update(
            id=self.id,
            name=self.name,
            description=self.description,
            enabled=self.enabled,
            connection=self.connection,
        )
        if self.query_file is not None:
            out["query_file"] = self.query_file
        elif not self.steps:
            out["query"] = self.query
        out.update(
            params=dict(self.params),
            **({"types": {k: v.value for k, v in self.types.items()}} if self.types else {}),
            **(
                {"columns": {k: v.to_dict() for k, v in self.columns.items()}}
                if self.columns
                else {}
            ),
            **({"locale": self.locale.value} if self.locale is not None else {}),
            **({"chart": self.chart.to_dict()} if self.chart is not None else {}),
            schedule=self.schedule.to_json(),
            timezone=self.timezone,
            exports={fmt: _export_to_json(opts) for fmt, opts in self.exports.items()},
            email=self.email.to_dict(),
            timeout_seconds=self.timeout_seconds,
            read_only=self.read_only,
            **self._daemon_fields(),
            retry=self.retry.to_dict(),
            created_at=to_utc_iso(self.created_at) if self.created_at else None,
            updated_at=to_utc_iso(self.updated_at) if self.updated_at else None,
        )
        if self.steps:  # the SQL, files and messages are the steps'
            for key in ("exports", "email"):
                del out[key]
            out["steps"] = [step.to_dict() for step in self.steps]
        out.update(self.summary.to_dict())
        return out


def _export_to_json(options: Mapping[str, Any]) -> Any:
    """``{"enabled": true}`` is written as ``true``: the short form people write by hand."""
    if set(options) == {"enabled"}:
        return bool(options["enabled"])
    return dict(options)


def new_task_id() -> str:
    return str(uuid.uuid4())
