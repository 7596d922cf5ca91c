"""What the command groups in their own modules need from the main group's context:
the settings file's values and the data folder, without importing src/cli/app.py."""

from __future__ import annotations

from pathlib import Path

import click


def _obj() -> object:
    return click.get_current_context().find_root().obj


def env_of() -> dict[str, str]:
    env = getattr(_obj(), "env", None)
    assert isinstance(env, dict)
    return env


def tasks_path() -> Path:
    store = getattr(_obj(), "store", None)
    path = getattr(store, "path", None)
    assert isinstance(path, Path)
    return path


def data_dir() -> Path:
    """DATA_DIR as the daemon reads it (relative to the folder of tasks.json)."""
    from src.services.settings import Settings

    return Settings.from_env(env_of(), tasks_path().resolve().parent).data_dir
