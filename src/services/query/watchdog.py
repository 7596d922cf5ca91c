"""The client side of a query's time limit: cancel the statement when it runs too long.

A backstop to the server's own statement timeout (``backends.py``), and the only
limit where a server has none (SQLite) or where its limit is per call (a
PostgreSQL named cursor's ``statement_timeout`` applies to each FETCH).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any


class Watchdog:
    """Client-side backstop: calls ``cancel`` if a guarded call outlives ``seconds``.

    For a streamed result, :meth:`start` sets one deadline for the whole of it (the
    statement and every fetch after it): a server's statement timeout applies to
    each FETCH of a PostgreSQL named cursor on its own, so rows that each come fast
    could otherwise run for ever. :attr:`expired` is then checked before each fetch.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.cancel: Any = None
        self.fired = False
        self._deadline: float | None = None
        self._timer: threading.Timer | None = None

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        if self.seconds is None or self.cancel is None or self._deadline is not None:
            yield  # no limit, or the whole-result deadline already covers this call
            return
        timer = threading.Timer(self.seconds, self.fire)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def start(self) -> None:
        """One deadline, ``seconds`` from now, for everything until :meth:`stop`."""
        if self.seconds is None or self.cancel is None:
            return
        self._deadline = time.monotonic() + self.seconds
        self._timer = threading.Timer(self.seconds, self.fire)
        self._timer.daemon = True
        self._timer.start()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @property
    def expired(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def fire(self) -> None:
        if self.fired:
            return
        self.fired = True
        self.cancel()


class DeadlinePassed(Exception):
    """The whole-result deadline passed between two fetches (classified as a timeout)."""
