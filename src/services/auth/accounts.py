"""Users and API tokens: one JSON file, readable only by its owner, written atomically.

``<DATA_DIR>/auth/accounts.json`` holds, per user, the role and the scrypt hash of the
password; per token, its name, role and SHA-256 digest (the token itself is shown once,
when made, and never stored). Every change is read-modify-write under a side lock
file, so two ``manage_tasks.py`` commands cannot lose each other's change. The daemon
reads the file again whenever it changed (a user added from the CLI can log in at once;
a revoked token stops working at once).
"""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from src.core.clock import now as clock_now
from src.core.clock import to_utc_iso
from src.core.errors import ConfigError, SchedulerError
from src.services.atomic import atomic_write_bytes
from src.services.auth.hashing import (
    hash_password,
    new_token,
    token_digest,
    token_id_of,
    token_matches,
    verify_password,
)
from src.services.auth.roles import Principal, Role
from src.services.permissions import make_private_dir

ACCOUNTS_VERSION = 1
#: Short enough to type, long enough that a login form cannot be brute-forced past the
#: rate limit; NIST SP 800-63B asks for at least 8.
MIN_PASSWORD_LENGTH = 10
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
LOCK_SECONDS = 10.0


class AccountError(SchedulerError):
    """A user or token command that cannot be done (unknown name, bad password, ...)."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    created_at: str


@dataclass(frozen=True)
class TokenInfo:
    id: str
    name: str
    role: Role
    created_at: str


def check_name(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise AccountError(
            f"{what} {name!r} is not a valid name: use 1-64 letters, digits, '.', '_', '@' "
            "or '-', starting with a letter or digit"
        )
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"the password is {len(password)} characters long; use at least "
            f"{MIN_PASSWORD_LENGTH} (a few words are easier to remember than symbols)"
        )


class AccountStore:
    def __init__(self, path: Path, *, password_cost: int | None = None) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        #: scrypt's N for new passwords; None: hashing.SCRYPT_N (tests pass a cheap one)
        self.password_cost = password_cost
        self._cache: tuple[tuple[int, int, int], dict[str, Any]] | None = None
        self._cache_lock = threading.Lock()

    # -- reading --------------------------------------------------------------------------

    def _document(self) -> dict[str, Any]:
        """The file's contents, read again only when the file changed."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return {"version": ACCOUNTS_VERSION, "users": {}, "tokens": {}}
        key = (info.st_ino, info.st_mtime_ns, info.st_size)
        with self._cache_lock:
            if self._cache is not None and self._cache[0] == key:
                return self._cache[1]
            try:
                document = json.loads(self.path.read_bytes())
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"{self.path} cannot be read ({exc}); restore it from a backup or remove "
                    "it and add the users again with `manage_tasks.py user add`"
                ) from None
            if not isinstance(document, dict):
                raise ConfigError(f"{self.path}: expected an object of users and tokens")
            document.setdefault("users", {})
            document.setdefault("tokens", {})
            self._cache = (key, document)
            return document

    def users(self) -> list[User]:
        users = self._document()["users"]
        return [
            User(name, Role(item["role"]), item.get("created_at", ""))
            for name, item in sorted(users.items())
        ]

    def tokens(self) -> list[TokenInfo]:
        tokens = self._document()["tokens"]
        return [
            TokenInfo(token_id, item["name"], Role(item["role"]), item.get("created_at", ""))
            for token_id, item in sorted(tokens.items(), key=lambda kv: kv[1]["name"])
        ]

    def login(self, name: str, password: str) -> Principal | None:
        """The user, when ``password`` is theirs; None otherwise (unknown name or wrong
        password alike, and in the same time: an unknown name is hashed against a dummy)."""
        item = self._document()["users"].get(name)
        stored = item["password"] if item else _dummy_hash(self.password_cost)
        if verify_password(password, stored) and item is not None:
            return Principal(name, Role(item["role"]), "user")
        return None

    def user_role(self, name: str) -> Role | None:
        item = self._document()["users"].get(name)
        return Role(item["role"]) if item else None

    def by_token(self, token: str) -> Principal | None:
        token_id = token_id_of(token)
        if token_id is None:
            return None
        item = self._document()["tokens"].get(token_id)
        if item is None or not token_matches(token, item["digest"]):
            return None
        return Principal(item["name"], Role(item["role"]), "token")

    # -- changing -------------------------------------------------------------------------

    @contextmanager
    def _change(self) -> Iterator[dict[str, Any]]:
        make_private_dir(self.path.parent)
        lock = FileLock(str(self.lock_path), timeout=LOCK_SECONDS, mode=0o600)
        try:
            lock.acquire()
        except Timeout:
            raise AccountError(
                f"{self.path} is locked by another command (lock file {self.lock_path}); try again"
            ) from None
        try:
            with self._cache_lock:
                self._cache = None
            document = json.loads(json.dumps(self._document()))  # a copy to change
            yield document
            document["version"] = ACCOUNTS_VERSION
            data = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")
            atomic_write_bytes(self.path, data, mode=0o600)
            os.chmod(self.path, 0o600)  # readable by its owner only, whatever it was
        finally:
            lock.release()

    def add_user(self, name: str, role: Role, password: str, now: datetime | None = None) -> User:
        check_name(name, "user")
        check_password(password)
        hashed = self._hash(password)
        with self._change() as document:
            if name in document["users"]:
                raise AccountError(
                    f"user {name!r} already exists; change the password with "
                    f"`manage_tasks.py user passwd {name}`"
                )
            at = to_utc_iso(now or clock_now())
            document["users"][name] = {"role": role.value, "password": hashed, "created_at": at}
        return User(name, role, at)

    def set_password(self, name: str, password: str) -> None:
        check_password(password)
        hashed = self._hash(password)
        with self._change() as document:
            self._user(document, name)["password"] = hashed

    def set_role(self, name: str, role: Role) -> None:
        with self._change() as document:
            self._user(document, name)["role"] = role.value

    def remove_user(self, name: str) -> None:
        with self._change() as document:
            self._user(document, name)
            del document["users"][name]

    def create_token(
        self, name: str, role: Role, now: datetime | None = None
    ) -> tuple[TokenInfo, str]:
        """A new token: its record and the token itself (shown once, never stored)."""
        check_name(name, "token")
        with self._change() as document:
            if any(item["name"] == name for item in document["tokens"].values()):
                raise AccountError(
                    f"a token named {name!r} already exists; revoke it first or pick another name"
                )
            token_id = secrets.token_hex(6)
            token = new_token(token_id)
            at = to_utc_iso(now or clock_now())
            document["tokens"][token_id] = {
                "name": name,
                "role": role.value,
                "digest": token_digest(token),
                "created_at": at,
            }
        return TokenInfo(token_id, name, role, at), token

    def revoke_token(self, name: str) -> TokenInfo:
        with self._change() as document:
            for token_id, item in document["tokens"].items():
                if item["name"] == name or token_id == name:
                    del document["tokens"][token_id]
                    return TokenInfo(token_id, item["name"], Role(item["role"]), "")
            known = ", ".join(sorted(i["name"] for i in document["tokens"].values())) or "none"
            raise AccountError(f"no token named {name!r}; tokens: {known}")

    def _hash(self, password: str) -> str:
        if self.password_cost is None:
            return hash_password(password)
        return hash_password(password, n=self.password_cost)

    @staticmethod
    def _user(document: dict[str, Any], name: str) -> dict[str, Any]:
        item = document["users"].get(name)
        if item is None:
            known = ", ".join(sorted(document["users"])) or "none"
            raise AccountError(f"no user {name!r}; users: {known}")
        assert isinstance(item, dict)
        return item


def accounts_path(data_dir: Path) -> Path:
    return data_dir / "auth" / "accounts.json"


@functools.cache
def _dummy_hash(cost: int | None) -> str:
    """A hash of a random password at the cost new passwords get: checking a login of an
    unknown user takes as long as a known one's (no telling which names exist)."""
    secret = secrets.token_urlsafe(16)
    return hash_password(secret) if cost is None else hash_password(secret, n=cost)
