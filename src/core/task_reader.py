"""Reading a task from its tasks.json form: every field checked, every problem collected.

Longer than ~400 lines on purpose: it is the one validation path of a task, and its
field readers share one list of problems; the steps of a task are read by
:mod:`step_reader`, which reports into that same list.

:class:`TaskReader` is the one validation path of a task: ``Task.from_dict`` (the
store loading tasks.json, ``add`` and ``edit`` through :mod:`task_edit`, the daemon's
reload thread) all come here. It collects every problem it finds (field path, bad
value, what is accepted) instead of stopping at the first, so ``validate`` lists them
all at once. Export options and connection names are checked by the declarations in
:mod:`export_options` and :mod:`connection_names`, which the run uses too.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from src.core import defaults
from src.core.chart import read_chart
from src.core.clock import parse_instant
from src.core.column_format import read_columns
from src.core.column_types import read_types
from src.core.connection_names import check_connection
from src.core.email_rules import validate_address, validate_header_text
from src.core.errors import TaskValidationErrors, ValidationError, suggest_field
from src.core.export_options import export_option_errors
from src.core.schedule import parse_period, parse_schedule
from src.core.step_reader import StepReader
from src.core.task import (
    SUMMARY_FIELDS,
    EmailSpec,
    RetryPolicy,
    Summary,
    Task,
)
from src.core.templating import TEMPLATE_VARIABLES, check_template
from src.core.vocabulary import (
    CatchUpPolicy,
    ExportFormat,
    ReportLocale,
    RunStatus,
    SendIf,
)

_NAME_MAX = 200
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


# --- validation helpers (pure) --------------------------------------------------------------


@lru_cache(maxsize=1)
def _zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def check_timezone(name: Any, field: str = "timezone") -> str:
    if not isinstance(name, str) or not name:
        raise ValidationError(field, f"{name!r} is not an IANA zone name such as 'Europe/Berlin'")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, _zones(), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else "use a name such as 'Europe/Berlin'"
        raise ValidationError(field, f"{name!r} is not an IANA zone; {hint}") from None
    return name


_HEADER_BREAKS = re.compile(r"[\r\n\x00]")


# --- the reader ----------------------------------------------------------------------------

TASK_FIELDS = (
    "id",
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
    "steps",
    "created_at",
    "updated_at",
    *SUMMARY_FIELDS,
)


class TaskReader:
    """Reads one task dict, collecting every error instead of stopping at the first."""

    def __init__(self, data: Any, default_timezone: str) -> None:
        self.data = data
        self.default_timezone = default_timezone
        self.errors: list[ValidationError] = []
        self.label: str | None = None

    def fail(self, field_name: str, message: str) -> None:
        self.errors.append(ValidationError(field_name, message, self.label))

    def attempt(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ValidationError as exc:
            self.errors.append(ValidationError(exc.field, exc.message, self.label))
            return None

    def read(self) -> Task:
        data = self.data
        if not isinstance(data, Mapping):
            raise TaskValidationErrors(
                [ValidationError("task", f"expected an object, got {type(data).__name__}")]
            )
        name = data.get("name")
        self.label = name if isinstance(name, str) and name.strip() else None
        task_id = data.get("id")
        if not isinstance(task_id, str) or not task_id.strip():
            self.fail("id", f"{task_id!r} is not a task id (a non-empty string)")
        if not isinstance(name, str) or not name.strip():
            self.fail("name", f"{name!r} is not a task name; give a non-empty name")
        elif len(name) > _NAME_MAX or _HEADER_BREAKS.search(name):
            self.fail("name", f"name must be one line of at most {_NAME_MAX} characters")
        description = data.get("description") or ""
        if not isinstance(description, str):
            self.fail("description", f"{description!r} is not text")
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            self.fail("enabled", f"{enabled!r} is not true or false")
        connection = self.attempt(
            check_connection, data.get("connection", defaults.CONNECTION), allow_password=True
        )
        has_steps = data.get("steps") is not None
        query, query_file = self._query() if not has_steps else self._no_query_with_steps()
        params = data.get("params") or {}
        if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
            self.fail("params", f"{params!r} is not an object of name: value bind parameters")
            params = {}
        types, type_errors = read_types(self.data.get("types"))
        columns, column_errors = read_columns(self.data.get("columns"), types)
        chart, chart_errors = read_chart(self.data.get("chart"), columns, types)
        for error in [*type_errors, *column_errors, *chart_errors]:
            self.fail(error.field, error.message)
        locale = self.data.get("locale")
        if locale is not None and locale not in ReportLocale.values():
            self.fail(
                "locale",
                f"{locale!r}{suggest_field(str(locale), ReportLocale.values())} is not a "
                f"locale; known: {', '.join(ReportLocale.values())}",
            )
            locale = None
        timezone = self.attempt(check_timezone, data.get("timezone") or self.default_timezone)
        created_at = self._instant("created_at")
        updated_at = self._instant("updated_at")
        schedule = None
        if "schedule" not in data:
            self.fail(
                "schedule",
                'missing; give {"cron": "0 9 * * 1-5"}, {"interval": "15m"}, {"once": ...}, '
                "or null for a task run only by webhook or `manage_tasks.py run`",
            )
        elif timezone is not None:
            schedule = self.attempt(
                parse_schedule,
                data.get("schedule"),
                ZoneInfo(timezone),
                # intervals count from creation, on a whole minute
                (created_at or _EPOCH).replace(second=0, microsecond=0),
            )
        exports = self._exports() if not has_steps else {}
        email = self._email() if not has_steps else EmailSpec()
        timeout = self._number("timeout_seconds", defaults.TIMEOUT_SECONDS, minimum=1)
        steps = StepReader(self, float(timeout)).read(data["steps"]) if has_steps else ()
        retry = self._retry()
        read_only = data.get("read_only", defaults.READ_ONLY)
        if not isinstance(read_only, bool):
            self.fail("read_only", f"{read_only!r} is not true or false")
        catch_up, catch_up_window, webhook = self._daemon_fields()
        summary = self._summary()
        if self.errors:
            raise TaskValidationErrors(self.errors)
        assert schedule is not None and timezone is not None and connection is not None
        return Task(
            id=str(task_id).strip(),
            name=str(name).strip(),
            description=description,
            enabled=bool(enabled),
            connection=connection,
            query=query,
            query_file=query_file,
            params=dict(params),
            types=types,
            columns=columns,
            locale=ReportLocale(locale) if locale is not None else None,
            chart=chart,
            schedule=schedule,
            timezone=timezone,
            exports=exports,
            email=email,
            timeout_seconds=timeout,
            read_only=bool(read_only),
            retry=retry,
            catch_up=catch_up,
            catch_up_window=catch_up_window,
            webhook=webhook,
            created_at=created_at,
            updated_at=updated_at,
            summary=summary,
            steps=steps,
            extra={k: v for k, v in data.items() if k not in TASK_FIELDS},
        )

    def _daemon_fields(self) -> tuple[CatchUpPolicy | None, timedelta | None, bool]:
        """catch_up, catch_up_window, webhook: how the daemon and the HTTP API treat it."""
        catch_up = self.data.get("catch_up")
        policies = CatchUpPolicy.values()
        if catch_up is not None and catch_up not in policies:
            self.fail(
                "catch_up",
                f"{catch_up!r}{suggest_field(str(catch_up), policies)} is not one of "
                + ", ".join(policies)
                + " (what to do with runs missed while the daemon was down)",
            )
            catch_up = None
        window = None
        if self.data.get("catch_up_window") is not None:
            window = self.attempt(parse_period, self.data["catch_up_window"], "catch_up_window")
        webhook = self.data.get("webhook", True)
        if not isinstance(webhook, bool):
            self.fail("webhook", f"{webhook!r} is not true or false (may the webhook run it?)")
            webhook = True
        return (CatchUpPolicy(catch_up) if catch_up is not None else None), window, webhook

    def _no_query_with_steps(self) -> tuple[None, None]:
        """A task with steps holds its SQL, files and messages in its steps."""
        moves = {
            "query": "an sql step's query",
            "query_file": "an sql step's query_file",
            "exports": "an sql step's exports",
            "email": "an email step (kind: email, attach: [step ids])",
        }
        for key, where in moves.items():
            if self.data.get(key) is not None:
                self.fail(key, f"a task with steps has no {key} of its own; move it into {where}")
        return None, None

    def _query(self) -> tuple[str | None, str | None]:
        query, query_file = self.data.get("query"), self.data.get("query_file")
        if query_file is not None:
            if query:
                self.fail("query", "give either query or query_file, not both")
            if not isinstance(query_file, str) or not query_file.strip():
                self.fail("query_file", f"{query_file!r} is not a file path")
                return None, None
            return None, query_file
        if not isinstance(query, str) or not query.strip():
            self.fail("query", "the query is empty; give the SQL text (or query_file)")
            return None, None
        return query, None

    def _instant(self, key: str) -> datetime | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        try:
            return parse_instant(str(value))
        except ValueError:
            self.fail(key, f"{value!r} is not an ISO 8601 date-time")
            return None

    def _number(
        self, key: str, default: float, minimum: float = 0, source: Mapping[str, Any] | None = None
    ) -> Any:
        container = self.data if source is None else source
        value = container.get(key, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            self.fail(key, f"{value!r} is not a number of at least {minimum}")
            return default
        return value

    def _exports(self) -> dict[str, dict[str, Any]]:
        raw = self.data.get("exports")
        if raw is None:
            return {ExportFormat.XLSX.value: {"enabled": True}}
        return self.exports_from(raw, "exports")

    def exports_from(self, raw: Any, where: str) -> dict[str, dict[str, Any]]:
        """Exports written at ``where`` (a task's ``exports``, an sql step's)."""
        if not isinstance(raw, Mapping):
            self.fail(where, f'{raw!r} is not an object like {{"xlsx": true, "pdf": false}}')
            return {}
        exports: dict[str, dict[str, Any]] = {}
        for fmt, value in raw.items():
            if fmt not in ExportFormat.values():
                self.fail(
                    f"{where}.{fmt}",
                    f"unknown format{suggest_field(fmt, ExportFormat.values())}; known: "
                    + ", ".join(ExportFormat.values()),
                )
                continue
            if isinstance(value, bool):
                exports[fmt] = {"enabled": value}
            elif isinstance(value, Mapping):
                options = dict(value)  # kept as written: "enabled" defaults to true
                for error in export_option_errors(fmt, options):
                    self.fail(where + error.field.removeprefix("exports"), error.message)
                exports[fmt] = options
            else:
                self.fail(f"{where}.{fmt}", f"{value!r} is not true, false or an options object")
        return exports

    def _email(self) -> EmailSpec:
        raw = self.data.get("email")
        if raw is None:
            return EmailSpec()
        return self.email_from(raw, "email")

    def email_from(
        self, raw: Any, where: str, names: tuple[str, ...] = TEMPLATE_VARIABLES
    ) -> EmailSpec:
        """Recipients, templates and send_if written at ``where`` (a task's ``email``, an
        email step); templates may use ``names``."""
        if not isinstance(raw, Mapping):
            self.fail(where, f'{raw!r} is not an object like {{"to": ["a@example.com"]}}')
            return EmailSpec()
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("to", "cc", "bcc"):
            value = raw.get(key) or []
            if isinstance(value, str):
                value = [part for part in re.split(r"[,;]", value) if part.strip()]
            if not isinstance(value, list):
                self.fail(f"{where}.{key}", f"{value!r} is not a list of addresses")
                value = []
            checked = [
                self.attempt(validate_address, v, f"{where}.{key}[{i}]")
                for i, v in enumerate(value)
            ]
            lists[key] = tuple(a for a in checked if a is not None)
        subject = raw.get("subject", defaults.EMAIL_SUBJECT)
        if self.attempt(validate_header_text, subject, f"{where}.subject") is not None:
            self.attempt(check_template, subject, f"{where}.subject", names)
        body = raw.get("body", defaults.EMAIL_BODY)
        if not isinstance(body, str):
            self.fail(f"{where}.body", f"{body!r} is not text")
            body = defaults.EMAIL_BODY
        else:
            self.attempt(check_template, body, f"{where}.body", names)
        send_if = raw.get("send_if", SendIf.ALWAYS)
        choices = SendIf.values()
        if send_if not in choices:
            self.fail(
                f"{where}.send_if",
                f"{send_if!r}{suggest_field(str(send_if), choices)} is not one of "
                + ", ".join(choices),
            )
        known = ("to", "cc", "bcc", "subject", "body", "send_if")
        return EmailSpec(
            to=lists["to"],
            cc=lists["cc"],
            bcc=lists["bcc"],
            subject=subject if isinstance(subject, str) else defaults.EMAIL_SUBJECT,
            body=body,
            send_if=SendIf(send_if) if send_if in choices else SendIf.ALWAYS,
            extra={k: v for k, v in raw.items() if k not in known},
        )

    def _retry(self) -> RetryPolicy:
        raw = self.data.get("retry")
        if raw is None:
            return RetryPolicy()
        if not isinstance(raw, Mapping):
            self.fail("retry", f'{raw!r} is not an object like {{"max_retries": 2}}')
            return RetryPolicy()
        max_retries = raw.get("max_retries", defaults.RETRY_MAX)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            self.fail("retry.max_retries", f"{max_retries!r} is not a whole number of at least 0")
            max_retries = defaults.RETRY_MAX
        delay = self._number("delay_seconds", defaults.RETRY_DELAY_SECONDS, 0, raw)
        backoff = self._number("backoff", defaults.RETRY_BACKOFF, 1, raw)
        known = ("max_retries", "delay_seconds", "backoff")
        return RetryPolicy(
            max_retries=max_retries,
            delay_seconds=delay,
            backoff=backoff,
            extra={k: v for k, v in raw.items() if k not in known},
        )

    def _summary(self) -> Summary:
        counts = {}
        for key in ("run_count", "error_count"):
            value = self.data.get(key) or 0
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                self.fail(key, f"{value!r} is not a count (a whole number of at least 0)")
                value = 0
            counts[key] = value
        last_status = self.data.get("last_status")
        if last_status is not None and last_status not in RunStatus.values():
            self.fail(
                "last_status", f"{last_status!r} is not one of " + ", ".join(RunStatus.values())
            )
        last_error = self.data.get("last_error")
        return Summary(
            last_run=self._instant("last_run"),
            last_status=last_status,
            last_error=str(last_error) if last_error is not None else None,
            next_run=self._instant("next_run"),
            run_count=counts["run_count"],
            error_count=counts["error_count"],
        )
