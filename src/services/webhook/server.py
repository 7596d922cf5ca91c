"""The HTTP server: waitress in a background thread of the daemon.

waitress is a production WSGI server in pure Python: one thread runs its socket
loop, a small pool runs the application, and it answers malformed HTTP itself.
Slow and hostile clients are held to read deadlines and a connection limit that
always leaves room for a new client (:mod:`src.services.webhook.guard`).
:meth:`HttpServer.start` binds at once (so a taken port is an error at start, not a
log line later) and serves in a daemon thread; :meth:`HttpServer.stop` ends the loop
from any thread and waits for it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

from src.core.errors import ConfigError
from src.services.webhook.guard import CONNECTION_LIMIT, guard_server

log = logging.getLogger("db_scheduler.webhook")

#: Requests are small and answered in milliseconds; four threads serve a burst of them.
THREADS = 4
#: How often the socket loop looks at its stop flag when nothing wakes it.
LOOP_TIMEOUT_SECONDS = 1


class HttpServer:
    def __init__(
        self,
        app: Any,
        host: str,
        port: int,
        *,
        trusted_proxy: str | None = None,
        max_body_bytes: int = 64 * 1024,
        threads: int = THREADS,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.trusted_proxy = trusted_proxy
        # waitress refuses bodies past twice the API's cap itself (a plain-text 413);
        # the application answers the ones in between with its JSON 413
        self.max_request_body_size = max_body_bytes * 2
        self.threads = threads
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def bound_port(self) -> int:
        """The port listened on (the free one picked when ``port`` was 0)."""
        if self._server is None:
            raise RuntimeError("the HTTP server is not started")
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.bound_port}"

    def start(self) -> None:
        """Bind and serve in a background thread; ConfigError when the address is taken."""
        options: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "threads": self.threads,
            "connection_limit": CONNECTION_LIMIT,  # the guard's: a new client makes room
            "max_request_body_size": self.max_request_body_size,
            "asyncore_loop_timeout": LOOP_TIMEOUT_SECONDS,
            "ident": "db-scheduler",
            "clear_untrusted_proxy_headers": True,
        }
        if self.trusted_proxy:
            options.update(
                trusted_proxy=self.trusted_proxy,
                trusted_proxy_count=1,
                trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"},
            )
        try:
            self._server = create_server(self.app, **options)
        except OSError as exc:
            raise ConfigError(
                f"HTTP API: cannot listen on {self.host}:{self.port}: {exc.strerror or exc}; "
                "pick another port in HTTP_LISTEN (or --http), or stop what uses this one"
            ) from None
        guard_server(self._server)  # read deadlines and room for /health (guard.py)
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="http-api", daemon=True)
        self._thread.start()
        log.info(
            "HTTP API listening on %s",
            self.url,
            extra={"event": "http", "fields": {"url": self.url}},
        )

    def _serve(self) -> None:
        server = self._server
        socket_map = server._map
        try:
            while not self._stop.is_set() and socket_map:
                wasyncore.loop(timeout=LOOP_TIMEOUT_SECONDS, map=socket_map, count=1)
        except Exception:  # the API dies, the scheduler goes on; say so
            log.exception("HTTP API: the server loop stopped on an error")
        finally:
            server.task_dispatcher.shutdown(timeout=5)
            wasyncore.close_all(socket_map, ignore_all=True)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving: close the socket loop and the worker threads, then return."""
        if self._server is None or self._thread is None:
            return
        self._stop.set()
        with contextlib.suppress(OSError):  # a loop that already ended closed its trigger
            self._server.pull_trigger()  # wakes the loop at once
        self._thread.join(timeout)
        self._thread = None
        log.info("HTTP API stopped", extra={"event": "http", "fields": {}})
