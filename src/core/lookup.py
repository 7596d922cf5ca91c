"""Finding a task by what a person types: its id, a unique id prefix, or its name."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Protocol, TypeVar

from src.core import defaults
from src.core.errors import AmbiguousTask, TaskNotFound


class Named(Protocol):
    """A task, or anything with its id and name (the API's light view of tasks.json)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)


def find_task(tasks: Sequence[T], ref: str) -> T:
    """The task ``ref`` names: an exact id, an exact name (any case), or an id prefix of
    at least 4 characters that matches one task."""
    wanted = ref.strip()
    for task in tasks:
        if task.id == wanted:
            return task
    folded = wanted.casefold()
    for task in tasks:
        if task.name.casefold() == folded:
            return task
    if len(wanted) >= defaults.MIN_ID_PREFIX:
        matches = [task for task in tasks if task.id.startswith(wanted)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            listed = "\n".join(f"  {task.id}  {task.name}" for task in matches)
            raise AmbiguousTask(
                f"{wanted!r} matches {len(matches)} tasks; give more of the id:\n{listed}"
            )
    hint = ""
    close = difflib.get_close_matches(wanted, [task.name for task in tasks], n=1, cutoff=0.6)
    if close:
        hint = f" Did you mean {close[0]!r}?"
    elif 0 < len(wanted) < defaults.MIN_ID_PREFIX:
        hint = f" An id prefix needs at least {defaults.MIN_ID_PREFIX} characters."
    raise TaskNotFound(
        f"no task {wanted!r} (by id, id prefix or name).{hint} See `manage_tasks.py list`."
    )
