#!/usr/bin/env python3
"""Run the scheduled report tasks of tasks.json until stopped (or once, with --once)."""

from __future__ import annotations

import sys
from pathlib import Path

from src.cli.bootstrap import ensure_project_python

ensure_project_python()  # before click is imported: re-exec with .venv/bin/python, or a hint

import click  # noqa: E402

from src.cli.common import env_file_option, tasks_file_option  # noqa: E402
from src.core.errors import SchedulerError  # noqa: E402
from src.services.envparse import load_env  # noqa: E402
from src.services.scheduler.daemon import Daemon, DaemonOptions  # noqa: E402
from src.services.scheduler.eventlog import LOG_FORMATS, setup_logging  # noqa: E402


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@tasks_file_option
@env_file_option
@click.option(
    "--once",
    is_flag=True,
    help="Run every due or missed occurrence (per catch_up), then exit: 0 if all succeeded.",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.option(
    "--log-format",
    default="text",
    show_default=True,
    type=click.Choice(LOG_FORMATS),
    help="text for people and journald; json for log shippers.",
)
@click.option(
    "--http",
    metavar="HOST:PORT",
    default=None,
    help="Serve the webhook and status API here (wins over HTTP_LISTEN in .env; off by "
    "default; needs WEBHOOK_TOKEN). See docs/webhook.md.",
)
@click.option(
    "--upgrade-db",
    is_flag=True,
    help="Cluster mode: create or upgrade the cluster schema before starting (as "
    "`manage_tasks.py db upgrade`). See docs/cluster.md.",
)
def main(
    tasks_file: Path,
    env_file: Path,
    once: bool,
    log_level: str,
    log_format: str,
    http: str | None,
    upgrade_db: bool,
) -> None:
    """Run the tasks of tasks.json on their schedules; changes made with manage_tasks.py
    take effect within 2 seconds. SIGHUP reloads, SIGTERM/SIGINT stop gracefully.

    \b
    Examples:
      scheduler_daemon.py --tasks-file /srv/reports/tasks.json
      scheduler_daemon.py --once          # from cron or a CI schedule
      scheduler_daemon.py --http 127.0.0.1:8080   # with the webhook API
    """
    setup_logging(log_level, log_format)
    options = DaemonOptions(
        tasks_file, env_file, once, log_level.upper(), log_format, http, upgrade_db
    )
    try:
        code = Daemon(options, load_env(env_file)).run()
    except SchedulerError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    sys.exit(code)


if __name__ == "__main__":
    main(prog_name="scheduler_daemon.py")
