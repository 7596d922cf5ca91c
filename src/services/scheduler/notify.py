"""systemd's notify protocol (sd_notify): READY, STOPPING and WATCHDOG (with a STATUS line).

A datagram to the socket named by ``NOTIFY_SOCKET`` (set by systemd for
``Type=notify`` units); a name starting with ``@`` is in the abstract namespace.
Without ``NOTIFY_SOCKET`` every call does nothing, so the daemon runs the same
under systemd, in a terminal and in tests.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET") or ""
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = (env.get("WATCHDOG_USEC") or "").strip()
        pid = (env.get("WATCHDOG_PID") or "").strip()
        self.watchdog_seconds: float | None = None
        if (
            usec.isascii()
            and usec.isdigit()
            and int(usec) > 0
            and (not pid or pid == str(os.getpid()))
        ):
            self.watchdog_seconds = int(usec) / 1_000_000

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *lines: str) -> bool:
        """Send ``KEY=value`` lines; False when there is no socket or it refused."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.settimeout(1.0)  # a stuck systemd must not hang the daemon
                sock.connect(self.address)
                sock.sendall("\n".join(lines).encode("utf-8"))
        except OSError:
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def stopping(self, status: str) -> bool:
        return self.send("STOPPING=1", f"STATUS={status}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")
