"""The answers' shapes in the OpenAPI document (components/schemas): JSON Schema 2020-12,
as OpenAPI 3.1 takes it. The routes that answer with them are in :mod:`openapi`."""

from __future__ import annotations

from typing import Any

from src.core.vocabulary import RunStatus, Trigger
from src.services.auth.roles import Role

NULL_STR = {"type": ["string", "null"]}
INSTANT = {"type": "string", "format": "date-time"}
NULL_INSTANT = {"type": ["string", "null"], "format": "date-time"}

#: A run's file: how it is had in cluster mode, and why it could not be, by status.
FILE_FETCHED = "The file (cluster mode: fetched from the node that made the run, if another)"
ELSEWHERE = {
    "409": "Cluster mode: the file is on a node with no CLUSTER_ADDRESS, or not in the cluster",
    "502": "Cluster mode: the node with the file did not answer, or refused the request",
    "503": "Cluster mode: the node with the file is stopped, or silent past the dead limit",
}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    },
    "FileElsewhere": {
        "description": "An error; in cluster mode, when the run's file is on another node "
        "and could not be fetched from it, error says where it is and what to do, and node, "
        "host, path, address and reason say it for a script",
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "node": {"type": "string", "description": "The node that made the run"},
            "host": {"type": ["string", "null"], "description": "Its host (null: unknown)"},
            "path": {"type": "string", "description": "The file's path on that machine"},
            "address": {"type": ["string", "null"], "description": "Its CLUSTER_ADDRESS"},
            "reason": {
                "enum": [
                    "unknown-node",
                    "no-address",
                    "stopped",
                    "dead",
                    "unreachable",
                    "refused",
                    "gone",
                    "not-found",
                ]
            },
        },
    },
    "Task": {
        "type": "object",
        "required": ["id", "name", "enabled", "schedule", "timezone", "next_run", "schedule_text"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "enabled": {"type": "boolean"},
            "connection": {"type": "string"},
            "query": NULL_STR,
            "query_file": {"type": "string"},
            "params": {"type": "object"},
            "schedule": {"type": ["object", "null"]},
            "schedule_text": {"type": "string"},
            "timezone": {"type": "string"},
            "exports": {"type": "object"},
            "email": {"type": "object"},
            "timeout_seconds": {"type": "number"},
            "read_only": {"type": "boolean"},
            "retry": {"type": "object"},
            "created_at": NULL_INSTANT,
            "updated_at": NULL_INSTANT,
            "last_run": NULL_INSTANT,
            "last_status": {"enum": [*RunStatus.values(), None]},
            "last_error": NULL_STR,
            "next_run": NULL_INSTANT,
            "run_count": {"type": "integer", "minimum": 0},
            "error_count": {"type": "integer", "minimum": 0},
            "upcoming": {"type": "array", "items": INSTANT},
            "recent_runs": {"type": "array", "items": ref("Run")},
        },
    },
    "TaskInput": {
        "type": "object",
        "description": "A task in the tasks.json form (docs/tasks-json.md), without id, "
        "created_at, updated_at and the run summary, which the scheduler keeps.",
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "enabled": {"type": "boolean"},
            "connection": {"type": "string"},
            "query": {"type": "string"},
            "query_file": {"type": "string"},
            "params": {"type": "object"},
            "types": {"type": "object"},
            "columns": {"type": "object"},
            "schedule": {"type": ["object", "null"]},
            "timezone": {"type": "string"},
            "exports": {"type": "object"},
            "email": {"type": "object"},
            "timeout_seconds": {"type": "number"},
            "read_only": {"type": "boolean"},
            "catch_up": {"enum": ["skip", "latest", "all"]},
            "catch_up_window": {"type": "string"},
            "webhook": {"type": "boolean"},
            "retry": {"type": "object"},
        },
    },
    "Run": {
        "type": "object",
        "required": ["run_id", "task_id", "task_name", "status", "steps"],
        "properties": {
            "run_id": {"type": "string"},
            "task_id": {"type": "string"},
            "task_name": {"type": "string"},
            "status": {"enum": list(RunStatus.values())},
            "steps": {"type": "array", "items": {"type": "string"}},
            "trigger": {"enum": list(Trigger.values())},
            "started_at": INSTANT,
            "finished_at": INSTANT,
            "scheduled_for": INSTANT,
            "files": {"type": "array", "items": {"type": "object"}},
            "email": {"type": "object"},
            "error": {"type": "object"},
            "node": {"type": "string", "description": "The node that ran it (cluster mode)"},
        },
    },
    "RunDetail": {
        "description": "A run from the history (with every line written for it), or one "
        "the daemon has queued or is running and the history has not got yet.",
        "oneOf": [
            {
                "allOf": [
                    ref("Run"),
                    {
                        "type": "object",
                        "required": ["lines"],
                        "properties": {"lines": {"type": "array", "items": {"type": "object"}}},
                    },
                ]
            },
            {
                "type": "object",
                "required": ["run_id", "status"],
                "not": {"required": ["lines"]},
                "properties": {
                    "run_id": {"type": "string"},
                    "status": {"enum": ["queued", "running"]},
                },
            },
        ],
    },
    "Accepted": {
        "type": "object",
        "required": ["run_id", "status", "task_id", "task_name", "trigger", "status_url"],
        "properties": {
            "run_id": {"type": "string"},
            "status": {"type": "string"},
            "task_id": {"type": "string"},
            "task_name": {"type": "string"},
            "trigger": {"type": "string"},
            "status_url": {"type": "string"},
        },
    },
    "Pause": {
        "type": "object",
        "required": ["paused", "paused_since", "paused_by"],
        "properties": {
            "paused": {"type": "boolean"},
            "paused_since": NULL_INSTANT,
            "paused_by": NULL_STR,
        },
    },
    "Scheduler": {
        "allOf": [
            ref("Pause"),
            {
                "type": "object",
                "required": ["state", "tasks", "in_flight", "next_runs", "queue_depth"],
                "properties": {
                    "state": {"enum": ["starting", "running", "stopping"]},
                    "tasks": {
                        "type": "object",
                        "required": ["total", "enabled", "failing"],
                        "properties": {
                            k: {"type": "integer", "minimum": 0}
                            for k in ("total", "enabled", "failing")
                        },
                    },
                    "last_tick": NULL_INSTANT,
                    "queue_depth": {"type": "integer", "minimum": 0},
                    "in_flight": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["task_id", "status", "trigger"],
                            "properties": {
                                "run_id": NULL_STR,
                                "task_id": {"type": "string"},
                                "task_name": NULL_STR,
                                "status": {"enum": ["queued", "running"]},
                                "trigger": {"enum": list(Trigger.values())},
                                "started_at": NULL_INSTANT,
                            },
                        },
                    },
                    "next_runs": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["task_id", "task_name", "at"],
                            "properties": {
                                "task_id": {"type": "string"},
                                "task_name": {"type": "string"},
                                "at": INSTANT,
                            },
                        },
                    },
                },
            },
        ]
    },
    "Connection": {
        "type": "object",
        "required": ["name", "variable", "driver", "host", "port", "database", "used_by"],
        "properties": {
            "name": {"type": "string"},
            "variable": {"type": "string"},
            "driver": NULL_STR,
            "host": NULL_STR,
            "port": {"type": ["integer", "null"]},
            "database": NULL_STR,
            "used_by": {"type": "integer", "minimum": 0},
            "problem": NULL_STR,
        },
        "not": {"anyOf": [{"required": ["password"]}, {"required": ["url"]}]},
    },
    "ConnectionTest": {
        "type": "object",
        "required": ["name", "ok", "message"],
        "properties": {
            "name": {"type": "string"},
            "ok": {"type": "boolean"},
            "message": {"type": "string"},
        },
    },
    "AuditEntry": {
        "type": "object",
        "required": ["at", "actor", "via", "from", "action"],
        "properties": {
            "at": INSTANT,
            "actor": {"type": "string"},
            "via": {"enum": ["cli", "api", "web"]},
            "from": {"type": "string"},
            "action": {"type": "string"},
            "task_id": {"type": "string"},
            "task_name": {"type": "string"},
            "node": {"type": "string", "description": "The node that wrote it (cluster mode)"},
            "changes": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["before", "after"],
                },
            },
        },
    },
    "Node": {
        "type": "object",
        "description": "A node as `manage_tasks.py nodes --json` shows it.",
        "required": [
            "name",
            "host",
            "pid",
            "boot_id",
            "address",
            "capacity",
            "runs_in_flight",
            "claims_running",
            "started_at",
            "heartbeat_at",
            "heartbeat_age_seconds",
            "stopped_at",
            "state",
        ],
        "properties": {
            "name": {"type": "string"},
            "host": {"type": "string"},
            "pid": {"type": "integer"},
            "boot_id": {"type": "string", "description": "A new one at each start"},
            "address": {**NULL_STR, "description": "CLUSTER_ADDRESS: where its API is"},
            "capacity": {"type": "integer", "description": "MAX_CONCURRENT_RUNS"},
            "runs_in_flight": {"type": "integer", "description": "At its last heartbeat"},
            "claims_running": {"type": "integer", "description": "Occurrences it runs now"},
            "started_at": INSTANT,
            "heartbeat_at": INSTANT,
            "heartbeat_age_seconds": {"type": "number"},
            "stopped_at": NULL_INSTANT,
            "state": {
                "enum": ["alive", "dead", "stopped"],
                "description": "dead: silent past dead_after_seconds (its runs are taken over)",
            },
        },
    },
    "Cluster": {
        "type": "object",
        "required": ["mode", "node", "dead_after_seconds", "nodes"],
        "properties": {
            "mode": {"const": "cluster"},
            "node": {"type": "string", "description": "The node that answered (NODE_NAME)"},
            "dead_after_seconds": {
                "type": "number",
                "description": "CLUSTER_DEAD_AFTER_SECONDS: silent this long, a node is dead",
            },
            "nodes": {"type": "array", "items": ref("Node")},
        },
    },
    "Session": {
        "type": "object",
        "required": ["user", "kind", "role", "csrf_token"],
        "properties": {
            "user": {"type": "string"},
            "kind": {"enum": ["user", "token", "webhook-token"]},
            "role": {"enum": [role.value for role in Role]},
            "csrf_token": NULL_STR,
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "scheduler", "paused", "problems"],
        "properties": {
            "status": {"enum": ["ok", "unhealthy"]},
            "scheduler": {"type": "string"},
            "paused": {"type": "boolean"},
            "problems": {"type": "array", "items": {"type": "string"}},
        },
    },
}
