"""`pause`, `resume`, `status`: src/cli/pause.py (and the file the daemon reads)."""

from __future__ import annotations

from pathlib import Path

from src.services.scheduler.pause import PauseFile
from tests.cli.test_accounts import run


def test_pause_and_resume_write_the_file_the_daemon_reads(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DATA_DIR=state\n")
    assert run(tmp_path, "status").output == "Scheduler: not paused\n"
    paused = run(tmp_path, "pause")
    assert paused.exit_code == 0 and paused.output.startswith("Scheduler paused (since ")
    state = PauseFile(tmp_path / "state" / "scheduler" / "pause.json").read()
    assert state.paused and state.by is not None and state.by.startswith("os:")
    assert "Scheduler: paused since" in run(tmp_path, "status").output
    resumed = run(tmp_path, "resume")
    assert "follow each task's catch_up" in resumed.output
    assert run(tmp_path, "status").output == "Scheduler: not paused\n"
    actions = run(tmp_path, "audit").output.splitlines()
    assert [line.rsplit(": ", 1)[1] for line in actions] == ["scheduler.resume", "scheduler.pause"]
