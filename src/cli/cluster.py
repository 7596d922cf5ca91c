"""`manage_tasks.py db`, `store copy` and `nodes`: the cluster database from the shell.

`db upgrade` creates or upgrades the cluster schema (Alembic); `store copy` moves a single
machine's tasks and history into the cluster, or the cluster's back out into files;
`nodes` lists the daemons of the cluster. See docs/cluster.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from src.cli.context import env_of, tasks_path
from src.core.errors import ConfigError

if TYPE_CHECKING:  # SQLAlchemy loads when a command here runs, not for `list`
    from sqlalchemy.engine import Engine


def _cluster_engine(url: str | None = None) -> Engine:
    from src.services.cluster.database import engine_for
    from src.services.cluster.settings import ClusterSettings, normalized_url

    if url is not None:
        return engine_for(normalized_url(url))
    settings = ClusterSettings.from_env(env_of())
    if settings is None:
        raise ConfigError(
            "CLUSTER_DATABASE_URL is not set (in .env or the environment): this command "
            "works on the cluster database; see docs/cluster.md"
        )
    return engine_for(settings.url, settings.statement_timeout_seconds)


@click.group()
def db() -> None:
    """The cluster database's schema (CLUSTER_DATABASE_URL).

    \b
    Examples:
      manage_tasks.py db upgrade
      manage_tasks.py db status
    """


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the cluster schema to this version's (safe to run again).

    \b
    Example:
      CLUSTER_DATABASE_URL=postgresql://sched:pw@db.example.com/reports \\
          manage_tasks.py db upgrade
    """
    from src.services.cluster.database import shown_url
    from src.services.cluster.schema import upgrade

    engine = _cluster_engine()
    before, after = upgrade(engine)
    where = shown_url(engine.url.render_as_string(hide_password=False))
    if before == after:
        click.echo(f"The cluster schema in {where} is up to date (revision {after}).")
    else:
        click.echo(f"Upgraded the cluster schema in {where}: {before or 'none'} -> {after}.")


@db.command("status")
def db_status() -> None:
    """Which schema revision the cluster database is at, and which this version needs.

    \b
    Example:
      manage_tasks.py db status
    """
    from src.services.cluster.schema import current, head

    found, wanted = current(_cluster_engine()), head()
    state = "up to date" if found == wanted else "run `manage_tasks.py db upgrade`"
    click.echo(f"Cluster schema: {found or 'none'} (this version needs {wanted}): {state}")


@click.group()
def store() -> None:
    """Move tasks and history between tasks.json and the cluster database.

    \b
    Example:
      manage_tasks.py store copy --to postgresql://sched:pw@db.example.com/reports
    """


@store.command("copy")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="postgresql://... | FILE.json",
    help="A PostgreSQL URL: copy this machine's tasks.json and history into that (empty, "
    "upgraded) cluster database. A .json path: copy the cluster's (CLUSTER_DATABASE_URL) "
    "tasks into that new file and its history into DATA_DIR's runs.jsonl beside it.",
)
def store_copy(target: str) -> None:
    """Copy tasks and run history into the cluster, or back out; checked, all or nothing.

    \b
    Examples:
      manage_tasks.py store copy --to postgresql://sched:pw@db.example.com/reports
      CLUSTER_DATABASE_URL=postgresql://... manage_tasks.py store copy --to /srv/r/tasks.json
    """
    from src.services.cluster.copy import copy_into_database, copy_out_to_files
    from src.services.cluster.settings import ClusterSettings
    from src.services.cluster.stores import open_run_log
    from src.services.cluster.task_store import ClusterTaskStore
    from src.services.history import RunHistory
    from src.services.settings import Settings
    from src.services.task_store import TaskStore

    env = env_of()
    zone = env.get("DEFAULT_TIMEZONE") or "UTC"
    if target.startswith(("postgresql://", "postgres://", "postgresql+psycopg2://")):
        if ClusterSettings.from_env(env) is not None:
            raise ConfigError(
                "CLUSTER_DATABASE_URL is set: this store is already the cluster's. Copy into "
                "a cluster from a single machine's settings (without CLUSTER_DATABASE_URL)"
            )
        source = TaskStore(tasks_path(), default_timezone=zone)
        if not source.exists():
            raise ConfigError(f"tasks file {source.location()} does not exist: nothing to copy")
        settings = Settings.from_env(env, tasks_path().resolve().parent)
        history = RunHistory(settings.history_path, settings.history_keep_days)
        copied = copy_into_database(source, history, _cluster_engine(target), tasks_path())
    else:
        tasks_file = Path(target).absolute()
        cluster = ClusterTaskStore(_cluster_engine(), tasks_file, default_timezone=zone)
        settings = Settings.from_env(env, tasks_file.parent)
        history_file = settings.history_path
        log = open_run_log(Settings.from_env(env, tasks_path().resolve().parent), env)
        copied = copy_out_to_files(cluster, log, tasks_file, history_file)
    click.echo(copied.describe().capitalize() + ".")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="As JSON (what /api/cluster answers).")
def nodes(as_json: bool) -> None:
    """The cluster's nodes: heartbeat, runs in flight, capacity.

    \b
    Examples:
      manage_tasks.py nodes
      manage_tasks.py nodes --json
    """
    import json

    from src.services.cluster.roster import list_nodes
    from src.services.cluster.settings import ClusterSettings

    settings = ClusterSettings.from_env(env_of())
    rows = list_nodes(_cluster_engine(), settings.dead_after_seconds if settings else 15.0)
    if as_json:
        click.echo(json.dumps([row.to_json() for row in rows], indent=2))
        return
    if not rows:
        click.echo("No node has joined the cluster yet (start scheduler_daemon.py on one).")
        return
    click.echo(f"{'NODE':<20} {'STATE':<8} {'HEARTBEAT':>10} {'RUNS':>5} {'CAP':>4}  ADDRESS")
    for row in rows:
        data = row.to_json()
        click.echo(
            f"{row.name:<20} {data['state']:<8} {row.heartbeat_age:>8.1f} s "
            f"{row.running:>5} {row.capacity:>4}  {row.address or '-'}"
        )
