"""The cluster's pause: src/services/cluster/pause.py on a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from src.services.cluster.database import engine_for
from src.services.cluster.pause import ClusterPause

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_a_pause_written_by_one_node_is_read_by_another(cluster_url: str) -> None:
    one, two = ClusterPause(engine_for(cluster_url)), ClusterPause(engine_for(cluster_url))
    assert two.read().paused is False
    one.write(True, "os:alice", NOW)
    again = two.write(True, "os:bob", NOW)  # already paused: who paused first is kept
    assert (again.paused, again.by, again.since) == (True, "os:alice", NOW)
    assert two.read().by == "os:alice"
    one.write(False, "os:bob", NOW)
    assert two.read().paused is False


def test_an_unreachable_database_keeps_the_last_state_read(cluster_url: str) -> None:
    pause = ClusterPause(engine_for(cluster_url))
    pause.write(True, "os:alice", NOW)
    assert pause.read().paused
    pause.engine = engine_for("postgresql+psycopg2://x:y@127.0.0.1:1/none")
    assert pause.read().paused  # a lost database does not un-pause
