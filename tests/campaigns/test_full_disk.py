"""A real full disk: the daemon's data folder on a 4 MB tmpfs, filled until ENOSPC.

Real daemon processes (tests/daemon_harness.py), a real SMTP server (aiosmtpd) and the
real HTTP API. What must hold: the daemon stays up and says so (log once, /health 503,
``db_scheduler_storage_ok 0``); no run starts that could not be recorded; nothing is
sent twice; when space comes back it resumes on its own and catches up what came due
meanwhile per each task's ``catch_up``; tasks.json is never touched by a failed write.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

from src.core.clock import now as clock_now
from src.core.clock import to_utc_iso
from src.services.history import RunHistory
from tests.daemon_harness import DaemonProcess, Workspace
from tests.fixtures.small_disk import SmallDisk
from tests.fixtures.smtp import free_port

SUBJECT = "disk {run_id}"
TOKEN = "t" * 40


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, answer.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def _health(port: int) -> tuple[int, dict[str, Any]]:
    status, body = _get(port, "/health")
    return status, json.loads(body)


def _api(space: Workspace, smtp_server: Any, data: Path) -> int:
    port = free_port()
    space.write_env(
        DATA_DIR=str(data),
        HTTP_LISTEN=f"127.0.0.1:{port}",
        WEBHOOK_TOKEN=TOKEN,
        METRICS_PUBLIC="true",
        SMTP_RETRIES="1",
        **dict(smtp_server.env()),
    )
    return port


def _started_between(daemon: DaemonProcess, first: str, last: str | None) -> list[str]:
    lines = daemon.output.splitlines()
    begin = next(i for i, line in enumerate(lines) if first in line)
    end = next((i for i, line in enumerate(lines) if last and last in line), len(lines))
    return [line for line in lines[begin:end] if ") started (" in line or "started (sch" in line]


def _occurrences_mailed(smtp_server: Any, history: RunHistory) -> list[tuple[str, str]]:
    occurrence = {r.run_id: (r.task_id, str(r.data.get("scheduled_for"))) for r in history.runs()}
    mailed = []
    for received in smtp_server.messages:
        run_id = str(received.message["Subject"]).removeprefix("disk ")
        assert run_id in occurrence, f"mailed run {run_id} has no record"
        mailed.append(occurrence[run_id])
    return mailed


def test_full_disk_holds_runs_and_the_daemon_resumes_on_its_own(
    tmp_path: Path, small_disk: SmallDisk, smtp_server: Any
) -> None:
    space = Workspace(tmp_path)
    data = small_disk.root / "data"
    port = _api(space, smtp_server, data)
    # no retries: a run cut by the fill fails (ENOSPC, transient) and would hold the catch-up
    # behind its retry; here the catch-up policy alone decides
    once = ("--query", "SELECT 1 AS one", "--every", "2s", "--retries", "0", "--subject", SUBJECT)
    latest = space.add("Latest", *once)
    skip = space.add("Skip", *once, "--catch-up", "skip")
    tasks_before = space.tasks_file.read_bytes()
    daemon = space.start()
    try:
        daemon.wait_for("finished: success", 2)
        daemon.wait_for("HTTP API listening")
        small_disk.fill()
        filled = time.monotonic()
        daemon.wait_for("storage full: ")
        noticed = time.monotonic() - filled
        time.sleep(2)  # a run that started before the fill ends (its own writes fail)
        mailed_while_full = len(smtp_server.messages)
        status, body = _health(port)
        assert status == 503 and body["storage"] == "full", body
        assert any("data folder cannot be written" in p for p in body["problems"])
        _, metrics = _get(port, "/metrics")
        assert "db_scheduler_storage_ok 0.0" in metrics
        daemon.wait_for("held: runs cannot be recorded", 2)  # both tasks, once each
        time.sleep(5)  # several more fires of each task come due and are held
        assert daemon.process.poll() is None
        assert len(smtp_server.messages) == mailed_while_full
        assert daemon.count("storage full: ") == 1  # said once, not per tick
        assert daemon.count("held: runs cannot be recorded") == 2

        small_disk.free()
        freed = time.monotonic()
        daemon.wait_for("is writable again")
        resumed = time.monotonic() - freed
        daemon.wait_for("catching up: task 'Latest'")
        done = daemon.count("finished: success")
        daemon.wait_for("finished: success", done + 2)  # the daemon runs on as before
        assert _started_between(daemon, "storage full: ", "is writable again") == []
        status, body = _health(port)
        assert status == 200 and body["storage"] == "ok", body
        _, metrics = _get(port, "/metrics")
        assert "db_scheduler_storage_ok 1.0" in metrics
    finally:
        assert daemon.stop() == 0, daemon.output
    assert "Traceback" not in daemon.output, daemon.output
    history = RunHistory(data / "runs.jsonl")
    skipped = [r for r in history.runs(skip) if "missed; not run" in str(r.data.get("reason"))]
    assert skipped, "catch_up=skip: the occurrences held while full are recorded as skipped"
    ran = [r for r in history.runs(skip) if r.data.get("trigger") == "catch-up"]
    assert all(r.status == "skipped" for r in ran), "catch_up=skip ran a held occurrence"
    # catch_up=latest: one run for the whole outage (the occurrence already queued when the
    # disk was found full runs first, and the latest held one then waits behind it)
    held = [r for r in history.runs(latest) if "held" in str(r.data.get("reason", ""))]
    outage = {str(r.data["scheduled_for"]) for r in history.runs(latest)} - {
        str(r.data["scheduled_for"]) for r in history.runs(latest) if r.status == "success"
    }
    assert outage and not held
    mailed = _occurrences_mailed(smtp_server, history)
    assert len(mailed) == len(set(mailed)), "an occurrence was mailed twice"
    assert all(r.status != "running" for r in history.runs())
    json.loads(space.tasks_file.read_bytes())
    assert space.tasks_file.read_bytes() != tasks_before  # summaries written, file whole
    print(f"\nfull disk noticed in {noticed:.1f} s, resumed {resumed:.1f} s after space freed")


def test_daemon_starts_on_a_full_disk_and_catches_up_when_space_returns(
    small_disk: SmallDisk, smtp_server: Any
) -> None:
    folder = small_disk.root / "workspace"  # tasks.json, its lock and the data, all full
    folder.mkdir()
    space = Workspace(folder)
    port = _api(space, smtp_server, space.data)
    task_id = space.add(
        "Hourly", "--query", "SELECT 1 AS one", "--every", "1h", "--subject", SUBJECT
    )
    moment = to_utc_iso(clock_now() - timedelta(minutes=90))

    def backdate(document: dict[str, Any]) -> None:  # one occurrence missed: catch-up runs it
        document["tasks"][0]["created_at"] = document["tasks"][0]["schedule"]["start"] = moment

    space.edit_json(backdate)
    small_disk.fill()
    tasks_before = space.tasks_file.read_bytes()
    daemon = space.start()
    try:
        daemon.wait_for("storage full: ")
        daemon.wait_for("HTTP API listening")  # the API starts after the banner
        daemon.wait_until(lambda: _health(port)[0] == 503, "/health 503")
        assert _health(port)[1]["storage"] == "full"
        time.sleep(3)
        assert daemon.process.poll() is None
        assert smtp_server.messages == []
        assert "started (" not in daemon.output
        assert space.tasks_file.read_bytes() == tasks_before  # never touched by a failed write

        small_disk.free()
        freed = time.monotonic()
        daemon.wait_for("is writable again")
        resumed = time.monotonic() - freed
        daemon.wait_for("finished: success")
        daemon.wait_until(lambda: space.task("Hourly")["last_status"] == "success", "summary")
    finally:
        assert daemon.stop() == 0, daemon.output
    assert "Traceback" not in daemon.output, daemon.output
    assert len(smtp_server.messages) == 1
    (run,) = [r for r in space.runs(task_id) if r.status == "success"]
    assert run.data["trigger"] == "catch-up"
    print(f"\nstarted on a full disk; resumed {resumed:.1f} s after space freed")
