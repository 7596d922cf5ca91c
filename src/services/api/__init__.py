"""The REST API under /api: tasks, runs, the scheduler, the cluster's nodes, connections,
the audit log, sessions; documented by /api/openapi.json (:mod:`openapi`, the one
description of every route and answer, which the tests check each answer against).

Each module is a Flask blueprint over :class:`~src.services.api.context.ApiContext`;
:func:`register_api` adds them, the security headers and the login pages to the app.
"""

from __future__ import annotations

from flask import Flask

from src.services.api.context import ApiContext


def register_api(app: Flask, context: ApiContext) -> None:
    from src.services.api import headers
    from src.services.api.audit_views import blueprint as audit_views
    from src.services.api.cluster_views import blueprint as cluster_views
    from src.services.api.connections import blueprint as connections
    from src.services.api.openapi import blueprint as openapi
    from src.services.api.runs import blueprint as runs
    from src.services.api.scheduler import blueprint as scheduler
    from src.services.api.session import blueprint as session
    from src.services.api.tasks import blueprint as tasks

    app.extensions["db_scheduler_api"] = context
    headers.install(app)
    for blueprint in (
        tasks,
        runs,
        scheduler,
        cluster_views,
        connections,
        audit_views,
        session,
        openapi,
    ):
        app.register_blueprint(blueprint)


__all__ = ["ApiContext", "register_api"]
