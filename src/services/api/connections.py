"""/api/connections: the databases .env names (never a password), and a test of one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from src.core.connection_names import ENV_NAME, env_var_for
from src.core.errors import ConfigError, QueryError, ValidationError
from src.services.api.authn import actor, require
from src.services.api.context import context
from src.services.auth.roles import Principal, Role
from src.services.webhook.errors import fail

blueprint = Blueprint("connections", __name__)


def short_name(var: str) -> str:
    """``DB_SALES_URL`` -> ``sales``; ``DATABASE_URL`` stays (the default connection)."""
    return var if var == "DATABASE_URL" else var[3:-4].lower()


def describe(var: str, url: str, used_by: int) -> dict[str, Any]:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    item: dict[str, Any] = {"name": short_name(var), "variable": var, "used_by": used_by}
    try:
        parsed = make_url(url)
    except ArgumentError:
        return {
            **item,
            "driver": None,
            "host": None,
            "port": None,
            "database": None,
            "problem": f"{var} is not a valid database URL",
        }
    return {
        **item,
        "driver": parsed.drivername,
        "host": parsed.host,
        "port": parsed.port,
        "database": parsed.database,
        "problem": None,
    }


def connections() -> list[dict[str, Any]]:
    """The connections .env names, each with how many tasks use it (never a password)."""
    ctx = context()
    counts: dict[str, int] = {}
    for task in ctx.control.tasks():
        try:
            var = env_var_for(task.connection)
        except ValidationError:
            continue  # a literal URL: not a named connection
        counts[var] = counts.get(var, 0) + 1
    found = sorted(var for var, value in ctx.env.items() if ENV_NAME.match(var) and value.strip())
    return [describe(var, ctx.env[var].strip(), counts.get(var, 0)) for var in found]


def try_connection(name: str, principal: Principal) -> dict[str, Any]:
    """Connect to the connection ``name`` and ask the server's version (404 when .env has
    no such connection); the test is in the audit log. The API and the connections page."""
    ctx = context()
    try:
        var = env_var_for(name)
    except ValidationError as exc:
        fail(404, str(exc))
    if not (ctx.env.get(var) or "").strip():
        fail(404, f"no connection {name[:64]!r}: {var} is not set in .env")
    from src.services.query import QueryService

    service = QueryService(ctx.env)
    try:
        answer = {"name": short_name(var), "ok": True, "message": service.test_connection(var)}
    except (QueryError, ConfigError) as exc:
        answer = {"name": short_name(var), "ok": False, "message": str(exc)}
    finally:
        service.close()
    ctx.audit.record(
        actor(principal), "connection.test", connection=short_name(var), ok=answer["ok"]
    )
    return answer


@blueprint.get("/api/connections")
def list_connections() -> Response:
    require(Role.VIEWER)
    return jsonify(connections())


@blueprint.post("/api/connections/<name>/test")
def test_connection(name: str) -> Response:
    return jsonify(try_connection(name, require(Role.OPERATOR)))
