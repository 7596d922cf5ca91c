"""The webhook API inside the REAL daemon: scheduler_daemon.py --http on a temp folder.

Each test starts its own daemon process (SQLite task database, outbox mail) on a
free port (``--http 127.0.0.1:0``; the port is read from its log line) and talks to
it with real HTTP requests. Waits are hang guards, not timing assertions.

The exactly-once check (a webhook run in the very second of a scheduled occurrence
must not make that occurrence count as "already sent") drives the daemon's own
methods with a fake clock, so the two runs meet in one second every time; the runs
themselves are real child processes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from src.core.clock import now as clock_now
from src.services.scheduler.daemon import Daemon, DaemonOptions
from src.services.task_store import TaskStore
from tests.daemon_harness import SLOW_QUERY, WAIT, DaemonProcess, Workspace
from tests.fixtures.http import MetricSamples, Reply, metric_samples, send

TOKEN = "daemon-test-token-" + "z" * 30
LISTENING = "HTTP API listening on "


@dataclass
class Api:
    daemon: DaemonProcess
    url: str

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = TOKEN,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Reply:
        return send(self.url, method, path, token=token, headers=headers, body=body, timeout=WAIT)

    def trigger(self, ref: str, **kwargs: Any) -> Reply:
        return self.request("POST", f"/api/tasks/{quote(ref)}/run", **kwargs)

    def wait_run(self, run_id: str) -> dict[str, Any]:
        """The run's record once it has finished (polled like a cron service would)."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            reply = self.request("GET", f"/api/runs/{run_id}")
            assert reply.status == 200, reply.body
            if reply.json["status"] not in ("queued", "running"):
                return dict(reply.json)
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} did not finish:\n{self.daemon.output}")

    def metrics(self) -> MetricSamples:
        reply = self.request("GET", "/metrics")
        assert reply.status == 200
        return metric_samples(reply.text)


@pytest.fixture
def space(tmp_path: Path) -> Workspace:
    space = Workspace(tmp_path)
    space.write_env(WEBHOOK_TOKEN=TOKEN, WEBHOOK_RATE_LIMIT="1000")
    return space


def start_api(space: Workspace, daemons: list[DaemonProcess]) -> Api:
    daemon = space.start("--http", "127.0.0.1:0")
    daemons.append(daemon)
    daemon.wait_for(LISTENING)
    line = next(line for line in daemon.lines if LISTENING in line)
    return Api(daemon, line.split(LISTENING, 1)[1].strip())


def daily(space: Workspace, name: str, query: str = "SELECT * FROM sales") -> str:
    """A task that does not fire during the test (09:00 daily, or a year away)."""
    return space.add(name, "--query", query, "--cron", "0 9 1 1 *")


# --- trigger ----------------------------------------------------------------------------------


def test_trigger_runs_the_task_records_webhook_and_mails(
    space: Workspace, daemons: list[DaemonProcess]
) -> None:
    task_id = daily(space, "Sales")
    api = start_api(space, daemons)
    reply = api.trigger("Sales")
    assert reply.status == 202, reply.body
    body = reply.json
    assert body["task_id"] == task_id and body["trigger"] == "webhook"
    assert body["status_url"] == f"{api.url}/api/runs/{body['run_id']}"
    run = api.wait_run(body["run_id"])
    assert run["status"] == "success" and run["rows"] == 50
    [record] = space.runs(task_id)
    assert record.run_id == body["run_id"]  # the id promised in the 202 is the run's
    assert record.data["trigger"] == "webhook"
    [message] = space.outbox()
    assert record.data["email"]["outbox_path"] == str(message)
    assert "To: boss@example.com" in message.read_text(encoding="utf-8", errors="replace")
    # the summary is written after the run's last record: the API may answer in between
    api.daemon.wait_until(lambda: space.task("Sales")["run_count"] == 1, "the task's summary")
    assert api.daemon.stop() == 0


def test_missing_or_wrong_token_is_401_and_nothing_runs(
    space: Workspace, daemons: list[DaemonProcess]
) -> None:
    task_id = daily(space, "Guarded")
    api = start_api(space, daemons)
    assert api.trigger("Guarded", token=None).status == 401
    assert api.trigger("Guarded", token="wrong-" + "q" * 40).status == 401
    assert api.request("POST", f"/api/tasks/Guarded/run?token={TOKEN}", token=None).status == 401
    good = api.trigger("Guarded")  # then a good call: the only run there is
    assert good.status == 202
    api.wait_run(good.json["run_id"])
    assert [r.run_id for r in space.runs(task_id)] == [good.json["run_id"]]
    assert len(space.outbox()) == 1
    assert api.daemon.stop() == 0


