"""A person's command stopped while it holds tasks.json's lock (Ctrl-Z in a terminal, a
prompt left open) must not stall the daemon's runs: their summaries are queued and
written when the lock is free; runs keep finishing while it is held and no count drifts."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.daemon_harness import WAIT, Workspace
from tests.servers import ROOT

_HOLD_THEN_STOP = """
import os, signal, sys
from src.services.task_store import TaskStore
with TaskStore(sys.argv[1]).lock():
    print("locked", flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)  # a manage_tasks.py stopped with the lock held
"""


def test_a_stopped_command_holding_the_lock_costs_no_run(tmp_path: Path) -> None:
    space = Workspace(tmp_path)
    task_id = space.add("Every5s", "--query", "SELECT 1 AS one", "--every", "5s")
    daemon = space.start()
    holder = None
    try:
        daemon.wait_for("finished: success")
        holder = subprocess.Popen(
            [sys.executable, "-c", _HOLD_THEN_STOP, str(space.tasks_file)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        before = daemon.count("finished: success")
        # Three runs finish while the lock is held: had a run waited for the lock to write
        # its summary, none would finish until SIGCONT. (An occurrence may still be skipped
        # under the no-overlap rule when a loaded machine makes a run outlast 5 s; that is
        # the task's policy, not the lock.)
        daemon.wait_for("finished: success", count=before + 3, timeout=2 * WAIT)
        assert holder.poll() is None  # still stopped, the lock still held
        assert space.tasks_file.with_name("tasks.json.pending").exists()
        holder.send_signal(signal.SIGCONT)  # the command goes on, ends, frees the lock
        holder.wait(WAIT)
        daemon.wait_until(
            lambda: not space.tasks_file.with_name("tasks.json.pending").exists(),
            "the queued summaries to be written",
        )
        assert daemon.stop() == 0
    finally:
        if holder is not None and holder.poll() is None:
            holder.kill()
        if daemon.process.poll() is None:
            daemon.kill()
    finished = [r for r in space.runs(task_id) if r.status == "success"]
    task = space.task("Every5s")
    assert task["run_count"] == len(finished)  # every run counted once, none lost
    assert task["last_status"] == "success"
