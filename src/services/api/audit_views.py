"""/api/audit: the audit log, newest first, of one task or all, paged."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from src.services.api.authn import require
from src.services.api.context import context
from src.services.api.params import paged, paging, query_arg
from src.services.api.tasks import lookup
from src.services.auth.roles import Role
from src.services.webhook.errors import ApiError

blueprint = Blueprint("audit", __name__)


@blueprint.get("/api/audit")
def list_entries() -> Response:
    require(Role.VIEWER)
    ref = query_arg("task")
    task_id = None
    if ref:
        # a deleted task is still in the log: its full id finds its entries
        try:
            task_id = lookup(ref).id
        except ApiError as exc:
            if exc.status != 404:
                raise
            task_id = ref
    limit, offset = paging()
    page, total = context().audit.newest(task_id, limit, offset, query_arg("action"))
    return paged(jsonify(page), total, limit, offset)
