"""systemd: the notify protocol (src/services/scheduler/notify.py) and the units in deploy/."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from src.services.scheduler.notify import Notifier
from tests.servers import ROOT


def test_notifier_sends_to_notify_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(5)
        notifier = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "20000000"})
        assert notifier.watchdog_seconds == 20.0
        assert notifier.ready("running 3 job(s)")
        message = server.recv(4096).decode()
        assert message.splitlines()[:2] == ["READY=1", "STATUS=running 3 job(s)"]
        assert notifier.watchdog()
        assert server.recv(4096) == b"WATCHDOG=1"
    assert not Notifier({}).ready("x")  # no NOTIFY_SOCKET: nothing to do


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip(
            "systemd-analyze is not installed (not a service: the systemd package is absent "
            "on this machine, so the unit files cannot be checked here)"
        )
    units = ROOT / "deploy" / "systemd"
    # verify needs the ExecStart binary to exist: point it at this venv's python
    for name in ("db-scheduler.service", "db-scheduler-once.service", "db-scheduler-once.timer"):
        text = (units / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("/opt/db-scheduler", str(ROOT)), "utf-8")
    result = subprocess.run(
        [
            analyze,
            "verify",
            *(str(tmp_path / n) for n in sorted(p.name for p in tmp_path.iterdir())),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    ours = [line for line in result.stderr.splitlines() if "db-scheduler" in line]
    assert result.returncode == 0 and not ours, result.stderr
