"""The roster: src/services/cluster/roster.py -- every node the cluster has seen, alive,
dead (heartbeat past the limit) or stopped, with the claims its present life holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from src.services.cluster.database import engine_for
from src.services.cluster.node import ClusterNode
from src.services.cluster.roster import list_nodes
from src.services.cluster.settings import ClusterSettings

pytestmark = pytest.mark.postgres


def _node(url: str, name: str) -> ClusterNode:
    settings = ClusterSettings(url, name, heartbeat_seconds=0.2, dead_after_seconds=1.0)
    return ClusterNode(settings, engine_for(url), capacity=4, running=lambda: 1)  # type: ignore[arg-type]


def test_alive_dead_and_stopped_nodes_with_their_claims(cluster_url: str) -> None:
    engine = engine_for(cluster_url)
    alive, dead, stopped = (_node(cluster_url, n) for n in ("alive", "dead", "stopped"))
    for node in (alive, dead, stopped):
        node.join()
        node.beat()
    assert alive.claims.claim("t1", datetime(2026, 1, 5, 9, tzinfo=UTC), 1).outcome == "claimed"
    stopped.leave()
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE scheduler_nodes SET heartbeat_at = now() - interval '5 seconds' "
                "WHERE name = 'dead'"
            )
        )
    rows = {row.name: row.to_json() for row in list_nodes(engine, dead_after=1.0)}
    assert {name: row["state"] for name, row in rows.items()} == {
        "alive": "alive",
        "dead": "dead",
        "stopped": "stopped",
    }
    assert rows["alive"]["claims_running"] == 1 and rows["alive"]["capacity"] == 4
    assert rows["dead"]["heartbeat_age_seconds"] >= 5
    assert rows["stopped"]["stopped_at"] is not None
