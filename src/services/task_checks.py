"""Checks of a valid task against its surroundings (.env, files): warnings, not errors.

``validate`` prints them; they never stop a task from loading, because the
surroundings of the machine that edits tasks.json may differ from the daemon's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from src.core.connection_names import url_has_password
from src.core.errors import ConfigError, suggest_field
from src.core.task import Task
from src.core.task_reader import TASK_FIELDS
from src.services.connections import resolve_connection

# Fields the product writes itself besides the model's (the earlier tool's conversion).
_KNOWN_EXTRA = ("legacy_database_type",)


def suggested_env_name(url: str, task: Task) -> str:
    """A ``DB_<NAME>_URL`` variable for a literal URL: named after its database."""
    try:
        database = make_url(url).database or ""
    except ArgumentError:
        database = ""
    stem = Path(database).stem if database else task.name
    slug = re.sub(r"[^A-Za-z0-9]+", "_", stem).strip("_").upper() or "MAIN"
    return f"DB_{slug}_URL"


def task_warnings(task: Task, env: Mapping[str, str], base: Path | None = None) -> list[str]:
    where = f"task {task.name!r}"
    warnings: list[str] = []
    if "://" in task.connection and url_has_password(task.connection):
        var = suggested_env_name(task.connection, task)
        short = var[3:-4].lower()
        warnings.append(
            f"{where}: connection is a URL with a password, kept in tasks.json in clear. "
            f"Add this line to .env:\n    {var}={task.connection}\n"
            f"  then run: manage_tasks.py edit {task.id[:8]} --connection {short}"
        )
    else:
        try:
            resolve_connection(task.connection, env)
        except ConfigError as exc:
            warnings.append(f"{where}: {exc}")
    for key in task.extra:
        if key not in _KNOWN_EXTRA:
            warnings.append(
                f"{where}: unknown field {key!r}{suggest_field(key, TASK_FIELDS)}; kept as is"
            )
    if not task.email.recipients:
        warnings.append(f"{where}: no recipients (email.to); reports are exported but not sent")
    if task.query_file is not None:
        path = Path(task.query_file)
        if not path.is_absolute() and base is not None:
            path = base / path
        if not path.is_file():
            warnings.append(f"{where}: query_file {task.query_file!r} does not exist")
    return warnings
