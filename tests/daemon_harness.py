"""A real scheduler_daemon.py process on a temp folder, for the daemon tests.

The folder holds a SQLite demo database (``DATABASE_URL=sqlite:///<tmp>/demo.db``),
``.env``, ``tasks.json`` and ``data/`` (history, outbox, state). Waits poll what the
daemon logs or writes, with generous limits that only guard against a hang: they
are not timing assertions.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from src.cli.app import cli
from src.services.history import RunHistory, RunRecord
from src.services.scheduler.daemon import Daemon, DaemonOptions

ROOT = Path(__file__).resolve().parent.parent
DAEMON = ROOT / "scheduler_daemon.py"
WAIT = 60.0  # seconds: a guard against a hang, never a performance claim (CI runs at load 50)
#: ~1.4 s of pure SQLite work on this machine per 10M; a C call that holds off SIGTERM.
SLOW_QUERY = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) "
    "SELECT count(*) AS n FROM c"
)


def in_process_daemon(tmp_path: Path, now: datetime) -> Daemon:
    """A daemon in this process on ``tmp_path``, run ``--once``, whose clock says ``now``."""
    options = DaemonOptions(tasks_file=tmp_path / "tasks.json", once=True)
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    return Daemon(options, env, clock=lambda: now)


class Workspace:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tasks_file = folder / "tasks.json"
        self.env_file = folder / ".env"
        self.db = folder / "demo.db"
        self.data = folder / "data"
        with sqlite3.connect(self.db) as conn:
            conn.execute("CREATE TABLE sales (id INTEGER, region TEXT, amount REAL)")
            conn.executemany(
                "INSERT INTO sales VALUES (?, ?, ?)",
                [(i, ("north", "south")[i % 2], i * 1.5) for i in range(50)],
            )
        self.env: dict[str, str] = {"DATABASE_URL": f"sqlite:///{self.db}"}
        self.write_env()

    def write_env(self, **extra: str) -> None:
        self.env.update(extra)
        self.env_file.write_text(
            "".join(f"{k}={v}\n" for k, v in self.env.items()), encoding="utf-8"
        )

    def cli(self, *args: str) -> Result:
        result = CliRunner().invoke(
            cli,
            ["--tasks-file", str(self.tasks_file), "--env-file", str(self.env_file), *args],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        return result

    def add(self, name: str, *args: str) -> str:
        """Add a task; returns its id."""
        self.cli("add", "--name", name, "--to", "boss@example.com", "--csv", "--no-xlsx", *args)
        return self.task(name)["id"]

    def document(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.tasks_file.read_text(encoding="utf-8"))
        return data

    def task(self, name: str) -> dict[str, Any]:
        for item in self.document()["tasks"]:
            if item["name"] == name:
                return dict(item)
        raise AssertionError(f"no task {name!r}")

    def edit_json(self, change: Callable[[dict[str, Any]], None]) -> None:
        document = self.document()
        change(document)
        tmp = self.tasks_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(document, indent=2), encoding="utf-8")
        os.replace(tmp, self.tasks_file)

    def runs(self, task_id: str | None = None) -> list[RunRecord]:
        return RunHistory(self.data / "runs.jsonl").runs(task_id)

    def outbox(self) -> list[Path]:
        folder = self.data / "outbox"
        return sorted(folder.glob("*.eml")) if folder.exists() else []

    def start(self, *args: str, **env: str) -> DaemonProcess:
        return DaemonProcess(self, list(args), env)

    def run_once(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(DAEMON), *self.daemon_args(), "--once", *args],
            cwd=self.folder,
            env=self.process_env({}),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def daemon_args(self) -> list[str]:
        return ["--tasks-file", str(self.tasks_file), "--env-file", str(self.env_file)]

    def process_env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SMTP_", "DB_", "NOTIFY_", "WATCHDOG_"))
            and k not in ("DATABASE_URL", "TASKS_FILE", "DATA_DIR", "ENV_FILE")
        }
        env.update(extra)
        return env


class DaemonProcess:
    def __init__(self, space: Workspace, args: list[str], env: dict[str, str]) -> None:
        self.space = space
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, str(DAEMON), *space.daemon_args(), *args],
            cwd=space.folder,
            env=space.process_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def count(self, text: str) -> int:
        with self._lock:
            return sum(text in line for line in self.lines)

    def wait_for(self, text: str, count: int = 1, timeout: float = WAIT) -> None:
        self.wait_until(lambda: self.count(text) >= count, f"{count} x {text!r}", timeout)

    def wait_until(self, check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if self.process.poll() is not None and not check():
                time.sleep(0.2)  # let the reader catch the last lines
                raise AssertionError(
                    f"daemon exited ({self.process.returncode}) before {what}:\n{self.output}"
                )
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}:\n{self.output}")

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            code = self.process.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"daemon did not stop on {signum}:\n{self.output}") from None
        self._reader.join(5)
        return code

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(WAIT)
        self._reader.join(5)
