"""The wall clock steps under a running daemon: NTP correcting a slow or fast clock, a
bogus source setting it 100 days ahead for a few seconds.

The real scheduler_daemon.py runs with ``tests/fixtures/clockshift.c`` preloaded (its
runs inherit it), so only that process tree's ``CLOCK_REALTIME`` moves, as a real step
would, while the monotonic clock, sleeps and timeouts run on. Mail goes to the outbox.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from src.core.clock import parse_instant
from src.services.history import RunHistory
from tests.daemon_harness import DaemonProcess, Workspace
from tests.fixtures.clockshift import ClockShift
from tests.services.scheduler.test_api import LISTENING, TOKEN, Api

HOUR = 3600.0
BOGUS = 100 * 86400.0
STEPPED = "the wall clock stepped"


@pytest.fixture
def space(tmp_path: Path) -> Workspace:
    space = Workspace(tmp_path)
    space.write_env(WEBHOOK_TOKEN=TOKEN, CLOCK_STABLE_SECONDS="3")
    return space


def start(space: Workspace, daemons: list[DaemonProcess], shift: ClockShift) -> Api:
    daemon = space.start("--http", "127.0.0.1:0", **shift.env())
    daemons.append(daemon)
    daemon.wait_for(LISTENING)
    daemon.wait_for("Scheduler is running")
    line = next(line for line in daemon.lines if LISTENING in line)
    return Api(daemon, line.split(LISTENING, 1)[1].strip())


def started_lines(space: Workspace) -> list[dict[str, object]]:
    return [
        line for line in RunHistory(space.data / "runs.jsonl").lines() if line["event"] == "started"
    ]


def test_forward_step_runs_the_passed_over_occurrence_at_once_per_catch_up(
    space: Workspace, daemons: list[DaemonProcess], clockshift: ClockShift
) -> None:
    # an hourly cron 30 minutes from now: a +1 h step jumps over it
    minute = (datetime.now(UTC) + timedelta(minutes=30)).minute
    cron = f"{minute} * * * *"
    latest = space.add("Hourly", "--query", "SELECT 1 AS x", "--cron", cron)
    skip = space.add(
        "Hourly skip", "--query", "SELECT 1 AS x", "--cron", cron, "--catch-up", "skip"
    )
    api = start(space, daemons, clockshift)

    stepped = time.monotonic()
    clockshift.step(HOUR)
    api.daemon.wait_for(STEPPED)
    api.daemon.wait_until(
        lambda: any(r.status == "success" for r in space.runs(latest)), "the catch-up run"
    )
    after = time.monotonic() - stepped
    assert after < 10, f"the passed-over occurrence ran {after:.1f} s after the step"
    runs = space.runs(latest)
    assert [r.data["trigger"] for r in runs] == ["catch-up"]
    assert [r.status for r in space.runs(skip)] == ["skipped"]
    print(f"forward +1 h: passed-over occurrence done {after:.2f} s after the step")
    assert api.daemon.stop() == 0


def test_backward_step_keeps_the_schedule_and_health_reports_it(
    space: Workspace, daemons: list[DaemonProcess], clockshift: ClockShift
) -> None:
    task_id = space.add("Every 2 s", "--query", "SELECT 1 AS x", "--every", "2s")
    api = start(space, daemons, clockshift)
    api.daemon.wait_until(lambda: len(space.outbox()) >= 2, "two reports")

    clockshift.step(-HOUR)
    api.daemon.wait_for(STEPPED)
    health = api.request("GET", "/health", token=None)
    assert health.status == 200
    assert health.json["clock"].startswith("stepped -1 h at "), health.json
    assert "waiting until stable" in health.json["clock"]
    sent = len(space.outbox())
    stepped = time.monotonic()
    api.daemon.wait_until(lambda: len(space.outbox()) >= sent + 2, "reports after the step")
    gap = time.monotonic() - stepped
    assert gap < 10, f"{gap:.1f} s of silence after a -1 h step"
    print(f"backward -1 h: 2 more reports {gap:.2f} s after the step")
    api.daemon.wait_until(
        lambda: api.request("GET", "/health", token=None).json["clock"] == "ok",
        "the step waited out (CLOCK_STABLE_SECONDS=3)",
    )
    assert all(r.status in ("success", "skipped") for r in space.runs(task_id))
    assert api.daemon.stop() == 0


def test_bogus_hundred_days_deletes_nothing_and_sends_nothing_future_dated_after(
    space: Workspace, daemons: list[DaemonProcess], clockshift: ClockShift
) -> None:
    task_id = space.add("Every s", "--query", "SELECT 1 AS x", "--every", "1s", "--catch-up", "all")
    # a bogus step shorter than CLOCK_STABLE_SECONDS is never trusted by retention
    space.write_env(CLOCK_STABLE_SECONDS="15")
    api = start(space, daemons, clockshift)
    api.daemon.wait_until(lambda: len(space.outbox()) >= 3, "three real reports")
    real_runs = {r.run_id for r in space.runs(task_id)}
    exports = space.data / "exports"
    real_exports = set(exports.iterdir())
    real_outbox = set(space.outbox())

    clockshift.step(BOGUS)
    api.daemon.wait_for(STEPPED)
    time.sleep(10)  # catch_up=all queues a day of occurrences, dated 100 days ahead
    clockshift.step(0)
    api.daemon.wait_for(STEPPED, count=2)
    corrected = datetime.now(UTC)
    time.sleep(3)

    assert real_runs <= {r.run_id for r in space.runs(task_id)}
    assert real_exports <= set(exports.iterdir())
    assert real_outbox <= set(space.outbox())
    horizon = corrected + timedelta(days=1)
    late = [
        line
        for line in started_lines(space)
        if parse_instant(str(line["scheduled_for"])) > horizon
        and parse_instant(str(line["at"])) < horizon  # started on the corrected clock
    ]
    # at most the run already spawned when the correction came (it records its start on
    # the corrected clock); nothing queued in the bogus future starts after it
    assert len(late) <= 1, json.dumps(late[:3])
    dropped = [r for r in space.runs(task_id) if "clock has not reached" in json.dumps(r.data)]
    assert dropped, api.daemon.output[-2000:]
    assert api.daemon.stop() == 0
