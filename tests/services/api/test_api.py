"""The REST API end to end, in the REAL daemon: scheduler_daemon.py --http on a temp
folder, real HTTP, every answer checked against /api/openapi.json with a JSON Schema
validator (jsonschema, draft 2020-12, as OpenAPI 3.1 says).

The test of the package src/services/api/ as a whole: src/services/api/context.py,
src/services/api/catalog.py, src/services/api/authn.py, src/services/api/params.py,
src/services/api/tasks.py, src/services/api/runs.py, src/services/api/scheduler.py,
src/services/api/run_files.py (single-machine; cluster mode in
tests/services/cluster/test_peer_files.py), src/services/api/connections.py,
src/services/api/audit_views.py, src/services/api/cluster_views.py,
src/services/api/session.py, src/services/api/headers.py, src/services/api/openapi.py,
src/services/api/openapi_schemas.py.
Security cases are in test_api_security.py, the fuzzer in test_api_fuzz.py.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from src.cli.app import cli as main
from src.services.api.openapi import document
from src.services.auth.accounts import AccountStore, accounts_path
from src.services.auth.roles import Role
from tests.daemon_harness import WAIT, DaemonProcess, Workspace
from tests.fixtures.http import Reply, send

WEBHOOK_TOKEN = "api-test-webhook-token-" + "w" * 30
LISTENING = "HTTP API listening on "
PASSWORD = "correct horse battery"
#: scrypt's N for the test users: the stored hash names it, so logins verify as cheaply
CHEAP = 2**10
DOC = document()


def check(reply: Reply, method: str, route: str) -> Reply:
    """Assert ``reply`` is what the document says ``method route`` answers with this status."""
    operation = DOC["paths"][route][method.lower()]
    declared = operation["responses"].get(str(reply.status)) or operation["responses"]["default"]
    content = declared.get("content", {})
    if "application/json" in content:
        schema = {**content["application/json"]["schema"], "components": DOC["components"]}
        Draft202012Validator(schema).validate(json.loads(reply.body))
    elif reply.status != 204 and content:
        assert reply.headers.get_content_type() in content, reply.headers.get_content_type()
    return reply


@dataclass
class Api:
    daemon: DaemonProcess
    url: str
    space: Workspace
    tokens: dict[Role, str] = field(default_factory=dict)

    def call(
        self,
        method: str,
        path: str,
        route: str,
        *,
        role: Role | None = Role.ADMIN,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        auth = token if token is not None else (self.tokens[role] if role else None)
        reply = send(self.url, method, path, token=auth, headers=sent, body=data, timeout=WAIT)
        return check(reply, method, route)

    def wait_idle(self) -> None:
        """Until the scheduler has no run queued or running."""
        deadline = time.monotonic() + WAIT
        while self.call("GET", "/api/scheduler", "/api/scheduler").json["in_flight"]:
            assert time.monotonic() < deadline, self.daemon.output
            time.sleep(0.1)

    def wait_run(self, run_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            reply = self.call("GET", f"/api/runs/{run_id}", "/api/runs/{run_id}")
            if reply.status == 200 and reply.json["status"] not in ("queued", "running"):
                return dict(reply.json)
            time.sleep(0.1)
        raise AssertionError(f"run {run_id} did not finish:\n{self.daemon.output}")


def make_space(tmp_path: Path) -> tuple[Workspace, dict[Role, str]]:
    space = Workspace(tmp_path)
    space.write_env(WEBHOOK_TOKEN=WEBHOOK_TOKEN, WEBHOOK_RATE_LIMIT="1000")
    accounts = AccountStore(accounts_path(space.data), password_cost=CHEAP)
    tokens = {role: accounts.create_token(f"{role}-bot", role)[1] for role in Role}
    for role in Role:
        accounts.add_user(f"{role}-user", role, PASSWORD)
    return space, tokens


def start(space: Workspace, tokens: dict[Role, str], daemons: list[DaemonProcess]) -> Api:
    daemon = space.start("--http", "127.0.0.1:0")
    daemons.append(daemon)
    daemon.wait_for(LISTENING)
    line = next(line for line in daemon.lines if LISTENING in line)
    return Api(daemon, line.split(LISTENING, 1)[1].strip(), space, tokens)


@pytest.fixture
def api(tmp_path: Path, daemons: list[DaemonProcess]) -> Api:
    space, tokens = make_space(tmp_path)
    return start(space, tokens, daemons)


NEW_TASK = {
    "name": "Weekly revenue",
    "query": "SELECT region, SUM(amount) AS revenue FROM sales GROUP BY region",
    "schedule": {"cron": "0 9 1 1 *"},
    "timezone": "Europe/Berlin",
    "exports": {"csv": True},
    "email": {"to": ["boss@example.com"], "subject": "Revenue"},
}


def create(api: Api, **changes: Any) -> Reply:
    reply = api.call("POST", "/api/tasks", "/api/tasks", body={**NEW_TASK, **changes})
    assert reply.status == 201, reply.body
    return reply


# --- tasks ---------------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1_json_schema(api: Api) -> None:
    reply = api.call("GET", "/api/openapi.json", "/api/openapi.json", role=None)
    assert reply.json == json.loads(json.dumps(DOC))
    assert reply.json["openapi"] == "3.1.0"
    for schema in reply.json["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_create_read_replace_patch_delete_with_etags(api: Api) -> None:
    created = create(api)
    task = created.json
    assert created.headers["Location"] == f"/api/tasks/{task['id']}"
    etag = created.headers["ETag"]
    shown = api.call("GET", f"/api/tasks/{task['id'][:8]}", "/api/tasks/{ref}")
    assert shown.headers["ETag"] == etag and shown.json["email"]["subject"] == "Revenue"
    assert len(shown.json["upcoming"]) == 5

    path, route = f"/api/tasks/{task['id']}", "/api/tasks/{ref}"
    body = {**NEW_TASK, "description": "for the board"}
    assert api.call("PUT", path, route, body=body).status == 428
    stale = api.call("PUT", path, route, body=body, headers={"If-Match": '"0123"'})
    assert stale.status == 412 and stale.headers["ETag"] == etag
    put = api.call("PUT", path, route, body=body, headers={"If-Match": etag})
    assert put.status == 200 and put.json["description"] == "for the board"
    assert put.headers["ETag"] != etag

    patch = api.call(
        "PATCH",
        path,
        route,
        body={"email": {"to": ["cfo@example.com"]}},
        headers={"If-Match": put.headers["ETag"]},
    )
    assert patch.status == 200
    assert patch.json["email"]["to"] == ["cfo@example.com"]
    assert patch.json["email"]["subject"] == "Revenue"  # merged one level, not replaced
    assert api.space.task("Weekly revenue")["email"]["to"] == ["cfo@example.com"]

    disabled = api.call("POST", path + "/disable", "/api/tasks/{ref}/disable", role=Role.OPERATOR)
    assert disabled.status == 200 and disabled.json["enabled"] is False
    assert api.space.task("Weekly revenue")["enabled"] is False

    gone = api.call("DELETE", path, route, headers={"If-Match": disabled.headers["ETag"]})
    assert gone.status == 204
    assert api.call("GET", path, route).status == 404
    assert all(t["name"] != "Weekly revenue" for t in api.space.document()["tasks"])

    actions = [
        e["action"] for e in api.call("GET", f"/api/audit?task={task['id']}", "/api/audit").json
    ]
    assert actions == ["task.delete", "task.disable", "task.update", "task.update", "task.create"]
    entry = api.call(
        "GET", f"/api/audit?task={task['id']}&action=task.update&limit=1", "/api/audit"
    ).json[0]
    assert entry["actor"] == "token:admin-bot" and entry["via"] == "api"
    assert entry["from"] == "127.0.0.1"
    assert entry["changes"] == {
        "email.to": {"before": ["boss@example.com"], "after": ["cfo@example.com"]}
    }


def test_list_filters_and_pages(api: Api) -> None:
    for index in range(5):
        create(api, name=f"Report {index}", enabled=index % 2 == 0)
    everything = api.call("GET", "/api/tasks", "/api/tasks")
    assert [t["name"] for t in everything.json] == [f"Report {i}" for i in range(5)]
    assert everything.headers["X-Total-Count"] == "5"
    page = api.call("GET", "/api/tasks?enabled=true&limit=2", "/api/tasks")
    assert [t["name"] for t in page.json] == ["Report 0", "Report 2"]
    assert page.headers["X-Total-Count"] == "3"
    assert page.headers["Link"] == '</api/tasks?enabled=true&limit=2&offset=2>; rel="next"'
    named = api.call("GET", "/api/tasks?name=report%203", "/api/tasks")
    assert [t["name"] for t in named.json] == ["Report 3"]
    never = api.call("GET", "/api/tasks?last_status=never&limit=1&offset=4", "/api/tasks")
    assert [t["name"] for t in never.json] == ["Report 4"]
    assert api.call("GET", "/api/tasks?last_status=bogus", "/api/tasks").status == 400


def test_validation_is_422_one_entry_per_field_in_the_cli_words(api: Api) -> None:
    bad = {
        **NEW_TASK,
        "schedule": {"cron": "61 * * * *"},
        "timezone": "Europe/Berlinn",
        "emial": {},
        "email": {"to": ["not-an-address"]},
    }
    reply = api.call("POST", "/api/tasks", "/api/tasks", body=bad)
    assert reply.status == 422
    assert [e["field"] for e in reply.json["errors"]] == ["emial"]  # unknown fields first
    assert "did you mean 'email'" in reply.json["errors"][0]["message"]
    del bad["emial"]
    reply = api.call("POST", "/api/tasks", "/api/tasks", body=bad)
    assert reply.status == 422
    fields = {e["field"]: e["message"] for e in reply.json["errors"]}
    assert set(fields) == {"timezone", "email.to[0]"}  # the cron is read in a valid zone only
    assert "did you mean 'Europe/Berlin'?" in fields["timezone"]
    # the same words as `manage_tasks.py add` (the harness's cli() expects success)
    result = CliRunner().invoke(
        main,
        [
            "--tasks-file",
            str(api.space.tasks_file),
            "--env-file",
            str(api.space.env_file),
            "add",
            "--name",
            "X",
            "--query",
            "SELECT 1",
            "--cron",
            "61 * * * *",
            "--to",
            "boss@example.com",
        ],
    )
    assert result.exit_code == 1
    reply = api.call(
        "POST", "/api/tasks", "/api/tasks", body={**NEW_TASK, "schedule": {"cron": "61 * * * *"}}
    )
    assert reply.status == 422
    (entry,) = reply.json["errors"]
    assert entry["field"] == "schedule.cron" and entry["message"] in result.output
    # SQL the database refuses, as `add` refuses it
    reply = api.call(
        "POST", "/api/tasks", "/api/tasks", body={**NEW_TASK, "query": "SELECT nope FROM sales"}
    )
    assert reply.status == 422 and reply.json["errors"][0]["field"] == "query"
    assert "nope" in reply.json["errors"][0]["message"]
    assert not api.space.tasks_file.exists()  # nothing was saved


def test_an_api_edit_on_a_stale_copy_gets_412_after_a_cli_edit_and_nothing_is_lost(
    api: Api,
) -> None:
    task = create(api).json
    read = api.call("GET", f"/api/tasks/{task['id']}", "/api/tasks/{ref}")
    api.space.cli("edit", task["id"], "--cc", "audit@example.com", "--no-check")  # meanwhile
    path, route = f"/api/tasks/{task['id']}", "/api/tasks/{ref}"
    late = api.call(
        "PATCH",
        path,
        route,
        body={"description": "from the API"},
        headers={"If-Match": read.headers["ETag"]},
    )
    assert late.status == 412
    assert "changed by someone else" in late.json["error"]
    assert api.space.task("Weekly revenue")["email"]["cc"] == ["audit@example.com"]
    again = api.call(
        "PATCH",
        path,
        route,
        body={"description": "from the API"},
        headers={"If-Match": late.headers["ETag"]},
    )
    assert again.status == 200
    saved = api.space.task("Weekly revenue")
    assert saved["description"] == "from the API" and saved["email"]["cc"] == ["audit@example.com"]
    actors = [
        e["actor"] for e in api.call("GET", f"/api/audit?task={task['id']}", "/api/audit").json
    ]
    assert actors[0] == "token:admin-bot" and actors[1].startswith("os:")


# --- runs ----------------------------------------------------------------------------------


def test_run_now_then_list_show_and_download_its_file(api: Api) -> None:
    task = create(api).json
    early = api.call("POST", f"/api/tasks/{task['id']}/run", "/api/tasks/{ref}/run")
    assert early.status in (202, 503)  # 503 + Retry-After until the daemon loaded it
    if early.status == 503:
        assert early.headers["Retry-After"] == "2"
    api.daemon.wait_for("Weekly revenue")
    api.wait_idle()
    queued = api.call(
        "POST", f"/api/tasks/{task['id']}/run", "/api/tasks/{ref}/run", role=Role.OPERATOR
    )
    assert queued.status == 202, queued.body
    run = api.wait_run(queued.json["run_id"])
    assert run["status"] == "success", run
    assert run["lines"][0]["event"] == "started"
    assert run["lines"][-1]["event"] == "finished"
    listed = api.call(
        "GET", f"/api/runs?task={quote('Weekly revenue')}&trigger=webhook", "/api/runs"
    )
    # newest first; the early request ran too when the daemon had loaded the task in time
    expected = [run["run_id"]] + ([early.json["run_id"]] if early.status == 202 else [])
    assert [r["run_id"] for r in listed.json] == expected
    assert api.call("GET", "/api/runs?status=failed", "/api/runs").json == []
    assert api.call("GET", "/api/runs?since=2999-01-01T00:00Z", "/api/runs").json == []
    (exported,) = run["files"]
    name = Path(exported["path"]).name
    route = "/api/runs/{run_id}/files/{name}"
    got = api.call("GET", f"/api/runs/{run['run_id']}/files/{quote(name)}", route)
    assert got.status == 200 and got.body == Path(exported["path"]).read_bytes()
    assert got.body.startswith(b"region,revenue")
    # single-machine mode has no peers: a node-to-node header changes nothing
    peerish = {"X-Scheduler-Node": "b", "X-Scheduler-Signature": "f" * 64}
    path = f"/api/runs/{run['run_id']}/files/{quote(name)}"
    assert api.call("GET", path, route, headers=peerish).body == got.body
    assert api.call("GET", path, route, role=None, headers=peerish).status == 401
    audit = api.call("GET", f"/api/audit?task={task['id']}&action=task.run", "/api/audit").json
    assert audit[0]["actor"] == "token:operator-bot" and audit[0]["run_id"] == run["run_id"]


# --- the scheduler, connections ------------------------------------------------------------


def test_the_cluster_on_a_single_machine_is_a_404_saying_how_to_turn_it_on(api: Api) -> None:
    reply = api.call("GET", "/api/cluster", "/api/cluster", role=Role.VIEWER)
    assert reply.status == 404
    assert reply.json["error"].startswith("cluster mode is off: this daemon runs alone")
    assert "set CLUSTER_DATABASE_URL" in reply.json["error"]
    assert api.call("GET", "/api/cluster", "/api/cluster", role=None).status == 401
    metrics = send(api.url, "GET", "/metrics", token=api.tokens[Role.VIEWER], timeout=WAIT)
    assert b"db_scheduler_queue_depth" in metrics.body
    assert b"db_scheduler_cluster_" not in metrics.body  # single mode: unchanged


def test_pause_shows_everywhere_survives_a_restart_and_manual_runs_still_go(
    api: Api, daemons: list[DaemonProcess]
) -> None:
    task = create(api).json
    api.daemon.wait_for("Weekly revenue")  # the daemon's own load of tasks.json
    paused = api.call("POST", "/api/scheduler/pause", "/api/scheduler/pause", role=Role.OPERATOR)
    assert paused.json["paused"] is True and paused.json["paused_by"] == "token:operator-bot"
    state = api.call("GET", "/api/scheduler", "/api/scheduler", role=Role.VIEWER).json
    assert state["paused"] is True and state["tasks"] == {"total": 1, "enabled": 1, "failing": 0}
    assert state["next_runs"][0]["task_id"] == task["id"]
    health = api.call("GET", "/health", "/health", role=None)
    assert health.status == 200 and health.json["paused"] is True
    assert "paused since" in api.space.cli("status").output
    queued = api.call("POST", f"/api/tasks/{task['id']}/run", "/api/tasks/{ref}/run")
    assert api.wait_run(queued.json["run_id"])["status"] == "success"

    api.daemon.stop()
    again = start(api.space, api.tokens, daemons)
    again.daemon.wait_for("the scheduler is paused (by token:operator-bot)")
    assert again.call("GET", "/api/scheduler", "/api/scheduler").json["paused"] is True
    api.space.cli("resume")
    again.daemon.wait_for("scheduler resumed")
    assert again.call("GET", "/health", "/health", role=None).json["paused"] is False


def test_connections_never_show_a_password_and_can_be_tested(api: Api) -> None:
    api.daemon.stop()
    api.space.write_env(DB_WAREHOUSE_URL="postgresql://reports:s3cr3t-pw@db.example.com:5432/dw")
    again = start(api.space, api.tokens, [])
    try:
        reply = again.call("GET", "/api/connections", "/api/connections", role=Role.VIEWER)
        assert b"s3cr3t" not in reply.body
        by_name = {c["name"]: c for c in reply.json}
        assert by_name["warehouse"] == {
            "name": "warehouse",
            "variable": "DB_WAREHOUSE_URL",
            "used_by": 0,
            "driver": "postgresql",
            "host": "db.example.com",
            "port": 5432,
            "database": "dw",
            "problem": None,
        }
        route = "/api/connections/{name}/test"
        ok = again.call("POST", "/api/connections/DATABASE_URL/test", route, role=Role.OPERATOR)
        assert ok.json["ok"] is True and "SQLite" in ok.json["message"]
        assert again.call("POST", "/api/connections/nothere/test", route).status == 404
    finally:
        again.daemon.stop()


COMMAND_TASK = {
    "name": "Nightly script",
    "schedule": {"cron": "0 3 * * *"},
    "timezone": "UTC",
    "steps": [{"id": "tidy", "name": "Tidy up", "kind": "command", "command": ["true"]}],
}


def test_a_task_running_programs_is_an_admins_to_create_change_and_delete(api: Api) -> None:
    """An editor writes report tasks; a task whose steps run programs on the machine is an
    admin's (the CLI on the machine can always write it)."""
    create(api)  # a report task an editor may write
    before = api.space.tasks_file.read_bytes()
    refused = api.call("POST", "/api/tasks", "/api/tasks", role=Role.EDITOR, body=COMMAND_TASK)
    assert refused.status == 403, refused.body
    assert api.space.tasks_file.read_bytes() == before
    made = api.call("POST", "/api/tasks", "/api/tasks", role=Role.ADMIN, body=COMMAND_TASK)
    assert made.status == 201, made.body
    path = made.headers["Location"].split("://", 1)[-1]
    path = path[path.index("/api/") :]
    etag = made.headers["ETag"]
    for method, body in (("PATCH", {"description": "x"}), ("DELETE", None)):
        reply = api.call(
            method,
            path,
            "/api/tasks/{ref}",
            role=Role.EDITOR,
            body=body,
            headers={"If-Match": etag},
        )
        assert reply.status == 403, (method, reply.body)
    gone = api.call("DELETE", path, "/api/tasks/{ref}", headers={"If-Match": etag})
    assert gone.status == 204, gone.body