def test_unknown_task_is_404(space: Workspace, daemons: list[DaemonProcess]) -> None:
    daily(space, "Known")
    api = start_api(space, daemons)
    reply = api.trigger("Unknown")
    assert reply.status == 404
    assert "Unknown" in reply.json["error"]
    assert api.daemon.stop() == 0
    assert space.runs() == []


def test_same_idempotency_key_twice_gives_one_run(
    space: Workspace, daemons: list[DaemonProcess]
) -> None:
    task_id = daily(space, "Once please")
    api = start_api(space, daemons)
    first = api.trigger("Once please", headers={"Idempotency-Key": "cron-job-42"})
    assert first.status == 202
    api.wait_run(first.json["run_id"])
    again = api.trigger("Once please", headers={"Idempotency-Key": "cron-job-42"})
    assert again.status == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json["run_id"] == first.json["run_id"]
    assert again.json["status"] == "success"
    assert api.daemon.stop() == 0
    assert len(space.runs(task_id)) == 1
    assert len(space.outbox()) == 1


def test_overlap_is_409_and_disabled_is_409(space: Workspace, daemons: list[DaemonProcess]) -> None:
    task_id = daily(space, "Long", SLOW_QUERY.format(n=10_000_000))
    space.add("Off", "--query", "SELECT 1", "--cron", "0 9 1 1 *", "--disabled")
    api = start_api(space, daemons)
    first = api.trigger("Long")
    assert first.status == 202
    second = api.trigger("Long")
    assert second.status == 409
    assert "still" in second.json["error"]  # still queued / still running, with the run
    assert api.wait_run(first.json["run_id"])["status"] == "success"
    off = api.trigger("Off")
    assert off.status == 409
    assert off.json["error"] == "the task is disabled"
    assert api.daemon.stop() == 0
    assert [r.run_id for r in space.runs(task_id)] == [first.json["run_id"]]
    assert space.runs(space.task("Off")["id"]) == []


def test_100_rapid_calls_get_429s_and_the_daemon_stays_healthy(
    space: Workspace, daemons: list[DaemonProcess]
) -> None:
    space.write_env(WEBHOOK_RATE_LIMIT="10")  # the default: ten a minute per client
    daily(space, "Hammered", SLOW_QUERY.format(n=10_000_000))
    api = start_api(space, daemons)
    replies = [api.trigger("Hammered") for _ in range(100)]
    statuses = [r.status for r in replies]
    assert set(statuses) <= {202, 409, 429}
    assert statuses.count(429) >= 90
    assert statuses.count(202) == 1  # one run; the others overlapped or were limited
    limited = next(r for r in replies if r.status == 429)
    assert int(limited.headers["Retry-After"]) >= 1
    health = api.request("GET", "/health", token=None)
    assert health.status == 200, health.body
    assert health.json["status"] == "ok"
    samples = api.metrics()
    assert samples[("db_scheduler_webhook_triggers_total", (("result", "limited"),))] >= 90
    assert api.daemon.stop() == 0


def test_oversized_body_is_413_and_nothing_runs(
    space: Workspace, daemons: list[DaemonProcess]
) -> None:
    daily(space, "Small")
    api = start_api(space, daemons)
    reply = api.trigger(
        "Small", body=b"x" * (64 * 1024 + 1), headers={"Content-Type": "text/plain"}
    )
    assert reply.status == 413
    assert "larger than 65536 bytes" in reply.json["error"]
    assert api.daemon.stop() == 0
    assert space.runs() == []


# --- health and metrics -----------------------------------------------------------------------


