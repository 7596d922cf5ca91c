"""A task as a definition file holds it: no run summary, no secrets; YAML or JSON.

YAML is read with ``yaml.safe_load`` only (plain data, never objects of the file's
choosing) and written with multi-line text as ``|`` blocks, so SQL and scripts read as
they were typed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import yaml

from src.core.connection_names import url_has_password
from src.core.errors import DefinitionError
from src.core.task import SUMMARY_FIELDS, Task
from src.core.vocabulary import DefinitionFormat, ImportSource
from src.services.task_checks import suggested_env_name
from src.services.task_store import FORMAT_VERSION

#: What a definition leaves out: the daemon's record of the task's runs, and its dates.
LEFT_OUT = (*SUMMARY_FIELDS, "created_at", "updated_at")
HEADER = (
    "# db-scheduler task definitions: `manage_tasks.py import FILE` reads them back.\n"
    "# Connections are names of DB_<NAME>_URL variables in .env; no secret is written here.\n"
)


class _Dumper(yaml.SafeDumper):
    """Multi-line text as a ``|`` block; everything else as SafeDumper writes it."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    text = str(value)  # a vocabulary word (a StrEnum member) as its plain string
    style = "|" if "\n" in text and not text.startswith((" ", "\t")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_multi_representer(str, _text)


def definition(task: Task) -> tuple[dict[str, Any], list[str]]:
    """The task's definition, and notes about what was changed to leave secrets out (a
    connection URL with a password is written as the name of its .env variable)."""
    data = {k: v for k, v in task.to_dict().items() if k not in LEFT_OUT}
    notes: list[str] = []

    def scrub(holder: dict[str, Any], where: str) -> None:
        url = holder.get("connection")
        if isinstance(url, str) and "://" in url and url_has_password(url):
            variable = suggested_env_name(url, task)
            holder["connection"] = variable[3:-4].lower()
            notes.append(
                f"task {task.name!r}: {where} is a URL with a password; written as "
                f"{holder['connection']!r}: put {variable}=<the URL> in .env where it is imported"
            )

    scrub(data, "connection")
    for index, step in enumerate(data.get("steps", [])):
        scrub(step, f"steps[{index}].connection")
    return data, notes


def export_text(tasks: Iterable[Task], fmt: DefinitionFormat) -> tuple[str, list[str]]:
    """The definitions of ``tasks`` as one document, and the notes of :func:`definition`."""
    items, notes = [], []
    for task in tasks:
        data, more = definition(task)
        items.append(data)
        notes += more
    document = {"version": FORMAT_VERSION, "tasks": items}
    if fmt is DefinitionFormat.JSON:
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n", notes
    return HEADER + dump_yaml(document), notes


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def parse_documents(text: str, name: str) -> list[Any]:
    """The documents in a file: one JSON value, or one or more YAML documents."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return [json.loads(text)]
        except json.JSONDecodeError:
            pass  # YAML's flow style starts the same way: let YAML say what is wrong
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise DefinitionError(
            f"{name}:{where}: not YAML or JSON: {problem}; nothing was imported"
        ) from None


def detect_source(documents: list[Any], name: str) -> ImportSource:
    """Which system wrote the file, told by its shape."""
    first = documents[0] if documents else None
    if isinstance(first, list) and first and isinstance(first[0], dict):
        if "steps" in first[0] and "type" in json.dumps(first[0].get("steps")):
            return ImportSource.V2_JSON
        return ImportSource.TASKS  # the earlier tool's bare list
    if isinstance(first, dict):
        if isinstance(first.get("tasks"), list):
            return ImportSource.TASKS
        if isinstance(first.get("jobs"), list):
            return ImportSource.V1
        if isinstance(first.get("steps"), list):
            return ImportSource.V2_JSON
        v2_keys = {"inlineScript", "executionMode", "retryPolicy", "scriptPath"}
        schedule = first.get("schedule")
        if v2_keys & set(first) or (isinstance(schedule, dict) and "expression" in schedule):
            return ImportSource.V2_YAML
    raise DefinitionError(
        f"{name}: cannot tell which system wrote it; give --from "
        + " or ".join(ImportSource.values())
        + "; nothing was imported"
    )
