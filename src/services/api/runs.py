"""/api/runs: the run history, newest first, filtered and paged; one run with every
line of it; a run's files to download (only that run's, by name: no path goes in;
:mod:`src.services.api.run_files`, which in cluster mode fetches another node's)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from src.core.vocabulary import RunStatus, Trigger
from src.services.api.authn import require
from src.services.api.context import context
from src.services.api.params import choice, instant, paged, paging, query_arg
from src.services.api.run_files import peer_caller, run_file
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
    peer = peer_caller(run_id, name)  # another node, fetching for its caller: signed
    if peer is None:
        require(Role.VIEWER)
    return run_file(run_id, name, peer=peer)
