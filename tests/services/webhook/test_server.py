"""The HTTP server (src/services/webhook/server.py): start and stop."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from src.core.errors import ConfigError
from src.services.webhook import HttpServer

# --- the server -------------------------------------------------------------------------------


def test_server_start_on_a_taken_port_is_a_config_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HttpServer(lambda env, start: [], "127.0.0.1", port)
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}: .*in use"):
            server.start()


def test_server_stops_and_frees_its_port() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = HttpServer(app, "127.0.0.1", 0)
    server.start()
    port = server.bound_port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert conn.recv(100).startswith(b"HTTP/1.0 200")
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
    again = HttpServer(app, "127.0.0.1", port)  # the same port can be bound again
    again.start()
    again.stop()
