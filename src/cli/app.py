"""manage_tasks.py: define, inspect and change scheduled report tasks in tasks.json.

Longer than ~400 lines on purpose: one click group whose commands are each a few
lines over the model and the store; most of the length is their help and examples,
which read best side by side.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from src.cli import render
from src.cli.common import env_file_option, tasks_file_option
from src.cli.interactive import prompt_task
from src.cli.task_options import any_task_option, task_edit, task_options
from src.core import defaults
from src.core.clock import now as clock_now
from src.core.connection_names import check_connection
from src.core.email_rules import dotless_domain, validate_address
from src.core.errors import SchedulerError, TaskValidationErrors
from src.core.task import Task
from src.core.task_edit import TaskEdit
from src.core.vocabulary import Trigger
from src.services.cluster.stores import open_audit_log, open_run_log, open_task_store
from src.services.connections import resolve_connection
from src.services.envparse import load_env
from src.services.task_store import TaskFile, TaskStore

if TYPE_CHECKING:
    from src.services.settings import Settings

# Commands that run queries or send mail import those services when they run, so
# `list`, `show` and `next` start fast (SQLAlchemy alone takes ~0.15 s to import).


@dataclass
class Context:
    store: TaskStore
    env: dict[str, str]
    env_file: Path

    @property
    def default_timezone(self) -> str:
        return self.env.get("DEFAULT_TIMEZONE") or "UTC"

    @property
    def shown_path(self) -> str:
        """The tasks file as an absolute path: from the wrong folder, it shows which folder."""
        return self.store.location()

    def missing_file(self) -> str | None:
        """Why there is nothing to read, if the tasks file is not there (read as "no tasks",
        it would make every command look fine in the wrong folder)."""
        if self.store.exists():
            return None
        return (
            f"tasks file {self.shown_path} does not exist; "
            "run from the project folder or give --tasks-file / TASKS_FILE"
        )

    def load(self) -> TaskFile:
        """The tasks file; one that is not there is an error that names it."""
        missing = self.missing_file()
        if missing:
            raise click.ClickException(missing)
        return self.store.load()


class Group(click.Group):
    """Turns the domain's named errors into `Error: ...` and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TaskValidationErrors as exc:
            raise click.ClickException(_one_line_each(exc)) from None
        except SchedulerError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise click.ClickException(f"{exc.strerror or exc}{where}") from None
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("DB_SCHEDULER_DEBUG"):
                raise
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {exc}. This is a bug in db-scheduler; "
                "run again with DB_SCHEDULER_DEBUG=1 for the traceback and report it"
            ) from None


def _one_line_each(exc: TaskValidationErrors) -> str:
    lines = [f"{err.field}: {err.message}" for err in exc.errors]
    return lines[0] if len(lines) == 1 else "\n".join(["the task is not valid:", *lines])


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@tasks_file_option
@env_file_option
@click.pass_context
def cli(ctx: click.Context, tasks_file: Path, env_file: Path) -> None:
    """Scheduled SQL reports: define tasks that run a query on a schedule and email
    the result as Excel, PDF or CSV.

    \b
    Examples:
      manage_tasks.py add --name "Daily sales" --query "SELECT * FROM sales" \\
          --cron "0 9 * * 1-5" --timezone Europe/Berlin --to boss@example.com
      manage_tasks.py list
      manage_tasks.py show "Daily sales"
    """
    env = load_env(env_file)
    store = open_task_store(tasks_file, env)  # tasks.json, or CLUSTER_DATABASE_URL's
    ctx.obj = Context(store=store, env=env, env_file=env_file)
    store.on_change = _audit_change  # every change is in the audit log (src/services/audit.py)


def _audit_change(before: Task | None, after: Task | None) -> None:
    from src.services.audit import Actor, TaskAudit

    ctx = _context()
    audit = open_audit_log(ctx.env, _settings(ctx).data_dir)
    TaskAudit(audit, Actor.os_user())(before, after)


def _context() -> Context:
    obj = click.get_current_context().obj
    assert isinstance(obj, Context)
    return obj


