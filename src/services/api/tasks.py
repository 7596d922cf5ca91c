"""/api/tasks: list, create, read, replace, patch, delete, enable, disable.

Writes go through the store's lock (:class:`~src.services.task_store.TaskStore`), the
same code as ``manage_tasks.py``, and check the client's ``If-Match`` against the task
as it is in the file under that lock: a change made meanwhile (by the CLI, another
client, a page) answers 412 and is never overwritten. PUT, PATCH and DELETE need
``If-Match`` (428 without); enable and disable change one field of the task as it is
now, so they take it when given. Validation answers 422 with one entry per field, in
the words of ``add`` / ``edit`` / ``validate``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from src.core import defaults
from src.core.clock import now as clock_now
from src.core.errors import (
    AmbiguousTask,
    DuplicateTaskName,
    StoreBusy,
    StoreError,
    TaskNotFound,
    TaskValidationErrors,
    ValidationError,
)
from src.core.task import Task, new_task_id
from src.core.vocabulary import RunStatus
from src.services.api.authn import actor, require
from src.services.api.catalog import Snapshot
from src.services.api.context import context
from src.services.api.params import boolean, choice, json_object, paged, paging, query_arg
from src.services.auth.roles import Principal, Role
from src.services.task_changes import (
    PreconditionFailed,
    admission_errors,
    build,
    definition_form,
    etag_of,
    merged,
    runs_commands,
    sql_changed,
    sql_errors,
    unknown_fields,
)
from src.services.webhook.errors import ApiError, fail
from src.services.webhook.views import task_detail_json, task_json

blueprint = Blueprint("tasks", __name__)

#: GET /api/tasks answers every task up to this many unless ?limit= says otherwise.
DEFAULT_TASKS_LIMIT = 100


def snapshot() -> Snapshot:
    try:
        return context().catalog.snapshot()
    except StoreError as exc:
        fail(503, f"the tasks file cannot be read: {exc}")


def lookup(ref: str) -> Task:
    try:
        return snapshot().find(ref)
    except TaskNotFound as exc:
        fail(404, str(exc))
    except AmbiguousTask as exc:
        fail(400, str(exc))
    except StoreError as exc:
        fail(503, str(exc))


def invalid(errors: list[ValidationError]) -> ApiError:
    """422 with one entry per field (several problems of one field joined)."""
    by_field: dict[str, list[str]] = {}
    for error in errors:
        by_field.setdefault(error.field, []).append(error.message)
    entries = [{"field": name, "message": "; ".join(msgs)} for name, msgs in by_field.items()]
    return ApiError(
        422,
        f"the task is not valid: {len(entries)} field(s) to fix; nothing was saved",
        errors=entries,
    )


def with_etag(response: Response, task: Task) -> Response:
    response.headers["ETag"] = etag_of(task)
    return response


def if_match(required: bool) -> str | None:
    value = request.headers.get("If-Match")
    if value is None and required:
        fail(
            428,
            "this change needs the header If-Match with the task's ETag (from GET "
            "/api/tasks/{ref}), so that a change made meanwhile is never overwritten",
        )
    return value.strip() if value is not None else None


def matches(current: Task, wanted: str | None) -> None:
    """412 when the client's copy is stale (``*`` matches any current task)."""
    if wanted is None or wanted == "*":
        return
    if etag_of(current) not in [tag.strip().removeprefix("W/") for tag in wanted.split(",")]:
        raise PreconditionFailed(current)


def stale(exc: PreconditionFailed) -> ApiError:
    error = ApiError(412, str(exc), task_id=exc.task.id)
    error.headers["ETag"] = etag_of(exc.task)
    return error


def check_admission(task: Task, before: Task | None, principal: Principal, now: datetime) -> None:
    ctx = context()
    if runs_commands(task) or (before is not None and runs_commands(before)):
        require(Role.ADMIN)
    errors = admission_errors(task, before, ctx.env, now)
    if not errors and sql_changed(task, before):
        errors = sql_errors(task, ctx.env, ctx.tasks_file.resolve().parent, now)
    if errors:
        raise invalid(errors)


def write(action: Callable[[], Task]) -> Task:
    """Run a store change, turning the domain's errors into answers."""
    try:
        return action()
    except PreconditionFailed as exc:
        raise stale(exc) from None
    except TaskValidationErrors as exc:
        raise invalid(exc.errors) from None
    except DuplicateTaskName as exc:
        raise invalid([ValidationError("name", str(exc))]) from None
    except TaskNotFound as exc:
        fail(404, f"{exc} (deleted meanwhile)")
    except StoreBusy as exc:
        error = ApiError(503, str(exc))
        error.headers["Retry-After"] = "2"
        raise error from None


# -- reading --------------------------------------------------------------------------------


