"""Slow and hostile clients: per-connection read deadlines and a connection limit.

waitress closes a connection only after ``channel_timeout`` seconds *without a byte*,
and stops accepting at its connection limit, so a few hundred clients that trickle a
byte now and then (slowloris) hold every slot and the API, ``/health`` included,
goes unanswered. Here, instead:

* a connection has :data:`HEADER_SECONDS` from its start (or from the end of its last
  answer, on keep-alive) to send a request's headers, and :data:`REQUEST_SECONDS` for
  the whole request with its body, however it trickles; past that it is closed;
* at :data:`CONNECTION_LIMIT` open connections a new one still gets in: the oldest
  connection still *sending* its request makes room (a real client sends its
  request in milliseconds, so the one that has sent least for longest is the
  attacker). Only when every connection is being answered is the new one refused,
  at once, with a ``503`` and ``Retry-After``.

So ``/health`` answers within a round of the socket loop whatever a few slow clients
do. The rules apply to the socket loop's own objects: waitress's server and channel
classes, extended (:func:`guard_server`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer

log = logging.getLogger("db_scheduler.webhook")

#: A request's headers are a few hundred bytes; 10 s is ages for any real client.
HEADER_SECONDS = 10.0
#: The whole request, body included (at most twice WEBHOOK_MAX_BODY_BYTES).
REQUEST_SECONDS = 30.0
#: Open connections; a cron service or monitor uses one at a time.
CONNECTION_LIMIT = 64
#: How often deadlines are looked at (the socket loop wakes at least this often).
CHECK_SECONDS = 0.5

_REFUSED_BODY = b'{"error": "too many connections are open; try again in 5 s"}\n'
REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Retry-After: 5\r\nConnection: close\r\n"
    + f"Content-Length: {len(_REFUSED_BODY)}\r\n\r\n".encode("ascii")
    + _REFUSED_BODY
)


class GuardedChannel(HTTPChannel):
    """A waitress connection that knows since when it has been sending its request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.ready_since = time.monotonic()
        super().__init__(*args, **kwargs)

    def service(self) -> None:  # a worker thread: the answer is written; the clock restarts
        try:
            super().service()
        finally:
            self.ready_since = time.monotonic()

    @property
    def being_answered(self) -> bool:
        return bool(self.requests)

    def overdue(self, now: float) -> bool:
        """Past its deadline while still sending (never while its answer is being made)."""
        if self.being_answered or self.will_close:
            return False
        request = self.request
        limit = (
            REQUEST_SECONDS
            if request is not None and request.headers_finished
            else (HEADER_SECONDS)
        )
        return now - self.ready_since > limit


class _Guard:
    """Mixed into waitress's server class of the listening socket (see guard_server)."""

    active_channels: dict[int, Any]
    accepting: bool
    closed_slow = 0
    refused = 0
    next_check = 0.0

    def readable(self) -> bool:
        moment = time.monotonic()
        if moment >= self.next_check:
            self.next_check = moment + CHECK_SECONDS
            self.enforce(moment)
        # never stop accepting (waitress would at its limit): handle_accept makes room
        return self.accepting

    def handle_accept(self) -> None:
        if len(self.active_channels) >= CONNECTION_LIMIT and not self._make_room():
            self._refuse()
            return
        super().handle_accept()  # type: ignore[misc]

    def enforce(self, moment: float) -> None:
        """Close the connections past their deadline; say how many, once a round."""
        slow = [c for c in list(self.active_channels.values()) if c.overdue(moment)]
        for channel in slow:
            channel.will_close = True  # the loop closes it in this round
        if slow or self.refused:
            log.warning(
                "HTTP API: closed %d connection(s) that sent no complete request in time "
                "(%g s for headers, %g s in all), refused %d over the limit of %d",
                len(slow),
                HEADER_SECONDS,
                REQUEST_SECONDS,
                self.refused,
                CONNECTION_LIMIT,
                extra={"event": "http", "fields": {"closed": len(slow), "refused": self.refused}},
            )
            self.closed_slow += len(slow)
            self.refused = 0

    def _make_room(self) -> bool:
        waiting = [
            c for c in self.active_channels.values() if not c.being_answered and not c.will_close
        ]
        if not waiting:
            return False
        oldest = min(waiting, key=lambda c: c.ready_since)
        oldest.handle_close()
        self.closed_slow += 1
        return True

    def _refuse(self) -> None:
        try:
            accepted = self.accept()  # type: ignore[attr-defined]
        except OSError:
            return
        if accepted is None:
            return
        conn, _ = accepted
        try:
            conn.setblocking(False)
            conn.send(REFUSED)
        except OSError:
            pass
        finally:
            conn.close()
        self.refused += 1


_GUARDED: dict[type, type] = {}


def guard_server(server: Any) -> None:
    """Give the listening sockets of a waitress server (from ``create_server``) the
    guard's rules: their class becomes a subclass with :class:`_Guard` mixed in, and
    their channels :class:`GuardedChannel`."""
    for listener in list(server._map.values()):
        if not isinstance(listener, BaseWSGIServer):
            continue
        base = type(listener)
        guarded = _GUARDED.get(base)
        if guarded is None:
            guarded = _GUARDED[base] = type(f"Guarded{base.__name__}", (_Guard, base), {})
        listener.__class__ = guarded
        listener.channel_class = GuardedChannel
