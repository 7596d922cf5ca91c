"""The migrations: src/services/cluster/migrations/env.py runs them on the caller's
connection; src/services/cluster/migrations/versions/0001_cluster_schema.py up and down."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from src.services.cluster.database import dispose_engines, engine_for
from src.services.cluster.schema import _UPGRADE_LOCK, MIGRATIONS, current, head, upgrade

pytestmark = pytest.mark.postgres


def test_the_schema_goes_down_and_up_again(pg_fresh_url: str) -> None:
    engine = engine_for(pg_fresh_url)
    upgrade(engine)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
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
    assert current(engine) == "0001"


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
