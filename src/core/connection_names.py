"""What a task's ``connection`` may be, and which environment variable a name means.

A task names its database; it never carries its password:

* ``DATABASE_URL`` - the default connection;
* ``DB_SALES_URL`` - a named connection, also written ``sales`` for short
  (:func:`env_var_for` turns ``sales`` into ``DB_SALES_URL``);
* a literal URL without a password (``sqlite:///demo.db``) - used as is.

The task model checks this when a task is saved or loaded, and the connection
service when it resolves a name at run time; both raise the messages written here.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from src.core.errors import ValidationError

#: A variable name used as is: the default connection or a named one.
ENV_NAME = re.compile(r"^(DATABASE_URL|DB_[A-Z0-9_]+_URL)$")
#: The short form of ``DB_<NAME>_URL``: letters, digits, underscores.
SHORT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: Password fields inside an ODBC connection string (``odbc_connect=...``).
ODBC_PASSWORD = re.compile(r"(?i)\b(PWD|PASSWORD)\s*=\s*(\{[^}]*\}|[^;]*)")

NOT_A_NAME = (
    "is not a connection name; use DATABASE_URL, a name such as DB_SALES_URL or its short "
    "form sales (letters, digits, underscores), or a URL without a password such as "
    "sqlite:///demo.db"
)
PASSWORD_IN_URL = (
    "a URL with a password does not belong in tasks.json; put it in .env as "
    "DB_<NAME>_URL=<url> and give the name instead (e.g. --connection sales for DB_SALES_URL)"
)


def is_url(text: str) -> bool:
    return "://" in text


def url_has_password(value: str) -> bool:
    """Whether a URL carries a password, in its user part or an ODBC ``PWD=``."""
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return "@" in value
    return bool(password) or bool(ODBC_PASSWORD.search(unquote_plus(parts.query)))


def env_var_for(name: str, field: str = "connection") -> str:
    """The environment variable a connection name refers to (``sales`` -> ``DB_SALES_URL``)."""
    cleaned = name.strip()
    if ENV_NAME.match(cleaned):
        return cleaned
    if SHORT_NAME.match(cleaned):
        return f"DB_{cleaned.upper()}_URL"
    raise ValidationError(field, f"{cleaned!r} {NOT_A_NAME}")


def check_connection(value: Any, field: str = "connection", *, allow_password: bool) -> str:
    """A connection name or a URL, stripped; refuses anything else.

    ``allow_password``: whether a literal URL may carry a password. Loading a task
    allows it (an old file is still read, and ``validate`` warns how to move it to
    .env); adding, editing and running a task do not.
    """
    if not isinstance(value, str):
        raise ValidationError(field, f"{value!r} {NOT_A_NAME}")
    text = value.strip()
    if is_url(text):
        if url_has_password(text) and not allow_password:
            raise ValidationError(field, PASSWORD_IN_URL)
        return text
    env_var_for(text, field)
    return text
