"""The cluster's run history: src/services/cluster/run_log.py on a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from src.core.vocabulary import RunStatus, Trigger
from src.services.cluster.claims import Claims
from src.services.cluster.database import ClusterUnavailable, engine_for
from src.services.cluster.mode import ClusterMode
from src.services.cluster.node import ClusterNode
from src.services.cluster.run_log import ClaimLost, ClusterRunLog
from src.services.cluster.settings import ClusterSettings
from src.services.recorder import RunRecorder, RunRef

pytestmark = pytest.mark.postgres

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_lines_fold_into_runs_that_name_their_node(cluster_url: str) -> None:
    log = ClusterRunLog(engine_for(cluster_url), "node-a")
    recorder = RunRecorder(log, None, clock=lambda: AT)
    # a webhook run: claimed by nobody (a run of the schedule would need its claim to
    # record "emailing", see the fence tests below)
    ref = RunRef("run-1", "task-1", "Daily", Trigger.WEBHOOK, AT)
    recorder.started(ref, AT)
    recorder.step(ref, "emailing", recipients=["a@example.com"])
    recorder.finished(ref, RunStatus.SUCCESS, started_at=AT, at=AT, rows=3)
    record = log.get("run-1")
    assert record is not None
    assert record.status == RunStatus.SUCCESS and record.data["node"] == "node-a"
    assert record.steps == ["started", "emailing", "finished"] and record.email_may_have_gone
    assert [r.run_id for r in log.runs("task-1")] == ["run-1"]
    assert log.runs("other") == [] and log.get("nope") is None
    assert [line["event"] for line in log.lines("run-1")] == ["started", "emailing", "finished"]


def test_a_run_whose_claim_was_taken_over_cannot_record_emailing(cluster_url: str) -> None:
    engine = engine_for(cluster_url)
    claim = Claims(engine, "a", "boot-a").claim("task-1", AT, 1)
    assert claim.run_id is not None
    log = ClusterRunLog(engine, "a")
    log.append("started", claim.run_id, AT, task_id="task-1")
    # node a is declared dead: node b takes its running claim over
    settings = ClusterSettings(cluster_url, "b", dead_after_seconds=15)
    peer = ClusterNode(settings, engine, capacity=4, running=lambda: 0)
    peer.join()
    reaped = peer.dead_claims()
    assert [(r.run_id, r.emailed) for r in reaped] == [(claim.run_id, False)]
    with pytest.raises(ClaimLost, match="lost its claim"):
        log.append("emailing", claim.run_id, AT, task_id="task-1")
    record = log.get(claim.run_id)
    assert record is not None and record.status == RunStatus.INTERRUPTED
    assert record.data["node"] == "a" and record.data["recorded_by"] == "b"
    # the node's own start-up recovery writes "interrupted" too: kept once
    log.append("finished", claim.run_id, AT, task_id="task-1", status=RunStatus.INTERRUPTED)
    assert [line["event"] for line in log.lines(claim.run_id)] == ["started", "finished"]


def test_a_run_whose_occurrence_was_taken_over_and_claimed_again_cannot_record_emailing(
    cluster_url: str,
) -> None:
    """SIGSTOP stops a node's daemon, not its runs (each in its own session): a peer takes
    the occurrence over and claims it again under a new run id, so no claim row names the
    stopped node's run any more. That run, reaching its email, must still be refused (it
    was taken for a webhook run, whose lines match no claim, and sent: the 60 s chaos
    campaign got an email twice)."""
    engine = engine_for(cluster_url)
    claim = Claims(engine, "a", "boot-a").claim("task-1", AT, 1)
    assert claim.run_id is not None
    log = ClusterRunLog(engine, "a")
    log.append("started", claim.run_id, AT, task_id="task-1", trigger=Trigger.SCHEDULE)
    peer = ClusterNode(ClusterSettings(cluster_url, "b"), engine, capacity=4, running=lambda: 0)
    peer.join()
    assert [r.run_id for r in peer.dead_claims()] == [claim.run_id]
    again = peer.claims.claim("task-1", AT, 1)
    assert again.outcome == "claimed" and again.run_id != claim.run_id
    with pytest.raises(ClaimLost, match="lost its claim"):
        log.append("emailing", claim.run_id, AT, task_id="task-1")
    # the peer's own run sends; a webhook run (no claim, never one) is not fenced
    log.append("started", str(again.run_id), AT, task_id="task-1", trigger=Trigger.SCHEDULE)
    log.append("emailing", str(again.run_id), AT, task_id="task-1")
    log.append("started", "hook-1", AT, task_id="task-1", trigger=Trigger.WEBHOOK)
    log.append("emailing", "hook-1", AT, task_id="task-1")
    assert [line["event"] for line in log.lines("hook-1")] == ["started", "emailing"]


def test_an_unreachable_database_is_an_os_error_naming_the_record(cluster_url: str) -> None:
    log = ClusterRunLog(engine_for("postgresql+psycopg2://x:y@127.0.0.1:1/none"), "a")
    with pytest.raises(ClusterUnavailable, match="recording the 'started' line of run run-1") as e:
        log.append("started", "run-1", AT, task_id="t")
    assert isinstance(e.value, OSError) and "x:y" not in str(e.value)


def test_prune_drops_the_runs_past_keep_days_with_their_lines(cluster_url: str) -> None:
    # as runs.jsonl: a run that began more than HISTORY_KEEP_DAYS ago goes whole (its
    # lines too); a run inside the window stays, whatever its lines' times
    log = ClusterRunLog(engine_for(cluster_url), "node-a", keep_days=90)
    for run_id, began in (("old", AT - timedelta(days=91)), ("edge", AT - timedelta(days=89))):
        recorder = RunRecorder(log, None, clock=lambda began=began: began)
        ref = RunRef(run_id, "task-1", "Daily", Trigger.WEBHOOK, began)
        recorder.started(ref, began)
        recorder.finished(ref, RunStatus.SUCCESS, started_at=began, at=AT, rows=1)
    assert [r.run_id for r in log.runs()] == ["old", "edge"]
    assert log.prune(AT) == 2  # the old run's started and finished lines
    assert [r.run_id for r in log.runs()] == ["edge"] and log.get("old") is None
    assert {line["run_id"] for line in log.lines()} == {"edge"}
    assert log.prune(AT) == 0


def test_a_node_prunes_the_history_once_a_day(cluster_url: str) -> None:
    env = {"CLUSTER_DATABASE_URL": cluster_url, "NODE_NAME": "node-a"}
    mode = ClusterMode.from_env(env, capacity=1, running=lambda: 0)
    assert mode is not None
    log = mode.run_log(keep_days=1)
    recorder = RunRecorder(log, None, clock=lambda: AT)
    ref = RunRef("run-1", "task-1", "Daily", Trigger.WEBHOOK, AT)
    recorder.started(ref, AT)
    recorder.finished(ref, RunStatus.SUCCESS, started_at=AT, at=AT, rows=1)
    day_after = AT + timedelta(days=1, hours=1)
    assert mode.prune_history(AT, keep_days=1) == 0  # the first call of a day prunes
    assert mode.prune_history(AT + timedelta(hours=2), keep_days=1) is None  # the same day
    assert mode.prune_history(day_after, keep_days=1) == 2  # the next day: the run is past
    assert log.runs() == []
