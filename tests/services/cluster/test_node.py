"""Nodes: src/services/cluster/node.py -- join, heartbeat, dead peers, the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from src.core.errors import ConfigError
from src.services.cluster.database import engine_for
from src.services.cluster.node import ClusterNode
from src.services.cluster.roster import list_nodes
from src.services.cluster.run_log import ClusterRunLog
from src.services.cluster.settings import ClusterSettings

pytestmark = pytest.mark.postgres


def _node(url: str, name: str, **kw: float) -> ClusterNode:
    settings = ClusterSettings(url, name, heartbeat_seconds=0.2, dead_after_seconds=1.0)
    return ClusterNode(settings, engine_for(url), capacity=3, running=lambda: 2, **kw)  # type: ignore[arg-type]


def test_a_node_joins_beats_and_is_listed_with_its_load(cluster_url: str) -> None:
    node = _node(cluster_url, "alpha")
    node.join()
    assert node.beat() is True
    [row] = list_nodes(engine_for(cluster_url), 15)
    assert (row.name, row.capacity, row.running, row.alive) == ("alpha", 3, 2, True)
    assert row.to_json()["state"] == "alive"
    node.leave()
    [row] = list_nodes(engine_for(cluster_url), 15)
    assert row.to_json()["state"] == "stopped" and row.running == 0


def test_the_node_clock_is_the_databases_even_when_the_local_one_is_30_s_ahead(
    cluster_url: str,
) -> None:
    ahead = _node(
        cluster_url, "ahead", local_clock=lambda: datetime.now(UTC) + timedelta(seconds=30)
    )  # type: ignore[arg-type]
    ahead.join()
    assert -31 < ahead.offset < -29
    assert abs((ahead.now() - datetime.now(UTC)).total_seconds()) < 1


def test_a_name_used_by_a_live_node_on_another_host_is_refused(cluster_url: str) -> None:
    first = _node(cluster_url, "same")
    first.join()
    with engine_for(cluster_url).begin() as conn:
        conn.execute(sa.text("UPDATE scheduler_nodes SET host = 'elsewhere'"))
    with pytest.raises(ConfigError, match="node name 'same' is in use by a live node on host"):
        _node(cluster_url, "same").join()


def test_the_runs_of_a_silent_node_are_taken_over_once(cluster_url: str) -> None:
    engine = engine_for(cluster_url)
    dead = _node(cluster_url, "dead")
    dead.join()
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    emailing = dead.claims.claim("t1", at, 1)
    quiet = dead.claims.claim("t2", at, 1)
    log = ClusterRunLog(engine, "dead")
    log.append("started", str(emailing.run_id), at, task_id="t1", trigger="schedule")
    log.append("emailing", str(emailing.run_id), at, task_id="t1")
    log.append("started", str(quiet.run_id), at, task_id="t2", trigger="schedule")
    survivor, other = _node(cluster_url, "survivor"), _node(cluster_url, "other")
    survivor.join()
    other.join()
    assert survivor.dead_claims() == []  # alive: nothing to take
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE scheduler_nodes SET heartbeat_at = now() - interval '5 seconds' "
                "WHERE name = 'dead'"
            )
        )
    taken = {r.task_id: r.emailed for r in survivor.dead_claims()}
    assert taken == {"t1": True, "t2": False}
    assert other.dead_claims() == []  # once
    with engine.connect() as conn:
        states = dict(
            conn.execute(sa.text("SELECT task_id, state FROM scheduler_occurrences")).all()
        )
    # the emailed one is settled; the other may be claimed again (re-run per its policy)
    assert states == {"t1": "done", "t2": "interrupted"}
    assert other.claims.claim("t2", at, 1).outcome == "claimed"
    assert other.claims.claim("t1", at, 1).outcome == "taken"


def test_a_restarted_node_s_earlier_claims_are_dead_at_once(cluster_url: str) -> None:
    first = _node(cluster_url, "phoenix")
    first.join()
    first.claims.claim("t1", datetime(2026, 1, 5, 9, tzinfo=UTC), 1)
    again = _node(cluster_url, "phoenix")
    again.join()  # same name, same host: a new life
    assert [r.node for r in again.dead_claims()] == ["phoenix"]


def test_a_failed_heartbeat_takes_the_node_offline_and_a_good_one_back(
    cluster_url: str,
) -> None:
    node = _node(cluster_url, "flaky")
    node.join()
    edits: list[int] = []
    node.on_edit = lambda: edits.append(1)
    node.claims.online = False
    assert node.beat() is True and node.claims.online and edits == [1]


def test_a_claim_of_its_own_that_no_run_holds_is_given_up_after_the_dead_limit(
    cluster_url: str,
) -> None:
    """A claim committed while the node saw its connection fail: the node never started
    a run of it. Past the dead limit it is recorded interrupted (so the occurrence may
    run again); a claim one of its runs holds, and a fresh one, are left alone."""
    engine = engine_for(cluster_url)
    node = _node(cluster_url, "self")
    node.join()
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    lost = node.claims.claim("t-lost", at, 1)
    held = node.claims.claim("t-held", at, 1)
    assert lost.outcome == held.outcome == "claimed"
    assert node.dead_claims([str(held.run_id)]) == []  # fresh: younger than the limit
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE scheduler_occurrences SET claimed_at = now() - interval '5 seconds'")
        )
    [reaped] = node.dead_claims([str(held.run_id)])
    assert (reaped.task_id, reaped.run_id, reaped.emailed) == ("t-lost", lost.run_id, False)
    record = ClusterRunLog(engine, "check").get(str(lost.run_id))
    assert record is not None and record.status == "interrupted"
    assert "started no run of it" in str(record.data.get("reason"))
    with engine.begin() as conn:
        states = dict(
            conn.execute(sa.text("SELECT task_id, state FROM scheduler_occurrences")).all()
        )
    assert states == {"t-lost": "interrupted", "t-held": "running"}
    again = node.claims.claim("t-lost", at, 1)  # revivable: the occurrence may run again
    assert again.outcome == "claimed" and again.run_id != lost.run_id
