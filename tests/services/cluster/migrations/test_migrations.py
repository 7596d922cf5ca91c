"""The migrations: src/services/cluster/migrations/env.py runs them on the caller's
connection; src/services/cluster/migrations/versions/0001_cluster_schema.py and
src/services/cluster/migrations/versions/0002_runs_and_audit.py up and down, and 0002's
fold of the history lines already there."""

from __future__ import annotations

import json
import threading
import time

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from src.services.cluster import run_index
from src.services.cluster.database import dispose_engines, engine_for
from src.services.cluster.run_index import ClusterRunIndex
from src.services.cluster.schema import (
    _UPGRADE_LOCK,
    MIGRATIONS,
    VERSION_TABLE,
    current,
    head,
    upgrade,
)
from src.services.history import RunRecord, fold_line
from src.services.run_index import RunQuery

pytestmark = pytest.mark.postgres


def _config(conn: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def test_the_schema_goes_down_and_up_again(pg_fresh_url: str) -> None:
    engine = engine_for(pg_fresh_url)
    upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(_config(conn), "base")
    assert current(engine) is None
    with engine.connect() as conn:
        left = conn.execute(
            sa.text(
                "SELECT count(*) FROM information_schema.tables WHERE "
                "table_schema = current_schema() AND table_name LIKE 'scheduler_%' "
                "AND table_name <> 'scheduler_alembic_version'"
            )
        ).scalar()
    assert left == 0
    upgrade(engine)
    assert current(engine) == head() == "0002"


def test_0002_folds_the_lines_a_0001_cluster_already_holds(
    pg_fresh_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_for(pg_fresh_url)
    with engine.begin() as conn:
        command.upgrade(_config(conn), "0001")
    lines: list[dict[str, str]] = []
    for n in range(25):  # a started and a finished line per run, interleaved as nodes write
        for event in ("started", "finished"):
            lines.append(
                {
                    "event": event,
                    "run_id": f"run-{n:03}",
                    "task_id": f"task-{n % 3}",
                    "task_name": f"Task {n % 3}",
                    "at": f"2026-01-05T09:{n:02}:00Z",
                    "started_at": f"2026-01-05T09:{n:02}:00Z",
                    "trigger": "schedule",
                    "node": f"node-{n % 2}",
                    **({"status": "success"} if event == "finished" else {}),
                }
            )
    lines.sort(key=lambda line: (line["event"] != "started", line["run_id"]))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO scheduler_run_lines (run_id, task_id, event, at, node, line) "
                "VALUES (:r, :t, :e, CAST(:at AS timestamptz), :n, CAST(:l AS jsonb))"
            ),
            [
                {
                    "r": line["run_id"],
                    "t": line["task_id"],
                    "e": line["event"],
                    "at": line["at"],
                    "n": line["node"],
                    "l": json.dumps(line),
                }
                for line in lines
            ],
        )
        conn.execute(
            sa.text("INSERT INTO scheduler_audit (at, line) VALUES (now(), :l)"),
            {"l": json.dumps({"action": "login", "task_id": "task-1", "node": "node-0"})},
        )
    monkeypatch.setattr(run_index, "FOLD_BATCH", 7)  # several batches while streaming
    upgrade(engine)
    assert current(engine) == head()
    index = ClusterRunIndex(engine)
    page, total = index.page(RunQuery(limit=100))
    assert total == 25
    assert [run["run_id"] for run in page] == [f"run-{n:03}" for n in reversed(range(25))]
    records: dict[str, RunRecord] = {}
    for line in lines:  # as every reader of the history folds them
        records[line["run_id"]] = fold_line(records.get(line["run_id"]), line)
    folded = {run_id: record.to_json() for run_id, record in records.items()}
    assert {run["run_id"]: run for run in page} == folded
    assert index.page(RunQuery(task_id="task-1", limit=100))[1] == 8
    with engine.connect() as conn:
        audit = conn.execute(sa.text("SELECT node, task_id, action FROM scheduler_audit")).one()
        assert tuple(audit) == ("node-0", "task-1", "login")
        assert conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == "0002"


def test_an_upgrade_waits_past_the_statement_timeout_for_another_nodes_upgrade(
    pg_fresh_url: str,
) -> None:
    """Nodes starting together upgrade one after another under one lock; the second waits
    as long as the first takes, not the 5 s (here 1 s) of an ordinary cluster statement."""
    engine = engine_for(pg_fresh_url, statement_timeout=1.0)
    holder = sa.create_engine(pg_fresh_url, poolclass=sa.NullPool)
    locked, release = threading.Event(), threading.Event()

    def first_node_upgrading() -> None:
        with holder.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _UPGRADE_LOCK})
            locked.set()
            release.wait(30)

    thread = threading.Thread(target=first_node_upgrading)
    thread.start()
    try:
        assert locked.wait(30)
        threading.Timer(3.0, release.set).start()  # three statement timeouts
        started = time.monotonic()
        assert upgrade(engine) == (None, head())
        assert time.monotonic() - started >= 2.5  # it did wait for the lock
        assert current(engine) == head()
    finally:
        release.set()
        thread.join()
        holder.dispose()
        dispose_engines()
