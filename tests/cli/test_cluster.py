"""`db upgrade/status`, `store copy`, `nodes`, and the usual commands on the cluster
database: src/cli/cluster.py (a real PostgreSQL)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from src.services.cluster.database import engine_for
from src.services.cluster.node import ClusterNode
from src.services.cluster.settings import ClusterSettings
from tests.cli.test_accounts import run

pytestmark = pytest.mark.postgres


def _folder(path: Path, cluster: str | None) -> Path:
    path.mkdir()
    sqlite3.connect(path / "demo.db").close()
    lines = [f"DATABASE_URL=sqlite:///{path / 'demo.db'}"]
    if cluster:
        lines.append(f"CLUSTER_DATABASE_URL={cluster}")
    (path / ".env").write_text("\n".join(lines) + "\n")
    return path


def _add(folder: Path, name: str) -> None:
    added = run(
        folder, "add", "--name", name, "--query", "SELECT 1 AS x", "--every", "1h",
        "--to", "a@example.com", "--csv", "--no-xlsx",
    )  # fmt: skip
    assert added.exit_code == 0, added.output


def test_db_upgrade_then_the_usual_commands_work_on_the_cluster(
    pg_fresh_url: str, tmp_path: Path
) -> None:
    folder = _folder(tmp_path / "node", pg_fresh_url)
    missing = run(folder, "list")
    assert missing.exit_code == 1 and "run `manage_tasks.py db upgrade`" in missing.output
    first = run(folder, "db", "upgrade")
    assert first.exit_code == 0 and first.output.startswith("Upgraded the cluster schema in ")
    assert "dbsched:***@" in first.output
    assert "is up to date (revision 0002)" in run(folder, "db", "upgrade").output
    assert run(folder, "db", "status").output.endswith("up to date\n")
    _add(folder, "Daily")
    listed = run(folder, "list").output
    assert "Daily" in listed and "every hour" in listed
    other = _folder(tmp_path / "other", pg_fresh_url)  # another machine sees the same task
    assert "Daily" in run(other, "list").output
    assert run(other, "pause").exit_code == 0
    assert "Scheduler: paused since" in run(folder, "status").output  # cluster-wide
    # the audit log is the cluster's: the add made here and the pause made there, in order
    entries = json.loads(run(other, "audit", "--json").output)
    assert [e["action"] for e in entries] == ["scheduler.pause", "task.create"]
    assert not (folder / "data" / "audit.jsonl").exists()


def test_nodes_lists_each_node_with_heartbeat_runs_and_capacity(
    cluster_url: str, tmp_path: Path
) -> None:
    folder = _folder(tmp_path / "node", cluster_url)
    assert "No node has joined the cluster yet" in run(folder, "nodes").output
    settings = ClusterSettings(cluster_url, "vps-1")
    ClusterNode(settings, engine_for(cluster_url), capacity=4, running=lambda: 1).join()
    lines = run(folder, "nodes").output.splitlines()
    assert lines[0].split() == ["NODE", "STATE", "HEARTBEAT", "RUNS", "CAP", "ADDRESS"]
    assert lines[1].split()[:2] == ["vps-1", "alive"] and lines[1].split()[4:6] == ["0", "4"]
    [node] = json.loads(run(folder, "nodes", "--json").output)
    assert (node["name"], node["capacity"], node["state"]) == ("vps-1", 4, "alive")
    assert node["boot_id"] and node["runs_in_flight"] == 0


def test_store_copy_in_and_back_out_gives_the_same_tasks(cluster_url: str, tmp_path: Path) -> None:
    single = _folder(tmp_path / "single", None)
    _add(single, "Daily")
    _add(single, "Weekly")
    copied = run(single, "store", "copy", "--to", cluster_url)
    assert copied.exit_code == 0, copied.output
    assert copied.output.startswith("Copied 2 task(s) and 0 history line(s) to postgresql")
    again = run(single, "store", "copy", "--to", cluster_url)
    assert again.exit_code == 1 and "a copy goes only into an empty cluster" in again.output
    node = _folder(tmp_path / "node", cluster_url)
    refused = run(node, "store", "copy", "--to", cluster_url)
    assert "CLUSTER_DATABASE_URL is set: this store is already the cluster's" in refused.output
    back = tmp_path / "back" / "tasks.json"
    out = run(node, "store", "copy", "--to", str(back))
    assert out.exit_code == 0, out.output
    original = json.loads((single / "tasks.json").read_text())["tasks"]
    assert json.loads(back.read_text())["tasks"] == original
    assert (tmp_path / "back" / "data" / "runs.jsonl").exists()