def _next_line(task: Task, now: datetime) -> str:
    upcoming = task.next_run(now)
    if not task.enabled:
        return "Next run: none (the task is disabled)"
    if task.schedule.kind == "none":
        return "Next run: none (no schedule: runs by webhook or `manage_tasks.py run`)"
    if upcoming is None:
        return "Next run: none (the schedule has no time left)"
    return f"Next run: {render.local_time(upcoming, task)} ({task.timezone})"


def _check_runnable(task: Task, env: dict[str, str]) -> None:
    """What `add` and `edit` refuse beyond the model's own checks."""
    check_connection(task.connection, allow_password=False)
    resolve_connection(task.connection, env)


def _refuse_new_mistakes(task: Task, changes: TaskEdit, now: datetime) -> None:
    """What `add` and `edit` refuse in the values they were given, though a file that
    already holds them still loads (validate warns): a past --at, a dotless domain."""
    if changes.schedule is not None and changes.schedule[0] == "once":
        past = task.past_once(now)
        if past:
            raise click.ClickException(f"--at {changes.schedule[1]}: {past}; give a later time")
    for key in ("to", "cc", "bcc"):
        for address in getattr(changes, key) or ():
            problem = dotless_domain(address, f"--{key}")
            if problem:
                raise click.ClickException(f"--{key} {problem}")


#: Fields whose change makes `edit` check the SQL again (the columns and the chart name
#: the result's columns, which the check learns where the database can say them).
_SQL_FIELDS = ("query", "query_file", "params", "connection", "read_only", "columns", "chart")


def _check_sql(task: Task, ctx: Context, now: datetime, *, ask_database: bool) -> None:
    """Refuse SQL the first run would fail on; the database compiles it, never runs it."""
    from src.services.query import QueryService
    from src.services.task_checks import first_run_findings

    service = QueryService(ctx.env) if ask_database else None
    try:
        found = first_run_findings(task, ctx.store.path.resolve().parent, now, service)
    finally:
        if service is not None:
            service.close()
    for warning in found.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if found.errors:
        raise click.ClickException("\n".join([*found.errors, "Nothing was saved."]))


_no_check_option = click.option(
    "--no-check",
    is_flag=True,
    help="Do not ask the database to compile the SQL (names without a value are still refused).",
)


@cli.command()
@task_options
@click.option("--disabled", is_flag=True, help="Create the task disabled.")
@_no_check_option
@click.option(
    "--interactive",
    "-i",
    is_flag=True,
    help="Ask for each field (the default at a terminal with no options).",
)
def add(disabled: bool, interactive: bool, no_check: bool, **opts: Any) -> None:
    """Add a task.

    \b
    Examples:
      manage_tasks.py add                      # asks for each field
      manage_tasks.py add --name "Daily sales" --connection sales \\
          --query "SELECT * FROM orders WHERE day = :yesterday" \\
          --cron "0 7 * * *" --timezone Europe/Berlin \\
          --to sales@example.com --xlsx --pdf
      manage_tasks.py add --name "Stock check" --query-file stock.sql --every 6h

    The SQL is compiled by its database (EXPLAIN, never run) before the task is
    saved; --no-check skips that. Reports are read-only unless --read-write.
    """
    ctx = _context()
    if interactive or (not any_task_option(opts) and not disabled and sys.stdin.isatty()):
        changes = replace(prompt_task(ctx.default_timezone, ctx.env), enabled=not disabled)
    else:
        if not opts.get("name"):
            raise click.UsageError("give --name (or run `add` at a terminal to be asked)")
        changes = task_edit(opts, enabled=not disabled)
    if changes.schedule is None:
        raise click.UsageError(
            "give a schedule: --cron '0 9 * * *', --every 15m, --at ISO, or --no-schedule "
            "(runs only by webhook or `manage_tasks.py run`)"
        )
    now = clock_now()
    task = changes.create(now, default_timezone=ctx.default_timezone)
    _check_runnable(task, ctx.env)
    _refuse_new_mistakes(task, changes, now)
    _check_sql(task, ctx, now, ask_database=not no_check)
    created = ctx.missing_file() is not None
    task = ctx.store.add(task, now)
    if created:
        click.echo(f"Created tasks file {ctx.shown_path}")
    click.echo(f"Added task {task.name!r} with id {task.id}")
    click.echo(_next_line(task, now))


