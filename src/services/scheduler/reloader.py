"""Watching tasks.json off the main loop: a reload thread hands over what changed.

Reading and validating a 10 MB tasks file (10,000 tasks) takes ~0.5 s of CPU. Done
on the main loop, a fire arriving meanwhile waited for it (p99 lateness 765 ms).
So a :class:`Reloader` thread checks the file, works out what changed and hands the
main loop an :class:`Update`; the main loop only moves the jobs of the tasks whose
definition changed.

Two things keep the thread from holding up the main loop through the GIL:

* the file is decoded **one task object at a time** (``JSONDecoder.raw_decode``
  per task, ~50 us each) instead of one ``json.loads`` of 10 MB (~80 ms in one C
  call that never lets another thread run);
* only tasks whose JSON text changed are validated (``Task.from_dict``). A run
  summary the daemon's own runs wrote changes one task's text and no definition:
  that task is re-read, the main loop swaps it in, no job is touched.

Anything unusual (invalid JSON, a bad field, a duplicate id or name, the legacy
list format) goes through the store's full parse, whose error message the daemon
logs; the last good set keeps running. So does an empty file (0 bytes or only
whitespace) once the daemon runs: it is a write cut short, never "no tasks". At
start, a file that does not exist (or is empty) is an empty store.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from src.core.errors import StoreError, TaskValidationErrors, ValidationError
from src.core.task import SUMMARY_FIELDS, Task
from src.services.task_store import READABLE_VERSIONS, TaskFile, TaskStore

log = logging.getLogger("db_scheduler")

#: Fields of a task that are not its definition: changing them must not reschedule it.
NOT_DEFINITION = (*SUMMARY_FIELDS, "updated_at")

Fingerprint = tuple[int, ...]
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _skip(text: str, pos: int) -> int:
    """The position of the first non-whitespace character at or after ``pos``."""
    match = _WHITESPACE.match(text, pos)
    return match.end() if match else pos


def definition_of(task: Task) -> dict[str, Any]:
    """A task's definition (its normalized tasks.json form without the run summary): what
    decides whether its job must change. Normalized, so the first rewrite of a hand-written
    file (defaults filled in, fields reordered) changes no definition."""
    return {k: v for k, v in task.to_dict().items() if k not in NOT_DEFINITION}


def fingerprint_of(store: TaskStore) -> Fingerprint | None:
    return store.fingerprint()


@dataclass(frozen=True)
class Item:
    """One task object of the file: its id, its JSON text (for change detection) and its
    decoded value (None when its text is one already known: unchanged)."""

    task_id: str
    text: str
    value: dict[str, Any] | None


def decode_items(raw: bytes | None, known: Mapping[str, str] | None = None) -> list[Item] | None:
    """The task objects of a ``{"version": 2, "tasks": [...]}`` file (or version 1),
    decoded one by one; None when the file needs the store's full parse (invalid, other
    shapes, odd ids).

    ``known``: task id -> JSON text already seen; those items keep no value, so a reload
    holds one decoded task at a time, not 10,000 (less garbage-collector work that
    would hold the GIL while the main loop wants it)."""
    if raw is None:
        return []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        return _decode_document(text, known or {})
    except (ValueError, IndexError):
        return None


def _decode_document(text: str, known: Mapping[str, str]) -> list[Item] | None:
    pos = _skip(text, 0)
    if pos == len(text):
        return []
    if text[pos] != "{":
        return None
    pos += 1
    items: list[Item] | None = None
    version: Any = READABLE_VERSIONS[-1]
    first = True
    while True:
        pos = _skip(text, pos)
        if text[pos] == "}" and first:
            break
        key, pos = _DECODER.raw_decode(text, pos)
        if not isinstance(key, str):
            return None
        pos = _skip(text, pos)
        if text[pos] != ":":
            return None
        pos = _skip(text, pos + 1)
        if key == "tasks":
            if text[pos] != "[":
                return None
            items, pos = _decode_tasks(text, pos + 1, known)
            if items is None:
                return None
        else:
            value, pos = _DECODER.raw_decode(text, pos)
            if key == "version":
                version = value
        first = False
        pos = _skip(text, pos)
        if text[pos] == ",":
            pos += 1
            continue
        if text[pos] != "}":
            return None
        break
    if _skip(text, pos + 1) != len(text):
        return None
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        return None
    return items if items is not None else []


def _decode_tasks(text: str, pos: int, known: Mapping[str, str]) -> tuple[list[Item] | None, int]:
    items: list[Item] = []
    pos = _skip(text, pos)
    if text[pos] == "]":
        return items, pos + 1
    while True:
        start = pos
        value, pos = _DECODER.raw_decode(text, pos)
        if not isinstance(value, dict) or not isinstance(value.get("id"), str):
            return None, pos
        task_id: str = value["id"]
        item_text = text[start:pos]
        items.append(Item(task_id, item_text, None if known.get(task_id) == item_text else value))
        pos = _skip(text, pos)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
            continue
        if text[pos] != "]":
            return None, pos
        return items, pos + 1


@dataclass
class Update:
    """What changed in tasks.json since the last update, for the main loop to apply."""

    read_at: datetime
    #: added or changed tasks (definition or summary), by id
    tasks: dict[str, Task] = field(default_factory=dict)
    #: ids among ``tasks`` whose definition changed (or that are new): their jobs change
    redefined: set[str] = field(default_factory=set)
    removed: list[str] = field(default_factory=list)
    #: every task id, in file order
    order: list[str] = field(default_factory=list)
    #: the store's message when the file is invalid (nothing else is set then)
    error: str | None = None
    forced: bool = False


class Reloader:
    """Checks tasks.json and works out an :class:`Update`; in its own thread once started.

    :meth:`check` is also callable directly (tests, or with the thread not started).
    """

    def __init__(
        self,
        store: TaskStore,
        clock: Callable[[], datetime],
        poll_seconds: float,
        on_update: Callable[[], None],
    ) -> None:
        self.store = store
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.on_update = on_update
        self.updates: deque[Update] = deque()
        self._fingerprint: Fingerprint | None = None
        self._bad_fingerprint: Fingerprint | None = None
        self._texts: dict[str, str] = {}  # task id -> its JSON text, as last read
        self._definitions: dict[str, dict[str, Any]] = {}
        self._tasks: dict[str, Task] = {}
        self._force = False
        self._stopped = False
        self._kick = threading.Event()
        self._thread: threading.Thread | None = None

    # -- start ------------------------------------------------------------------------------

    def prime(self) -> TaskFile:
        """Read the file at start with the store's full parse (an invalid file raises
        StoreError: at start there is nothing to fall back to) and remember it."""
        self._fingerprint = fingerprint_of(self.store)
        raw = self.store.read_bytes()
        task_file = self.store.parse(raw)
        items = decode_items(raw)
        by_id = {item.task_id: item for item in items or ()}
        self._remember(task_file.tasks, by_id)
        return task_file

    def _remember(self, tasks: list[Task], by_id: Mapping[str, Item]) -> None:
        self._tasks = {task.id: task for task in tasks}
        self._texts = {}
        self._definitions = {}
        for task in tasks:
            item = by_id.get(task.id)
            self._texts[task.id] = item.text if item else ""
            self._definitions[task.id] = definition_of(task)

    # -- the thread -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="tasks-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped = True
        self._kick.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def kick(self) -> None:
        """Look now (the cluster announced an edit), without forcing a full reload."""
        self._kick.set()

    def request_reload(self) -> None:
        """SIGHUP: a full reload now, reported even when nothing changed."""
        self._force = True
        self._kick.set()

    def _loop(self) -> None:
        while True:
            self._kick.wait(self.poll_seconds)
            self._kick.clear()
            if self._stopped:
                return
            force, self._force = self._force, False
            try:
                update = self.check(force=force)
            except Exception:  # never a dead reload thread without a word
                log.exception("tasks file check failed; trying again at the next poll")
                continue
            if update is not None:
                self.updates.append(update)
                self.on_update()

    # -- one look ---------------------------------------------------------------------------

    def check(self, *, force: bool = False) -> Update | None:
        """Look at the file; an Update when the main loop has something to do."""
        fingerprint = fingerprint_of(self.store)
        if fingerprint == self._fingerprint and not force:
            return None
        read_at = self.clock()
        was_bad = self._bad_fingerprint is not None
        try:
            raw = self.store.read_bytes()
            if raw is not None and not raw.strip():
                raise StoreError(self._empty_message(raw))
            update = self._diff(raw, read_at)
        except StoreError as exc:
            self._fingerprint = fingerprint
            report = force or fingerprint != self._bad_fingerprint
            self._bad_fingerprint = fingerprint
            return Update(read_at, error=str(exc), forced=force) if report else None
        self._fingerprint = fingerprint
        self._bad_fingerprint = None
        update.forced = force
        if update.tasks or update.removed or force or was_bad:
            return update
        return None

    def _empty_message(self, raw: bytes) -> str:
        # While the daemon runs, an empty file is a write cut short (a full disk, an editor
        # that truncated before writing), not "delete every task": that is {"tasks": []}.
        return (
            f"{self.store.path} is empty ({len(raw)} bytes); taken for a broken write, not "
            "for 'no tasks'; still running the tasks loaded before. Restore the file, or write "
            '{"version": 1, "tasks": []} to remove every task'
        )

    def _diff(self, raw: bytes | None, read_at: datetime) -> Update:
        items = decode_items(raw, self._texts)
        if items is None:
            return self._full(raw, read_at)
        seen: set[str] = set()
        changed: list[Item] = []
        for item in items:
            if item.task_id in seen:
                return self._full(raw, read_at)  # duplicate id: the store says it well
            seen.add(item.task_id)
            if item.value is not None:  # its text is new
                changed.append(item)
        new_tasks: dict[str, Task] = {}
        for item in changed:
            assert item.value is not None
            try:
                new_tasks[item.task_id] = Task.from_dict(
                    item.value, default_timezone=self.store.default_timezone
                )
            except (TaskValidationErrors, ValidationError):
                return self._full(raw, read_at)  # the store's message lists every problem
        tasks = {**self._tasks, **new_tasks}
        for task_id in [t for t in tasks if t not in seen]:
            del tasks[task_id]
        names = {task.name.casefold() for task in tasks.values()}
        if len(names) != len(tasks):
            return self._full(raw, read_at)  # a duplicate name
        update = Update(read_at, tasks=new_tasks, order=[item.task_id for item in items])
        update.removed = [t for t in self._tasks if t not in seen]
        for item in changed:
            definition = definition_of(tasks[item.task_id])
            if self._definitions.get(item.task_id) != definition:
                update.redefined.add(item.task_id)
                self._definitions[item.task_id] = definition
            self._texts[item.task_id] = item.text
        for task_id in update.removed:
            self._texts.pop(task_id, None)
            self._definitions.pop(task_id, None)
        self._tasks = {item.task_id: tasks[item.task_id] for item in items}
        return update

    def _full(self, raw: bytes | None, read_at: datetime) -> Update:
        """The store's full parse (raises StoreError with its message when invalid)."""
        task_file = self.store.parse(raw)
        old_definitions = self._definitions
        old_ids = set(self._tasks)
        by_id = {item.task_id: item for item in decode_items(raw) or ()}
        self._remember(task_file.tasks, by_id)
        update = Update(read_at, tasks=dict(self._tasks), order=list(self._tasks))
        update.removed = [t for t in old_ids if t not in self._tasks]
        update.redefined = {t for t, d in self._definitions.items() if old_definitions.get(t) != d}
        return update
