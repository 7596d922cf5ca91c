"""What every page shares: who is looking, what they may do, the pause banner, the
CSRF token of the forms, times as a person reads them, and errors as pages.

A page needs a login session (or a Bearer token, for scripts and the benchmark); without
one it sends the browser to the login form, which comes back to the page after. Every
form that changes something posts the session's CSRF token (``csrf_token``), checked by
the API's own :func:`~src.services.api.authn.require`; a role too low is refused there
(403) whatever the page showed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, g, make_response, redirect, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as BaseResponse

from src.core.clock import local_text, parse_instant
from src.services.api.authn import current_session, require
from src.services.api.context import context
from src.services.auth.roles import Principal, Role
from src.services.cluster.database import ClusterUnavailable
from src.services.run_index import IndexUnavailable
from src.services.webhook.control import Unavailable
from src.services.webhook.errors import ApiError

blueprint = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

#: Rows of a list page (tasks, runs, the audit log): a page, never all 10,000.
PAGE_SIZE = 50


class LoginNeeded(Exception):
    """No credentials: the browser goes to the login form, and comes back after."""


@dataclass(frozen=True)
class Abilities:
    """Which buttons a role sees; the server checks the role again on every form."""

    role: Role

    @property
    def operate(self) -> bool:
        return self.role.allows(Role.OPERATOR)

    @property
    def edit(self) -> bool:
        return self.role.allows(Role.EDITOR)

    @property
    def admin(self) -> bool:
        return self.role.allows(Role.ADMIN)


def looking(role: Role = Role.VIEWER) -> Principal:
    """The person (or script) asking for a page, with ``role`` or above: no credentials
    send the browser to log in; a role too low, or a form without its CSRF token, is 403."""
    try:
        return require(role)
    except ApiError as exc:
        if exc.status == 401:
            raise LoginNeeded() from None
        raise


def zone() -> ZoneInfo:
    """The zone lists show times in: DEFAULT_TIMEZONE (a task's own page uses its zone)."""
    return ZoneInfo(context().default_timezone)


def when(value: Any, in_zone: ZoneInfo | None = None) -> str:
    """A stored instant (UTC ISO text or an aware datetime) in ``in_zone``, or ``-``."""
    if isinstance(value, datetime):
        return local_text(value, in_zone or zone())
    if not value:
        return "-"
    try:
        return local_text(parse_instant(str(value)), in_zone or zone())
    except (ValueError, OverflowError):
        return str(value)


def seconds(value: Any) -> str:
    """A duration in seconds as a person reads it: ``0.4 s``, ``2 min 5 s``, ``-``."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def size(value: Any) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return "-"
    amount = float(value)
    for unit in ("bytes", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{value} bytes"


def page_url(**changes: Any) -> str:
    """This page's URL with the query string's ``changes`` (None drops a key): the links
    of sorting and paging keep the filters."""
    args = {k: v for k, v in request.args.items()}
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = str(value)
    return request.path + ("?" + urlencode(args) if args else "")


def render(template: str, status: int = 200, **values: Any) -> BaseResponse:
    """A page in the layout: the person's name and role, what they may do, the form
    token, the pause banner."""
    principal = g.get("principal")
    session = current_session() if isinstance(principal, Principal) else None
    ctx = context()
    if isinstance(principal, Principal):
        values.setdefault("can", Abilities(principal.role))
    response = make_response(
        render_template(
            template,
            me=principal,
            csrf=session.csrf if session else "",
            pause=ctx.control.pause_state(),
            **values,
        ),
        status,
    )
    return response


@blueprint.app_template_filter("when")
def _when_filter(value: Any, in_zone: ZoneInfo | None = None) -> str:
    return when(value, in_zone)


@blueprint.app_template_filter("seconds")
def _seconds_filter(value: Any) -> str:
    return seconds(value)


@blueprint.app_template_filter("size")
def _size_filter(value: Any) -> str:
    return size(value)


@blueprint.app_template_filter("pretty")
def _pretty_filter(value: Any) -> str:
    """A value as indented JSON text (escaped by the template like any text)."""
    return json.dumps(value, indent=1, ensure_ascii=False, default=str)


@blueprint.app_template_global("page_url")
def _page_url(**changes: Any) -> str:
    return page_url(**changes)


@blueprint.errorhandler(LoginNeeded)
def _login(_: LoginNeeded) -> ResponseReturnValue:
    target = request.full_path.rstrip("?") if request.method == "GET" else request.path
    return redirect("/login?next=" + quote(target, safe="/"), code=303)


@blueprint.errorhandler(ApiError)
def _refused(exc: ApiError) -> ResponseReturnValue:
    """An API error met on a page (403, 404, 409, 412, ...): a page that says it."""
    response = render("error.html", exc.status, code=exc.status, message=exc.message)
    response.headers.update(exc.headers)
    return response


@blueprint.errorhandler(Unavailable)
@blueprint.errorhandler(IndexUnavailable)
@blueprint.errorhandler(ClusterUnavailable)
def _unavailable(exc: Exception) -> ResponseReturnValue:
    response = render("error.html", 503, code=503, message=str(exc))
    response.headers["Retry-After"] = "5"
    return response
