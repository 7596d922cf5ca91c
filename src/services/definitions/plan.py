"""An import, checked whole before anything is written.

:func:`read_file` turns a file into task definitions (this tool's, or the earlier
systems' through :mod:`.earlier`), each with what could not be carried over.
:func:`plan_import` checks every definition with the task's one validator against the
tasks file as it is, and says what would be added or replaced, as a diff. :func:`apply`
plans again under tasks.json's lock and writes all of it in one write, or nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from src.core.errors import DefinitionError, TaskValidationErrors, ValidationError
from src.core.legacy import convert_legacy_task, is_legacy_document
from src.core.task import Task, new_task_id
from src.core.vocabulary import ImportSource
from src.services.definitions.documents import (
    LEFT_OUT,
    definition,
    detect_source,
    dump_yaml,
    parse_documents,
)
from src.services.definitions.earlier import JobReport, convert_earlier
from src.services.task_store import TaskFile, TaskStore


@dataclass
class Incoming:
    """The definitions read from a file, and per job what was not carried over."""

    source: ImportSource
    items: list[Any]
    reports: list[JobReport] = field(default_factory=list)


def read_file(path: Path, source: ImportSource | None = None) -> Incoming:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise DefinitionError(f"{path}: cannot read it ({why}); nothing was imported") from None
    documents = parse_documents(text, str(path))
    if not documents:
        raise DefinitionError(f"{path}: holds no definitions; nothing was imported")
    source = source or detect_source(documents, str(path))
    if source is not ImportSource.TASKS:
        return Incoming(source, *convert_earlier(source, documents, str(path)))
    items: list[Any] = []
    reports: list[JobReport] = []
    for document in documents:
        if is_legacy_document(document):  # the earlier one-file tool's tasks.json
            for index, raw in enumerate(document):
                report = JobReport(_label(raw, index))
                try:
                    items.append(convert_legacy_task(raw))
                except ValidationError as exc:
                    report.errors.append(f"{exc.field}: {exc.message}")
                reports.append(report)
        elif isinstance(document, dict) and isinstance(document.get("tasks"), list):
            items += [item for item in document["tasks"]]
        else:
            raise DefinitionError(
                f"{path}: expected {{version: 2, tasks: [...]}} (what export writes); "
                "nothing was imported"
            )
    return Incoming(source, items, reports)


def _label(item: Any, index: int) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    return str(name) if name else f"#{index + 1}"


@dataclass
class Change:
    action: str  # "add", "replace" or "unchanged"
    task: Task
    before: Task | None
    diff: list[str]


@dataclass
class ImportPlan:
    changes: list[Change]
    errors: list[str]
    notes: list[str] = field(default_factory=list)

    def apply_to(self, task_file: TaskFile) -> None:
        for change in self.changes:
            if change.action == "add":
                task_file.tasks.append(change.task)
            elif change.action == "replace" and change.before is not None:
                task_file.tasks[task_file.tasks.index(change.before)] = change.task

    def summary(self) -> str:
        counts = {a: sum(c.action == a for c in self.changes) for a in ("add", "replace")}
        same = sum(c.action == "unchanged" for c in self.changes)
        return f"{counts['add']} to add, {counts['replace']} to replace, {same} unchanged"


def _yaml_lines(task: Task) -> list[str]:
    return dump_yaml(definition(task)[0]).splitlines()


def plan_import(
    items: Iterable[Any],
    current: TaskFile,
    *,
    replace: bool,
    now: datetime,
    default_timezone: str,
) -> ImportPlan:
    plan = ImportPlan([], [])
    by_name = {task.name.casefold(): task for task in current.tasks}
    ids = {task.id for task in current.tasks}
    seen: set[str] = set()
    for index, raw in enumerate(items):
        label = f"definition #{index + 1}" + (
            f" {raw['name']!r}" if isinstance(raw, dict) and raw.get("name") else ""
        )
        if not isinstance(raw, dict):
            plan.errors.append(f"{label}: expected an object, got {type(raw).__name__}")
            continue
        data = {k: v for k, v in raw.items() if k not in LEFT_OUT}
        name = str(data.get("name") or "")
        before = by_name.get(name.casefold())
        if name.casefold() in seen:
            plan.errors.append(f"{label}: the file defines {name!r} twice")
            continue
        seen.add(name.casefold())
        if before is not None and not replace:
            plan.errors.append(
                f"{label}: a task named {before.name!r} exists (id {before.id[:8]}); give "
                "--replace to replace its definition, or rename it in the file"
            )
            continue
        if before is not None:
            data["id"] = before.id
        elif not data.get("id") or data["id"] in ids:
            data["id"] = new_task_id()
        ids.add(str(data["id"]))
        try:
            task = Task.from_dict(data, default_timezone=default_timezone)
        except TaskValidationErrors as exc:
            plan.errors += [f"{label}: {err.field}: {err.message}" for err in exc.errors]
            continue
        if before is None:
            task = task.with_changes(created_at=now, updated_at=now)
            plan.changes.append(
                Change("add", task, None, [f"+ {line}" for line in _yaml_lines(task)])
            )
            continue
        task = task.with_changes(
            created_at=before.created_at, updated_at=now, summary=before.summary
        )
        diff = list(
            difflib.unified_diff(
                _yaml_lines(before), _yaml_lines(task), "current", "imported", lineterm="", n=2
            )
        )
        if diff:
            plan.changes.append(Change("replace", task, before, diff))
        else:
            plan.changes.append(Change("unchanged", before, before, []))
    return plan


def apply(
    store: TaskStore,
    items: list[Any],
    *,
    replace: bool,
    now: datetime,
    default_timezone: str,
) -> ImportPlan:
    """Plan again on tasks.json as it is under its lock, then write all or nothing."""
    with store.transaction() as task_file:
        plan = plan_import(
            items, task_file, replace=replace, now=now, default_timezone=default_timezone
        )
        if plan.errors:
            raise DefinitionError(
                "\n".join([*plan.errors, f"{len(plan.errors)} problem(s); nothing was imported"])
            )
        plan.apply_to(task_file)
    return plan
