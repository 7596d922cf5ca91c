"""The child process of one run: ``python -m src.services.scheduler.worker PAYLOAD``.

The daemon writes the payload (task, occurrence, files) as JSON, starts this
module in a new session (its own process group) and reads the result file it
writes. Only here are the query, export and mail libraries imported, so the
daemon's memory stays flat whatever a run does.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from src.core.clock import parse_instant
from src.core.errors import NotRecorded
from src.core.task import Task
from src.core.vocabulary import Trigger
from src.services.atomic import atomic_write_bytes

#: sysexits EX_TEMPFAIL: the run's start could not be recorded, nothing was done.
EXIT_NOT_RECORDED = 75
#: sysexits EX_IOERR: a record or the result file of the run could not be written.
EXIT_NO_RESULT_FILE = 74
#: prctl(2) option: the signal the kernel sends this process when its parent dies.
_PR_SET_PDEATHSIG = 1


class Terminated(BaseException):
    """SIGTERM from the daemon (timeout or shutdown): unwind so partial files are removed."""


def _die_with_parent(parent_pid: int) -> None:
    """A run must not outlive its daemon: after ``kill -9`` of the daemon the restarted
    one re-runs what was cut off, so a survivor could send a report twice."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent-pid check below still runs
        pass
    if os.getppid() != parent_pid:  # the daemon died before prctl took effect
        os._exit(70)


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def _setup_logging(payload: dict[str, Any]) -> None:
    from src.services.scheduler.eventlog import setup_logging

    setup_logging(str(payload.get("log_level", "INFO")), str(payload.get("log_format", "text")))


def run(payload: dict[str, Any]) -> dict[str, Any]:
    from src.services.cluster.stores import open_run_log, open_task_store
    from src.services.envparse import load_env
    from src.services.query import QueryService
    from src.services.runner import Runner
    from src.services.settings import Settings

    tasks_file = Path(payload["tasks_file"])
    env_file = payload.get("env_file")
    env = load_env(Path(env_file) if env_file else None)
    default_tz = str(payload.get("default_timezone") or "UTC")
    store = open_task_store(tasks_file, env)  # tasks.json, or the cluster's
    settings = Settings.from_env(env, base_dir=tasks_file.resolve().parent)
    task = Task.from_dict(payload["task"], default_timezone=default_tz)
    query = QueryService(env)
    try:
        log = open_run_log(settings, env)
        outcome = Runner(store, settings, query, env=env, log=log).run(
            task,
            trigger=Trigger(str(payload["trigger"])),
            scheduled_for=parse_instant(str(payload["scheduled_for"])),
            attempt=int(payload["attempt"]),
            run_id=str(payload["run_id"]),
        )
    finally:
        query.close()
    error = outcome.error
    return {
        "status": outcome.status,
        "rows": outcome.rows,
        "duration": round(outcome.duration, 3),
        "emailed": outcome.delivery is not None,
        "files": len(outcome.files),
        "error": (
            {"type": error.kind, "message": str(error), "permanent": error.permanent}
            if error
            else None
        ),
    }


def main(argv: list[str]) -> int:
    payload_path = Path(argv[1])
    payload: dict[str, Any] = json.loads(payload_path.read_text(encoding="utf-8"))
    _die_with_parent(int(payload["parent_pid"]))
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the daemon, which decides
    _setup_logging(payload)
    from src.services.retention import GATE

    if isinstance(payload.get("clock_reference"), float):
        GATE.adopt(payload["clock_reference"])
    if payload.get("retention_hold"):
        GATE.hold(str(payload["retention_hold"]))
    try:
        result = run(payload)
    except NotRecorded as exc:  # nothing was done: the daemon holds the occurrence
        logging.getLogger("db_scheduler.worker").error("run %s: %s", payload["run_id"], exc)
        return EXIT_NOT_RECORDED
    except OSError as exc:  # a later record did not fit (a full disk): the daemon ends it
        logging.getLogger("db_scheduler.worker").error(
            "run %s: a record of the run could not be written (%s); the scheduler records "
            "how it ended",
            payload["run_id"],
            exc.strerror or exc,
        )
        return EXIT_NO_RESULT_FILE
    data = json.dumps(result, default=str).encode("utf-8")
    try:
        atomic_write_bytes(Path(payload["result_path"]), data, mode=0o600)
    except OSError as exc:  # the history has the run's end: the daemon reads it there
        logging.getLogger("db_scheduler.worker").error(
            "run %s: the result file could not be written (%s); the history has the run",
            payload["run_id"],
            exc.strerror or exc,
        )
        return EXIT_NO_RESULT_FILE
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Terminated:
        sys.exit(128 + signal.SIGTERM)
