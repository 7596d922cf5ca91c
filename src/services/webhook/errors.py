"""The HTTP API's errors: raise :class:`ApiError` (or call :func:`fail`) anywhere in a
request; the app answers ``{"error": "...", ...}`` with its status and headers."""

from __future__ import annotations

from typing import Any, NoReturn

#: How long a client waits before asking again when the daemon is busy or stopping.
UNAVAILABLE_RETRY_AFTER = 5


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        self.status = status
        self.message = message
        self.extra = extra
        self.headers: dict[str, str] = {}
        super().__init__(message)


def fail(status: int, message: str, **extra: Any) -> NoReturn:
    raise ApiError(status, message, **extra)


def whole_number(name: str, text: str, low: int, high: int) -> int:
    """``text`` as a whole number from ``low`` to ``high``, read as strictly as the CLI's
    options: ASCII digits only (``str.isdigit`` also takes '²' and '٣', which ``int``
    then refuses), and never a thousand-digit one; otherwise a 400 that says what to give."""
    if (
        not (text.isascii() and text.isdigit())
        or len(text) > len(str(high))
        or not low <= int(text) <= high
    ):
        shown = text if len(text) <= 40 else text[:40] + "..."
        fail(400, f"{name}={shown!r}: give a whole number from {low} to {high}")
    return int(text)
