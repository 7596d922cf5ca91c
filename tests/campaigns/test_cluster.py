"""Cluster mode with real processes: three daemons with their own data folders on one
real PostgreSQL, a real SMTP server, and a seeded loop of failures (kill -9 and
restart, SIGSTOP/SIGCONT past the dead limit, the database cutting a node's
connections); and two nodes whose clocks disagree by 30 s.

What must hold, read from the SMTP server and the cluster's history: no occurrence's
email arrives twice; every occurrence in the window has a final record (run, skipped or
interrupted by its policy) and no run is left without one; every email that arrived is
on record; the survivors kept claiming while a node was dead, and took its runs over
within the dead limit.

The chaos runs ``CLUSTER_CHAOS_SECONDS`` (default 60 s, as the issue asks; set more for
a longer campaign) with ``CLUSTER_CHAOS_SEED`` (default 16).
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from src.core.task import Task
from src.services.cluster.database import engine_for
from src.services.cluster.pause import ClusterPause
from src.services.cluster.run_log import ClusterRunLog
from src.services.cluster.task_store import ClusterTaskStore
from tests.daemon_harness import DaemonProcess, Workspace
from tests.fixtures.clockshift import ClockShift
from tests.fixtures.smtp import SmtpServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CHAOS_SECONDS = float(os.environ.get("CLUSTER_CHAOS_SECONDS") or 60)
SEED = int(os.environ.get("CLUSTER_CHAOS_SEED") or 16)
HEARTBEAT = 0.5
DEAD_AFTER = 4.0
SUBJECT = "{task_name} {run_time:%Y-%m-%dT%H:%M:%S}"
ONE = timedelta(seconds=1)


def _tasks(url: str, folder: Path, count: int) -> dict[str, str]:
    store = ClusterTaskStore(engine_for(url), folder / "tasks.json")
    names: dict[str, str] = {}
    for index in range(count):
        task = Task.from_dict(
            {
                "id": f"00000000-0000-4000-8000-{index:012d}",
                "name": f"T{index:02d}",
                "query": "SELECT 1 AS x",
                "schedule": {"interval": "2s"},
                "email": {"to": ["boss@example.com"], "subject": SUBJECT},
                "export": {"formats": ["csv"]},
            }
        )
        names[store.add(task).id] = task.name
    return names


def _node(folder: Path, name: str, url: str, smtp: SmtpServer, **extra: str) -> Workspace:
    folder.mkdir()
    space = Workspace(folder)
    space.write_env(
        CLUSTER_DATABASE_URL=url,
        NODE_NAME=name,
        CLUSTER_HEARTBEAT_SECONDS=str(HEARTBEAT),
        CLUSTER_DEAD_AFTER_SECONDS=str(DEAD_AFTER),
        MAX_CONCURRENT_RUNS="2",
        **smtp.env(),
        **extra,
    )
    return space


class Cluster:
    def __init__(self, spaces: list[Workspace], started: list[DaemonProcess], **env: str) -> None:
        self.spaces = spaces
        self.started = started
        self.env = env
        self.procs: dict[int, DaemonProcess] = {}
        self.stopped: set[int] = set()
        #: (node, the database's time) of each failure done to a node: kill, stop, cut
        self.failures: list[tuple[str, datetime]] = []

    def failed(self, index: int, url: str) -> None:
        self.failures.append((f"n{index}", _db_now(url)))

    def start(self, index: int) -> None:
        proc = self.spaces[index].start(**self.env)
        self.started.append(proc)
        self.procs[index] = proc

    def alive(self) -> list[int]:
        return [
            i for i, p in self.procs.items() if p.process.poll() is None and i not in self.stopped
        ]


def _terminate_backends(url: str, node: str) -> int:
    with engine_for(url).begin() as conn:
        return len(
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :a"
                ),
                {"a": f"db-scheduler {node}"},
            ).all()
        )


def _chaos(cluster: Cluster, url: str, seconds: float, rng: random.Random) -> list[str]:
    """Failures at random nodes, always leaving one alive; returns what was done."""
    done: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(rng.uniform(1.5, 3.5))
        alive = cluster.alive()
        # each kind of failure at least once, then at random
        first = ["cut", "kill", "stop"]
        action = first[len(done)] if len(done) < 3 else rng.choice(["kill", "stop", "cut"])
        victim = rng.choice(sorted(cluster.procs))
        if action == "cut":
            cluster.failed(victim, url)
            done.append(f"cut n{victim}: {_terminate_backends(url, f'n{victim}')} backend(s)")
            continue
        if len(alive) < 2 or victim not in alive:
            continue
        proc = cluster.procs[victim]
        cluster.failed(victim, url)
        if action == "kill":
            proc.process.send_signal(signal.SIGKILL)
            proc.process.wait(30)
            time.sleep(rng.uniform(0.5, 2.5))
            cluster.start(victim)
            done.append(f"kill -9 n{victim}, restarted")
        else:
            pause = rng.uniform(1.0, DEAD_AFTER + 3)
            proc.send(signal.SIGSTOP)
            cluster.stopped.add(victim)
            time.sleep(pause)
            proc.send(signal.SIGCONT)
            cluster.stopped.discard(victim)
            done.append(f"SIGSTOP n{victim} for {pause:.1f} s")
    return done


def _settle(cluster: Cluster, url: str, seconds: float) -> None:
    """Every node up for a while, then the cluster paused and its claims drained."""
    for index, proc in cluster.procs.items():
        if proc.process.poll() is not None:
            cluster.start(index)
    time.sleep(seconds)
    ClusterPause(engine_for(url)).write(True, "test", datetime.now(UTC))
    _drain(url)
    for proc in cluster.procs.values():
        proc.stop()


def _drain(url: str, quiet: float = 6.0, limit: float = 240.0) -> None:
    """Paused, the nodes still run what they had queued (a loaded machine queues a lot):
    wait until no claim runs and nothing new was decided for ``quiet`` seconds."""
    deadline = time.monotonic() + limit
    last: tuple[int, int] | None = None
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(1.0)
        with engine_for(url).connect() as conn:
            running, rows = conn.execute(
                sa.text(
                    "SELECT count(*) FILTER (WHERE state = 'running'), count(*) "
                    "FROM scheduler_occurrences"
                )
            ).one()
        if (running, rows) != last:
            last, since = (running, rows), time.monotonic()
        elif not running and time.monotonic() - since >= quiet:
            return
    raise AssertionError(f"the cluster did not settle in {limit:g} s (running, rows: {last})")


def _check(
    url: str, names: dict[str, str], smtp: SmtpServer, start: datetime, end: datetime
) -> dict[str, Any]:
    """The campaign's promises, from the SMTP server and the cluster's history."""
    runs = ClusterRunLog(engine_for(url), "check").runs()
    by_occurrence: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for run in runs:
        if run.data.get("trigger") in ("schedule", "catch-up"):
            by_occurrence[(run.task_id, str(run.data["scheduled_for"]))].append(run)
    unfinished = [run.run_id for run in runs if not run.finished]
    assert unfinished == [], f"runs without a final record: {unfinished}"
    subjects = Counter(str(m.message["Subject"]) for m in smtp.messages)
    twice = {s: n for s, n in subjects.items() if n > 1}
    assert twice == {}, f"emails sent twice: {twice}"
    emailed_runs = Counter(
        f"{names[r.task_id]} {r.data['scheduled_for'][:19]}"
        for r in runs
        if "emailing" in r.steps and r.data.get("email_sent") is not False
    )
    not_on_record = set(subjects) - set(emailed_runs)
    assert not_on_record == set(), f"emails with no 'emailing' record: {sorted(not_on_record)}"
    outcomes: Counter[str] = Counter()
    missing: list[str] = []
    for task_id, name in names.items():
        moment = start
        while moment <= end:
            key = (task_id, moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
            found = by_occurrence.get(key, [])
            if not found:
                missing.append(f"{name} {key[1]}")
            statuses = [r.status for r in found]
            assert statuses.count("success") <= 1, f"{name} {key[1]} succeeded twice: {statuses}"
            outcomes[statuses[-1] if statuses else "missing"] += 1
            if statuses and statuses[-1] == "skipped":
                outcomes[f"skipped: {_why(found[-1].data.get('reason'))}"] += 1
            if "interrupted" in statuses:
                outcomes["of which interrupted first"] += 1
            moment += timedelta(seconds=2)
    assert missing == [], f"{len(missing)} occurrence(s) with no record: {missing[:10]}"
    return dict(outcomes)


def _why(reason: object) -> str:
    """A skip's reason without its run ids and times (to count them by kind)."""
    text = str(reason)
    for kind in ("still running", "still queued", "waiting for its retry", "missed", "sent"):
        if kind in text:
            return kind
    return text


