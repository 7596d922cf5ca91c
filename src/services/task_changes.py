"""A task created or changed from its tasks.json form (the HTTP API, the pages): the
same validation and words as ``add`` / ``edit``, an ETag per definition, and the
checks ``add`` / ``edit`` make beyond the model's.

* The form is read by the one validator, ``Task.from_dict`` (every bad field, in the
  words ``validate`` and ``edit`` use).
* What ``add`` and ``edit`` refuse on top (:func:`admission_errors`): a connection URL
  with a password or a connection missing from .env, a ``once`` time in the past, an
  address without a dot in its domain, SQL the first run would fail on (the database
  compiles it, never runs it).
* The ETag (:func:`etag_of`) covers the definition only: a run ending (which rewrites
  the task's summary) does not make a person's copy stale.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from src.core.clock import to_utc_iso
from src.core.connection_names import check_connection
from src.core.email_rules import dotless_domain
from src.core.errors import ConfigError, SchedulerError, ValidationError, suggest_field
from src.core.task import SUMMARY_FIELDS, Task
from src.core.task_reader import TASK_FIELDS
from src.services.connections import resolve_connection
from src.services.scheduler.reloader import definition_of

#: Fields a client may not set: the store and the daemon keep them.
SERVER_FIELDS = ("id", "created_at", "updated_at", *SUMMARY_FIELDS)
#: Fields whose change has the database compile the SQL again (as `edit` does).
SQL_FIELDS = ("query", "query_file", "params", "connection", "read_only")
#: Objects PATCH merges one level deep instead of replacing.
MERGED_OBJECTS = ("email", "retry", "exports", "params")


class PreconditionFailed(SchedulerError):
    """The task changed since the client read it (its ETag is not the one given)."""

    def __init__(self, task: Task) -> None:
        self.task = task
        super().__init__(
            f"task {task.name!r} was changed by someone else since you read it (its ETag is "
            f"now {etag_of(task)}); read it again, re-apply your change, and send the new ETag "
            "in If-Match"
        )


def etag_of(task: Task) -> str:
    """A strong ETag of the task's definition (quoted, as HTTP writes it)."""
    text = json.dumps(definition_of(task), sort_keys=True, ensure_ascii=False, default=str)
    return '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'


def unknown_fields(data: Mapping[str, Any]) -> list[ValidationError]:
    """A field the model does not know, or one the server keeps, is refused by name."""
    errors: list[ValidationError] = []
    for key in data:
        if key in SERVER_FIELDS and key != "id":
            errors.append(ValidationError(key, "is set by the scheduler; leave it out"))
        elif key not in TASK_FIELDS:
            errors.append(ValidationError(key, f"unknown field{suggest_field(key, TASK_FIELDS)}"))
    return errors


def merged(current: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """PATCH: the fields given replace the task's; the objects of MERGED_OBJECTS are
    merged one level deep (``{"email": {"to": [...]}}`` keeps the subject)."""
    out = dict(current)
    for key, value in patch.items():
        if key in MERGED_OBJECTS and isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def definition_form(task: Task) -> dict[str, Any]:
    """The task's tasks.json form without what the scheduler keeps."""
    data = task.to_dict()
    for key in SERVER_FIELDS:
        data.pop(key, None)
    return data


def build(
    data: Mapping[str, Any],
    *,
    task_id: str,
    current: Task | None,
    now: datetime,
    default_timezone: str,
) -> Task:
    """The task ``data`` describes (TaskValidationErrors for each bad field); the id,
    creation time and run summary are the current task's (a new one's: fresh)."""
    form = {k: v for k, v in data.items() if k not in SERVER_FIELDS}
    form["id"] = task_id
    form["created_at"] = to_utc_iso(current.created_at if current and current.created_at else now)
    if current is not None:
        form.update(current.summary.to_dict())
    if "exports" not in form and "steps" not in form and current is None:
        form["exports"] = {"xlsx": True}  # as `add` does
    return Task.from_dict(form, default_timezone=default_timezone)


def admission_errors(
    task: Task,
    before: Task | None,
    env: Mapping[str, str],
    now: datetime,
) -> list[ValidationError]:
    """What ``add`` / ``edit`` refuse beyond the model, for the fields that changed."""
    errors: list[ValidationError] = []
    if before is None or task.connection != before.connection:
        try:
            check_connection(task.connection, allow_password=False)
            resolve_connection(task.connection, env)
        except (ValidationError, ConfigError) as exc:
            message = exc.message if isinstance(exc, ValidationError) else str(exc)
            errors.append(ValidationError("connection", message))
    if before is None or task.schedule != before.schedule:
        past = task.past_once(now)
        if past:
            errors.append(ValidationError("schedule", f"{past}; give a later time"))
    old = set(before.email.recipients) if before else set()
    for key in ("to", "cc", "bcc"):
        for index, address in enumerate(getattr(task.email, key)):
            problem = (
                dotless_domain(address, f"email.{key}[{index}]") if address not in old else None
            )
            if problem:
                errors.append(ValidationError(f"email.{key}[{index}]", problem))
    return errors


def sql_changed(task: Task, before: Task | None) -> bool:
    if before is None:
        return True
    return any(getattr(task, key) != getattr(before, key) for key in SQL_FIELDS)


def sql_errors(
    task: Task, env: Mapping[str, str], base: Path, now: datetime
) -> list[ValidationError]:
    """The SQL checks of ``add`` / ``edit``: the database compiles the statement (never
    runs it); each error is one entry on the field ``query``."""
    from src.services.query import QueryService  # SQLAlchemy: loaded when a task is saved
    from src.services.task_checks import first_run_findings

    service = QueryService(env)
    try:
        found = first_run_findings(task, base, now, service)
    finally:
        service.close()
    return [ValidationError("query", error) for error in found.errors]


def runs_commands(task: Task) -> bool:
    """Whether the task runs programs on the machine (a command, python or powershell
    step): such a task may be created, changed or deleted over HTTP by an admin only."""
    return task.runs_code
