"""tasks.json as the API reads it: fresh on every request, cheap for 10,000 tasks.

The file is parsed again only when it changed (its inode, size and modification time),
and then only decoded, not validated: a request validates just the tasks it answers
with (a page of the list, the one task asked for), memoized until the next change.
A file in the earlier tool's format, or one that is not a plain current document, goes
through the store's full parse. A file that is broken, or emptied (a write cut short),
is answered with the daemon's last good set of tasks (``fallback``), as the daemon
keeps running it; /health says the file is unreadable.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from src.core.errors import StoreError, TaskValidationErrors
from src.core.lookup import find_task
from src.core.schedule import SCHEDULE_KINDS
from src.core.task import Task
from src.services.task_store import FORMAT_VERSION, TaskStore


@dataclass(frozen=True)
class TaskRef:
    """A task as the list filters and the lookup see it, before validation."""

    id: str
    name: str
    index: int
    enabled: bool
    last_status: str | None
    #: ``cron``, ``interval``, ``once`` or ``none``, as the file writes it (unchecked)
    schedule_kind: str = "none"
    #: the run summary's instants as the file writes them (UTC ISO text, or "")
    last_run: str = ""
    next_run: str = ""


def select(
    refs: list[TaskRef],
    *,
    name: str | None = None,
    enabled: bool | None = None,
    last_status: str | None = None,
    schedule_kind: str | None = None,
) -> list[TaskRef]:
    """The tasks each given filter lets through: ``name`` anywhere in the name, any case;
    ``last_status`` ``never`` for a task not run yet. The API's list and the tasks page."""
    folded = name.casefold() if name else None
    return [
        ref
        for ref in refs
        if (folded is None or folded in ref.name.casefold())
        and (enabled is None or ref.enabled == enabled)
        and (
            last_status is None
            or ref.last_status == last_status
            or (last_status == "never" and ref.last_status is None)
        )
        and (schedule_kind is None or ref.schedule_kind == schedule_kind)
    ]


@dataclass
class Snapshot:
    refs: list[TaskRef]
    items: list[dict[str, Any]]
    validate: Callable[[dict[str, Any]], Task]
    _tasks: dict[int, Task] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def task(self, ref: TaskRef) -> Task:
        with self._lock:
            found = self._tasks.get(ref.index)
        if found is None:
            found = self.validate(self.items[ref.index])
            with self._lock:
                self._tasks[ref.index] = found
        return found

    def find(self, text: str) -> Task:
        """The task ``text`` names (id, unique id prefix of 4+, or name), as the CLI finds it."""
        return self.task(find_task(self.refs, text))


class TaskCatalog:
    def __init__(self, store: TaskStore, fallback: Callable[[], list[Task]]) -> None:
        self.store = store
        self.fallback = fallback
        self._key: tuple[int, ...] | None = None
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> Snapshot:
        key = self.store.fingerprint() or (0, 0, 0)
        with self._lock:
            if self._snapshot is None or key != self._key:
                self._snapshot = self._read()
                self._key = key
            return self._snapshot

    def _read(self) -> Snapshot:
        raw = self.store.read_bytes()
        if raw is not None and not raw.strip():
            return self._parsed(self.fallback())  # emptied: a write cut short
        document = _plain(raw)
        if document is None:  # legacy or broken: the full parse reads or refuses it
            try:
                tasks = self.store.parse(raw).tasks
            except StoreError:
                tasks = self.fallback()
            return self._parsed(tasks)
        items = [item if isinstance(item, dict) else {} for item in document["tasks"]]
        return Snapshot(_refs(items), items, self._validate)

    def _parsed(self, tasks: list[Task]) -> Snapshot:
        items = [task.to_dict() for task in tasks]
        snapshot = Snapshot(_refs(items), items, self._validate)
        snapshot._tasks = dict(enumerate(tasks))
        return snapshot

    def _validate(self, item: dict[str, Any]) -> Task:
        try:
            return Task.from_dict(item, default_timezone=self.store.default_timezone)
        except TaskValidationErrors as exc:
            problems = "; ".join(f"{err.field}: {err.message}" for err in exc.errors)
            raise StoreError(
                f"{self.store.path}: task {item.get('name')!r} is not valid ({problems}); fix "
                "it by hand or with `manage_tasks.py edit`, then `manage_tasks.py validate`"
            ) from None


def _plain(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return {"tasks": []}
    try:
        document = json.loads(raw.decode("utf-8"))
    except ValueError:
        return None
    if (
        not isinstance(document, dict)
        or document.get("version", FORMAT_VERSION) != FORMAT_VERSION
        or not isinstance(document.get("tasks"), list)
    ):
        return None
    return document


def _refs(items: list[dict[str, Any]]) -> list[TaskRef]:
    return [
        TaskRef(
            id=str(item.get("id", "")).strip(),
            name=str(item.get("name", "")).strip(),
            index=index,
            enabled=item.get("enabled", True) is not False,
            last_status=item.get("last_status")
            if isinstance(item.get("last_status"), str)
            else None,
            schedule_kind=_kind(item.get("schedule")),
            last_run=_text(item.get("last_run")),
            next_run=_text(item.get("next_run")),
        )
        for index, item in enumerate(items)
    ]


def _kind(schedule: Any) -> str:
    if isinstance(schedule, dict):
        for kind in SCHEDULE_KINDS:
            if kind in schedule:
                return kind
    return "none"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