def _db_now(url: str) -> datetime:
    with engine_for(url).connect() as conn:
        now: datetime = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
    return now


def _window(url: str) -> datetime:
    now = _db_now(url)
    return now.replace(microsecond=0) + timedelta(seconds=2 - now.second % 2)


def _claims_gap(url: str, start: datetime, end: datetime) -> float:
    with engine_for(url).connect() as conn:
        times = (
            conn.execute(
                sa.text(
                    "SELECT claimed_at FROM scheduler_occurrences "
                    "WHERE scheduled_at BETWEEN :s AND :e ORDER BY claimed_at"
                ),
                {"s": start, "e": end},
            )
            .scalars()
            .all()
        )
    return max((b - a).total_seconds() for a, b in itertools.pairwise(times))


def _takeover_delays(url: str, failures: list[tuple[str, datetime]]) -> list[float]:
    """For each run taken over from a dead node: seconds from the failure done to that
    node (the latest one before the take-over) to the take-over's record."""
    with engine_for(url).connect() as conn:
        takeovers = conn.execute(
            sa.text(
                "SELECT line->>'node', (line->>'at')::timestamptz FROM scheduler_run_lines "
                "WHERE line ? 'recorded_by'"
            )
        ).all()
    delays = []
    for node, at in takeovers:
        # the record's time is whole seconds (the history's precision): a second of slack
        before = [moment for name, moment in failures if name == node and moment <= at + ONE]
        delays.append((at - max(before)).total_seconds() if before else float("inf"))
    return delays