@cli.command()
@click.argument("ref")
@task_options
@click.option("--enable/--disable", "enabled", default=None, help="Enable or disable the task.")
@_no_check_option
def edit(ref: str, enabled: bool | None, no_check: bool, **opts: Any) -> None:
    """Change a task: only the options given change.

    REF is the task's id, a unique id prefix (4+ characters) or its name.

    \b
    Examples:
      manage_tasks.py edit "Daily sales" --cron "0 8 * * 1-5"
      manage_tasks.py edit 3f2a --to a@example.com --to b@example.com --pdf
    """
    ctx = _context()
    changes = task_edit(opts, enabled)
    if changes.empty:
        raise click.UsageError("nothing to change; give at least one option (see --help)")

    def change(task: Task) -> Task:
        changed = changes.apply(task, default_timezone=ctx.default_timezone)
        if changed.connection != task.connection:
            _check_runnable(changed, ctx.env)
        _refuse_new_mistakes(changed, changes, now)
        return changed

    now = clock_now()
    current = ctx.load()
    if any(getattr(changes, key) not in (None, {}) for key in _SQL_FIELDS):
        # Checked before the store's lock is taken: the database may take seconds.
        _check_sql(change(current.find(ref)), ctx, now, ask_database=not no_check)
    task = ctx.store.update(ref, change, now)
    click.echo(f"Updated task {task.name!r} ({task.id})")
    click.echo(_next_line(task, now))


@cli.command()
@click.argument("ref")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def delete(ref: str, yes: bool) -> None:
    """Delete a task (asks first unless --yes).

    \b
    Example:
      manage_tasks.py delete "Daily sales" --yes
    """
    ctx = _context()
    task = ctx.load().find(ref)
    if not yes:
        click.confirm(f"Delete task {task.name!r} ({task.id})?", abort=True)
    ctx.store.delete(task.id)
    click.echo(f"Deleted task {task.name!r} ({task.id})")


def _set_enabled(ref: str, enabled: bool) -> None:
    ctx = _context()
    now = clock_now()
    ctx.load()
    task = ctx.store.update(ref, lambda t: t.with_changes(enabled=enabled), now)
    click.echo(f"{'Enabled' if enabled else 'Disabled'} task {task.name!r} ({task.id})")
    click.echo(_next_line(task, now))


@cli.command()
@click.argument("ref")
def enable(ref: str) -> None:
    """Enable a task so the daemon runs it.

    \b
    Example:
      manage_tasks.py enable "Daily sales"
    """
    _set_enabled(ref, True)


@cli.command()
@click.argument("ref")
def disable(ref: str) -> None:
    """Disable a task: it stays in tasks.json but does not run.

    \b
    Example:
      manage_tasks.py disable "Daily sales"
    """
    _set_enabled(ref, False)


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_tasks(as_json: bool) -> None:
    """List the tasks: id prefix, name, schedule, zone, enabled, next run, last status.

    \b
    Examples:
      manage_tasks.py list
      manage_tasks.py list --json
    """
    ctx = _context()
    missing = ctx.missing_file()
    if missing:
        if as_json:
            click.echo("[]")
        click.echo(f"No tasks: {missing}.", err=as_json)
        return
    tasks = ctx.load().tasks
    now = clock_now()
    if as_json:
        click.echo(render.dumps([render.task_json(task, now) for task in tasks]))
    elif not tasks:
        click.echo(f"No tasks in {ctx.store.path}. Add one with `manage_tasks.py add`.")
    else:
        click.echo(render.task_table(tasks, now))


