"""Reading settings from .env / the environment, typed, with errors that name the variable.

:func:`load_env` reads them; the ``env_*`` readers turn one into a number or a boolean.
An empty value counts as not set (``VAR=`` in .env), so the default applies.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

from src.core.errors import ConfigError

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


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


def env_number(env: Mapping[str, str], name: str, default: float, minimum: float = 0) -> float:
    """A number of at least ``minimum``."""
    text = (env.get(name) or "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ConfigError(f"{name}={text!r} is not a number of at least {minimum:g}")
    return value


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    """A whole number of at least ``minimum``."""
    text = (env.get(name) or "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ConfigError(f"{name}={text!r} is not a whole number of at least {minimum}")
    return value


def env_bool(env: Mapping[str, str], name: str) -> bool:
    """true/false, 1/0, yes/no, on/off; not set is false."""
    text = (env.get(name) or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{name}={env.get(name)!r} is not true or false (use 1/0, true/false)")
