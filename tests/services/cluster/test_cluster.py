"""The cluster package as a whole: src/services/cluster/settings.py (settings and their
checks), src/services/cluster/database.py (errors), src/services/cluster/schema.py
(Alembic upgrade and the version check), src/services/cluster/stores.py (which store an
entry point gets) and src/services/cluster/mode.py (the daemon's side)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from src.core.errors import ConfigError
from src.services.cluster.database import engine_for
from src.services.cluster.mode import ClusterMode
from src.services.cluster.pause import ClusterPause
from src.services.cluster.run_log import ClusterRunLog
from src.services.cluster.schema import VERSION_TABLE, current, head, require_current, upgrade
from src.services.cluster.settings import ClusterSettings
from src.services.cluster.stores import open_pause, open_run_log, open_task_store
from src.services.cluster.task_store import ClusterTaskStore
from src.services.history import RunHistory
from src.services.scheduler.pause import PauseFile
from src.services.settings import Settings
from src.services.task_store import TaskStore


def test_without_a_cluster_url_nothing_changes(tmp_path: Path) -> None:
    assert ClusterSettings.from_env({}) is None
    assert ClusterMode.from_env({}, capacity=4, running=lambda: 0) is None
    settings = Settings.from_env({}, tmp_path)
    assert type(open_task_store(tmp_path / "tasks.json", {})) is TaskStore
    assert type(open_run_log(settings, {})) is RunHistory
    assert type(open_pause(tmp_path, {})) is PauseFile


def test_settings_are_checked_with_their_reasons() -> None:
    env = {"CLUSTER_DATABASE_URL": "postgres://u:p@db/r", "NODE_NAME": "vps-1"}
    settings = ClusterSettings.from_env(env)
    assert settings is not None
    assert settings.url == "postgresql+psycopg2://u:p@db/r" and settings.node_name == "vps-1"
    assert (settings.heartbeat_seconds, settings.dead_after_seconds) == (2.0, 15.0)
    with pytest.raises(ConfigError, match="must be a PostgreSQL URL"):
        ClusterSettings.from_env({"CLUSTER_DATABASE_URL": "mysql://u:p@db/r"})
    with pytest.raises(ConfigError, match="at least three heartbeats"):
        ClusterSettings.from_env({**env, "CLUSTER_DEAD_AFTER_SECONDS": "3"})
    assert ClusterSettings.from_env({"CLUSTER_DATABASE_URL": "postgresql://db/r"}).node_name  # type: ignore[union-attr]


def test_the_cluster_address_is_a_base_url_or_refused_with_an_example() -> None:
    env = {"CLUSTER_DATABASE_URL": "postgres://u:p@db/r", "NODE_NAME": "vps-1"}
    for given, kept in (
        ("", None),
        ("http://vps-1.internal:8080/", "http://vps-1.internal:8080"),
        ("https://vps-1.example.com/scheduler", "https://vps-1.example.com/scheduler"),
    ):
        settings = ClusterSettings.from_env({**env, "CLUSTER_ADDRESS": given})
        assert settings is not None and settings.address == kept
    for bad in ("vps-1:8080", "ftp://vps-1", "http://", "http://vps-1:99999", "http://h/?a=1"):
        with pytest.raises(ConfigError, match=r"CLUSTER_ADDRESS=.* is not a base URL; give"):
            ClusterSettings.from_env({**env, "CLUSTER_ADDRESS": bad})


@pytest.mark.postgres
def test_upgrade_creates_the_schema_once_and_the_check_says_what_to_run(
    pg_fresh_url: str,
) -> None:
    engine = engine_for(pg_fresh_url)
    with pytest.raises(ConfigError, match=r"no db-scheduler schema yet; run `manage_tasks.py db"):
        require_current(engine)
    assert current(engine) is None
    assert upgrade(engine) == (None, head())
    assert upgrade(engine) == (head(), head())  # again: nothing to do
    require_current(engine)
    with engine.begin() as conn:
        tables = set(
            conn.execute(
                sa.text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema()"
                )
            ).scalars()
        )
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '0000'"))
    assert {
        "scheduler_tasks",
        "scheduler_run_lines",
        "scheduler_occurrences",
        "scheduler_nodes",
        "scheduler_pause",
        "scheduler_audit",
        VERSION_TABLE,
    } <= tables
    with pytest.raises(ConfigError, match="is at schema revision 0000, this version needs"):
        require_current(engine)


@pytest.mark.postgres
def test_a_missing_schema_says_to_upgrade(pg_fresh_url: str, tmp_path: Path) -> None:
    store = open_task_store(tmp_path / "tasks.json", {"CLUSTER_DATABASE_URL": pg_fresh_url})
    with pytest.raises(OSError, match=r"the cluster schema is missing: run `manage_tasks.py db"):
        store.load()


@pytest.mark.postgres
def test_the_cluster_stores_and_the_daemons_side(cluster_url: str, tmp_path: Path) -> None:
    env = {"CLUSTER_DATABASE_URL": cluster_url, "NODE_NAME": "n1"}
    assert isinstance(open_task_store(tmp_path / "tasks.json", env), ClusterTaskStore)
    assert isinstance(open_run_log(Settings.from_env(env, tmp_path), env), ClusterRunLog)
    assert isinstance(open_pause(tmp_path, env), ClusterPause)
    mode = ClusterMode.from_env(env, capacity=2, running=lambda: 0)
    assert mode is not None and "node 'n1' of the cluster on" in mode.describe()
    mode.start(upgrade_schema=False, on_edit=lambda: None)
    try:
        assert mode.online and mode.dead_claims() == []
    finally:
        mode.stop()
