"""tasks.json: the store every command and the daemon share.

Longer than ~400 lines on purpose: the file's format, its lock and every change made
under it (a person's edit, a run's summary, queued summaries, conversions of older
formats) share one set of rules that reads best in one place.

* Reads need no lock: writers replace the file atomically (temp file, fsync,
  rename), so a reader sees the old or the new file, never half of one.
* Every change is read-modify-write under an exclusive lock on a side file
  (``tasks.json.lock``), so concurrent ``manage_tasks.py`` processes and the daemon
  never lose each other's changes.
* The file is the real one, whatever path names it: a symbolic link (or ``a/../b``,
  or a relative path) is resolved once, and the lock, the backup and every write go
  beside the target. A write replaces the target and keeps the link; every path to
  the file shares one lock.
* An unreadable or invalid file raises StoreError naming the file and the line and
  column, or the task and field. The file is never "repaired" by overwriting it.
* A file in the earlier tool's shape (a bare list) loads as is; the first write
  keeps the original as ``tasks.json.bak`` and writes the current format.
* A file of an older format version (1: before tasks had ``steps``) loads as is; the
  first write keeps the original as ``tasks.json.v1.bak`` and writes the current
  version. A newer version than this one reads is refused (an older db-scheduler would
  drop what it does not know, such as steps).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from src.core import defaults
from src.core.clock import now as clock_now
from src.core.errors import (
    DuplicateTaskName,
    StoreBusy,
    StoreError,
    TaskNotFound,
    TaskValidationErrors,
    ValidationError,
)
from src.core.legacy import convert_legacy_task, is_legacy_document
from src.core.lookup import find_task
from src.core.task import RunResult, Summary, Task
from src.services.atomic import atomic_write_bytes, real_path
from src.services.pending_runs import PendingRuns

#: 2: tasks may have ``steps`` (src/core/steps.py).
FORMAT_VERSION = 2
#: Versions this one reads; an older one is converted on the first write, with a backup.
READABLE_VERSIONS = (1, 2)
#: How long a run's end waits for tasks.json's lock before queueing its summary: a
#: person's command holds it for milliseconds unless it is stuck (stopped, prompting).
SUMMARY_LOCK_SECONDS = 2.0


@dataclass
class TaskFile:
    """The parsed contents of tasks.json."""

    tasks: list[Task]
    extra: dict[str, Any] = field(default_factory=dict)  # top-level keys this version ignores
    legacy: bool = False
    #: the format version the file had when read (converted on the next write)
    version: int = FORMAT_VERSION

    @property
    def converts(self) -> bool:
        """Whether the next write changes the file's format (and keeps a backup first)."""
        return self.legacy or self.version != FORMAT_VERSION

    def find(self, ref: str) -> Task:
        return find_task(self.tasks, ref)

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {"version": FORMAT_VERSION}
        document.update(self.extra)
        document["version"] = FORMAT_VERSION
        document["tasks"] = [task.to_dict() for task in self.tasks]
        return document

    def check_unique_name(self, name: str, except_id: str | None = None) -> None:
        folded = name.casefold()
        for task in self.tasks:
            if task.id != except_id and task.name.casefold() == folded:
                raise DuplicateTaskName(
                    f"a task named {task.name!r} already exists (id {task.id[:8]}); "
                    "task names are unique regardless of case: pick another name"
                )


def serialize(document: Any) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


