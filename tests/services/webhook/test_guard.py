"""Slow and hostile clients (src/services/webhook/guard.py), on a real waitress server.

The whole daemon under 150 trickling clients is in
tests/campaigns/test_hostile_input.py::test_slowloris_leaves_health_answered_and_slow_clients_closed.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from src.services.webhook import HttpServer, guard


def closed(conn: socket.socket, timeout: float) -> bytes | None:
    """What the server sent before closing ``conn`` (None: still open after ``timeout``)."""
    conn.settimeout(timeout)
    data = b""
    try:
        while chunk := conn.recv(4096):
            data += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return data


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[HttpServer, threading.Event]]:
    monkeypatch.setattr(guard, "HEADER_SECONDS", 1.0)
    monkeypatch.setattr(guard, "REQUEST_SECONDS", 2.0)
    monkeypatch.setattr(guard, "CONNECTION_LIMIT", 8)
    release = threading.Event()

    def app(environ: Any, start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/slow":
            release.wait(30)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = HttpServer(app, "127.0.0.1", 0, threads=2)
    server.start()
    yield server, release
    release.set()
    server.stop()


def connect(server: HttpServer, first: bytes) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", server.bound_port), timeout=10)
    conn.sendall(first)
    return conn


def test_headers_and_body_have_a_deadline_however_they_trickle(served: Any) -> None:
    server, _ = served
    headers = connect(server, b"GET / HTTP/1.1\r\nHost: x\r\n")
    body = connect(server, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    idle = connect(server, b"")
    started = time.monotonic()
    for _ in range(4):  # a byte every 0.3 s: never idle, never done
        time.sleep(0.3)
        headers.send(b"X")
        body.send(b"x")
    assert closed(headers, 3) == b"" and closed(idle, 3) == b""
    assert 1.0 <= time.monotonic() - started < 3.5
    assert closed(body, 3) == b""  # the body had 2 s in all
    with connect(server, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") as fine:
        assert (closed(fine, 5) or b"").startswith(b"HTTP/1.1 200")


def test_at_the_limit_the_slowest_sender_makes_room_else_503(served: Any) -> None:
    server, release = served
    slow = [connect(server, b"GET / HTTP/1.1\r\n") for _ in range(guard.CONNECTION_LIMIT)]
    time.sleep(0.2)
    with connect(server, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") as fine:
        assert (closed(fine, 5) or b"").startswith(b"HTTP/1.1 200")
    assert closed(slow[0], 5) == b""  # the oldest sender made room
    for conn in slow:
        conn.close()
    time.sleep(0.3)
    busy = [
        connect(server, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(guard.CONNECTION_LIMIT)
    ]
    time.sleep(0.5)  # all are being answered (2 threads, the rest queued)
    with connect(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") as extra:
        refused = closed(extra, 5) or b""
    assert refused.startswith(b"HTTP/1.1 503") and b"Retry-After: 5" in refused
    release.set()
    for conn in busy:
        conn.settimeout(10)
        assert conn.recv(100).startswith(b"HTTP/1.1 200")  # answered once released
        conn.close()
