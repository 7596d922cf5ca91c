"""What the benchmarks share: where the test services are (the file
scripts/setup-services.sh writes, or a BENCH_* variable), and how a daemon is started
with its log in JSON lines for the benchmark to read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
# The test database made by scripts/setup-services.sh (role dbsched).
DEFAULT_DSN = "postgresql://dbsched:dbsched@127.0.0.1:5432/dbsched_test"


def test_service(key: str, override: str) -> str | None:
    """``override`` from the environment, else ``key`` from .test-services.env."""
    if os.environ.get(override):
        return os.environ[override]
    env_file = ROOT / ".test-services.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            if line.startswith(f"{key}="):
                return line.partition("=")[2].strip()
    return None


def default_dsn() -> str:
    """BENCH_DSN, else TEST_PG_URL (as a libpq URL), else the dbsched default."""
    url = test_service("TEST_PG_URL", "BENCH_DSN") or DEFAULT_DSN
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)


def mariadb_url() -> str | None:
    """BENCH_MARIADB_URL, else TEST_MARIADB_URL, if set."""
    return test_service("TEST_MARIADB_URL", "BENCH_MARIADB_URL")


def daemon_command(folder: Path) -> list[str]:
    """``scheduler_daemon.py`` on ``folder``'s tasks.json and .env, logging JSON lines."""
    return [
        PY,
        str(ROOT / "scheduler_daemon.py"),
        "--tasks-file",
        str(folder / "tasks.json"),
        "--env-file",
        str(folder / ".env"),
        "--log-format",
        "json",
    ]


def start_daemon(
    folder: Path, env: Mapping[str, str], on_event: Callable[[dict[str, Any]], None]
) -> subprocess.Popen[str]:
    """Start :func:`daemon_command` on ``folder``; a thread hands each JSON log line, as a
    dict, to ``on_event`` (lines that are not JSON are skipped)."""
    process = subprocess.Popen(
        daemon_command(folder),
        cwd=folder,
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            on_event(item)

    threading.Thread(target=read, daemon=True).start()
    return process