class TaskStore:
    def __init__(
        self,
        path: Path | str,
        *,
        default_timezone: str = "UTC",
        lock_timeout: float = defaults.LOCK_TIMEOUT_SECONDS,
        on_change: Callable[[Task | None, Task | None], None] | None = None,
    ) -> None:
        self.path = Path(path)  # as the user gave it: what messages name
        self.target = real_path(self.path)  # the file itself: what is locked and written
        self.default_timezone = default_timezone
        self.lock_path = self.target.with_name(self.target.name + ".lock")
        self.backup_path = self.target.with_name(self.target.name + ".bak")
        self.pending_path = self.target.with_name(self.target.name + ".pending")
        self.lock_timeout = lock_timeout
        #: told of every definition change once it is written: (before, after); None
        #: before: added, None after: deleted (the audit log; run summaries are not told)
        self.on_change = on_change

    # -- reading --

    def exists(self) -> bool:
        """Whether there is a store to read (a missing file reads as "no tasks")."""
        return self.path.exists()

    def location(self) -> str:
        """Where the tasks are, for messages: the file as an absolute path."""
        return str(self.path.absolute())

    def fingerprint(self) -> tuple[int, ...] | None:
        """Changes whenever the tasks do (cheap: what watchers poll); None: no file."""
        try:
            st = self.target.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def read_bytes(self) -> bytes | None:
        try:
            return self.target.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise StoreError(f"{self.path} is a directory; give the path of a tasks file") from None
        except PermissionError:
            raise StoreError(
                f"{self.path}: permission denied; run as the user that owns it or fix its mode"
            ) from None

    def load(self) -> TaskFile:
        """The tasks in the file (an empty store when it does not exist)."""
        return self.parse(self.read_bytes())

    def parse(self, raw: bytes | None) -> TaskFile:
        if raw is None or not raw.strip():
            return TaskFile(tasks=[])
        try:
            document = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise StoreError(
                f"{self.path}: not UTF-8 text (byte {exc.start}); save it as UTF-8. "
                "The file was not changed."
            ) from None
        except json.JSONDecodeError as exc:
            raise StoreError(
                f"{self.path}: line {exc.lineno} column {exc.colno}: {exc.msg}. "
                "Fix the JSON by hand (the file was not changed), then run "
                "`manage_tasks.py validate`."
            ) from None
        if is_legacy_document(document):
            return self._parse_tasks(document, legacy=True, extra={})
        if not isinstance(document, dict):
            raise StoreError(
                f'{self.path}: expected an object {{"version": 1, "tasks": [...]}}, '
                f"found {type(document).__name__}. The file was not changed."
            )
        version = document.get("version", FORMAT_VERSION)
        if version not in READABLE_VERSIONS or isinstance(version, bool):
            raise StoreError(
                f"{self.path}: format version {version!r} is not supported (this version "
                f"reads {', '.join(map(str, READABLE_VERSIONS))}); upgrade db-scheduler. "
                "The file was not changed."
            )
        items = document.get("tasks", [])
        if not isinstance(items, list):
            raise StoreError(f"{self.path}: 'tasks' must be a list. The file was not changed.")
        extra = {k: v for k, v in document.items() if k not in ("version", "tasks")}
        task_file = self._parse_tasks(items, legacy=False, extra=extra)
        task_file.version = int(version)
        return task_file

    def _parse_tasks(self, items: list[Any], *, legacy: bool, extra: dict[str, Any]) -> TaskFile:
        tasks: list[Task] = []
        problems: list[str] = []
        for index, item in enumerate(items):
            label = _label(item, index)
            try:
                data = convert_legacy_task(item) if legacy else item
                tasks.append(Task.from_dict(data, default_timezone=self.default_timezone))
            except TaskValidationErrors as exc:
                problems.extend(f"{label}: {err.field}: {err.message}" for err in exc.errors)
            except ValidationError as exc:
                problems.append(f"{label}: {exc.field}: {exc.message}")
        seen_ids: dict[str, str] = {}
        seen_names: dict[str, str] = {}
        for task in tasks:
            if task.id in seen_ids:
                problems.append(
                    f"task {task.name!r}: id: {task.id!r} is also used by "
                    f"{seen_ids[task.id]!r}; ids must be unique"
                )
            if task.name.casefold() in seen_names:
                problems.append(
                    f"task {task.name!r}: name: also used by another task "
                    "(names are unique regardless of case)"
                )
            seen_ids[task.id] = task.name
            seen_names[task.name.casefold()] = task.id
        if problems:
            listed = "\n".join(f"  {problem}" for problem in problems)
            raise StoreError(
                f"{self.path}: {len(problems)} problem(s); the file was not changed:\n{listed}"
            )
        return TaskFile(tasks=tasks, extra=extra, legacy=legacy)

    # -- writing --

    @contextmanager
    def lock(self, timeout: float | None = None) -> Iterator[None]:
        """The store's lock; StoreBusy when another process holds it past ``timeout``
        (default: the store's lock timeout)."""
        wait = self.lock_timeout if timeout is None else timeout
        lock = FileLock(self.lock_path, timeout=wait, mode=0o640)
        try:
            lock.acquire()
        except Timeout:
            raise StoreBusy(
                f"{self.path} is locked by another process (lock file {self.lock_path}) and "
                f"stayed locked for {wait:g} s; try again, or check that no command is stuck"
            ) from None
        except PermissionError:
            raise StoreError(
                f"cannot create the lock file {self.lock_path}: permission denied; the folder "
                "must be writable by this user"
            ) from None
        try:
            yield
        finally:
            lock.release()

    @contextmanager
    def transaction(self) -> Iterator[TaskFile]:
        """Lock, read, let the caller change the TaskFile, write it back if it changed."""
        with self.lock():
            raw = self.read_bytes()
            task_file = self.parse(raw)
            before = serialize(task_file.to_document())
            yield task_file
            after = serialize(task_file.to_document())
            if after != before or (task_file.converts and raw is not None):
                self._write(after, self._backup_for(task_file) if raw is not None else None)

    def _backup_for(self, task_file: TaskFile) -> Path | None:
        """Where the original of a file this write converts is kept (None: no conversion)."""
        if task_file.legacy:
            return self.backup_path
        if task_file.version != FORMAT_VERSION:
            return self.target.with_name(f"{self.target.name}.v{task_file.version}.bak")
        return None

    def _write(self, data: bytes, backup: Path | None) -> None:
        if backup is not None and not backup.exists():
            shutil.copy2(self.target, backup)
        try:
            atomic_write_bytes(self.target, data)
        except OSError as exc:
            raise StoreError(
                f"cannot write {self.path}: {exc.strerror}; the file was not changed"
            ) from None

    # -- operations the CLI and the daemon use --

    def add(self, task: Task, now: datetime | None = None) -> Task:
        moment = now or clock_now()
        with self.transaction() as task_file:
            task_file.check_unique_name(task.name)
            if any(existing.id == task.id for existing in task_file.tasks):
                raise StoreError(f"a task with id {task.id} already exists")
            task = task.with_changes(created_at=task.created_at or moment, updated_at=moment)
            task_file.tasks.append(task)
        self._changed(None, task)
        return task

    def update(
        self,
        ref: str,
        change: Callable[[Task], Task],
        now: datetime | None = None,
        *,
        touch: bool = True,
    ) -> Task:
        """Apply ``change`` to the task ``ref`` names, under the lock; returns the new task.

        ``touch`` sets ``updated_at`` (a person's edit); the daemon's summary updates
        pass ``touch=False``.
        """
        moment = now or clock_now()
        with self.transaction() as task_file:
            current = task_file.find(ref)
            changed = change(current)
            task_file.check_unique_name(changed.name, except_id=current.id)
            if touch and changed != current:
                changed = changed.with_changes(updated_at=moment)
            task_file.tasks[task_file.tasks.index(current)] = changed
        if changed != current:
            self._changed(current, changed)
        return changed

    def record_run(self, task_id: str, result: RunResult) -> str | None:
        """Add an ended run to its task's summary (with any results queued earlier).

        Waits at most ``SUMMARY_LOCK_SECONDS`` for the lock: past that (a person's
        command holds it), the result is queued (:mod:`pending_runs`) and written by the
        next writer; returns a note saying so, None when written now.
        """
        pending = PendingRuns(self.pending_path)
        try:
            with self.lock(timeout=SUMMARY_LOCK_SECONDS):
                queued = pending.read()
                changes = [(t, r.applied_to) for t, r in queued.entries]
                self._update_summaries([*changes, (task_id, result.applied_to)], task_id)
                pending.drop(queued)
        except StoreBusy:
            pending.append(task_id, result)
            return (
                f"{self.path} is locked by another process; the run's summary is queued in "
                f"{pending.path} and written as soon as the lock is free"
            )
        return None

    def apply_pending(self) -> int:
        """Write queued run summaries if the lock is free now; how many were written."""
        if not self.pending_path.exists():
            return 0
        pending = PendingRuns(self.pending_path)
        try:
            with self.lock(timeout=0):
                queued = pending.read()
                changes = [(t, r.applied_to) for t, r in queued.entries]
                if changes:
                    self._update_summaries(changes, None)
                pending.drop(queued)
        except StoreBusy:
            return 0
        return len(queued.entries)

    def update_summary(self, task_id: str, summarize: Callable[[Task], Summary]) -> Task:
        """Replace one task's run summary with ``summarize(task)``, under the lock."""
        with self.lock():
            return self._update_summaries([(task_id, summarize)], task_id)[task_id]

    def _update_summaries(
        self, changes: Sequence[tuple[str, Callable[[Task], Summary]]], required: str | None
    ) -> dict[str, Task]:
        """Apply summary changes in order, with the lock held; one read, one write.

        Only the tasks named are decoded and validated; the others are written back as
        they are, so the cost of a run's record does not grow with the number of tasks
        (a 10,000-task file is not validated, nor its crons parsed, per run). A file in
        the earlier tool's format, or one that is not an object of tasks, goes through
        the full read and its errors. A task no longer in the file is skipped, unless it
        is ``required`` (then TaskNotFound, and nothing is written).
        """
        raw = self.read_bytes()
        document = self._plain_document(raw)
        if document is None:  # legacy, empty or broken: the full path says what is wrong
            task_file = self.parse(raw)
            tasks = {task.id: task for task in task_file.tasks}
        else:
            items: list[Any] = document["tasks"]
            positions = {_id_of(item): i for i, item in enumerate(items)}
            tasks = {}
            for task_id, _ in changes:
                index = positions.get(task_id.strip())
                if index is not None and task_id not in tasks:
                    tasks[task_id] = self._valid(items[index], index)
        if required is not None and required not in tasks:
            raise TaskNotFound(f"no task with id {required!r} in {self.path}")
        changed: dict[str, Task] = {}
        for task_id, summarize in changes:
            current = changed.get(task_id) or tasks.get(task_id)
            if current is not None:
                changed[task_id] = current.with_changes(summary=summarize(current))
        if document is None:
            task_file.tasks = [changed.get(task.id, task) for task in task_file.tasks]
            self._write(serialize(task_file.to_document()), self._backup_for(task_file))
        else:
            for task_id, task in changed.items():
                items[positions[task_id.strip()]] = task.to_dict()
            read_as = document.get("version", FORMAT_VERSION)
            document["version"] = FORMAT_VERSION  # the other tasks read the same in both
            older = TaskFile(tasks=[], version=read_as)
            self._write(serialize(document), self._backup_for(older))
        return changed

    def _valid(self, item: Any, index: int) -> Task:
        try:
            return Task.from_dict(item, default_timezone=self.default_timezone)
        except TaskValidationErrors as exc:
            problems = "; ".join(f"{err.field}: {err.message}" for err in exc.errors)
            raise StoreError(
                f"{self.path}: {_label(item, index)}: {problems}; the file was not changed"
            ) from None

    def _plain_document(self, raw: bytes | None) -> dict[str, Any] | None:
        """The file as a document of a version this one reads (a version-1 task reads
        the same in version 2), or None when it is anything else."""
        if raw is None:
            return None
        try:
            document = json.loads(raw.decode("utf-8"))
        except ValueError:
            return None
        version = document.get("version", FORMAT_VERSION) if isinstance(document, dict) else None
        if (
            not isinstance(document, dict)
            or version not in READABLE_VERSIONS
            or isinstance(version, bool)
            or not isinstance(document.get("tasks"), list)
        ):
            return None
        return document

    def delete(self, ref: str, check: Callable[[Task], None] | None = None) -> Task:
        """Remove the task ``ref`` names; ``check`` (raising to refuse) sees it first, under
        the lock (the API's If-Match)."""
        with self.transaction() as task_file:
            task = task_file.find(ref)
            if check is not None:
                check(task)
            task_file.tasks.remove(task)
        self._changed(task, None)
        return task

    def _changed(self, before: Task | None, after: Task | None) -> None:
        if self.on_change is not None:
            self.on_change(before, after)


def _id_of(item: Any) -> str | None:
    task_id = item.get("id") if isinstance(item, dict) else None
    return task_id.strip() if isinstance(task_id, str) else None


def _label(item: Any, index: int) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    return f"task #{index + 1} {name!r}" if isinstance(name, str) else f"task #{index + 1}"
