"""The API's security on the real daemon: roles on every write route, file downloads,
hostile bodies, login sessions (CSRF, fixation, logout, throttling) and headers.

Every write route is taken from /api/openapi.json, so a route added later is covered.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import quote, urlsplit

from src.services.api.headers import CONTENT_SECURITY_POLICY
from src.services.auth.roles import Role
from tests.fixtures.http import Reply, send
from tests.services.api.test_api import DOC, NEW_TASK, PASSWORD, Api, api, check, create

__all__ = ["api"]  # the fixture, used by name

WRITES = [
    (method.upper(), route)
    for route, item in DOC["paths"].items()
    for method in item
    if method in ("post", "put", "patch", "delete") and route != "/api/session"
]
#: the least role each write needs
NEEDS = {
    "/api/tasks/{ref}/enable": Role.OPERATOR,
    "/api/tasks/{ref}/disable": Role.OPERATOR,
    "/api/tasks/{ref}/run": Role.OPERATOR,
    "/api/scheduler/pause": Role.OPERATOR,
    "/api/scheduler/resume": Role.OPERATOR,
    "/api/connections/{name}/test": Role.OPERATOR,
}


def test_a_viewer_token_is_refused_on_every_write_route_and_nothing_changes(api: Api) -> None:
    task = create(api).json
    before = api.space.tasks_file.read_bytes()
    assert len(WRITES) >= 10
    for method, route in WRITES:
        path = route.replace("{ref}", task["id"]).replace("{name}", "DATABASE_URL")
        reply = api.call(
            method, path, route, role=Role.VIEWER, body=NEW_TASK, headers={"If-Match": "*"}
        )
        assert reply.status == 403, (method, route, reply.body)
        assert "has the role viewer" in reply.json["error"]
    assert api.space.tasks_file.read_bytes() == before
    # an operator may run and pause, but not edit
    for method, route in WRITES:
        if NEEDS.get(route) is None:
            path = route.replace("{ref}", task["id"])
            reply = api.call(
                method, path, route, role=Role.OPERATOR, body=NEW_TASK, headers={"If-Match": "*"}
            )
            assert reply.status == 403, (method, route)
    no_token = api.call("DELETE", f"/api/tasks/{task['id']}", "/api/tasks/{ref}", role=None)
    assert no_token.status == 401
    wrong = api.call("GET", "/api/tasks", "/api/tasks", token="dbs_000000000000_nope")
    assert wrong.status == 401
    webhook = api.call(
        "GET", "/api/session", "/api/session", token="api-test-webhook-token-" + "w" * 30
    )
    assert webhook.json["role"] == "operator"  # WEBHOOK_TOKEN keeps working, as an operator


def test_file_downloads_serve_only_the_runs_own_files(api: Api) -> None:
    task = create(api).json
    api.daemon.wait_for("Weekly revenue")
    api.wait_idle()
    run_id = api.call("POST", f"/api/tasks/{task['id']}/run", "/api/tasks/{ref}/run").json["run_id"]
    run = api.wait_run(run_id)
    secret = api.space.folder / ".env"
    route = "/api/runs/{run_id}/files/{name}"
    for name in (
        "..%2F..%2F.env",
        "%2e%2e%2f%2e%2e%2f.env",
        quote(str(secret), safe=""),
        "..",
        ".env",
        "runs.jsonl",
    ):
        reply = send(
            api.url, "GET", f"/api/runs/{run_id}/files/{name}", token=api.tokens[Role.ADMIN]
        )
        assert reply.status in (404, 400), (name, reply.status)
        assert b"WEBHOOK_TOKEN" not in reply.body
    for raw in (f"/api/runs/{run_id}/files/../../.env", f"/api/runs/{run_id}/../../.env"):
        reply = send(api.url, "GET", raw, token=api.tokens[Role.ADMIN])
        assert reply.status == 404 and b"WEBHOOK_TOKEN" not in reply.body
    other = api.call(
        "GET",
        f"/api/runs/not-a-run/files/{quote(run['files'][0]['path'].rsplit('/', 1)[1])}",
        route,
    )
    assert other.status == 404


def test_oversized_and_malformed_bodies_are_refused_cleanly(api: Api) -> None:
    big = json.dumps({**NEW_TASK, "description": "x" * 70_000}).encode()
    reply = send(
        api.url,
        "POST",
        "/api/tasks",
        token=api.tokens[Role.ADMIN],
        body=big,
        headers={"Content-Type": "application/json"},
    )
    assert check(reply, "POST", "/api/tasks").status == 413
    for body, status in ((b"{not json", 400), (b"[1, 2]", 400), (b'"text"', 400), (b"", 400)):
        reply = send(
            api.url,
            "POST",
            "/api/tasks",
            token=api.tokens[Role.ADMIN],
            body=body,
            headers={"Content-Type": "application/json"},
        )
        assert check(reply, "POST", "/api/tasks").status == status, body
    form = send(
        api.url,
        "POST",
        "/api/tasks",
        token=api.tokens[Role.ADMIN],
        body=b"name=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status == 415
    deep = b"[" * 100_000 + b"]" * 100_000
    reply = send(
        api.url,
        "POST",
        "/api/tasks",
        token=api.tokens[Role.ADMIN],
        body=deep[:60_000],
        headers={"Content-Type": "application/json"},
    )
    assert reply.status in (400, 413)
    assert not api.space.tasks_file.exists()


def test_script_in_a_name_and_query_comes_back_as_data_never_markup(api: Api) -> None:
    name = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    created = create(api, name=name, query="SELECT '<b>' AS x, * FROM sales -- </script>")
    assert created.headers.get_content_type() == "application/json"
    assert created.headers["X-Content-Type-Options"] == "nosniff"
    task = api.call("GET", f"/api/tasks/{created.json['id']}", "/api/tasks/{ref}").json
    assert task["name"] == name and task["query"].startswith("SELECT '<b>'")
    assert api.space.task(name)["name"] == name


def _login(api: Api, user: str, cookie: str | None = None) -> tuple[Reply, str]:
    headers = {"Content-Type": "application/json"}
    if cookie:
        headers["Cookie"] = f"dbs_session={cookie}"
    body = json.dumps({"name": user, "password": PASSWORD}).encode()
    reply = send(api.url, "POST", "/api/session", token=None, headers=headers, body=body)
    check(reply, "POST", "/api/session")
    set_cookie = reply.headers.get("Set-Cookie", "")
    session = set_cookie.split(";", 1)[0].partition("=")[2]
    return reply, session


def test_sessions_csrf_fixation_logout_and_cookie_flags(api: Api) -> None:
    planted = "attacker-chosen-session-id"
    reply, session = _login(api, "editor-user", cookie=planted)
    assert reply.status == 201
    flags = reply.headers["Set-Cookie"]
    assert "HttpOnly" in flags and "SameSite=Strict" in flags and "Secure" not in flags
    assert session and session != planted  # a new id, never the one offered
    assert (
        send(
            api.url, "GET", "/api/tasks", token=None, headers={"Cookie": f"dbs_session={planted}"}
        ).status
        == 401
    )
    cookie = {"Cookie": f"dbs_session={session}"}
    csrf = reply.json["csrf_token"]
    me = send(api.url, "GET", "/api/session", token=None, headers=cookie)
    assert me.json["user"] == "editor-user" and me.json["csrf_token"] == csrf

    body = json.dumps(NEW_TASK).encode()
    json_cookie = {**cookie, "Content-Type": "application/json"}
    refused = send(api.url, "POST", "/api/tasks", token=None, headers=json_cookie, body=body)
    assert refused.status == 403 and "CSRF" in refused.json["error"]
    wrong = send(
        api.url,
        "POST",
        "/api/tasks",
        token=None,
        headers={**json_cookie, "X-CSRF-Token": "guess"},
        body=body,
    )
    assert wrong.status == 403
    made = send(
        api.url,
        "POST",
        "/api/tasks",
        token=None,
        headers={**json_cookie, "X-CSRF-Token": csrf},
        body=body,
    )
    assert made.status == 201
    entry = api.call("GET", "/api/audit?limit=1&action=task.create", "/api/audit").json[0]
    assert entry["actor"] == "user:editor-user" and entry["via"] == "web"

    out = send(
        api.url, "DELETE", "/api/session", token=None, headers={**cookie, "X-CSRF-Token": csrf}
    )
    assert out.status == 204
    dead = send(api.url, "GET", "/api/tasks", token=None, headers=cookie)
    assert dead.status == 401  # the logged-out cookie is dead on the server


def test_the_login_form_needs_its_csrf_token_and_logins_are_throttled(api: Api) -> None:
    form = send(api.url, "GET", "/login", token=None)
    assert form.status == 200 and b"<script" not in form.body
    login_csrf = form.headers["Set-Cookie"].split(";", 1)[0].partition("=")[2]
    token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert token == login_csrf
    fields = f"name=admin-user&password={quote(PASSWORD)}&next=%2F%2Fevil.example"
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    forged = send(
        api.url,
        "POST",
        "/login",
        token=None,
        headers=form_headers,
        body=(fields + "&csrf_token=forged").encode(),
    )
    assert forged.status == 403
    assert "dbs_session=" not in str(forged.headers)  # only a fresh form token
    good = send(
        api.url,
        "POST",
        "/login",
        token=None,
        headers={**form_headers, "Cookie": f"dbs_login_csrf={login_csrf}"},
        body=(fields + f"&csrf_token={token}").encode(),
    )
    assert good.status == 303 and good.headers["Location"] == "/"  # never off-site
    assert "dbs_session=" in good.headers["Set-Cookie"]

    statuses = []
    for _ in range(7):
        body = json.dumps({"name": "viewer-user", "password": "wrong password!"}).encode()
        statuses.append(
            send(
                api.url,
                "POST",
                "/api/session",
                token=None,
                body=body,
                headers={"Content-Type": "application/json"},
            ).status
        )
    assert statuses[:4] == [401] * 4 and statuses[-1] == 429
    failed = api.call("GET", "/api/audit?action=login.failed", "/api/audit").json
    assert failed and all("password" not in json.dumps(e) for e in failed)


def test_security_headers_on_every_kind_of_answer(api: Api) -> None:
    parts = urlsplit(api.url)
    for method, path in (
        ("GET", "/api/tasks"),
        ("GET", "/health"),
        ("GET", "/nowhere"),
        ("GET", "/login"),
        ("GET", "/api/openapi.json"),
    ):
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        conn.request(method, path)
        response = conn.getresponse()
        response.read()
        conn.close()
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
        assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
        assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
