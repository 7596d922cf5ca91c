"""Roles, hashing, the accounts file and sessions: src/services/auth/roles.py,
src/services/auth/hashing.py, src/services/auth/accounts.py,
src/services/auth/sessions.py."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from src.services.auth.accounts import AccountError, AccountStore
from src.services.auth.hashing import hash_password, token_id_of, verify_password
from src.services.auth.roles import Role
from src.services.auth.sessions import LoginThrottle, SessionStore

CHEAP = 2**10


def test_roles_are_ordered_and_parsed_with_a_helpful_error() -> None:
    assert Role.ADMIN.allows(Role.EDITOR) and Role.EDITOR.allows(Role.OPERATOR)
    assert not Role.VIEWER.allows(Role.OPERATOR) and not Role.OPERATOR.allows(Role.EDITOR)
    assert Role.parse(" Editor ") is Role.EDITOR
    with pytest.raises(ValueError, match="'boss' is not a role; use one of viewer, operator"):
        Role.parse("boss")


def test_passwords_are_scrypt_hashed_with_salt_and_parameters_kept() -> None:
    one, two = hash_password("correct horse", n=CHEAP), hash_password("correct horse", n=CHEAP)
    assert one != two and one.startswith(f"scrypt${CHEAP}$8$1$")
    assert verify_password("correct horse", one) and not verify_password("correct hors", one)
    assert not verify_password("x", "md5$abc") and not verify_password("x", "scrypt$a$b$c$d$e")


def test_the_accounts_file_is_owner_only_hashed_and_tokens_are_shown_once(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "auth" / "accounts.json", password_cost=CHEAP)
    store.add_user("alice", Role.ADMIN, "a long passphrase")
    info, token = store.create_token("ci-bot", Role.OPERATOR)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    text = store.path.read_text()
    assert "a long passphrase" not in text and token not in text
    assert token_id_of(token) == info.id
    principal = store.by_token(token)
    assert principal is not None and (principal.name, principal.role) == ("ci-bot", Role.OPERATOR)
    assert store.by_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.login("alice", "a long passphrase") is not None
    assert store.login("alice", "wrong") is None and store.login("nobody", "x" * 12) is None
    with pytest.raises(AccountError, match="at least 10"):
        store.add_user("bob", Role.VIEWER, "short")
    with pytest.raises(AccountError, match="already exists"):
        store.add_user("alice", Role.VIEWER, "another long one")
    store.revoke_token("ci-bot")
    assert store.by_token(token) is None  # at once: the file is read again when it changes
    store.remove_user("alice")
    assert store.login("alice", "a long passphrase") is None
    assert json.loads(text)["version"] == 1


def test_sessions_expire_end_and_are_never_the_id_offered() -> None:
    now = [0.0]
    sessions = SessionStore(idle_seconds=60, max_seconds=300, clock=lambda: now[0])
    first = sessions.create("alice", Role.EDITOR)
    second = sessions.create("alice", Role.EDITOR)
    assert first.id != second.id and first.csrf != second.csrf and len(first.id) >= 40
    now[0] = 50
    assert sessions.get(first.id) is first
    now[0] = 105  # idle 55 s since the last request: still alive
    assert sessions.get(first.id) is first
    now[0] = 170  # idle 65 s
    assert sessions.get(first.id) is None
    assert sessions.get(second.id) is None  # second idled out too
    third = sessions.create("bob", Role.VIEWER)
    for minute in range(1, 8):
        now[0] = 170 + minute * 50
        assert (sessions.get(third.id) is not None) == (minute * 50 <= 300)
    fourth = sessions.create("carol", Role.VIEWER)
    assert sessions.end_user("carol") == 1 and sessions.get(fourth.id) is None


def test_logins_are_throttled_per_address_and_per_name() -> None:
    now = [0.0]
    throttle = LoginThrottle(per_minute=3, clock=lambda: now[0])
    assert [throttle.wait("10.0.0.1", "alice") for _ in range(3)] == [0, 0, 0]
    assert throttle.wait("10.0.0.1", "bob") > 0  # the address is spent
    assert throttle.wait("10.0.0.2", "alice") > 0  # and so is the name, from anywhere
    assert throttle.wait("10.0.0.3", "carol") == 0
    now[0] = 60
    assert throttle.wait("10.0.0.1", "alice") == 0
