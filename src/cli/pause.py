"""`manage_tasks.py status`, `pause`, `resume`: the scheduler's pause, from the shell.

The pause is a file the daemon reads twice a second (src/services/scheduler/pause.py),
so these work whether or not the daemon runs, and the pause survives its restart.
"""

from __future__ import annotations

import click

from src.cli.context import data_dir, env_of
from src.core.clock import now as clock_now
from src.services.audit import Actor
from src.services.cluster.stores import open_audit_log, open_pause


def _set(paused: bool) -> None:
    actor = Actor.os_user()
    state = open_pause(data_dir(), env_of()).write(paused, actor.name, clock_now())
    open_audit_log(env_of(), data_dir()).record(
        actor, "scheduler.pause" if paused else "scheduler.resume"
    )
    if paused:
        click.echo(f"Scheduler paused (since {state.since:%Y-%m-%d %H:%M} UTC by {state.by}).")
        click.echo("No scheduled run starts until `manage_tasks.py resume`; `run` still works.")
    else:
        click.echo("Scheduler resumed; runs missed while paused follow each task's catch_up.")


@click.command()
def pause() -> None:
    """Pause the scheduler: no new scheduled runs (survives a restart).

    Runs started by hand (`run`) or by the webhook still run.

    \b
    Example:
      manage_tasks.py pause
    """
    _set(True)


@click.command()
def resume() -> None:
    """Resume the scheduler; runs missed while paused follow each task's catch_up.

    \b
    Example:
      manage_tasks.py resume
    """
    _set(False)


@click.command()
def status() -> None:
    """Whether the scheduler is paused, and the tasks it has.

    \b
    Example:
      manage_tasks.py status
    """
    state = open_pause(data_dir(), env_of()).read()
    if state.paused:
        since = f"{state.since:%Y-%m-%d %H:%M} UTC" if state.since else "an unknown time"
        click.echo(
            f"Scheduler: paused since {since} by {state.by} (resume: `manage_tasks.py resume`)"
        )
    else:
        click.echo("Scheduler: not paused")
