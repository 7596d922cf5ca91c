"""Options both entry points share, so `manage_tasks.py` and `scheduler_daemon.py`
always agree on which files they use."""

from __future__ import annotations

from pathlib import Path

import click

from src.core import defaults

tasks_file_option = click.option(
    "--tasks-file",
    envvar="TASKS_FILE",
    default=defaults.TASKS_FILE,
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The tasks file (env TASKS_FILE).",
)

env_file_option = click.option(
    "--env-file",
    envvar="ENV_FILE",
    default=".env",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Settings file with connection URLs and SMTP (env ENV_FILE).",
)
