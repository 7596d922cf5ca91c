"""/api/cluster: the cluster's nodes (heartbeat, runs in flight, capacity, state), as
``manage_tasks.py nodes --json`` lists them (:func:`~src.services.cluster.roster.list_nodes`,
one source), from any node.

On a single machine it is a 404 that says cluster mode is off and how to turn it on: a
daemon that was meant to be a node but started without ``CLUSTER_DATABASE_URL`` (and so
runs every task alone) must not answer like a healthy cluster of one.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from src.services.api.authn import require
from src.services.api.context import context
from src.services.auth.roles import Role
from src.services.webhook.errors import fail

blueprint = Blueprint("cluster", __name__)

SINGLE_MODE = (
    "cluster mode is off: this daemon runs alone on its tasks file and run history. To run "
    "several nodes on one PostgreSQL, set CLUSTER_DATABASE_URL (and NODE_NAME) in its .env "
    "and restart it (docs/cluster.md); /health describes this daemon"
)


@blueprint.get("/api/cluster")
def show_cluster() -> Response:
    require(Role.VIEWER)
    ctx = context()
    settings = ctx.cluster
    nodes = ctx.nodes()
    if settings is None or nodes is None:
        fail(404, SINGLE_MODE)
    return jsonify(
        {
            "mode": "cluster",
            "node": settings.node_name,
            "dead_after_seconds": settings.dead_after_seconds,
            "nodes": nodes,
        }
    )
