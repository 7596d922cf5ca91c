"""The tasks: a list to search, filter, sort and page; a task's page (its schedule in
words and next runs in its zone, as `show` gives them; its recent runs, their files and
a chart); and its buttons: run now, enable, disable, delete (after a confirmation page).

Every change goes through the API's functions (:mod:`src.services.api.tasks`): the same
lock, checks, ETags and audit as the API and the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import redirect, request
from werkzeug.wrappers import Response as BaseResponse

from src.core import defaults
from src.core.clock import now as clock_now
from src.core.errors import StoreError
from src.core.schedule import SCHEDULE_KINDS
from src.core.task import Task
from src.core.vocabulary import RunStatus, Trigger
from src.services.api.catalog import TaskRef, select
from src.services.api.context import context
from src.services.api.tasks import (
    loaded_task,
    lookup,
    remove,
    set_enabled,
    settle,
    snapshot,
    webhook_refusal,
)
from src.services.auth.roles import Role
from src.services.run_stats import stats_of
from src.services.task_changes import etag_of
from src.services.web.charts import run_chart
from src.services.web.common import PAGE_SIZE, blueprint, looking, render, when
from src.services.webhook.errors import fail

#: The list's sort keys: the column, and how a task's value sorts (text the file holds).
SORTS = {
    "name": lambda ref: ref.name.casefold(),
    "last_run": lambda ref: ref.last_run,
    "next_run": lambda ref: ref.next_run or "~",  # never: last
    "last_status": lambda ref: ref.last_status or "",
}
LAST_RESULTS = (*RunStatus.values(), "never")
#: The runs a task's page lists and charts.
TASK_PAGE_RUNS = 30


def _one(name: str, allowed: tuple[str, ...]) -> str | None:
    """A filter's value from the query string; an unknown one is a 400 naming the choices."""
    value = request.args.get(name) or None
    if value is not None and value not in allowed:
        fail(400, f"{name}={value[:40]!r} is not one of {', '.join(allowed)}")
    return value


def _page_number() -> int:
    text = request.args.get("page") or "1"
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 1_000_000:
        fail(400, f"page={text[:20]!r}: give a whole number from 1")
    return int(text)


@blueprint.get("/tasks")
def task_list() -> BaseResponse:
    looking()
    query = (request.args.get("q") or "").strip()[:200]
    enabled = _one("enabled", ("yes", "no"))
    kind = _one("kind", (*SCHEDULE_KINDS, "none"))
    last = _one("last", LAST_RESULTS)
    sort = request.args.get("sort") or "name"
    descending = sort.startswith("-")
    key = sort.removeprefix("-")
    if key not in SORTS:
        fail(400, f"sort={sort[:40]!r} is not one of {', '.join(SORTS)} (- before it: reversed)")
    snap = snapshot()
    refs = select(
        snap.refs,
        name=query or None,
        enabled=None if enabled is None else enabled == "yes",
        last_status=last,
        schedule_kind=kind,
    )
    refs.sort(key=SORTS[key], reverse=descending)
    page = _page_number()
    pages = max(1, -(-len(refs) // PAGE_SIZE))
    now = clock_now()
    rows = [_row(snap.task, ref, now) for ref in refs[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]
    return render(
        "tasks.html",
        title="Tasks",
        section="tasks",
        rows=rows,
        total=len(refs),
        all_tasks=len(snap.refs),
        page=page,
        pages=pages,
        query=query,
        enabled=enabled,
        kind=kind,
        last=last,
        sort=key,
        descending=descending,
        kinds=(*SCHEDULE_KINDS, "none"),
        results=LAST_RESULTS,
    )


def _row(validate: Any, ref: TaskRef, now: Any) -> dict[str, Any]:
    """One line of the list: the task as `list` shows it, or why it cannot be read."""
    try:
        task: Task = validate(ref)
    except StoreError as exc:
        return {"ref": ref, "task": None, "problem": str(exc)}
    return {
        "ref": ref,
        "task": task,
        "schedule": task.schedule.describe(),
        "next_run": when(task.next_run(now), task.zone),
        "last_run": when(task.summary.last_run, task.zone),
        "problem": None,
    }


@blueprint.get("/tasks/<ref>")
def task_page(ref: str) -> BaseResponse:
    looking()
    task = lookup(ref)
    ctx = context()
    now = clock_now()
    records = ctx.runs.latest(task.id, TASK_PAGE_RUNS)
    runs = [record.to_json() for record in reversed(records)]
    return render(
        "task.html",
        title=task.name,
        section="tasks",
        task=task,
        etag=etag_of(task),
        schedule=task.schedule.describe(),
        upcoming=[when(moment, task.zone) for moment in task.upcoming(now, defaults.SHOW_UPCOMING)],
        stats=stats_of(task.id, task.name, records).describe(),
        runs=runs,
        files={run["run_id"]: _files(run) for run in runs},
        chart=run_chart(runs, task.zone, with_task=False),
        notice=_notice(),
    )


def _files(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": Path(str(item.get("path", ""))).name, **item}
        for item in run.get("files") or []
        if isinstance(item, dict) and item.get("path")
    ]


NOTICES = {
    "enabled": "The task is enabled: it runs on its schedule.",
    "disabled": "The task is disabled: it does not run on its schedule until enabled.",
    "saved": "Saved.",
    "created": "Created. The scheduler picks it up within 2 seconds.",
}


def _notice() -> str | None:
    """A fixed sentence after a change (a key in the URL, never text from it)."""
    return NOTICES.get(request.args.get("done") or "")


@blueprint.post("/tasks/<ref>/run")
def run_now(ref: str) -> BaseResponse:
    principal = looking(Role.OPERATOR)
    task = loaded_task(ref)
    if not task.webhook:
        fail(403, webhook_refusal(task))
    result = context().control.trigger(task, trigger=Trigger.WEBHOOK, idempotency_key=None)
    run_id = settle(task, result, principal)
    return redirect(f"/runs/{run_id}", code=303)


@blueprint.post("/tasks/<ref>/enable")
def enable(ref: str) -> BaseResponse:
    task = set_enabled(ref, True, None, looking(Role.OPERATOR))
    return redirect(f"/tasks/{task.id}?done=enabled", code=303)


@blueprint.post("/tasks/<ref>/disable")
def disable(ref: str) -> BaseResponse:
    task = set_enabled(ref, False, None, looking(Role.OPERATOR))
    return redirect(f"/tasks/{task.id}?done=disabled", code=303)


@blueprint.get("/tasks/<ref>/delete")
def confirm_delete(ref: str) -> BaseResponse:
    looking(Role.EDITOR)
    task = lookup(ref)
    return render(
        "task_delete.html",
        title=f"Delete {task.name}",
        section="tasks",
        task=task,
        etag=etag_of(task),
    )


@blueprint.post("/tasks/<ref>/delete")
def delete(ref: str) -> BaseResponse:
    principal = looking(Role.EDITOR)
    wanted = request.form.get("etag") or ""
    if not wanted:
        fail(428, "the form carries no ETag of the task; open the task's delete page again")
    remove(ref, wanted, principal)
    return redirect("/tasks?deleted=1", code=303)
