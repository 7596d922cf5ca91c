"""Who may call: the bearer token, the body signature, and a per-client rate limit."""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

#: Signature headers accepted, first found wins: ours, and GitHub's spelling of the same.
SIGNATURE_HEADERS = ("X-Signature", "X-Hub-Signature-256")
_SIGNATURE_PREFIX = "sha256="


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison (no timing hint of how much of a guess was right)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def sign(body: bytes, secret: str) -> str:
    """The header value a caller sends: ``sha256=<hex HMAC-SHA256 of the raw body>``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return _SIGNATURE_PREFIX + digest


class SignatureError(Exception):
    """The body signature is missing, malformed or wrong; ``malformed`` means 400."""

    def __init__(self, message: str, *, malformed: bool = False) -> None:
        self.malformed = malformed
        super().__init__(message)


def check_signature(header: str | None, body: bytes, secret: str) -> None:
    if not header:
        raise SignatureError(
            "this server requires a signed body: send X-Signature: sha256=<hex HMAC-SHA256 "
            "of the body with WEBHOOK_HMAC_SECRET>"
        )
    value = header.strip()
    digest = value[len(_SIGNATURE_PREFIX) :] if value.startswith(_SIGNATURE_PREFIX) else ""
    if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
        raise SignatureError(
            "X-Signature must be sha256= followed by 64 hex digits", malformed=True
        )
    if not hmac.compare_digest(
        sign(body, secret).encode(), (_SIGNATURE_PREFIX + digest.lower()).encode()
    ):
        raise SignatureError("X-Signature does not match the body")


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per client: ``per_minute`` calls, refilled evenly, burst of the same.

    ``allow(client)`` returns 0 when the call may go ahead, else the seconds to wait
    (for ``Retry-After``). Memory is bounded: full buckets are forgotten when the
    table grows past ``max_clients``.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def allow(self, client: str) -> int:
        if not self.enabled:
            return 0
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(client)
            if bucket is None:
                if len(self._buckets) >= self.max_clients:
                    self._forget_full(now)
                bucket = self._buckets[client] = _Bucket(self.capacity, now)
            else:
                elapsed = max(now - bucket.updated, 0.0)
                bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.rate)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))

    def _forget_full(self, now: float) -> None:
        for client, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.updated) * self.rate >= self.capacity:
                del self._buckets[client]
        if len(self._buckets) >= self.max_clients:  # all busy: drop the oldest half
            oldest = sorted(self._buckets.items(), key=lambda item: item[1].updated)
            for client, _ in oldest[: len(oldest) // 2]:
                del self._buckets[client]
