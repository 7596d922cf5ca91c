"""The web pages: server-rendered HTML over the REST API's own functions.

One module per group of pages, each adding its routes to the one blueprint of
:mod:`common` (which also holds what every page shares): :mod:`dashboard`,
:mod:`task_pages` (list, task, its buttons), :mod:`task_form` (create, edit, the
schedule preview), :mod:`run_pages` (the live list, a run), :mod:`admin_pages`
(connections, audit log, pause). Templates are Jinja2 with autoescape; the stylesheet
and the one script are static files of this package (the CSP allows no inline script,
and nothing is fetched from elsewhere).
"""

from __future__ import annotations

from flask import Flask


def register_web(app: Flask) -> None:
    from src.services.web import admin_pages, dashboard, run_pages, task_form, task_pages
    from src.services.web.common import blueprint

    assert admin_pages and dashboard and run_pages and task_form and task_pages  # routes
    app.register_blueprint(blueprint)


__all__ = ["register_web"]
