"""Connection settings from ``.env`` and the environment.

A task names its database by a connection name, never by a URL with a password:

* ``DATABASE_URL`` - the default connection;
* ``DB_SALES_URL`` - a named connection, also written ``sales`` for short;
* a literal URL without a password (``sqlite:///demo.db``) is accepted as is.

Passwords live only in ``.env`` / the environment, and every message shows URLs
through :func:`mask_url`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from dotenv import dotenv_values

from src.core.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

DEFAULT_CONNECTION = "DATABASE_URL"
EXAMPLE_URL = "postgresql+psycopg2://user:password@host:5432/dbname"

_ENV_NAME = re.compile(r"^(DATABASE_URL|DB_[A-Z0-9_]+_URL)$")
_SHORT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Password fields inside an ODBC connection string (odbc_connect=...).
_ODBC_PASSWORD = re.compile(r"(?i)\b(PWD|PASSWORD)\s*=\s*(\{[^}]*\}|[^;]*)")


def load_env(dotenv_path: Path | None = None) -> dict[str, str]:
    """Settings: the ``.env`` file's values, overridden by the real environment.

    This is python-dotenv's own convention (``load_dotenv(override=False)``): a
    variable set in the environment (systemd ``Environment=``, a shell ``export``)
    wins over the same name in ``.env``. ``dotenv_path=None`` or a missing file
    means the environment alone. The process environment is not modified.
    """
    values: dict[str, str] = {}
    if dotenv_path is not None and dotenv_path.is_file():
        values.update(
            {k: v for k, v in dotenv_values(dotenv_path, encoding="utf-8").items() if v is not None}
        )
    values.update(os.environ)
    return values


def env_var_for(name: str) -> str:
    """The environment variable a connection name refers to (``sales`` -> ``DB_SALES_URL``)."""
    cleaned = name.strip()
    if _ENV_NAME.match(cleaned):
        return cleaned
    if _SHORT_NAME.match(cleaned):
        return f"DB_{cleaned.upper()}_URL"
    raise ConfigError(
        f"connection {name!r}: not a connection name; use DATABASE_URL, a name such as "
        "DB_SALES_URL or its short form sales (letters, digits, underscores), "
        "or a URL without a password such as sqlite:///demo.db"
    )


def resolve_connection(name: str, env: Mapping[str, str]) -> str:
    """The SQLAlchemy URL for a task's ``connection`` field.

    Raises ConfigError naming the variable to add when it is not set, and refuses
    a literal URL that carries a password (it would sit in tasks.json in clear).
    """
    cleaned = name.strip()
    if not cleaned:
        raise ConfigError(
            "connection is empty; use DATABASE_URL, a name such as DB_SALES_URL or sales"
        )
    if "://" in cleaned:
        url = _parse(cleaned, f"connection {mask_url(cleaned)!r}")
        if url.password is not None or _ODBC_PASSWORD.search(str(url.query)):
            raise ConfigError(
                f"connection {mask_url(cleaned)!r}: a URL with a password may not be written "
                "in a task; put it in .env as DB_<NAME>_URL=... and use the name instead"
            )
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


def connection_names(env: Mapping[str, str]) -> list[str]:
    """The connection variables that are set (``DATABASE_URL``, ``DB_*_URL``), sorted."""
    return sorted(k for k, v in env.items() if _ENV_NAME.match(k) and v.strip())


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
            {"odbc_connect": [_ODBC_PASSWORD.sub(r"\1=***", v) for v in values]}
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