def test_three_nodes_under_chaos_send_each_occurrence_once(
    cluster_url: str, smtp_server: SmtpServer, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    names = _tasks(cluster_url, tmp_path, 50)
    spaces = [_node(tmp_path / f"n{i}", f"n{i}", cluster_url, smtp_server) for i in range(3)]
    cluster = Cluster(spaces, daemons)
    for index in range(3):
        cluster.start(index)
    for proc in cluster.procs.values():
        proc.wait_for("Scheduler is running", timeout=120)
    start = _window(cluster_url) + timedelta(seconds=2)
    actions = _chaos(cluster, cluster_url, CHAOS_SECONDS, random.Random(SEED))
    end = _window(cluster_url) - timedelta(seconds=2)
    _settle(cluster, cluster_url, 10.0)
    outcomes = _check(cluster_url, names, smtp_server, start, end)
    print(f"chaos ({CHAOS_SECONDS:g} s, seed {SEED}): {actions}\noutcomes: {outcomes}")
    assert outcomes.get("success", 0) > 0 and len(smtp_server.messages) > 0
    # the survivors carried on: occurrences kept being decided (run or skipped), never a
    # pause much longer than the dead limit while a node was stopped or dead (the limit
    # and a beat, three times over: the suite's other worker shares the 2 cores, and CI
    # measured 9.2 s once; a cluster that stopped deciding would show the whole window)
    gap = _claims_gap(cluster_url, start, end)
    assert gap < 3 * (DEAD_AFTER + HEARTBEAT), (gap, outcomes)
    # and took a dead node's runs over soon after the failure done to it (kill -9, SIGSTOP
    # or its connections cut): the limit and a beat, three times over like the gap above
    # (the survivors' main loops are busy recording 50 tasks' skips on a CPU shared with
    # the suite's other worker; with one more busy process a take-over came 11.7 s after
    # its kill). Counted from the failure, not from the run's claim as it was: a run may
    # go on for seconds on a loaded CPU before its node dies, and the 12 s then allowed
    # from the claim failed for that alone.
    delays = _takeover_delays(cluster_url, cluster.failures)
    assert all(delay < 3 * (DEAD_AFTER + HEARTBEAT) for delay in delays), f"{sorted(delays)}"


def test_two_nodes_whose_clocks_disagree_by_30_s_run_each_occurrence_once(
    cluster_url: str,
    smtp_server: SmtpServer,
    tmp_path: Path,
    daemons: list[DaemonProcess],
    clockshift: ClockShift,
) -> None:
    names = _tasks(cluster_url, tmp_path, 5)
    good = _node(tmp_path / "good", "good", cluster_url, smtp_server)
    ahead = _node(tmp_path / "ahead", "ahead", cluster_url, smtp_server)
    clockshift.step(30.0)
    procs = [good.start(), ahead.start(**clockshift.env())]
    daemons.extend(procs)
    for proc in procs:
        proc.wait_for("Scheduler is running", timeout=120)
    start = _window(cluster_url) + timedelta(seconds=2)
    time.sleep(16)
    end = _window(cluster_url) - timedelta(seconds=2)
    ClusterPause(engine_for(cluster_url)).write(True, "test", datetime.now(UTC))
    _drain(cluster_url)
    for proc in procs:
        proc.stop()
    outcomes = _check(cluster_url, names, smtp_server, start, end)
    print(f"outcomes: {outcomes}")
    # skipped only for the no-overlap rule (a loaded machine), never as "missed" by a
    # node that thought their time had passed
    assert outcomes.get("success", 0) >= len(names)
    assert not any("missed" in kind for kind in outcomes), outcomes
    with engine_for(cluster_url).connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT node, count(*), min(extract(epoch FROM claimed_at - scheduled_at)) "
                "FROM scheduler_occurrences WHERE state <> 'skipped' GROUP BY node"
            )
        ).all()
    by_node = {row[0]: (int(row[1]), float(row[2])) for row in rows}
    # the node 30 s ahead took its share, and never claimed before the database's time
    assert by_node.get("ahead", (0, 0))[0] > 0, by_node
    assert min(early for _, early in by_node.values()) > -1.5, by_node