@cli.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(ref: str, as_json: bool) -> None:
    """Show one task, with its next 5 fire times in its zone and its last runs.

    \b
    Examples:
      manage_tasks.py show "Daily sales"
      manage_tasks.py show 3f2a --json
    """
    ctx = _context()
    task = ctx.load().find(ref)
    now = clock_now()
    from src.services.run_stats import stats_of

    kept = open_run_log(_settings(ctx), ctx.env).runs(task.id)
    stats = stats_of(task.id, task.name, kept)
    runs = kept[-defaults.SHOW_RECENT_RUNS :]
    if as_json:
        data = render.task_json(task, now, defaults.SHOW_UPCOMING)
        data["stats"] = stats.to_json()
        data["recent_runs"] = [record.to_json() for record in reversed(runs)]
        click.echo(render.dumps(data))
    else:
        click.echo(render.task_details(task, now, defaults.SHOW_UPCOMING, stats.describe()))
        if runs:
            click.echo("Recent runs:")
            click.echo(render.history_table(list(reversed(runs))))
            if steps := render.step_lines(list(reversed(runs))):
                click.echo(steps)


@cli.command("next")
@click.option("--count", "-n", default=10, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--from",
    "start",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"]),
    help="List runs after this UTC time instead of now (e.g. 2026-03-07T00:00).",
)
@click.option("--task", "ref", help="Only this task.")
def next_runs(count: int, start: datetime | None, ref: str | None) -> None:
    """Upcoming runs across all enabled tasks, soonest first, in each task's zone.

    \b
    Examples:
      manage_tasks.py next
      manage_tasks.py next -n 3 --task "Daily sales" --from 2026-03-07T00:00
    """
    ctx = _context()
    task_file = ctx.load()
    tasks = [task_file.find(ref)] if ref else task_file.tasks
    now = start.replace(tzinfo=clock_now().tzinfo) if start else clock_now()
    runs = sorted(
        ((moment, task) for task in tasks for moment in task.upcoming(now, count)),
        key=lambda pair: (pair[0], pair[1].name),
    )[:count]
    if not runs:
        click.echo("No upcoming runs (no enabled task with a time left).")
        return
    rows = [
        [render.local_time(moment, task), moment.strftime("%Y-%m-%d %H:%M UTC"), task.name]
        for moment, task in runs
    ]
    click.echo(render.table(["WHEN (TASK ZONE)", "UTC", "TASK"], rows, {2: 40}))


@cli.command()
@_no_check_option
def validate(no_check: bool) -> None:
    """Check tasks.json, the settings each task needs and each task's SQL; exit 1 on any
    error.

    Each task's SQL is compiled by its database (EXPLAIN in a transaction that is
    rolled back; nothing is run), unless --no-check. Errors are what a run would fail
    on: a syntax error, a missing table or column, a :name with no value, a statement
    that writes in a read-only task. Warnings (a password in a task's connection URL,
    a connection missing from .env, a database that cannot be reached, unknown fields,
    no recipients, a once time in the past) do not fail the check. The last lines name
    the tasks that may change data and those that run programs (command, python and
    powershell steps); a powershell step without pwsh installed is an error.

    \b
    Example:
      manage_tasks.py validate
    """
    from src.services.query import QueryService
    from src.services.task_checks import (
        first_run_findings,
        runs_programs,
        task_warnings,
        writable_code_file,
    )

    ctx = _context()
    task_file = ctx.load()
    base = ctx.store.path.resolve().parent
    now = clock_now()
    warnings = [w for task in task_file.tasks for w in task_warnings(task, ctx.env, base, now)]
    if exposed := writable_code_file(ctx.store.target, task_file.tasks):
        warnings.append(exposed)
    errors: list[str] = []
    service = None if no_check else QueryService(ctx.env)
    try:
        for task in task_file.tasks:
            found = first_run_findings(task, base, now, service)
            errors += found.errors
            warnings += found.warnings
    finally:
        if service is not None:
            service.close()
    for warning in warnings:
        click.echo(f"Warning: {warning}", err=True)
    for error in errors:
        click.echo(f"Error: {error}", err=True)
    writers = [
        repr(task.name)
        for task in task_file.tasks
        if not task.read_only
        or any(getattr(step, "read_only", None) is False for step in task.steps)
    ]
    if writers:
        click.echo(f"May change data (read_only: false): {', '.join(writers)}")
    programs = runs_programs(task_file.tasks)
    if programs:
        click.echo(f"Runs programs on this machine: {'; '.join(programs)}")
    if errors:
        raise click.ClickException(
            f"{ctx.store.path}: {len(task_file.tasks)} task(s), {len(errors)} error(s) "
            f"(a run would fail on each), {len(warnings)} warning(s)"
        )
    kind = " (earlier tool's format; converted on the next change)" if task_file.legacy else ""
    if task_file.converts and not task_file.legacy:
        kind = f" (format version {task_file.version}; converted on the next change)"
    click.echo(
        f"{ctx.store.path}: {len(task_file.tasks)} task(s) valid{kind}, {len(warnings)} warning(s)"
    )


