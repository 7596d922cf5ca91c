"""Logging in and out: JSON at /api/session, and the form handlers /login and /logout
the pages use. The session lives on the server (:mod:`src.services.auth.sessions`);
the cookie is HttpOnly, SameSite=Strict, and Secure when the request came over TLS
(directly, or through HTTP_TRUSTED_PROXY's X-Forwarded-Proto)."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
)
from werkzeug.wrappers import Response as BaseResponse

from src.services.api.authn import caller, current_session
from src.services.api.context import context
from src.services.api.params import json_object
from src.services.audit import Actor
from src.services.auth.roles import Principal
from src.services.auth.sessions import (
    COOKIE_NAME,
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    Session,
    csrf_matches,
    new_csrf_token,
)
from src.services.webhook.errors import ApiError, fail

blueprint = Blueprint("session", __name__)
MAX_FIELD = 1024


def _client() -> str:
    return request.remote_addr or "unknown"


def _cookie(response: BaseResponse, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
    )


def log_in(name: str, password: str) -> Session:
    """A new session for ``name`` (429 when throttled, 401 on a wrong password); the
    session the client came with, if any, is ended: its id is never kept (fixation)."""
    ctx = context()
    if len(name) > MAX_FIELD or len(password) > MAX_FIELD:
        fail(400, f"the user name and password are at most {MAX_FIELD} characters")
    wait = ctx.logins.wait(_client(), name)
    if wait:
        error = ApiError(429, f"too many login attempts; try again in {wait} s")
        error.headers["Retry-After"] = str(wait)
        raise error
    principal = ctx.accounts.login(name, password)
    where = Actor(f"user:{name[:64]}", "web", _client())
    if principal is None:
        ctx.audit.record(where, "login.failed")
        fail(401, "wrong user name or password")
    old = request.cookies.get(COOKIE_NAME)
    if old:
        ctx.sessions.end(old)
    session = ctx.sessions.create(principal.name, principal.role)
    ctx.audit.record(where, "login")
    return session


def _who(principal: Principal, session: Session | None) -> dict[str, Any]:
    return {
        "user": principal.name,
        "kind": principal.kind,
        "role": principal.role.value,
        "csrf_token": session.csrf if session else None,
    }


@blueprint.get("/api/session")
def who_am_i() -> Response:
    principal = caller()
    return jsonify(_who(principal, current_session() if principal.kind == "user" else None))


@blueprint.post("/api/session")
def create_session() -> tuple[Response, int]:
    data = json_object()
    name, password = data.get("name"), data.get("password")
    if not isinstance(name, str) or not isinstance(password, str):
        fail(400, 'send {"name": "...", "password": "..."}')
    session = log_in(name, password)
    response = jsonify(_who(Principal(session.user, session.role, "user"), session))
    _cookie(response, COOKIE_NAME, session.id, None)
    return response, 201


@blueprint.delete("/api/session")
def delete_session() -> tuple[Response, int]:
    principal = caller()  # with a cookie: the CSRF token is checked there
    session = current_session()
    if principal.kind != "user" or session is None:
        fail(400, "no login session to end (a token cannot log out; revoke it instead)")
    _end(session, principal)
    response = make_response("", 204)
    response.delete_cookie(COOKIE_NAME, path="/", samesite="Strict", httponly=True)
    return response, 204


def _end(session: Session, principal: Principal) -> None:
    ctx = context()
    ctx.sessions.end(session.id)
    ctx.audit.record(Actor(principal.label, "web", _client()), "logout")


# -- the form handlers the pages use (the form: src/services/web/templates/login.html) -------


def _safe_next(target: str | None) -> str:
    """Only a path on this server: never ``//evil.example`` or ``https://...``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _form(message: str, status: int) -> Response:
    token = new_csrf_token()
    body = render_template(
        "login.html",
        title="Log in",
        message=message,
        csrf=token,
        next=_safe_next(request.values.get("next")),
        me=None,
        pause=None,
    )
    response = make_response(body, status)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    _cookie(response, LOGIN_CSRF_COOKIE, token, 3600)
    return response


@blueprint.get("/login")
def login_form() -> Response:
    return _form("", 200)


@blueprint.post("/login")
def login_submit() -> BaseResponse:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not csrf_matches(expected, request.form.get(CSRF_FIELD)):
        return _form("The form expired; log in again.", 403)
    try:
        session = log_in(request.form.get("name", ""), request.form.get("password", ""))
    except ApiError as exc:
        return _form(exc.message[:200].capitalize(), exc.status)
    response = redirect(_safe_next(request.form.get("next")), code=303)
    _cookie(response, COOKIE_NAME, session.id, None)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@blueprint.post("/logout")
def logout_submit() -> BaseResponse:
    principal = caller()  # the cookie's session, with its CSRF token checked
    session = current_session()
    if session is not None:
        _end(session, principal)
    response = redirect("/login", code=303)
    response.delete_cookie(COOKIE_NAME, path="/", samesite="Strict", httponly=True)
    return response
