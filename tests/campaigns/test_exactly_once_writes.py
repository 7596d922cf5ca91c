"""Exactly once survives a failed write: nothing is sent that was not first recorded as
about to be sent, and a send whose record could not be written is never sent again.

The fault is real: when the SMTP server (aiosmtpd) accepts the report, it lowers the
run process's RLIMIT_FSIZE (``prlimit``) below the history's size, so every later write
of that process fails with EFBIG, as a full disk would fail it; the daemon itself is not
limited and keeps running.
"""

from __future__ import annotations

import os
import resource
from datetime import timedelta
from pathlib import Path
from typing import Any

from src.core.clock import now as clock_now
from src.core.clock import to_utc_iso
from src.core.vocabulary import RunStatus, Trigger
from src.services.history import RunHistory
from src.services.recorder import RunRecorder, RunRef
from src.services.scheduler.recovery import HistoryView
from src.services.scheduler.timetable import occurrence_key
from tests.daemon_harness import Workspace


def _parent(pid: int) -> int:
    # /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ")"
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def _descends_from_us(pid: int) -> bool:
    ours = os.getpid()
    while pid > 1:
        pid = _parent(pid)
        if pid == ours:
            return True
    return False


def _worker_pids() -> list[int]:
    """This test's run processes only: another test running in parallel has its own."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"src.services.scheduler.worker" in cmdline and _descends_from_us(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def _backdate(space: Workspace, name: str, minutes: int) -> None:
    moment = to_utc_iso(clock_now() - timedelta(minutes=minutes))

    def change(document: dict[str, Any]) -> None:
        for item in document["tasks"]:
            if item["name"] == name:
                item["created_at"] = item["schedule"]["start"] = moment

    space.edit_json(change)


def test_a_sent_report_whose_record_failed_is_not_sent_again(
    tmp_path: Path, smtp_server: Any
) -> None:
    space = Workspace(tmp_path)
    space.write_env(**dict(smtp_server.env()))
    task_id = space.add("Mailed", "--query", "SELECT 1 AS one", "--every", "1h")
    _backdate(space, "Mailed", minutes=90)  # one occurrence missed: catch-up runs it
    history_path = space.data / "runs.jsonl"
    accept = smtp_server.handler.handle_DATA
    limited: list[int] = []

    async def accept_then_fill_the_disk(server: Any, session: Any, envelope: Any) -> str:
        reply: str = await accept(server, session, envelope)
        size = history_path.stat().st_size
        for pid in _worker_pids():  # the run's process: from now on no write of it fits
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (size, size))
            limited.append(pid)
        return reply

    smtp_server.handler.handle_DATA = accept_then_fill_the_disk
    first = space.run_once()
    assert limited, first.stderr
    assert len(smtp_server.messages) == 1
    (record,) = space.runs(task_id)
    assert record.steps == ["started", "exported", "emailing", "finished"]
    assert record.status == "failed"
    assert "may have gone out, so it is not sent again" in record.data["error"]["message"]
    assert "not retried: its email was already sent" in first.stderr

    smtp_server.handler.handle_DATA = accept
    again = space.run_once()  # a restart: the occurrence is settled, nothing is sent
    assert again.returncode == 0, again.stderr
    assert "--once: 0 run(s)" in again.stderr
    assert len(smtp_server.messages) == 1


def test_a_run_cut_off_while_sending_is_held_at_restart(tmp_path: Path) -> None:
    space = Workspace(tmp_path)
    task_id = space.add("Cut", "--query", "SELECT 1 AS one", "--every", "1h")
    _backdate(space, "Cut", minutes=90)
    due = clock_now() - timedelta(minutes=30)
    due = due.replace(second=0, microsecond=0)
    # what a kill -9 (or a power cut) leaves between "about to send" and "sent"
    history = RunHistory(space.data / "runs.jsonl")
    recorder = RunRecorder(history, None, clock=lambda: due)
    run = RunRef("r-cut", task_id, "Cut", Trigger.CATCH_UP, due)
    recorder.started(run, due)
    recorder.step(run, "emailing", recipients=["boss@example.com"])
    assert occurrence_key(task_id, due) in HistoryView.build(history.runs()).delivered
    done = space.run_once()
    assert done.returncode == 0, done.stderr
    records = {r.run_id: r for r in space.runs(task_id)}
    assert records["r-cut"].status == "interrupted"
    assert "may have gone out, so it is not sent again" in records["r-cut"].data["reason"]


def test_a_send_that_failed_is_not_taken_for_one_that_may_have_gone(tmp_path: Path) -> None:
    history = RunHistory(tmp_path / "runs.jsonl")
    due = clock_now().replace(second=0, microsecond=0)
    recorder = RunRecorder(history, None, clock=lambda: due)
    run = RunRef("r-failed", "t1", "T", Trigger.SCHEDULE, due)
    recorder.started(run, due)
    recorder.step(run, "emailing", recipients=["boss@example.com"])
    recorder.finished(run, RunStatus.FAILED, started_at=due, at=due, email_sent=False)
    view = HistoryView.build(history.runs())
    assert occurrence_key("t1", due) not in view.delivered
