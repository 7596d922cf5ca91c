"""Connections: a task's ``connection`` resolved to a database URL from ``.env``.

What a connection name is, and which variable it means, is
``src/core/connection_names.py``; this module looks the variable up. Passwords live
only in ``.env`` / the environment, and every message shows URLs through
:func:`mask_url`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from src.core.connection_names import ODBC_PASSWORD, check_connection, env_var_for, is_url
from src.core.errors import ConfigError, ValidationError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

EXAMPLE_URL = "postgresql+psycopg2://user:password@host:5432/dbname"


def resolve_connection(name: str, env: Mapping[str, str]) -> str:
    """The SQLAlchemy URL for a task's ``connection`` field.

    Raises ConfigError naming the variable to add when it is not set, and refuses
    a literal URL that carries a password (it would sit in tasks.json in clear).
    """
    try:
        cleaned = check_connection(name, allow_password=False)
    except ValidationError as exc:
        raise ConfigError(str(exc)) from None
    if is_url(cleaned):
        _parse(cleaned, f"connection {mask_url(cleaned)!r}")
        return cleaned
    var = env_var_for(cleaned)
    value = (env.get(var) or "").strip()
    if not value:
        raise ConfigError(
            f"connection {cleaned!r}: {var} is not set in .env or the environment; "
            f"add a line such as {var}={EXAMPLE_URL}"
        )
    _parse(value, f"connection {cleaned!r}: {var}")
    return value


def mask_url(url: str | URL) -> str:
    """The URL with its password (and any ODBC ``PWD=``) replaced by ``***``."""
    # SQLAlchemy is imported on use: `list` and `show` never need it (start-up time).
    from sqlalchemy.engine import URL, make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except ArgumentError:
        return "<not a valid database URL>"
    if "odbc_connect" in parsed.query:
        raw = parsed.query["odbc_connect"]
        values = raw if isinstance(raw, tuple) else (raw,)
        parsed = parsed.update_query_dict(
            {"odbc_connect": [ODBC_PASSWORD.sub(r"\1=***", v) for v in values]}
        )
    return parsed.render_as_string(hide_password=True)


def _parse(value: str, where: str) -> URL:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(value)
    except ArgumentError:
        # The value is not echoed: it may hold a password.
        raise ConfigError(
            f"{where} is not a valid database URL; expected dialect+driver://user:password@host"
            f":port/dbname, e.g. {EXAMPLE_URL}"
        ) from None
