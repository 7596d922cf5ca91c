"""Login sessions, held by the server: a cookie carries only a random id.

* A new id is made at every login (an id planted before login is never promoted:
  no session fixation); logout deletes the session here, so a copied cookie is dead.
* A session ends after ``idle_seconds`` without a request, and ``max_seconds`` after
  login whatever happens; a daemon restart ends them all (they are in memory only).
* Each session has a CSRF token, which every state-changing request made with the
  cookie must echo (header ``X-CSRF-Token`` or form field ``csrf_token``).
* Logins are throttled per client address and per user name (:class:`LoginThrottle`).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from src.services.auth.roles import Role
from src.services.webhook.security import RateLimiter

#: Half an hour without a request ends a session (OWASP: 15-30 min for most apps).
IDLE_SECONDS = 30 * 60
#: A working day at most, however active: a stolen cookie does not live for ever.
MAX_SECONDS = 12 * 3600
#: Five tries a minute per address and per name: a person who mistypes is not held up,
#: a guesser gets 7,200 tries a day, hopeless against a 10-character password.
LOGINS_PER_MINUTE = 5
COOKIE_NAME = "dbs_session"
LOGIN_CSRF_COOKIE = "dbs_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


@dataclass
class Session:
    id: str
    user: str
    role: Role
    csrf: str
    created: float
    seen: float


class SessionStore:
    def __init__(
        self,
        *,
        idle_seconds: float = IDLE_SECONDS,
        max_seconds: float = MAX_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, user: str, role: Role) -> Session:
        """A new session with a new random id (never one the client offered)."""
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), user, role, new_csrf_token(), now, now)
        with self._lock:
            self._forget_expired(now)
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> Session | None:
        now = self.clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[session_id]
                return None
            session.seen = now
            return session

    def end(self, session_id: str) -> bool:
        with self._lock:
            return self._sessions.pop(session_id, None) is not None

    def end_user(self, user: str) -> int:
        """End every session of ``user`` (removed, or a new password)."""
        with self._lock:
            ids = [sid for sid, s in self._sessions.items() if s.user == user]
            for sid in ids:
                del self._sessions[sid]
            return len(ids)

    def __len__(self) -> int:
        return len(self._sessions)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.seen > self.idle_seconds or now - session.created > self.max_seconds

    def _forget_expired(self, now: float) -> None:
        for sid in [sid for sid, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[sid]


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


class LoginThrottle:
    """Login attempts per client address and per user name (each its own bucket)."""

    def __init__(
        self, per_minute: float = LOGINS_PER_MINUTE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._by_address = RateLimiter(per_minute, clock=clock)
        self._by_name = RateLimiter(per_minute, clock=clock)

    def wait(self, address: str, name: str) -> int:
        """0 when this attempt may go ahead, else the seconds to wait."""
        return max(self._by_address.allow(address), self._by_name.allow(name.casefold()))