@blueprint.get("/api/tasks")
def list_tasks() -> Response:
    require(Role.VIEWER)
    name = query_arg("name")
    enabled = boolean("enabled")
    last_status = choice("last_status", [*RunStatus.values(), "never"])
    limit, offset = paging(DEFAULT_TASKS_LIMIT)
    snap = snapshot()
    folded = name.casefold() if name else None
    refs = [
        ref
        for ref in snap.refs
        if (folded is None or folded in ref.name.casefold())
        and (enabled is None or ref.enabled == enabled)
        and (
            last_status is None
            or ref.last_status == last_status
            or (last_status == "never" and ref.last_status is None)
        )
    ]
    now = clock_now()
    try:
        page = [task_json(snap.task(ref), now) for ref in refs[offset : offset + limit]]
    except StoreError as exc:
        fail(503, str(exc))
    return paged(jsonify(page), len(refs), limit, offset)


@blueprint.get("/api/tasks/<ref>")
def show_task(ref: str) -> Response:
    require(Role.VIEWER)
    task = lookup(ref)
    runs = context().runs.latest(task.id, defaults.SHOW_RECENT_RUNS)
    return with_etag(jsonify(task_detail_json(task, clock_now(), runs)), task)


# -- writing --------------------------------------------------------------------------------


@blueprint.post("/api/tasks")
def create_task() -> tuple[Response, int]:
    principal = require(Role.EDITOR)
    data = json_object()
    ctx = context()
    now = clock_now()
    errors = unknown_fields({k: v for k, v in data.items() if k != "id"})
    if "id" in data:
        errors.append(ValidationError("id", "is made by the scheduler; leave it out"))
    if errors:
        raise invalid(errors)
    task = write(
        lambda: build(
            data,
            task_id=new_task_id(),
            current=None,
            now=now,
            default_timezone=ctx.default_timezone,
        )
    )
    check_admission(task, None, principal, now)
    created = write(lambda: ctx.store(actor(principal)).add(task, now))
    response = with_etag(jsonify(task_json(created, now)), created)
    response.headers["Location"] = f"/api/tasks/{created.id}"
    return response, 201


def _change(ref: str, data: Mapping[str, Any], *, patch: bool) -> Response:
    principal = require(Role.EDITOR)
    wanted = if_match(required=True)
    errors = unknown_fields({k: v for k, v in data.items() if k != "id"})
    if errors:
        raise invalid(errors)
    ctx = context()
    now = clock_now()
    before = lookup(ref)
    if "id" in data and data["id"] != before.id:
        raise invalid(
            [ValidationError("id", f"{data['id']!r} is not this task's id; leave it out")]
        )
    try:
        matches(before, wanted)
    except PreconditionFailed as exc:
        raise stale(exc) from None

    def changed(current: Task) -> Task:
        form = merged(definition_form(current), data) if patch else data
        return build(
            form,
            task_id=current.id,
            current=current,
            now=now,
            default_timezone=ctx.default_timezone,
        )

    check_admission(write(lambda: changed(before)), before, principal, now)

    def apply(current: Task) -> Task:
        matches(current, wanted)  # under the lock: the file as it is now
        return changed(current)

    task = write(lambda: ctx.store(actor(principal)).update(before.id, apply, now))
    return with_etag(jsonify(task_json(task, now)), task)


@blueprint.put("/api/tasks/<ref>")
def replace_task(ref: str) -> Response:
    return _change(ref, json_object(), patch=False)


@blueprint.patch("/api/tasks/<ref>")
def patch_task(ref: str) -> Response:
    return _change(ref, json_object(), patch=True)


@blueprint.delete("/api/tasks/<ref>")
def delete_task(ref: str) -> tuple[str, int]:
    principal = require(Role.EDITOR)
    wanted = if_match(required=True)
    task = lookup(ref)
    if runs_commands(task):
        require(Role.ADMIN)
    write(lambda: context().store(actor(principal)).delete(task.id, lambda t: matches(t, wanted)))
    return "", 204


def _set_enabled(ref: str, enabled: bool) -> Response:
    principal = require(Role.OPERATOR)
    wanted = if_match(required=False)
    task = lookup(ref)
    now = clock_now()

    def apply(current: Task) -> Task:
        matches(current, wanted)
        return current.with_changes(enabled=enabled)

    changed = write(lambda: context().store(actor(principal)).update(task.id, apply, now))
    return with_etag(jsonify(task_json(changed, now)), changed)


@blueprint.post("/api/tasks/<ref>/enable")
def enable_task(ref: str) -> Response:
    return _set_enabled(ref, True)


@blueprint.post("/api/tasks/<ref>/disable")
def disable_task(ref: str) -> Response:
    return _set_enabled(ref, False)