def test_an_edit_from_another_machine_reaches_every_node_at_once(
    cluster_url: str, smtp_server: SmtpServer, tmp_path: Path, daemons: list[DaemonProcess]
) -> None:
    """A task added by `manage_tasks.py` on a machine that runs no daemon is loaded by both
    nodes through NOTIFY: their polls are set 60 s apart, so only the notification can
    bring it within the bound; the seconds each node took are printed."""
    spaces = [
        _node(tmp_path / name, name, cluster_url, smtp_server, RELOAD_POLL_SECONDS="60")
        for name in ("a", "b")
    ]
    procs = [space.start() for space in spaces]
    daemons.extend(procs)
    for proc in procs:
        proc.wait_for("Scheduler is running", timeout=120)
    elsewhere = _node(tmp_path / "cli", "cli", cluster_url, smtp_server)
    before = [proc.count("tasks file reloaded") for proc in procs]
    asked = datetime.now()  # the daemons' log lines are on this machine's local clock
    elsewhere.cli(
        "add", "--name", "Added elsewhere", "--to", "boss@example.com",
        "--query", "SELECT 1", "--every", "1h",
    )  # fmt: skip
    for proc, seen in zip(procs, before, strict=True):
        proc.wait_for("tasks file reloaded", count=seen + 1, timeout=20)
        line = [row for row in proc.lines if "tasks file reloaded" in row][-1]
        logged = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
        print(f"edit seen {(logged - asked).total_seconds():.2f} s after the command began")
        assert "1 change(s)" in line, line
