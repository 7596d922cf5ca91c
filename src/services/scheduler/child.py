"""Each run in its own child process and process group, with a hard deadline.

:class:`ChildRun` starts ``src.services.scheduler.worker`` in a new session, so the
run and anything it starts share one process group that the daemon can kill as a
whole. Past its deadline the group gets SIGTERM (the worker unwinds and removes
partial files), and SIGKILL if it is still there a moment later: a driver stuck in
a C call, which never lets Python's SIGTERM handler run, cannot outlive it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from src.core.clock import to_utc_iso
from src.core.vocabulary import RunStatus
from src.services.child_env import module_env
from src.services.permissions import make_private_dir
from src.services.retention import RetentionGate
from src.services.scheduler.timetable import Occurrence


class PayloadNotWritten(Exception):
    """The run's payload file could not be written (a full disk): nothing was started."""

    def __init__(self, path: Path, error: OSError) -> None:
        self.path = path
        self.error = error
        super().__init__(f"{path}: {error.strerror or error}")


class ChildRun:
    def __init__(
        self,
        occurrence: Occurrence,
        run_id: str,
        task_name: str,
        process: subprocess.Popen[bytes],
        payload_path: Path,
        result_path: Path,
        deadline: float,
        started_wall: datetime,
    ) -> None:
        self.occurrence = occurrence
        self.run_id = run_id
        self.task_name = task_name
        self.process = process
        self.payload_path = payload_path
        self.result_path = result_path
        self.deadline = deadline
        self.started = time.monotonic()
        self.started_wall = started_wall
        self.stop_reason: str | None = None  # "timeout" or "shutdown" once signalled
        self.kill_at: float | None = None
        self.killed = False

    @classmethod
    def spawn(
        cls,
        occurrence: Occurrence,
        run_id: str,
        task: dict[str, Any],
        *,
        work_dir: Path,
        tasks_file: Path,
        env_file: Path | None,
        default_timezone: str,
        log_level: str,
        log_format: str,
        hard_timeout: float,
        now: datetime,
        retention_hold: str | None = None,
    ) -> ChildRun:
        payload_path = work_dir / f"{run_id}.in.json"
        result_path = work_dir / f"{run_id}.out.json"
        payload = {
            "parent_pid": os.getpid(),
            "run_id": run_id,
            "task": task,
            "trigger": occurrence.trigger,
            "scheduled_for": to_utc_iso(occurrence.scheduled_for),
            "attempt": occurrence.attempt,
            "tasks_file": str(tasks_file.resolve()),
            "env_file": str(env_file.resolve()) if env_file else None,
            "default_timezone": default_timezone,
            "result_path": str(result_path),
            "log_level": log_level,
            "log_format": log_format,
            "retention_hold": retention_hold,  # the daemon does not trust the clock yet
            "clock_reference": RetentionGate.reference_now(),  # a step after this counts
        }
        try:
            make_private_dir(work_dir)
            fd = os.open(payload_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle, default=str)
        except OSError as exc:
            with contextlib.suppress(OSError):
                payload_path.unlink()
            raise PayloadNotWritten(payload_path, exc) from exc
        env = module_env()
        process = subprocess.Popen(
            [sys.executable, "-m", "src.services.scheduler.worker", str(payload_path)],
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr.fileno(),  # stray prints land in the journal, not a full pipe
            env=env,
            start_new_session=True,  # own session and process group: killed as a whole
            close_fds=True,
        )
        return cls(
            occurrence,
            run_id,
            str(task.get("name", "")),
            process,
            payload_path,
            result_path,
            time.monotonic() + hard_timeout,
            now,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        return self.process.poll()

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def stop(self, reason: str, term_to_kill: float) -> None:
        """Ask the run's group to stop (SIGTERM); :meth:`enforce` sends SIGKILL later."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self.kill_at = time.monotonic() + term_to_kill
            self.signal_group(signal.SIGTERM)

    def kill_now(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.killed = True
        self.signal_group(signal.SIGKILL)

    def enforce(self, term_to_kill: float) -> None:
        """Called on every tick: past the deadline SIGTERM, then SIGKILL."""
        moment = time.monotonic()
        if self.stop_reason is None and moment >= self.deadline:
            self.stop("timeout", term_to_kill)
        elif self.kill_at is not None and moment >= self.kill_at and not self.killed:
            self.kill_now(self.stop_reason or "timeout")

    def seconds_to_next_check(self) -> float:
        moment = time.monotonic()
        target = self.kill_at if self.kill_at is not None and not self.killed else self.deadline
        return max(target - moment, 0.0)

    def result(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.result_path.read_bytes())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def without_result(
        self, code: int, timeout_seconds: float | None, kill_grace: float
    ) -> tuple[RunStatus, str]:
        """What became of a run whose worker wrote no result (exit ``code``): killed at
        its deadline or at shutdown, or crashed."""
        if self.stop_reason == "timeout":
            limit = "?" if timeout_seconds is None else timeout_seconds
            return RunStatus.TIMEOUT, (
                f"the run took longer than timeout_seconds={limit} plus {kill_grace:g} s; "
                "its process group was killed"
                + (" (SIGKILL: it did not stop on SIGTERM)" if self.killed else " (SIGTERM)")
            )
        if self.stop_reason == "shutdown":
            return RunStatus.INTERRUPTED, "the scheduler was stopped during this run" + (
                " (killed)" if self.killed else ""
            )
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        return RunStatus.FAILED, (
            f"the run's process ended without a result ({how}); see the log above"
        )

    def cleanup(self) -> None:
        # the group may hold leftovers (a grandchild that ignored SIGTERM): make sure
        self.signal_group(signal.SIGKILL)
        for path in (self.payload_path, self.result_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def wait(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
