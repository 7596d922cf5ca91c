"""/api/runs: the run history, newest first, filtered and paged; one run with every
line of it; a run's files to download (only that run's, by name: no path goes in)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, jsonify, send_file

from src.core.vocabulary import RunStatus, Trigger
from src.services.api.authn import require
from src.services.api.context import context
from src.services.api.params import choice, instant, paged, paging, query_arg
from src.services.api.tasks import lookup
from src.services.auth.roles import Role
from src.services.run_index import RunQuery
from src.services.webhook.errors import fail

blueprint = Blueprint("runs", __name__)
#: `history --json` shows 20 runs by default.
DEFAULT_TASK_RUNS = 20


@blueprint.get("/api/runs")
def list_runs() -> Response:
    require(Role.VIEWER)
    ref = query_arg("task")
    query = RunQuery(
        task_id=lookup(ref).id if ref else None,
        status=choice("status", RunStatus.values()),
        trigger=choice("trigger", Trigger.values()),
        since=instant("since"),
        until=instant("until"),
    )
    limit, offset = paging()
    page, total = context().runs.page(
        RunQuery(**{**query.__dict__, "limit": limit, "offset": offset})
    )
    return paged(jsonify(page), total, limit, offset)


@blueprint.get("/api/tasks/<ref>/runs")
def task_runs(ref: str) -> Response:
    require(Role.VIEWER)
    limit, offset = paging(DEFAULT_TASK_RUNS)
    task = lookup(ref)
    page, total = context().runs.page(RunQuery(task_id=task.id, limit=limit, offset=offset))
    return paged(jsonify(page), total, limit, offset)


@blueprint.get("/api/runs/<run_id>")
def show_run(run_id: str) -> Response:
    require(Role.VIEWER)
    ctx = context()
    found = ctx.runs.lines_of(run_id)
    if found is not None:
        record, lines = found
        return jsonify({**record.to_json(), "lines": lines})
    live = ctx.control.run_status(run_id)
    if live is not None:
        return jsonify({"run_id": run_id, **live})
    fail(404, f"no run {run_id[:64]!r}; runs are kept in the history for HISTORY_KEEP_DAYS")


@blueprint.get("/api/runs/<run_id>/files/<name>")
def download(run_id: str, name: str) -> Response:
    require(Role.VIEWER)
    ctx = context()
    record = ctx.runs.get(run_id)
    if record is None:
        fail(404, f"no run {run_id[:64]!r}")
    files = {
        Path(str(item.get("path", ""))).name: Path(str(item.get("path", "")))
        for item in record.data.get("files") or []
        if isinstance(item, dict)
    }
    path = files.get(name)
    if path is None:
        listed = ", ".join(sorted(files)) or "none"
        fail(404, f"run {run_id[:8]} has no file {name[:80]!r}; its files: {listed}")
    exports = ctx.settings.exports_dir.resolve()
    real = (ctx.settings.base_dir / path).resolve()
    if not real.is_relative_to(exports):  # a record that names a file elsewhere: never served
        fail(404, f"run {run_id[:8]}: {name!r} is not in the exports folder")
    if not real.is_file():
        fail(
            410,
            f"run {run_id[:8]}: {name!r} is gone (exports are kept EXPORTS_KEEP_DAYS days); "
            "run the task again for a new one",
        )
    response = send_file(real, as_attachment=True, download_name=name, max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response
