"""`manage_tasks.py audit [TASK]`: who changed what, newest first."""

from __future__ import annotations

import json

import click

from src.cli.context import data_dir, env_of
from src.services.cluster.stores import open_audit_log


def _line(entry: dict[str, object]) -> str:
    what = str(entry.get("action"))
    if entry.get("task_name"):
        what += f" {entry['task_name']!r}"
    changes = entry.get("changes")
    fields = f" ({', '.join(changes)})" if isinstance(changes, dict) and changes else ""
    who = f"{entry.get('actor')} via {entry.get('via')} from {entry.get('from')}"
    return f"{entry.get('at')}  {who}: {what}{fields}"


@click.command()
@click.argument("task", required=False)
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with before/after values).")
def audit(task: str | None, limit: int, as_json: bool) -> None:
    """The audit log: who changed which task, when and from where, newest first.

    TASK is a task's id, id prefix or name (a deleted task: its full id).

    \b
    Examples:
      manage_tasks.py audit
      manage_tasks.py audit "Daily sales" --json
    """
    task_id = None
    if task:
        from src.core.errors import TaskNotFound

        store = click.get_current_context().find_root().obj.store
        try:
            task_id = store.load().find(task).id
        except TaskNotFound:
            task_id = task
    entries, total = open_audit_log(env_of(), data_dir()).newest(task_id, limit)
    if as_json:
        click.echo(json.dumps(entries, indent=2, ensure_ascii=False))
        return
    if not entries:
        click.echo("No changes recorded yet.")
    for entry in entries:
        click.echo(_line(entry))
    if total > len(entries):
        click.echo(f"... {total - len(entries)} older entr(ies); see --limit")
