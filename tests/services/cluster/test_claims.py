"""Claims: src/services/cluster/claims.py, on a real PostgreSQL (two nodes' Claims)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from src.core.clock import to_utc_iso
from src.services.cluster.claims import Claims
from src.services.cluster.database import engine_for
from src.services.cluster.run_log import ClusterRunLog

pytestmark = pytest.mark.postgres

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _nodes(url: str) -> tuple[Claims, Claims]:
    engine = engine_for(url)
    return Claims(engine, "a", "boot-a"), Claims(engine, "b", "boot-b")


def test_an_occurrence_is_claimed_by_one_node_only(cluster_url: str) -> None:
    a, b = _nodes(cluster_url)
    first = a.claim("task1", AT, 1)
    assert first.outcome == "claimed" and first.run_id
    assert b.claim("task1", AT, 1).outcome == "taken"
    assert b.may_skip("task1", AT) is False
    # held and started again on the node that claimed it: the same run id
    assert a.claim("task1", AT, 1).run_id == first.run_id


def test_twenty_threads_racing_for_fifty_occurrences_claim_each_once(cluster_url: str) -> None:
    engine = engine_for(cluster_url)
    won: list[tuple[str, datetime]] = []
    lock = threading.Lock()

    def node(index: int) -> None:
        claims = Claims(engine, f"n{index}", f"boot{index}")
        for minute in range(50):
            moment = AT + timedelta(minutes=minute)
            if claims.claim(f"task{minute % 5}", moment, 1).outcome == "claimed":
                with lock:
                    won.append((f"task{minute % 5}", moment))

    threads = [threading.Thread(target=node, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == len(set(won))
    # busy: an occurrence of a task whose previous one still runs is not claimed
    assert len(won) == 5


def test_a_running_claim_makes_the_next_occurrence_busy_then_skip_claims_once(
    cluster_url: str,
) -> None:
    a, b = _nodes(cluster_url)
    run = a.claim("task1", AT, 1)
    busy = b.claim("task1", AT + timedelta(minutes=1), 1)
    assert busy.outcome == "busy"
    assert f"run {run.run_id[:8]}, on node a) is still running" in busy.reason  # type: ignore[index]
    later = AT + timedelta(minutes=1)
    assert b.may_skip("task1", later) is True
    # the skip's record claims the occurrence, in its own transaction: once
    for node, run_id in (("b", "skip-b"), ("a", "skip-a")):
        ClusterRunLog(engine_for(cluster_url), node).append(
            "finished", run_id, later, task_id="task1", trigger="schedule",
            scheduled_for=to_utc_iso(later), status="skipped", reason=busy.reason,
        )  # fmt: skip
    assert a.may_skip("task1", later) is False
    assert ClusterRunLog(engine_for(cluster_url), "x").get("skip-a") is None
    assert ClusterRunLog(engine_for(cluster_url), "x").get("skip-b").status == "skipped"  # type: ignore[union-attr]


def test_an_occurrence_not_due_by_the_databases_clock_is_early(cluster_url: str) -> None:
    a, _ = _nodes(cluster_url)
    with engine_for(cluster_url).connect() as conn:
        db_now = conn.execute(sa.text("SELECT now()")).scalar_one()
    early = a.claim("task1", db_now + timedelta(seconds=30), 1)
    assert early.outcome == "early" and 28 < early.wait <= 30.5
    assert a.claim("task1", db_now + timedelta(seconds=0.5), 1).outcome == "claimed"


def test_an_interrupted_or_transiently_failed_claim_is_revived_once(cluster_url: str) -> None:
    a, b = _nodes(cluster_url)
    run = a.claim("task1", AT, 1)
    with engine_for(cluster_url).begin() as conn:
        conn.execute(
            sa.text("UPDATE scheduler_occurrences SET state = 'interrupted' WHERE run_id = :r"),
            {"r": run.run_id},
        )
    revived = b.claim("task1", AT, 1)
    assert revived.outcome == "claimed" and revived.run_id != run.run_id
    assert a.claim("task1", AT, 1).outcome == "taken"
    with engine_for(cluster_url).begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE scheduler_occurrences SET state = 'done', retryable = true "
                "WHERE run_id = :r"
            ),
            {"r": revived.run_id},
        )
    assert b.claim("task1", AT, 2).outcome == "claimed"  # the retry


def test_an_unreachable_database_takes_the_node_offline(unused_port_url: str) -> None:
    claims = Claims(engine_for(unused_port_url), "a", "boot-a")
    assert claims.claim("task1", AT, 1).outcome == "offline"
    assert claims.online is False
    assert claims.may_skip("task1", AT) is False


@pytest.fixture
def unused_port_url() -> str:
    from tests.fixtures.smtp import free_port

    return f"postgresql+psycopg2://nobody:x@127.0.0.1:{free_port()}/none"
