"""The HTTP API in cluster mode, on TWO REAL daemons (``--http``, each with its own data
folder, users and tokens, and its own NODE_NAME) on one real PostgreSQL: any node's API
reads the whole cluster -- a task made through node A is listed by node B, a run that
node A ran is listed and shown by node B with its node, an audit entry written through A
is read through B, and B's /api/cluster, /metrics and dashboard show both nodes (whose
table axe-core finds no serious fault in). Every answer is checked against the OpenAPI
document (tests/services/api/test_api.py::check).

Covers src/services/api/cluster_views.py, and the cluster side of
src/services/api/context.py (the stores chosen by src/services/cluster/stores.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from src.services.auth.roles import Role
from tests.daemon_harness import WAIT, DaemonProcess
from tests.fixtures.http import send
from tests.services.api.test_api import NEW_TASK, Api, make_space, start
from tests.services.web.test_web import Site, as_user
from tests.services.web.test_web_pages import serious_violations

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _node(folder: Path, name: str, url: str, daemons: list[DaemonProcess]) -> Api:
    folder.mkdir()
    space, tokens = make_space(folder)
    space.write_env(CLUSTER_DATABASE_URL=url, NODE_NAME=name, CLUSTER_ADDRESS=f"http://{name}")
    return start(space, tokens, daemons)


def _until(check: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_any_node_reads_the_whole_cluster(
    cluster_url: str, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    a = _node(tmp_path / "a", "node-a", cluster_url, daemons)
    b = _node(tmp_path / "b", "node-b", cluster_url, daemons)

    # a task made through A: B lists it, and reads A's audit entry for it
    created = a.call("POST", "/api/tasks", "/api/tasks", body=NEW_TASK)
    assert created.status == 201, created.body
    task = created.json
    listed = b.call("GET", "/api/tasks", "/api/tasks")
    assert [t["id"] for t in listed.json] == [task["id"]]
    audit = b.call("GET", f"/api/audit?task={task['id']}", "/api/audit").json
    assert [(e["action"], e["node"], e["actor"]) for e in audit] == [
        ("task.create", "node-a", "token:admin-bot")
    ]
    assert not (a.space.data / "audit.jsonl").exists()  # in the cluster, not on the node

    # a run of it on A (the webhook runs on the node asked): B lists and shows it
    path, route = f"/api/tasks/{task['id']}/run", "/api/tasks/{ref}/run"
    queued = None

    def accepted() -> bool:
        nonlocal queued
        queued = a.call("POST", path, route, role=Role.OPERATOR)
        assert queued.status in (202, 503), queued.body  # 503 until A loaded the task
        return queued.status == 202

    _until(accepted, "node A to take the run")
    assert queued is not None
    run_id = queued.json["run_id"]
    run = b.wait_run(run_id)
    assert run["status"] == "success" and run["node"] == "node-a", run
    assert run["lines"][0]["event"] == "started"
    assert all(line["node"] == "node-a" for line in run["lines"])
    runs = b.call("GET", f"/api/runs?task={task['id']}", "/api/runs")
    assert [(r["run_id"], r["node"]) for r in runs.json] == [(run_id, "node-a")]
    assert runs.headers["X-Total-Count"] == "1"
    recent = b.call("GET", f"/api/tasks/{task['id']}", "/api/tasks/{ref}").json["recent_runs"]
    assert [r["run_id"] for r in recent] == [run_id]
    assert not (b.space.data / "runs.jsonl").exists() and not (a.space.data / "runs.jsonl").exists()
    run_audit = b.call("GET", "/api/audit?action=task.run", "/api/audit").json
    assert [(e["run_id"], e["node"]) for e in run_audit] == [(run_id, "node-a")]

    # B's view of the nodes: the API, the metrics and the dashboard
    cluster = b.call("GET", "/api/cluster", "/api/cluster").json
    assert cluster["mode"] == "cluster" and cluster["node"] == "node-b"
    assert cluster["dead_after_seconds"] == 15.0
    nodes = {node["name"]: node for node in cluster["nodes"]}
    assert set(nodes) == {"node-a", "node-b"}
    assert {node["state"] for node in nodes.values()} == {"alive"}
    assert nodes["node-a"]["address"] == "http://node-a" and nodes["node-a"]["boot_id"]
    assert nodes["node-a"]["boot_id"] != nodes["node-b"]["boot_id"]
    assert b.call("GET", "/api/cluster", "/api/cluster", role=Role.VIEWER).status == 200
    assert b.call("GET", "/api/cluster", "/api/cluster", role=None).status == 401

    metrics = send(b.url, "GET", "/metrics", token=b.tokens[Role.VIEWER], timeout=WAIT)
    families = {f.name: f for f in text_string_to_metric_families(metrics.body.decode())}
    alive = {s.labels["node"]: s.value for s in families["db_scheduler_cluster_node_alive"].samples}
    assert alive == {"node-a": 1.0, "node-b": 1.0}
    capacity = families["db_scheduler_cluster_node_capacity"].samples
    assert {s.labels["node"] for s in capacity} == {"node-a", "node-b"}
    assert all(s.value >= 1 for s in capacity)
    ages = families["db_scheduler_cluster_node_heartbeat_age_seconds"].samples
    assert len(ages) == 2 and all(0 <= s.value < 15 for s in ages)
    assert len(families["db_scheduler_cluster_node_runs_in_flight"].samples) == 2
    (this,) = families["db_scheduler_cluster_this_node"].samples
    assert this.labels == {"node": "node-b"}
    assert families["db_scheduler_cluster_database_up"].samples[0].value == 1.0

    page = send(b.url, "GET", "/", token=b.tokens[Role.VIEWER], timeout=WAIT)
    assert page.status == 200
    html = page.body.decode()
    assert "Nodes of the cluster" in html and "node-b (this one)" in html and "node-a" in html
    assert "Traceback" not in a.daemon.output + b.daemon.output


def test_the_dashboard_s_nodes_table_passes_axe(
    cluster_url: str, tmp_path: Path, daemons: list[DaemonProcess], browser: Any
) -> None:
    node = _node(tmp_path / "a", "node-a", cluster_url, daemons)
    site = Site(node.url, node.space, node.daemon, node.tokens)
    with as_user(browser, site, "viewer-user", bypass_csp=True) as (page, _):
        page.goto(site.url + "/")
        rows = page.locator("#nodes tbody tr")
        assert rows.count() == 1 and "node-a (this one)" in rows.first.inner_text()
        assert serious_violations(page) == []