def test_health_turns_503_when_the_tasks_file_is_corrupted(
    space: Workspace, daemons: list[DaemonProcess]
) -> None:
    daily(space, "Steady")
    api = start_api(space, daemons)
    # the port opens just before the loop's first tick: /health says 503 "starting" until then
    api.daemon.wait_until(
        lambda: api.request("GET", "/health", token=None).status == 200, "a healthy daemon"
    )
    ok = api.request("GET", "/health", token=None)
    assert ok.status == 200
    assert ok.json["scheduler"] == "running" and ok.json["tasks_loaded"] == 1
    good = space.tasks_file.read_text(encoding="utf-8")
    space.tasks_file.write_text(good[: len(good) // 2], encoding="utf-8")
    api.daemon.wait_for("tasks file not reloaded")
    bad = api.request("GET", "/health", token=None)
    assert bad.status == 503
    assert bad.json["tasks_file"] == "unreadable"
    assert any("tasks.json" in p for p in bad.json["problems"])
    assert api.request("GET", "/api/tasks").json[0]["name"] == "Steady"  # the last good set
    space.tasks_file.write_text(good, encoding="utf-8")
    api.daemon.wait_for("tasks file reloaded (valid again)")
    assert api.request("GET", "/health", token=None).status == 200
    assert api.daemon.stop() == 0


@pytest.mark.parametrize("empty", [b"", b" \n\t\n"], ids=["0-bytes", "whitespace"])
def test_an_emptied_tasks_file_keeps_the_last_good_set_and_health_503(
    space: Workspace, daemons: list[DaemonProcess], empty: bytes
) -> None:
    """src/services/scheduler/reloader.py: an empty file while the daemon runs is a
    write cut short, never "delete every schedule"."""
    daily(space, "Steady")
    api = start_api(space, daemons)
    api.daemon.wait_until(
        lambda: api.request("GET", "/health", token=None).status == 200, "a healthy daemon"
    )
    good = space.tasks_file.read_bytes()
    space.tasks_file.write_bytes(empty)
    api.daemon.wait_for("tasks file not reloaded")
    assert f"{space.tasks_file} is empty ({len(empty)} bytes)" in api.daemon.output
    assert "ERROR" in next(line for line in api.daemon.lines if "not reloaded" in line)
    bad = api.request("GET", "/health", token=None)
    assert bad.status == 503 and bad.json["tasks_file"] == "unreadable"
    assert [t["name"] for t in api.request("GET", "/api/tasks").json] == ["Steady"]
    assert api.trigger("Steady").status == 202  # its job and its webhook are still there
    space.tasks_file.write_bytes(good)
    api.daemon.wait_for("tasks file reloaded (valid again)")
    assert api.request("GET", "/health", token=None).status == 200
    assert api.daemon.stop() == 0


def test_a_daemon_started_without_a_tasks_file_runs_with_no_tasks(
    space: Workspace, daemons: list[DaemonProcess]
) -> None:
    api = start_api(space, daemons)
    assert not space.tasks_file.exists()
    api.daemon.wait_until(
        lambda: api.request("GET", "/health", token=None).status == 200, "a healthy daemon"
    )
    assert api.request("GET", "/api/tasks").json == []
    api.daemon.wait_for("add one with `manage_tasks.py")
    assert api.daemon.stop() == 0


def test_metrics_parse_and_counters_move_after_a_run(
    space: Workspace, daemons: list[DaemonProcess]
) -> None:
    task_id = daily(space, "Counted")
    api = start_api(space, daemons)
    labels = (("status", "success"), ("task", "Counted"), ("task_id", task_id))
    before = api.metrics()
    assert before.get(("db_scheduler_runs_total", labels), 0) == 0
    assert before[("db_scheduler_tasks_loaded", ())] == 1
    run_id = api.trigger("Counted").json["run_id"]
    api.wait_run(run_id)
    api.daemon.wait_for("finished: success")  # the daemon counts a run when it reaps it
    after = api.metrics()
    task_labels = (("task", "Counted"), ("task_id", task_id))
    assert after[("db_scheduler_runs_total", labels)] == 1
    assert after[("db_scheduler_rows_exported_total", task_labels)] == 50
    assert after[("db_scheduler_emails_sent_total", task_labels)] == 1
    assert after[("db_scheduler_run_duration_seconds_count", task_labels)] == 1
    assert after[("db_scheduler_last_success_timestamp_seconds", task_labels)] > 0
    assert after[("db_scheduler_webhook_triggers_total", (("result", "accepted"),))] == 1
    assert api.daemon.stop() == 0


# --- start-up refusals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "Error: the HTTP API needs WEBHOOK_TOKEN, and it is not set; generate one with"),
        ("short", "Error: WEBHOOK_TOKEN is 5 characters long; at least 32 are required"),
    ],
    ids=["missing", "short"],
)
def test_api_without_a_good_token_refuses_to_start(
    space: Workspace, daemons: list[DaemonProcess], token: str, message: str
) -> None:
    space.write_env(WEBHOOK_TOKEN=token, HTTP_LISTEN="127.0.0.1:0")
    daemon = space.start()
    daemons.append(daemon)
    assert daemon.process.wait(WAIT) == 1
    daemon._reader.join(5)
    assert daemon.output.startswith(message), daemon.output
    assert "Traceback" not in daemon.output


# --- exactly once: a webhook run is not the scheduled occurrence ------------------------------


