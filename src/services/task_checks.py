"""Checks of a valid task against its surroundings (.env, files, its database).

``task_warnings``: warnings ``validate`` prints; they never stop a task from loading,
because the surroundings of the machine that edits tasks.json may differ from the
daemon's. ``sql_findings``: what the task's SQL would do at its first run, found now --
errors (a name with no value, a writing statement in a read-only task, a statement
the database refuses) and warnings (the database could not be asked).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from src.core.chart import chart_column_errors
from src.core.connection_names import url_has_password
from src.core.email_rules import dotless_domain
from src.core.errors import ConfigError, QueryError, suggest_field
from src.core.runvars import RUN_VARIABLES
from src.core.step_reader import KIND_FIELDS
from src.core.steps import EmailStep, PowerShellStep, SqlStep
from src.core.task import Task
from src.core.task_reader import TASK_FIELDS
from src.services.connections import resolve_connection
from src.services.query.check import NotChecked, check_statement
from src.services.query.service import QueryService
from src.services.query.sqltext import bind_names, missing_binds_message, writing_keyword
from src.services.steps.programs import powershell_program, pwsh_missing

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


def task_warnings(
    task: Task, env: Mapping[str, str], base: Path | None = None, now: datetime | None = None
) -> list[str]:
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
    for address in task.email.recipients:
        problem = dotless_domain(address, "email")
        if problem:
            warnings.append(f"{where}: {problem}; add and edit refuse such an address")
    past = task.past_once(now) if now is not None else None
    if past:
        warnings.append(f"{where}: {past}; it will not run again")
    if task.steps:
        warnings += _step_warnings(task, base)
    elif not task.email.recipients:
        warnings.append(f"{where}: no recipients (email.to); reports are exported but not sent")
    if task.query_file is not None:
        path = Path(task.query_file)
        if not path.is_absolute() and base is not None:
            path = base / path
        if not path.is_file():
            warnings.append(f"{where}: query_file {task.query_file!r} does not exist")
    return warnings


def _step_warnings(task: Task, base: Path | None) -> list[str]:
    """What `validate` says of a task's steps beyond the model's checks: fields it does not
    know, script files that are not there, no email step."""
    where = f"task {task.name!r}"
    warnings: list[str] = []
    for index, step in enumerate(task.steps):
        at = f"{where}: steps[{index}] ({step.id})"
        for key in step.extra:
            known = KIND_FIELDS[step.kind]
            warnings.append(f"{at}: unknown field {key!r}{suggest_field(key, known)}; kept as is")
        script = getattr(step, "script", None) or getattr(step, "query_file", None)
        if isinstance(script, str) and "{" not in script:
            path = Path(script).expanduser()
            if not path.is_absolute() and base is not None:
                path = base / path
            if not path.is_file():
                warnings.append(f"{at}: {script!r} does not exist (from {path.parent})")
    if not any(isinstance(step, EmailStep) for step in task.steps):
        warnings.append(f"{where}: no email step; its files are kept but not sent")
    return warnings


def runs_programs(tasks: list[Task]) -> list[str]:
    """``'name' (command step 'x', python step 'y')`` for each task that runs programs."""
    return [
        f"{task.name!r} ("
        + ", ".join(f"{step.kind} step {step.id!r}" for step in task.steps if step.runs_code)
        + ")"
        for task in tasks
        if task.runs_code
    ]


def writable_code_file(path: Path, tasks: list[Task]) -> str | None:
    """A warning when tasks.json holds steps that run programs and people other than its
    owner may write it: whoever writes it runs programs as the daemon's user."""
    if not any(task.runs_code for task in tasks):
        return None
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return None
    if not mode & 0o022:
        return None
    who = "anyone" if mode & 0o002 else "its group"
    return (
        f"{path} holds steps that run programs and {who} may write it (mode {mode:o}): "
        f"whoever writes it runs programs as the daemon's user; chmod 600 {path}"
    )


