"""manage_tasks.py export / import / samples: task definitions as YAML or JSON files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from src.core.clock import now as clock_now
from src.core.errors import DefinitionError
from src.core.vocabulary import DefinitionFormat, ImportSource, StepKind

if TYPE_CHECKING:
    from src.cli.app import Context


def _context() -> Context:
    return cast("Context", click.get_current_context().obj)


@click.command("export")
@click.argument("refs", nargs=-1)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(DefinitionFormat.values()),
    default=DefinitionFormat.YAML.value,
    show_default=True,
    help=DefinitionFormat.describe(),
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE.")
def export_command(refs: tuple[str, ...], fmt: str, out: Path | None) -> None:
    """Write task definitions (all, or the TASKs named) without run summary or secrets.

    \b
    Examples:
      manage_tasks.py export > tasks.yaml
      manage_tasks.py export "Daily sales" --format json --out daily.json
    """
    from src.services.definitions.documents import export_text

    task_file = _context().load()
    tasks = [task_file.find(ref) for ref in refs] if refs else task_file.tasks
    text, notes = export_text(tasks, DefinitionFormat(fmt))
    for note in notes:
        click.echo(f"Note: {note}", err=True)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {len(tasks)} task definition(s) to {out}", err=True)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and show what would change; write nothing.")
@click.option("--replace", is_flag=True, help="Replace the definition of a task of the same name.")
@click.option(
    "--from",
    "source",
    type=click.Choice(ImportSource.values()),
    help=ImportSource.describe() + ". Default: told from the file's content.",
)
def import_command(file: Path, dry_run: bool, replace: bool, source: str | None) -> None:
    """Import task definitions: this tool's (export, tasks.json) or an earlier system's.

    Everything is checked first, and what would be added or changed is shown as a
    diff; then it is written in one locked write of tasks.json, or not at all. What an
    earlier system's job has that cannot be carried over is listed per job.

    \b
    Examples:
      manage_tasks.py import tasks.yaml --dry-run
      manage_tasks.py import jobs/job_config.yaml --from v1
      manage_tasks.py import tasks.yaml --replace
    """
    from src.services.definitions.plan import apply, plan_import, read_file
    from src.services.task_checks import runs_programs

    ctx = _context()
    incoming = read_file(file, ImportSource(source) if source else None)
    for report in incoming.reports:
        for error in report.errors:
            click.echo(f"Error: job {report.job!r}: {error}", err=True)
        for note in report.notes:
            click.echo(f"Note: job {report.job!r}: {note}")
    refused = [line for report in incoming.reports for line in report.errors]
    now = clock_now()
    current = ctx.store.load()
    plan = plan_import(
        incoming.items, current, replace=replace, now=now, default_timezone=ctx.default_timezone
    )
    for change in plan.changes:
        if change.action == "unchanged":
            click.echo(f"= {change.task.name!r}: unchanged")
            continue
        click.echo(f"{'+ add' if change.action == 'add' else '~ replace'} {change.task.name!r}")
        for line in change.diff:
            click.echo(f"    {line}")
    for error in plan.errors:
        click.echo(f"Error: {error}", err=True)
    programs = runs_programs([c.task for c in plan.changes if c.action != "unchanged"])
    if programs:
        click.echo(f"Runs programs on this machine: {'; '.join(programs)}")
    if plan.errors or refused:
        count = len(plan.errors) + len(refused)
        raise DefinitionError(f"{file}: {count} problem(s); nothing was imported")
    if dry_run:
        click.echo(f"Dry run: {plan.summary()}; nothing was written")
        return
    done = apply(
        ctx.store, incoming.items, replace=replace, now=now, default_timezone=ctx.default_timezone
    )
    click.echo(f"Imported into {ctx.shown_path}: {done.summary()}")


@click.command("samples")
@click.argument("kind", required=False, type=click.Choice(StepKind.values()))
def samples_command(kind: str | None) -> None:
    """Print a commented sample definition of each step kind (or of KIND); each imports as is.

    \b
    Examples:
      manage_tasks.py samples
      manage_tasks.py samples python > job.yaml && manage_tasks.py import job.yaml
    """
    from src.services.definitions.samples import sample

    kinds = [StepKind(kind)] if kind else list(StepKind)
    click.echo("\n---\n".join(sample(k) for k in kinds), nl=False)
