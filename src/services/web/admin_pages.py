"""Connections (names, and a button that tests one), the audit log, and the scheduler's
pause: the pages over :mod:`src.services.api.connections`, the audit log and
:mod:`src.services.api.scheduler`, whose functions they call."""

from __future__ import annotations

from flask import redirect, request
from werkzeug.wrappers import Response as BaseResponse

from src.core.errors import AmbiguousTask, StoreError, TaskNotFound
from src.services.api.connections import connections, try_connection
from src.services.api.context import context
from src.services.api.scheduler import set_paused, state
from src.services.auth.roles import Role
from src.services.web.common import PAGE_SIZE, blueprint, looking, render
from src.services.webhook.errors import fail


@blueprint.get("/connections")
def connection_list() -> BaseResponse:
    looking()
    return render(
        "connections.html", title="Connections", section="connections", items=connections()
    )


@blueprint.post("/connections/<name>/test")
def connection_test(name: str) -> BaseResponse:
    result = try_connection(name, looking(Role.OPERATOR))
    return render(
        "connections.html",
        title="Connections",
        section="connections",
        items=connections(),
        result=result,
    )


@blueprint.get("/audit")
def audit_page() -> BaseResponse:
    looking()
    task = (request.args.get("task") or "").strip()[:200] or None
    action = (request.args.get("action") or "").strip()[:100] or None
    page = request.args.get("page") or "1"
    if not (page.isascii() and page.isdigit()) or not 1 <= int(page) <= 100_000:
        fail(400, f"page={page[:20]!r}: give a whole number from 1")
    task_id = None
    if task:
        snap_task = _task_id(task)
        task_id = snap_task or task  # a deleted task's id still finds its entries
    entries, total = context().audit.newest(task_id, PAGE_SIZE, (int(page) - 1) * PAGE_SIZE, action)
    return render(
        "audit.html",
        title="Audit log",
        section="audit",
        entries=entries,
        total=total,
        page=int(page),
        pages=max(1, -(-total // PAGE_SIZE)),
        task=task or "",
        action=action or "",
    )


def _task_id(ref: str) -> str | None:
    try:
        return context().catalog.snapshot().find(ref).id
    except (TaskNotFound, AmbiguousTask, StoreError):
        return None


@blueprint.get("/scheduler")
def scheduler_page() -> BaseResponse:
    looking()
    return render("scheduler.html", title="Scheduler", section="scheduler", scheduler=state())


@blueprint.post("/scheduler/pause")
def pause() -> BaseResponse:
    set_paused(True, looking(Role.OPERATOR))
    return redirect("/scheduler", code=303)


@blueprint.post("/scheduler/resume")
def resume() -> BaseResponse:
    set_paused(False, looking(Role.OPERATOR))
    return redirect("/scheduler", code=303)
