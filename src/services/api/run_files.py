"""A run's file, for ``GET /api/runs/<run>/files/<name>`` and the run page's links.

Only the run's own files, by name (no path goes in), and only from inside the exports
folder. In cluster mode a run made by another node is fetched from that node and
streamed on (:mod:`src.services.cluster.peer_files`), or answered with where the file
is; a request signed by a peer (:mod:`src.services.cluster.peer_auth`) is served from
this node's own files, never passed on again.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Response, request, send_file

from src.services.api.context import context
from src.services.cluster.settings import ClusterSettings
from src.services.webhook.errors import fail

if TYPE_CHECKING:  # SQLAlchemy loads only in cluster mode
    from sqlalchemy.engine import Engine

log = logging.getLogger("db_scheduler.webhook")


def peer_caller(run_id: str, name: str) -> str | None:
    """The node a peer request comes from (None: not a peer request, so the usual
    credentials apply); a 401 for one that says it is and cannot be believed. Outside
    cluster mode there are no peers: the headers mean nothing, as before."""
    cluster = ClusterSettings.from_env(context().env)
    if cluster is None:
        return None
    from src.services.cluster.peer_auth import (
        PEER_HEADERS,
        PeerRefused,
        check_peer,
        peer_secret,
        says_peer,
    )
    from src.services.cluster.peer_files import file_route

    given = {n: value for n in PEER_HEADERS if (value := request.headers.get(n)) is not None}
    if not says_peer(given):
        return None
    try:
        secret = peer_secret(_engine(cluster))
        node = check_peer(secret, "GET", file_route(run_id, name), given, time.time())
    except PeerRefused as exc:
        log.warning(
            "HTTP API: node-to-node request for run %s refused (client %s): %s",
            run_id[:8],
            request.remote_addr or "unknown",
            exc,
        )
        fail(401, f"node-to-node request refused: {exc}")
    except OSError as exc:  # the cluster database cannot be reached to check it
        fail(503, f"cannot check a node-to-node request: {exc}")
    return node


def run_file(run_id: str, name: str, *, peer: str | None = None) -> Response:
    """The file ``name`` of run ``run_id``; ``peer``: the node asking for its caller."""
    ctx = context()
    cluster = ClusterSettings.from_env(ctx.env)
    record = ctx.runs.get(run_id)  # in cluster mode every node's runs, naming their node
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
    made_by = record.data.get("node")
    if cluster is not None and isinstance(made_by, str) and made_by != cluster.node_name:
        if peer is not None:  # never passed on: a loop, or a peer that misread the record
            fail(
                409,
                f"run {run_id[:8]} was made by node {made_by!r}, not by this node "
                f"({cluster.node_name!r}): node {peer!r} should ask node {made_by!r}",
            )
        return _from_peer(cluster, run_id, name, str(path), made_by)
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


def _from_peer(cluster: ClusterSettings, run_id: str, name: str, path: str, node: str) -> Response:
    from src.services.cluster.peer_files import FileElsewhere, fetch

    try:
        found = fetch(_engine(cluster), cluster, run_id=run_id, name=name, path=path, node=node)
    except FileElsewhere as exc:
        log.warning("HTTP API: %s", exc)
        fail(exc.status, exc.message, **exc.fields)
    except OSError as exc:  # ClusterUnavailable: the nodes or the secret cannot be read
        fail(503, f"cannot fetch run {run_id[:8]}'s file from node {node!r}: {exc}")
    log.info(
        "HTTP API: run %s's file %r fetched from node %r",
        run_id[:8],
        name,
        node,
        extra={"event": "peer-file", "fields": {"run_id": run_id, "node": node}},
    )
    response = Response(found.chunks, status=200, headers=found.headers, direct_passthrough=True)
    response.headers["Cache-Control"] = "no-store"
    return response


def _engine(cluster: ClusterSettings) -> Engine:
    from src.services.cluster.database import engine_for

    return engine_for(cluster.url, cluster.statement_timeout_seconds, cluster.node_name)
