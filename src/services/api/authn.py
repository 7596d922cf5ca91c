"""Who is calling, and may they: ``Authorization: Bearer`` or a login session's cookie.

* A Bearer token is WEBHOOK_TOKEN (an operator, as it always could run tasks) or an
  API token made by ``manage_tasks.py token create`` (its role).
* Otherwise the session cookie names a login session (:mod:`src.services.auth.sessions`);
  the user's role is read from the accounts file on each request, so a user removed
  or demoted from the CLI loses the access at once. A request with the cookie that
  changes something must carry the session's CSRF token.
* :func:`require` answers 401 (no or wrong credentials) or 403 (a role too low).
"""

from __future__ import annotations

from flask import g, request

from src.services.api.context import ApiContext, context
from src.services.audit import Actor
from src.services.auth.roles import Principal, Role
from src.services.auth.sessions import COOKIE_NAME, CSRF_FIELD, CSRF_HEADER, Session, csrf_matches
from src.services.webhook.errors import fail
from src.services.webhook.security import bearer_token, token_matches

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
WEBHOOK_PRINCIPAL = Principal("WEBHOOK_TOKEN", Role.OPERATOR, "webhook-token")


def caller() -> Principal:
    """The caller (401 when there is none or the token is wrong): a bearer token, a
    ``?token=`` where WEBHOOK_ALLOW_QUERY_TOKEN allows it, or a login session."""
    found = g.get("principal")
    if isinstance(found, Principal):
        return found
    ctx = context()
    token = bearer_token(request.headers.get("Authorization")) or _query_token(ctx)
    if token is not None:
        if token_matches(token, ctx.webhook_token):
            principal = WEBHOOK_PRINCIPAL
        else:
            by_token = ctx.accounts.by_token(token)
            if by_token is None:
                fail(401, "wrong token")
            principal = by_token
    else:
        session = current_session()
        if session is None:
            fail(
                401,
                "missing credentials: send the header Authorization: Bearer <token> (a token "
                "from `manage_tasks.py token create`, or WEBHOOK_TOKEN), or log in",
            )
        if request.method in UNSAFE_METHODS:
            given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
            if not csrf_matches(session.csrf, given):
                fail(
                    403,
                    f"missing or wrong CSRF token: send the session's token (GET /api/session) "
                    f"in the header {CSRF_HEADER}",
                )
        principal = Principal(session.user, session.role, "user")
    g.principal = principal
    return principal


def current_session() -> Session | None:
    """The login session the cookie names, with the user's role as it is now; None when
    there is no cookie, the session ended, or the user was removed."""
    session_id = request.cookies.get(COOKIE_NAME)
    if not session_id:
        return None
    ctx = context()
    session = ctx.sessions.get(session_id)
    if session is None:
        return None
    role = ctx.accounts.user_role(session.user)
    if role is None:
        ctx.sessions.end(session_id)
        return None
    session.role = role
    return session


def _query_token(ctx: ApiContext) -> str | None:
    """The one ``?token=`` (None when absent): given twice is a 400, never a silent pick;
    refused unless WEBHOOK_ALLOW_QUERY_TOKEN, as a URL's token shows in access logs."""
    values = request.args.getlist("token")
    if len(values) > 1:
        fail(400, f"token is given {len(values)} times in the URL; give it once")
    if not values:
        return None
    if not ctx.allow_query_token:
        fail(
            401,
            "a token in the URL (?token=) is not accepted here: send the header "
            "Authorization: Bearer <token>, or set WEBHOOK_ALLOW_QUERY_TOKEN=true "
            "(the token then shows in proxy and access logs)",
        )
    return values[0]


def require(role: Role) -> Principal:
    principal = caller()
    if not principal.role.allows(role):
        fail(
            403,
            f"{principal.label} has the role {principal.role}; this needs {role} or above "
            "(an admin changes roles with `manage_tasks.py user add/token create --role`)",
        )
    return principal


def actor(principal: Principal) -> Actor:
    """The caller as the audit log names them, with the client's address."""
    via = "web" if principal.kind == "user" else "api"
    return Actor(principal.label, via, request.remote_addr or "unknown")
