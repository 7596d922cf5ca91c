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

import contextlib
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
from src.core.lookup import find_task
from src.core.task import Task, new_task_id
from src.core.vocabulary import RunStatus
from src.services.api.authn import actor, require
from src.services.api.catalog import Snapshot, select
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
from src.services.webhook.control import TriggerResult
from src.services.webhook.errors import UNAVAILABLE_RETRY_AFTER, ApiError, fail
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


def loaded_task(ref: str) -> Task:
    """The task as the daemon runs it (its last load of tasks.json), for a run: 404 when
    there is none, 503 + Retry-After when it is in the file but not loaded yet."""
    ctx = context()
    try:
        return find_task(ctx.control.tasks(), ref)
    except TaskNotFound as exc:
        with contextlib.suppress(TaskNotFound, AmbiguousTask, StoreError):
            ctx.catalog.snapshot().find(ref)  # in the file, not loaded yet
            error = ApiError(
                503,
                f"the scheduler has not loaded task {ref[:64]!r} yet (it reads tasks.json "
                "within 2 s of a change); try again",
            )
            error.headers["Retry-After"] = "2"
            raise error from None
        fail(404, str(exc))
    except AmbiguousTask as exc:
        fail(400, str(exc))


def webhook_refusal(task: Task) -> str:
    """Why a task with ``webhook: false`` is not run over HTTP (the API and the pages)."""
    return f"task {task.name!r} does not accept webhook runs (its field webhook is false)"


def settle(task: Task, result: TriggerResult, principal: Principal) -> str:
    """The run id of a run the daemon took, written to the audit log; a refusal is a 409
    (the task's own reason: already running, disabled) or a 503 (the daemon is stopping)."""
    if not result.accepted or not result.run_id:
        reason = result.reason or "the scheduler refused the run"
        if result.unavailable:
            error = ApiError(503, reason)
            error.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
            raise error
        extra = {"task_id": task.id}
        if result.run_id:
            extra["run_id"] = result.run_id
        fail(409, reason, **extra)
    context().audit.record(actor(principal), "task.run", task=task, run_id=result.run_id)
    return result.run_id


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
    refs = select(snap.refs, name=name, enabled=enabled, last_status=last_status)
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


def create(data: Mapping[str, Any], principal: Principal) -> Task:
    """A new task from its tasks.json form, checked as ``add`` checks it and written
    under the store's lock with the audit (422 / 503 as ApiError). The API and the pages."""
    ctx = context()
    now = clock_now()
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
    return write(lambda: ctx.store(actor(principal)).add(task, now))


@blueprint.post("/api/tasks")
def create_task() -> tuple[Response, int]:
    principal = require(Role.EDITOR)
    data = json_object()
    errors = unknown_fields({k: v for k, v in data.items() if k != "id"})
    if "id" in data:
        errors.append(ValidationError("id", "is made by the scheduler; leave it out"))
    if errors:
        raise invalid(errors)
    created = create(data, principal)
    now = clock_now()
    response = with_etag(jsonify(task_json(created, now)), created)
    response.headers["Location"] = f"/api/tasks/{created.id}"
    return response, 201


def change(
    ref: str,
    form_of: Callable[[Task], Mapping[str, Any]],
    wanted: str | None,
    principal: Principal,
) -> Task:
    """The task ``ref`` changed to ``form_of(current)`` (its tasks.json form), when its
    ETag still matches ``wanted``: checked on the copy read, then again under the store's
    lock on the task as it is in the file then (412 when it changed meanwhile, never an
    overwrite). The API's PUT and PATCH and the pages' edit form."""
    ctx = context()
    now = clock_now()
    before = lookup(ref)
    try:
        matches(before, wanted)
    except PreconditionFailed as exc:
        raise stale(exc) from None

    def changed(current: Task) -> Task:
        return build(
            form_of(current),
            task_id=current.id,
            current=current,
            now=now,
            default_timezone=ctx.default_timezone,
        )

    check_admission(write(lambda: changed(before)), before, principal, now)

    def apply(current: Task) -> Task:
        matches(current, wanted)  # under the lock: the file as it is now
        return changed(current)

    return write(lambda: ctx.store(actor(principal)).update(before.id, apply, now))


def _change(ref: str, data: Mapping[str, Any], *, patch: bool) -> Response:
    principal = require(Role.EDITOR)
    wanted = if_match(required=True)
    errors = unknown_fields({k: v for k, v in data.items() if k != "id"})
    if errors:
        raise invalid(errors)
    before = lookup(ref)
    if "id" in data and data["id"] != before.id:
        raise invalid(
            [ValidationError("id", f"{data['id']!r} is not this task's id; leave it out")]
        )
    task = change(
        ref,
        lambda current: merged(definition_form(current), data) if patch else data,
        wanted,
        principal,
    )
    return with_etag(jsonify(task_json(task, clock_now())), task)


@blueprint.put("/api/tasks/<ref>")
def replace_task(ref: str) -> Response:
    return _change(ref, json_object(), patch=False)


@blueprint.patch("/api/tasks/<ref>")
def patch_task(ref: str) -> Response:
    return _change(ref, json_object(), patch=True)


def remove(ref: str, wanted: str | None, principal: Principal) -> Task:
    """Delete the task when its ETag still matches ``wanted`` (checked under the lock)."""
    task = lookup(ref)
    if runs_commands(task):
        require(Role.ADMIN)
    write(lambda: context().store(actor(principal)).delete(task.id, lambda t: matches(t, wanted)))
    return task


@blueprint.delete("/api/tasks/<ref>")
def delete_task(ref: str) -> tuple[str, int]:
    principal = require(Role.EDITOR)
    remove(ref, if_match(required=True), principal)
    return "", 204


def set_enabled(ref: str, enabled: bool, wanted: str | None, principal: Principal) -> Task:
    """Enable or disable the task as it is now (``wanted``: its ETag, when given)."""
    task = lookup(ref)
    now = clock_now()

    def apply(current: Task) -> Task:
        matches(current, wanted)
        return current.with_changes(enabled=enabled)

    return write(lambda: context().store(actor(principal)).update(task.id, apply, now))


def _set_enabled(ref: str, enabled: bool) -> Response:
    principal = require(Role.OPERATOR)
    changed = set_enabled(ref, enabled, if_match(required=False), principal)
    return with_etag(jsonify(task_json(changed, clock_now())), changed)


@blueprint.post("/api/tasks/<ref>/enable")
def enable_task(ref: str) -> Response:
    return _set_enabled(ref, True)


@blueprint.post("/api/tasks/<ref>/disable")
def disable_task(ref: str) -> Response:
    return _set_enabled(ref, False)