# --- running ------------------------------------------------------------------------------


def _settings(ctx: Context) -> Settings:
    from src.services.settings import Settings

    return Settings.from_env(ctx.env, ctx.store.path.resolve().parent)


@cli.command()
@click.argument("ref")
@click.option("--dry-run", is_flag=True, help="Build files and message, send and record nothing.")
@click.option("--to", "to", multiple=True, help="Send to this address instead (repeatable).")
def run(ref: str, dry_run: bool, to: tuple[str, ...]) -> None:
    """Run a task now: query, export, email, record. Exit 1 if the run fails.

    Runs even when the task is disabled. Without SMTP_HOST in .env the message is
    written to the outbox folder instead of being sent. --dry-run writes the files
    and builds the message but sends nothing, records nothing and prints the
    first rows.

    \b
    Examples:
      manage_tasks.py run "Daily sales"
      manage_tasks.py run "Daily sales" --to me@example.com
      manage_tasks.py run "Daily sales" --dry-run
    """
    from src.services.query import QueryService
    from src.services.runner import Runner

    ctx = _context()
    task = ctx.load().find(ref)
    addresses = [validate_address(a, f"--to {a!r}") for a in to] if to else None
    for address in addresses or ():
        problem = dotless_domain(address, "--to")
        if problem:
            raise click.ClickException(f"--to {problem}")
    query = QueryService(ctx.env)
    try:
        settings = _settings(ctx)
        runner = Runner(
            ctx.store, settings, query, env=ctx.env, log=open_run_log(settings, ctx.env)
        )
        outcome = runner.run(
            task,
            trigger=Trigger.MANUAL,
            dry_run=dry_run,
            to=addresses,
            progress=_Progress(),
        )
    except KeyboardInterrupt:
        recorded = "" if dry_run else "; the history records it as interrupted"
        click.echo(f"Stopped with Ctrl-C: the run of {task.name!r} did not finish{recorded}.")
        raise SystemExit(130) from None  # 128 + SIGINT, as a shell reports it
    finally:
        query.close()
    if dry_run:
        click.echo(render.preview_text(outcome))
    click.echo(render.outcome_text(outcome))
    if not outcome.ok:
        raise SystemExit(1)


@cli.command()
@click.argument("ref")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write into (default: DATA_DIR/previews/<time>_<task>/).",
)
@click.option("--open", "open_page", is_flag=True, help="Open the page in the desktop's browser.")
def preview(ref: str, out: Path | None, open_page: bool) -> None:
    """See a task's report before it is sent: build its files and its email exactly as a
    run would, and write them into a folder with a page that shows the email as it
    will look (its chart, its plain-text part) and links to the files. Nothing is
    sent and nothing recorded. Prints the folder; --open opens the page.

    \b
    Examples:
      manage_tasks.py preview "Daily sales"
      manage_tasks.py preview "Daily sales" --open
      manage_tasks.py preview "Daily sales" --out /tmp/sales-preview
    """
    from src.cli.opener import open_in_browser
    from src.services.query import QueryService
    from src.services.report_preview import default_folder, prune_previews, run_preview

    ctx = _context()
    task = render.find_or_list(ctx.load(), ref)
    settings, now = _settings(ctx), clock_now()
    if out is None:
        prune_previews(settings, now)
    folder = (out or default_folder(settings, task, now)).absolute()
    query = QueryService(ctx.env)
    try:
        made = run_preview(ctx.store, settings, query, task, folder, _Progress())
    finally:
        query.close()
    click.echo(render.preview_summary(made))
    if open_page:
        click.echo(open_in_browser(made.page))


