"""Reading the query string and the JSON body strictly: each mistake is a 400 or a 422
that says what to give, never a guess."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Response, request

from src.core.clock import parse_instant, to_utc_iso
from src.services.webhook.errors import fail, whole_number

#: A page of a list, unless ?limit= says otherwise; and the most one page may hold.
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000


def query_arg(name: str) -> str | None:
    """The one value of ``?name=`` (None when absent); twice is a 400."""
    values = request.args.getlist(name)
    if len(values) > 1:
        fail(400, f"{name} is given {len(values)} times in the URL; give it once")
    return values[0] if values else None


def paging(default: int = DEFAULT_LIMIT) -> tuple[int, int]:
    limit_text, offset_text = query_arg("limit"), query_arg("offset")
    limit = default if limit_text is None else whole_number("limit", limit_text, 1, MAX_LIMIT)
    offset = 0 if offset_text is None else whole_number("offset", offset_text, 0, MAX_OFFSET)
    return limit, offset


def choice(name: str, allowed: Sequence[str]) -> str | None:
    value = query_arg(name)
    if value is not None and value not in allowed:
        fail(400, f"{name}={value[:40]!r} is not one of {', '.join(allowed)}")
    return value


def boolean(name: str) -> bool | None:
    value = query_arg(name)
    if value is None:
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    fail(400, f"{name}={value[:40]!r}: give true or false")


def instant(name: str) -> str | None:
    """An ISO 8601 instant (``2026-03-01T00:00:00Z``; a naive one is UTC) as the history
    writes instants, for comparing."""
    value = query_arg(name)
    if value is None:
        return None
    try:
        return to_utc_iso(parse_instant(value))
    except (ValueError, OverflowError):
        fail(400, f"{name}={value[:40]!r} is not an ISO 8601 date-time such as 2026-03-01T00:00Z")


def json_object() -> dict[str, Any]:
    """The request body as a JSON object (415 for another type, 400 when it is not JSON)."""
    if not request.is_json:
        fail(
            415,
            "send the body as JSON with the header Content-Type: application/json "
            f"(got {request.content_type or 'none'!r})",
        )
    data = parsed_json()
    if data is None:
        fail(400, "the body is not valid JSON")
    if not isinstance(data, dict):
        fail(400, f"the body must be a JSON object, not {type(data).__name__}")
    return data


def paged(response: Response, total: int, limit: int, offset: int) -> Response:
    """The total in ``X-Total-Count`` and the next page in ``Link`` (RFC 8288)."""
    response.headers["X-Total-Count"] = str(total)
    if offset + limit < total:
        args = request.args.to_dict()
        args.update(limit=str(limit), offset=str(offset + limit))
        query = "&".join(f"{k}={v}" for k, v in args.items())
        response.headers["Link"] = f'<{request.path}?{query}>; rel="next"'
    return response


def parsed_json() -> Any:
    """The JSON body, or None when it is not JSON; nesting deep enough to exhaust the
    parser's recursion (``[[[[...``) is a 400 like any other broken body, never a 500."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        fail(400, "the body is not valid JSON (it nests too deep)")
