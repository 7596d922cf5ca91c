"""Chaos loop: start the real daemon, ``kill -9`` it at a random moment, restart; repeat.

Several fast tasks (1-2 s intervals) on a SQLite database send their reports to a
real SMTP server (aiosmtpd, in this process) that records every message. The
moments of the kills come from a seeded random generator, so a failing sequence is
replayed with the same ``CHAOS_SEED`` (``CHAOS_ITERATIONS`` sets the count).

After every kill:

* tasks.json parses (through the store, the way the daemon reads it) and holds every task;
* no occurrence (task, scheduled time) was received twice by the SMTP server. The
  subject carries the run id, so each received message maps to its run and, through
  the run's ``started`` line, to its occurrence;
* every run cut off by a kill gets a final record (``interrupted``) from the next
  daemon, before that daemon says it is running.

The documented window (docs/daemon.md, "Exactly once"): the SMTP server accepted the
message and the worker was killed before its ``emailed`` line reached the disk; that
occurrence is sent again. A second message for an occurrence is accepted only when
the first one's run has no ``emailed`` line (exactly that window), and such cases are
counted and printed; a second message after an ``emailed`` line fails the test.

Waits are hang guards, not timing assertions; the random delays only pick where the
kill lands.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from src.core.clock import now as clock_now
from src.core.clock import to_utc_iso
from src.services.history import RunHistory
from src.services.task_store import TaskStore
from tests.daemon_harness import SLOW_QUERY, DaemonProcess, Workspace

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("CHAOS_SEED", "20260307"))
ITERATIONS = int(os.environ.get("CHAOS_ITERATIONS", "30"))
#: name -> interval of the tasks under fire
TASKS = {"Chaos A": "1s", "Chaos B": "1s", "Chaos C": "2s", "Chaos D": "2s"}
SUBJECT = "chaos {run_id}"


@dataclass
class Tally:
    kills_during_start: int = 0
    kills_while_running: int = 0
    interrupted: int = 0
    interrupted_after_email: int = 0
    window_hits: list[str] = field(default_factory=list)
    leftover_temp_files: set[str] = field(default_factory=set)


def _history_lines(space: Workspace) -> list[dict[str, Any]]:
    return list(RunHistory(space.data / "runs.jsonl").lines())


def _check_tasks_file(space: Workspace, expected_ids: set[str]) -> None:
    raw = space.tasks_file.read_bytes()
    json.loads(raw)  # plain JSON first: a torn write would fail here
    loaded = TaskStore(space.tasks_file).parse(raw)
    assert {t.id for t in loaded.tasks} == expected_ids


def _check_no_double_send(space: Workspace, messages: list[Any], tally: Tally) -> int:
    """Each received message maps to one occurrence; returns the number of occurrences."""
    lines = _history_lines(space)
    occurrence_of: dict[str, tuple[str, str]] = {}
    emailed_runs: set[str] = set()
    message_ids: dict[str, str] = {}
    for line in lines:
        if line["event"] == "started":
            occurrence_of[line["run_id"]] = (line["task_id"], line["scheduled_for"])
        if line["event"] == "emailed":
            emailed_runs.add(line["run_id"])
            message_ids[line["run_id"]] = line["email"]["message_id"]
    by_occurrence: dict[tuple[str, str], list[str]] = defaultdict(list)
    for received in messages:
        subject = str(received.message["Subject"])
        assert subject.startswith("chaos "), subject
        run_id = subject.removeprefix("chaos ")
        assert run_id in occurrence_of, f"a message from run {run_id}, which never started"
        if run_id in message_ids:  # the history names the very message the server holds
            assert message_ids[run_id] == str(received.message["Message-ID"])
        by_occurrence[occurrence_of[run_id]].append(run_id)
    for occurrence, run_ids in by_occurrence.items():
        if len(run_ids) == 1:
            continue
        recorded_before_last = [r for r in run_ids[:-1] if r in emailed_runs]
        assert not recorded_before_last, (
            f"occurrence {occurrence} emailed {len(run_ids)} times (runs {run_ids}); "
            f"runs {recorded_before_last} had recorded their email before the resend"
        )
        hit = f"{occurrence[0][:8]} {occurrence[1]}: {len(run_ids)} messages"
        if hit not in tally.window_hits:
            tally.window_hits.append(hit)
    return len(by_occurrence)


def _unfinished(space: Workspace) -> set[str]:
    return {r.run_id for r in space.runs() if not r.finished}


def _check_finished(space: Workspace, run_ids: set[str], tally: Tally) -> None:
    records = {r.run_id: r for r in space.runs()}
    for run_id in run_ids:
        record = records[run_id]
        assert record.finished, (run_id, record.status, record.steps)
        if record.status != "interrupted":  # its own last line landed as the kill did
            continue
        tally.interrupted += 1
        if "emailed" in record.steps:
            assert "not sent again" in record.data["reason"]
            tally.interrupted_after_email += 1


def _backdate(document: dict[str, Any], **delta: float) -> None:
    """Pretend every task was created ``delta`` ago: one occurrence is due at start."""
    moment = to_utc_iso(clock_now() - timedelta(**delta))
    for item in document["tasks"]:
        item["created_at"] = moment
        item["schedule"]["start"] = moment


def _leftovers(folder: Path) -> set[str]:
    return {p.name for p in folder.rglob(".*.tmp")}


def test_kill_9_at_random_moments_loses_and_duplicates_nothing(
    tmp_path: Path, smtp_server: Any
) -> None:
    space = Workspace(tmp_path)
    # one SMTP try: a retry after a kill is the daemon's business, not the mailer's
    space.write_env(SMTP_RETRIES="1", **dict(smtp_server.env()))
    ids = {
        space.add(name, "--query", "SELECT * FROM sales", "--every", every, "--subject", SUBJECT)
        for name, every in TASKS.items()
    }
    rng = random.Random(SEED)
    tally = Tally()
    pending: set[str] = set()  # cut-off runs waiting for the next daemon to close them
    daemon: DaemonProcess | None = None
    try:
        for _ in range(ITERATIONS):
            daemon = space.start()
            mode = rng.random()
            if mode < 0.15:  # somewhere in start-up: imports, catch-up, banner
                time.sleep(rng.uniform(0.05, 1.0))
            elif mode < 0.6:  # inside a run: query, export, SMTP, history, summary
                daemon.wait_for("Scheduler is running")
                daemon.wait_for("started (", count=daemon.count("started (") + 1)
                time.sleep(rng.uniform(0.0, 1.0))
            else:  # anywhere
                daemon.wait_for("Scheduler is running")
                time.sleep(rng.uniform(0.0, 2.5))
            running = daemon.count("Scheduler is running") > 0
            daemon.kill()
            if running:
                tally.kills_while_running += 1
                _check_finished(space, pending, tally)  # this daemon closed them at start
                pending.clear()
            else:
                tally.kills_during_start += 1
            _check_tasks_file(space, ids)
            _check_no_double_send(space, smtp_server.messages, tally)
            pending |= _unfinished(space)
            tally.leftover_temp_files |= _leftovers(space.folder)
            daemon = None

        daemon = space.start()  # the last start closes what the last kill left
        daemon.wait_for("Scheduler is running")
        _check_finished(space, pending, tally)
        daemon.wait_for("finished: success", count=1)
        assert daemon.stop() == 0
        daemon = None
    finally:
        if daemon is not None and daemon.process.poll() is None:
            daemon.kill()

    _check_tasks_file(space, ids)
    occurrences = _check_no_double_send(space, smtp_server.messages, tally)
    records = space.runs()
    assert records and all(r.finished for r in records)
    statuses = defaultdict(int)
    for record in records:
        statuses[record.status] += 1
    for name in TASKS:  # the workers' summary writes kept each definition whole
        assert space.task(name)["email"]["subject"] == SUBJECT
    print(
        f"\nchaos: seed {SEED}, {ITERATIONS} kill -9 ({tally.kills_during_start} during "
        f"start-up, {tally.kills_while_running} while running); runs {dict(statuses)}; "
        f"{len(smtp_server.messages)} messages for {occurrences} occurrences; "
        f"{tally.interrupted} runs closed as interrupted ({tally.interrupted_after_email} "
        f"after their email, not resent); documented-window resends: "
        f"{tally.window_hits or 'none'}; temp files left by kills: "
        f"{sorted(tally.leftover_temp_files) or 'none'}"
    )


def test_restart_after_kill_9_leaves_no_run_files_behind(tmp_path: Path) -> None:
    space = Workspace(tmp_path)
    task_id = space.add("Cut", "--query", SLOW_QUERY.format(n=40_000_000), "--every", "1h")
    space.edit_json(lambda document: _backdate(document, minutes=90))
    daemon = space.start()
    try:
        daemon.wait_until(lambda: _unfinished(space) != set(), "the run to start")
        runs_dir = space.data / "scheduler" / "runs"
        assert any(runs_dir.iterdir())  # the payload of the run that is going on
        daemon.kill()
        space.cli("edit", task_id[:8], "--query", "SELECT 1 AS one")
        daemon = space.start()
        daemon.wait_for("finished: success")
        assert daemon.stop() == 0
    finally:
        if daemon.process.poll() is None:
            daemon.kill()
    assert [r.status for r in space.runs(task_id)] == ["interrupted", "success"]
    assert sorted(p.name for p in runs_dir.iterdir()) == []


def test_start_sweeps_stale_temp_files_of_cut_off_writes_only(tmp_path: Path) -> None:
    space = Workspace(tmp_path)
    space.add("T", "--query", "SELECT 1", "--every", "1h")
    state_dir = space.data / "scheduler"
    state_dir.mkdir(parents=True)
    stale = [tmp_path / ".tasks.json.abc123.tmp", state_dir / ".state.json.def456.tmp"]
    fresh = tmp_path / ".tasks.json.live99.tmp"  # a manage_tasks.py write in progress
    for path in [*stale, fresh]:
        path.write_text("{")
    an_hour_ago = time.time() - 3600
    for path in stale:
        os.utime(path, (an_hour_ago, an_hour_ago))
    result = space.run_once()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p.exists() for p in stale] == [False, False]
    assert fresh.exists()