class _Progress:
    """Progress lines on stderr (stdout stays the result), at most a few per second."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, line: str) -> None:
        now = time.monotonic()
        if line.startswith("fetched") and now - self.last < 0.5:
            return
        self.last = now
        click.echo(f"... {line}", err=True)


@cli.command()
@click.argument("ref", required=False)
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def history(ref: str | None, limit: int, as_json: bool) -> None:
    """Recent runs, newest first (of one task when REF is given).

    \b
    Examples:
      manage_tasks.py history
      manage_tasks.py history "Daily sales" -n 5 --json
    """
    ctx = _context()
    tasks = ctx.load()
    task = tasks.find(ref) if ref else None
    records = open_run_log(_settings(ctx), ctx.env).runs(task.id if task else None)
    newest = list(reversed(records))[:limit]
    if as_json:
        click.echo(render.dumps([record.to_json() for record in newest]))
    elif not newest:
        click.echo("No runs recorded yet. Run a task with `manage_tasks.py run NAME`.")
    else:
        click.echo(render.history_table(newest))
        if steps := render.step_lines(newest):
            click.echo(steps)


@cli.command("test-connection")
@click.argument("name", default="DATABASE_URL")
def test_connection(name: str) -> None:
    """Connect to a database from .env and run a trivial query.

    NAME is DATABASE_URL (default), DB_SALES_URL or its short form sales.

    \b
    Example:
      manage_tasks.py test-connection sales
    """
    from src.services.query import QueryService

    query = QueryService(_context().env)
    try:
        click.echo(f"OK: {query.test_connection(name)}")
    finally:
        query.close()


@cli.command("test-email")
@click.option("--to", "to", required=True, help="Where to send the test message.")
def test_email(to: str) -> None:
    """Send a test message through the configured SMTP server (or the outbox).

    \b
    Example:
      manage_tasks.py test-email --to me@example.com
    """
    from src.services.mail import send_test_message

    settings = _settings(_context())
    delivery = send_test_message(settings.smtp, to)
    click.echo(f"OK: {delivery.describe()}")


@cli.command("webhook-url")
@click.argument("ref")
@click.option("--show-token", is_flag=True, help="Print the token instead of masking it.")
def webhook_url(ref: str, show_token: bool) -> None:
    """Print the URL and the curl line that trigger a task over HTTP (for cron-job.org).

    The token comes from WEBHOOK_TOKEN in .env and is masked unless --show-token.

    \b
    Example:
      manage_tasks.py webhook-url "Daily sales"
    """
    from src.services.webhook.urls import webhook_instructions

    ctx = _context()
    task = ctx.load().find(ref)
    for line in webhook_instructions(task, ctx.env, show_token=show_token).lines():
        click.echo(line)


# Command groups kept in their own modules (users and tokens, the pause, the audit log).
from src.cli.accounts import token, user  # noqa: E402
from src.cli.audit import audit  # noqa: E402
from src.cli.cluster import db, nodes, store  # noqa: E402
from src.cli.pause import pause, resume, status  # noqa: E402

for _command in (user, token, audit, pause, resume, status, db, store, nodes):
    cli.add_command(_command)

# --- definitions as files -----------------------------------------------------------------

from src.cli.definitions import export_command, import_command, samples_command  # noqa: E402

cli.add_command(export_command)
cli.add_command(import_command)
cli.add_command(samples_command)