@dataclass
class Findings:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def query_text(task: Task, base: Path | None) -> str | None:
    """The task's SQL, from ``query`` or its ``query_file`` (None: the file cannot be read,
    which :func:`task_warnings` reports)."""
    if task.query is not None:
        return task.query
    assert task.query_file is not None
    path = Path(task.query_file)
    if not path.is_absolute() and base is not None:
        path = base / path
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def first_run_findings(
    task: Task, base: Path | None, now: datetime, service: QueryService | None
) -> Findings:
    """What the task's first run would fail on, found now: its SQL, or each of its steps'."""
    check = step_findings if task.steps else sql_findings
    return check(task, base, now, service)


def step_findings(
    task: Task, base: Path | None, now: datetime, service: QueryService | None
) -> Findings:
    """What the first run of a task with steps would fail on: each sql step's SQL (as a
    task of its own, the way the run makes it) and a PowerShell step without pwsh."""
    found = Findings()
    for step in task.steps:
        if isinstance(step, SqlStep):
            sub = task.with_changes(
                query=step.query,
                query_file=step.query_file,
                connection=step.connection or task.connection,
                params={**task.params, **step.params},
                read_only=task.read_only if step.read_only is None else step.read_only,
                steps=(),
            )
            one = sql_findings(sub, base, now, service)
            found.errors += [f"{e} (step {step.id!r})" for e in one.errors]
            found.warnings += [f"{w} (step {step.id!r})" for w in one.warnings]
        elif isinstance(step, PowerShellStep) and powershell_program() is None:
            found.errors.append(f"task {task.name!r}: {pwsh_missing(step.id)}")
    return found


def sql_findings(
    task: Task, base: Path | None, now: datetime, service: QueryService | None
) -> Findings:
    """What the first run would find wrong with the task's SQL, found now.

    ``service``: ask the database to compile the statement (never run it); None
    (``--no-check``) looks at the text only.
    """
    where = f"task {task.name!r}"
    found = Findings()
    sql = query_text(task, base)
    if sql is None:
        return found
    keyword = writing_keyword(sql)
    if keyword and task.read_only:
        found.errors.append(
            f"{where}: the SQL is a {keyword} statement but the task is read-only (the "
            "default, also for a task written without read_only), so every run would fail. "
            "If it is meant to change data, allow it with --read-write (add, edit) or "
            '"read_only": false in tasks.json'
        )
    values = {name: None for name in (*RUN_VARIABLES, *task.params)}
    missing = [name for name in bind_names(sql) if name not in values]
    if missing:
        found.errors.append(f"{where}: {missing_binds_message(missing, task.params)}")
        return found  # the statement cannot be bound, so the database cannot be asked
    if service is None:
        return found
    try:
        result = check_statement(
            service, task.connection, sql, task.params, now=now, zone=task.zone
        )
    except NotChecked as exc:
        if not exc.config:  # a connection not set up is reported by task_warnings
            found.warnings.append(f"{where}: SQL not checked against the database: {exc}")
    except QueryError as exc:
        found.errors.append(f"{where}: {exc}")
    else:
        if result.note:
            found.warnings.append(f"{where}: SQL not checked: {result.note}")
        if result.columns is not None:
            found.errors.extend(f"{where}: {e}" for e in result_column_errors(task, result.columns))
    return found


def result_column_errors(task: Task, names: Sequence[str]) -> list[str]:
    """Names in the task's ``columns`` and ``chart`` that the result does not have, when
    the database said which columns it has (see query/check.py); a run would only note
    them and leave their settings out."""
    shown = ", ".join(names) or "none"
    errors = [
        f"columns.{name}: the query's result has no column {name!r} (its columns: {shown}); "
        "name a column as the query writes it (an alias: SUM(total) AS revenue)"
        for name in task.columns
        if name not in names
    ]
    if task.chart is not None:
        errors.extend(chart_column_errors(task.chart, names))
    return errors
