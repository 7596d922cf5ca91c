"""`user` and `token` commands: src/cli/accounts.py (through the CLI, exact output)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner, Result

from src.cli.app import cli
from src.services.auth.accounts import AccountStore


def run(tmp_path: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(
        cli,
        ["--tasks-file", str(tmp_path / "tasks.json"), "--env-file", str(tmp_path / ".env"), *args],
        input=stdin,
    )


def test_users_are_added_with_the_password_asked_twice_or_from_stdin(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("")
    mismatch = run(
        tmp_path,
        "user",
        "add",
        "alice",
        "--role",
        "admin",
        stdin="first password\nsecond password\nfirst password\nfirst password\n",
    )
    assert mismatch.exit_code == 0, mismatch.output
    assert "Error: The two entered values do not match." in mismatch.output
    assert "Added user 'alice' with the role admin" in mismatch.output
    scripted = run(
        tmp_path,
        "user",
        "add",
        "ci",
        "--role",
        "viewer",
        "--password-stdin",
        stdin="a scripted pw\n",
    )
    assert scripted.output == "Added user 'ci' with the role viewer\n"
    short = run(
        tmp_path, "user", "add", "bob", "--role", "viewer", "--password-stdin", stdin="short\n"
    )
    assert short.exit_code == 1 and "use at least 10" in short.output
    listed = run(tmp_path, "user", "list").output.splitlines()
    assert [line.split()[:2] for line in listed] == [["alice", "admin"], ["ci", "viewer"]]
    accounts = tmp_path / "data" / "auth" / "accounts.json"
    assert stat.S_IMODE(accounts.stat().st_mode) == 0o600
    assert "first password" not in accounts.read_text()
    assert AccountStore(accounts).login("alice", "first password") is not None
    assert (
        run(tmp_path, "user", "passwd", "ci", "--password-stdin", stdin="a new passwd\n").exit_code
        == 0
    )
    assert AccountStore(accounts).login("ci", "a new passwd") is not None
    assert run(tmp_path, "user", "remove", "ci").output == "Removed user 'ci'\n"
    gone = run(tmp_path, "user", "remove", "ci")
    assert gone.exit_code == 1 and "Error: no user 'ci'; users: alice" in gone.output


def test_a_token_is_printed_once_and_revoked(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("")
    made = run(tmp_path, "token", "create", "ci-bot", "--role", "operator")
    token = made.stdout.strip()
    assert made.exit_code == 0 and token.startswith("dbs_")
    assert "it is not shown again" in made.stderr
    store = AccountStore(tmp_path / "data" / "auth" / "accounts.json")
    assert store.by_token(token) is not None
    assert token not in run(tmp_path, "token", "list").output
    assert run(tmp_path, "token", "revoke", "ci-bot").output == "Revoked token 'ci-bot'\n"
    assert store.by_token(token) is None
    audit = json.loads(run(tmp_path, "audit", "--json").output)
    assert [e["action"] for e in audit] == ["token.revoke", "token.create"]
    assert token not in json.dumps(audit)
