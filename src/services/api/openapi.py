"""The OpenAPI 3.1 document of the HTTP API, served at /api/openapi.json.

The one description of every route, parameter and answer: the tests check each
answer against it with a JSON Schema validator, and a property-based fuzzer
(schemathesis) reads it to call the real daemon. Errors share one shape
(``{"error": "...", "errors": [{"field", "message"}]}``) under each route's
``default`` answer.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from src.core.vocabulary import RunStatus, Trigger
from src.services.api.openapi_schemas import ELSEWHERE, FILE_FETCHED, INSTANT, SCHEMAS, ref
from src.services.auth.roles import Role

blueprint = Blueprint("openapi", __name__)

JSON = "application/json"


def answer(
    description: str, schema: dict[str, Any] | None = None, **headers: str
) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {JSON: {"schema": schema}}
    if headers:
        out["headers"] = {
            name.replace("_", "-"): {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return out


ERROR = answer("An error: what is wrong and how to fix it", ref("Error"))


def op(
    summary: str,
    role: Role | None,
    responses: dict[str, Any],
    *,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    tag: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "responses": {**responses, "default": ERROR},
    }
    if role is not None:
        out["description"] = f"Needs the role {role.value} or above."
    else:
        out["security"] = []
    if params:
        out["parameters"] = params
    if body is not None:
        out["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
    return out


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
        "description": description,
    }


def header(name: str, description: str, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "schema": {"type": "string"},
        "description": description,
    }


#: What a run's files are served as, by format.
FILE_TYPES = (
    "text/csv",
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)
TASK_REF = path("ref", "The task's id, a unique id prefix (4+ characters) or its name")
PAGING = [
    query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "Items per page"),
    query("offset", {"type": "integer", "minimum": 0}, "Items to skip"),
]
PAGE_HEADERS = {
    "X_Total_Count": "How many items match in all",
    "Link": 'The next page, rel="next" (absent on the last page)',
}
IF_MATCH = header("If-Match", "The task's ETag as last read", required=True)
TASK_ANSWER = answer("The task", ref("Task"), ETag="The task's ETag, for If-Match")


def _paths() -> dict[str, Any]:
    viewer, operator, editor = Role.VIEWER, Role.OPERATOR, Role.EDITOR
    tasks, runs, sched = "tasks", "runs", "scheduler"
    return {
        "/api/tasks": {
            "get": op(
                "List tasks (file order), filtered and paged",
                viewer,
                {
                    "200": answer(
                        "A page of tasks", {"type": "array", "items": ref("Task")}, **PAGE_HEADERS
                    )
                },
                params=[
                    query("name", {"type": "string"}, "Part of the name, any case"),
                    query("enabled", {"enum": ["true", "false"]}, "Enabled or disabled only"),
                    query(
                        "last_status",
                        {"enum": [*RunStatus.values(), "never"]},
                        "The last run's status (never: not run yet)",
                    ),
                    *PAGING,
                ],
                tag=tasks,
            ),
            "post": op(
                "Create a task (validated as `add` validates)",
                editor,
                {
                    "201": answer(
                        "Created", ref("Task"), Location="The task's URL", ETag="The task's ETag"
                    )
                },
                body=ref("TaskInput"),
                tag=tasks,
            ),
        },
        "/api/tasks/{ref}": {
            "parameters": [TASK_REF],
            "get": op(
                "A task, its next fire times and last runs", viewer, {"200": TASK_ANSWER}, tag=tasks
            ),
            "put": op(
                "Replace a task's definition",
                editor,
                {"200": TASK_ANSWER},
                params=[IF_MATCH],
                body=ref("TaskInput"),
                tag=tasks,
            ),
            "patch": op(
                "Change some fields (email, retry, exports, params merge one level)",
                editor,
                {"200": TASK_ANSWER},
                params=[IF_MATCH],
                body=ref("TaskInput"),
                tag=tasks,
            ),
            "delete": op(
                "Delete a task", editor, {"204": answer("Deleted")}, params=[IF_MATCH], tag=tasks
            ),
        },
        "/api/tasks/{ref}/enable": {
            "parameters": [TASK_REF],
            "post": op(
                "Enable a task",
                operator,
                {"200": TASK_ANSWER},
                params=[header("If-Match", "Optional: refuse if the task changed")],
                tag=tasks,
            ),
        },
        "/api/tasks/{ref}/disable": {
            "parameters": [TASK_REF],
            "post": op(
                "Disable a task",
                operator,
                {"200": TASK_ANSWER},
                params=[header("If-Match", "Optional: refuse if the task changed")],
                tag=tasks,
            ),
        },
        "/api/tasks/{ref}/run": {
            "parameters": [TASK_REF],
            "post": op(
                "Run a task now (the webhook; rate limited; Idempotency-Key honoured)",
                operator,
                {
                    "202": answer("Queued", ref("Accepted"), Location="The run's status URL"),
                    "200": answer(
                        "A repeated Idempotency-Key: the first call's run", ref("Accepted")
                    ),
                },
                params=[header("Idempotency-Key", "Repeat-safe key of this call")],
                tag=runs,
            ),
        },
        "/api/tasks/{ref}/runs": {
            "parameters": [TASK_REF],
            "get": op(
                "A task's runs, newest first",
                viewer,
                {"200": answer("Runs", {"type": "array", "items": ref("Run")}, **PAGE_HEADERS)},
                params=PAGING,
                tag=runs,
            ),
        },
        "/api/runs": {
            "get": op(
                "Runs, newest first, filtered and paged",
                viewer,
                {"200": answer("Runs", {"type": "array", "items": ref("Run")}, **PAGE_HEADERS)},
                params=[
                    query("task", {"type": "string"}, "A task's id, id prefix or name"),
                    query("status", {"enum": list(RunStatus.values())}, "Status"),
                    query("trigger", {"enum": list(Trigger.values())}, "What started it"),
                    query("since", INSTANT, "Began at or after (ISO 8601)"),
                    query("until", INSTANT, "Began before (ISO 8601)"),
                    *PAGING,
                ],
                tag=runs,
            ),
        },
        "/api/runs/{run_id}": {
            "parameters": [path("run_id", "The run's id")],
            "get": op(
                "A run with every line of it",
                viewer,
                {"200": answer("The run", ref("RunDetail"))},
                tag=runs,
            ),
        },
        "/api/runs/{run_id}/files/{name}": {
            "parameters": [
                path("run_id", "The run's id"),
                path("name", "A file name from the run's files"),
            ],
            "get": op(
                "Download one of the run's files",
                viewer,
                {"200": {"description": FILE_FETCHED, "content": {t: {} for t in FILE_TYPES}}}
                | {code: answer(why, ref("FileElsewhere")) for code, why in ELSEWHERE.items()},
                tag=runs,
            ),
        },
        "/api/scheduler": {
            "get": op(
                "The scheduler: state, pause, tasks, runs in flight, next runs",
                viewer,
                {"200": answer("The scheduler", ref("Scheduler"))},
                tag=sched,
            ),
        },
        "/api/scheduler/pause": {
            "post": op(
                "Pause: no new scheduled runs (manual and webhook runs go on)",
                operator,
                {"200": answer("Paused", ref("Pause"))},
                tag=sched,
            ),
        },
        "/api/scheduler/resume": {
            "post": op(
                "Resume; missed runs follow each task's catch_up",
                operator,
                {"200": answer("Running", ref("Pause"))},
                tag=sched,
            ),
        },
        "/api/cluster": {
            "get": op(
                "The cluster's nodes, their heartbeats and load; 404 in single mode",
                viewer,
                {"200": answer("The cluster", ref("Cluster"))},
                tag="cluster",
            ),
        },
        "/api/connections": {
            "get": op(
                "The database connections .env names (never a password)",
                viewer,
                {"200": answer("Connections", {"type": "array", "items": ref("Connection")})},
                tag="connections",
            ),
        },
        "/api/connections/{name}/test": {
            "parameters": [path("name", "A connection name: sales, DB_SALES_URL, DATABASE_URL")],
            "post": op(
                "Connect and ask the server its version",
                operator,
                {"200": answer("The result", ref("ConnectionTest"))},
                tag="connections",
            ),
        },
        "/api/audit": {
            "get": op(
                "The audit log, newest first",
                viewer,
                {
                    "200": answer(
                        "Entries", {"type": "array", "items": ref("AuditEntry")}, **PAGE_HEADERS
                    )
                },
                params=[
                    query("task", {"type": "string"}, "A task's id, id prefix or name"),
                    query("action", {"type": "string"}, "e.g. task.update"),
                    *PAGING,
                ],
                tag="audit",
            ),
        },
        "/api/session": {
            "get": op(
                "Who is calling (and the session's CSRF token)",
                viewer,
                {"200": answer("The caller", ref("Session"))},
                tag="session",
            ),
            "post": op(
                "Log in: sets the session cookie",
                None,
                {"201": answer("Logged in", ref("Session"))},
                body={
                    "type": "object",
                    "required": ["name", "password"],
                    "properties": {"name": {"type": "string"}, "password": {"type": "string"}},
                },
                tag="session",
            ),
            "delete": op(
                "Log out: the session ends on the server",
                viewer,
                {"204": answer("Logged out")},
                tag="session",
            ),
        },
        "/api/openapi.json": {
            "get": op(
                "This document",
                None,
                {"200": answer("OpenAPI 3.1", {"type": "object"})},
                tag="meta",
            ),
        },
        "/health": {
            "get": op(
                "Health (503 when unhealthy); says whether the scheduler is paused",
                None,
                {
                    "200": answer("Healthy", ref("Health")),
                    "503": answer("Unhealthy", ref("Health")),
                },
                tag="meta",
            ),
        },
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "db-scheduler",
            "version": "1",
            "description": "Scheduled SQL reports: tasks, runs, the scheduler, connections "
            "and the audit log. Roles: viewer < operator < editor < admin. Writes of a "
            "task's definition carry its ETag in If-Match. See docs/api.md.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `manage_tasks.py token create`, or "
                    "WEBHOOK_TOKEN (an operator)",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "dbs_session",
                    "description": "After POST /api/session; state-changing calls "
                    "also send X-CSRF-Token",
                },
            },
            "schemas": SCHEMAS,
        },
        "paths": _paths(),
    }


@blueprint.get("/api/openapi.json")
def serve() -> Response:
    return jsonify(document())