def test_webhook_run_in_a_scheduled_second_does_not_suppress_the_scheduled_report(
    tmp_path: Path,
) -> None:
    space = Workspace(tmp_path)
    task_id = space.add("Nine", "--query", "SELECT * FROM sales", "--cron", "0 9 * * *")
    task = TaskStore(space.tasks_file).load().find(task_id)
    nine = task.schedule.next_after(clock_now() + timedelta(minutes=1))
    assert nine is not None
    moment = [nine - timedelta(seconds=10)]
    options = DaemonOptions(space.tasks_file, space.env_file)
    daemon = Daemon(options, space.env, clock=lambda: moment[0])
    try:
        daemon.start()  # ten seconds before 09:00: nothing missed, nothing queued
        assert not daemon.dispatch.queue

        moment[0] = nine + timedelta(milliseconds=300)  # 09:00:00.3, the same second
        accepted = daemon.dispatch.queue_webhook(task_id)
        assert accepted.accepted and accepted.run_id
        _drain(daemon)

        daemon.fire(task_id, [nine], daemon.clock())  # the schedule's 09:00
        _drain(daemon)
    finally:
        daemon.timetable.jobs.shutdown()
    records = space.runs(task_id)
    assert [(r.data["trigger"], r.status) for r in records] == [
        ("webhook", "success"),
        ("schedule", "success"),
    ]
    assert records[0].run_id == accepted.run_id
    assert len(space.outbox()) == 2  # the scheduled report went out too
    assert daemon.state.last_handled[task_id] == nine  # only the schedule's run marks it


def _drain(daemon: Daemon) -> None:
    """Tick until nothing is queued or running (real child processes)."""
    deadline = time.monotonic() + WAIT
    daemon.tick(poll_file=False)
    while daemon.dispatch.queue or daemon.dispatch.busy.running:
        assert time.monotonic() < deadline, "runs did not finish (hang guard)"
        daemon.sleep(0.02)
        daemon.tick(poll_file=False)


def test_a_scheduled_occurrence_waits_behind_a_webhook_run_instead_of_being_skipped(
    tmp_path: Path,
) -> None:
    """src/services/scheduler/dispatch.py: Dispatcher.enqueue queues the occurrence
    behind the webhook run (never two runs at once) instead of recording it skipped."""
    space = Workspace(tmp_path)
    query = SLOW_QUERY.format(n=300_000)
    task_id = space.add("Nine", "--query", query, "--cron", "0 9 * * *")
    task = TaskStore(space.tasks_file).load().find(task_id)
    nine = task.schedule.next_after(clock_now() + timedelta(minutes=1))
    assert nine is not None
    moment = [nine - timedelta(seconds=10)]
    options = DaemonOptions(space.tasks_file, space.env_file)
    daemon = Daemon(options, space.env, clock=lambda: moment[0])
    try:
        daemon.start()
        accepted = daemon.dispatch.queue_webhook(task_id)
        daemon.tick(poll_file=False)  # the webhook run starts
        assert task_id in daemon.dispatch.busy.running
        moment[0] = nine
        daemon.fire(task_id, [nine], daemon.clock())  # 09:00 while it still runs
        assert task_id in daemon.dispatch.busy.running  # no second run at once
        assert [o.scheduled_for for o in daemon.dispatch.queue] == [nine]
        _drain(daemon)
    finally:
        daemon.timetable.jobs.shutdown()
    records = space.runs(task_id)
    assert [(r.data["trigger"], r.status) for r in records] == [
        ("webhook", "success"),
        ("schedule", "success"),
    ]
    assert records[0].run_id == accepted.run_id
    assert len(space.outbox()) == 2  # the scheduled report went out too
    assert daemon.state.last_handled[task_id] == nine


def test_a_task_without_schedule_runs_only_when_triggered(
    space: Workspace, daemons: list[DaemonProcess]
) -> None:
    """src/core/schedule.py::NoSchedule: "schedule": null, `add --no-schedule`."""
    task_id = space.add("On call", "--query", "SELECT * FROM sales", "--no-schedule")
    assert space.task("On call")["schedule"] is None and space.task("On call")["next_run"] is None
    shown = space.cli("show", "On call").output
    assert "Schedule:     none (runs only by webhook or `manage_tasks.py run`)" in shown
    assert "Next runs:    none" in shown
    listed = space.cli("list").output
    assert "none (runs only by webhook" in listed
    assert space.cli("next").output == "No upcoming runs (no enabled task with a time left).\n"
    api = start_api(space, daemons)
    reply = api.trigger("On call")
    assert reply.status == 202, reply.body
    assert api.wait_run(reply.json["run_id"])["status"] == "success"
    assert api.daemon.stop() == 0
    assert [r.data["trigger"] for r in space.runs(task_id)] == ["webhook"]
