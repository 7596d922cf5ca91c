"""`manage_tasks.py user ...` and `token ...`: who may use the HTTP API, and how much.

Users log in to the pages; tokens are for scripts (``Authorization: Bearer``). Both
live in ``<DATA_DIR>/auth/accounts.json`` (owner-only, hashed: see
src/services/auth/accounts.py); every change is in the audit log.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from src.cli.context import data_dir, env_of
from src.services.audit import Actor
from src.services.auth.accounts import AccountError, AccountStore, accounts_path
from src.services.auth.roles import ROLE_HELP, Role
from src.services.cluster.stores import open_audit_log

_ROLES = click.Choice([role.value for role in Role])
_ROLE_HELP = "; ".join(f"{role.value}: {text}" for role, text in ROLE_HELP.items())


def _store() -> AccountStore:
    return AccountStore(accounts_path(data_dir()))


def _audit(action: str, **details: Any) -> None:
    open_audit_log(env_of(), data_dir()).record(Actor.os_user(), action, **details)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise click.UsageError("--password-stdin: nothing on standard input")
        return line.rstrip("\r\n")
    text: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return text


_stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts).",
)


@click.group()
def user() -> None:
    """People who log in to the web pages (and their role).

    \b
    Examples:
      manage_tasks.py user add alice --role admin
      manage_tasks.py user list
    """


@user.command("add")
@click.argument("name")
@click.option("--role", type=_ROLES, required=True, help=_ROLE_HELP)
@_stdin_option
def user_add(name: str, role: str, password_stdin: bool) -> None:
    """Add a user; asks for the password twice (at least 10 characters).

    \b
    Examples:
      manage_tasks.py user add alice --role admin
      printf '%s\\n' "$PW" | manage_tasks.py user add ci --role viewer --password-stdin
    """
    try:
        added = _store().add_user(name, Role(role), _password(password_stdin))
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    _audit("user.add", user=added.name, role=added.role.value)
    click.echo(f"Added user {added.name!r} with the role {added.role}")


@user.command("list")
def user_list() -> None:
    """List the users and their roles."""
    users = _store().users()
    if not users:
        click.echo("No users. Add one with `manage_tasks.py user add NAME --role admin`.")
    for item in users:
        click.echo(f"{item.name:<24} {item.role.value:<9} added {item.created_at}")


@user.command("passwd")
@click.argument("name")
@_stdin_option
def user_passwd(name: str, password_stdin: bool) -> None:
    """Set a user's password. Sessions already open stay until they expire (30 min
    idle, 12 h at most) or the daemon restarts: the password is checked at login."""
    try:
        _store().set_password(name, _password(password_stdin))
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    _audit("user.passwd", user=name)
    click.echo(f"Changed the password of {name!r}")


@user.command("remove")
@click.argument("name")
def user_remove(name: str) -> None:
    """Remove a user (their sessions stop working at once)."""
    try:
        _store().remove_user(name)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    _audit("user.remove", user=name)
    click.echo(f"Removed user {name!r}")


@click.group()
def token() -> None:
    """API tokens for scripts: `Authorization: Bearer <token>`.

    \b
    Examples:
      manage_tasks.py token create ci-bot --role operator
      manage_tasks.py token list
      manage_tasks.py token revoke ci-bot
    """


@token.command("create")
@click.argument("name")
@click.option("--role", type=_ROLES, required=True, help=_ROLE_HELP)
def token_create(name: str, role: str) -> None:
    """Make a token and print it, once: it is stored hashed and cannot be shown again."""
    try:
        info, secret = _store().create_token(name, Role(role))
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    _audit("token.create", token=info.name, role=info.role.value)
    click.echo(secret)
    click.echo(
        f"Token {info.name!r} ({info.role}) created. Keep it now: it is not shown again.",
        err=True,
    )


@token.command("list")
def token_list() -> None:
    """List the tokens (names and roles; never the tokens)."""
    tokens = _store().tokens()
    if not tokens:
        click.echo("No tokens. Make one with `manage_tasks.py token create NAME --role viewer`.")
    for item in tokens:
        click.echo(f"{item.name:<24} {item.role.value:<9} created {item.created_at}")


@token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke a token: it stops working at once."""
    try:
        info = _store().revoke_token(name)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    _audit("token.revoke", token=info.name)
    click.echo(f"Revoked token {info.name!r}")
