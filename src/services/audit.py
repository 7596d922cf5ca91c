"""The audit log: who changed what, when and from where (JSON lines beside the history).

Every change to a task (from the CLI, the HTTP API and the pages), to the scheduler's
pause, to users and tokens, and every login, appends one line to
``<DATA_DIR>/audit.jsonl`` (in cluster mode a row of the cluster database instead:
:mod:`src.services.cluster.audit`, chosen by
:func:`~src.services.cluster.stores.open_audit_log`)::

    {"at": "...Z", "actor": "user:alice", "via": "api", "from": "10.0.0.5",
     "action": "task.update", "task_id": "...", "task_name": "...",
     "changes": {"email.to": {"before": [...], "after": [...]}}}

A line never holds a secret: passwords in connection URLs, values of fields named
like a password, secret or token, and SMTP passwords are replaced by ``***`` before
the line is written (:func:`mask_secrets`). Lines are appended whole under a lock and
fsynced, like the run history; lines older than ``AUDIT_KEEP_DAYS`` are dropped at
most once a day (never while the retention gate refuses: a clock that jumped must not
make fresh lines look old).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from filelock import FileLock

from src.core.clock import now as clock_now
from src.core.clock import parse_instant, to_utc_iso
from src.core.task import SUMMARY_FIELDS, Task
from src.services.atomic import atomic_write_bytes
from src.services.permissions import make_private_dir
from src.services.retention import GATE, RetentionGate

#: A year: long enough to answer "who changed this report last spring?".
AUDIT_KEEP_DAYS = 365
MASK = "***"
_SECRET_KEY = re.compile(r"pass(word)?|pwd|secret|token|api[_-]?key", re.IGNORECASE)
#: user:password@ in a URL (any scheme), and ODBC's PWD=...;
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*):[^@/\s]*@")
_ODBC_PASSWORD = re.compile(r"(?i)\b(pwd|password)=[^;]*")
#: Fields of a task that only runs change: never part of an edit's before/after.
_NOT_AUDITED = {*SUMMARY_FIELDS, "updated_at", "created_at"}


@dataclass(frozen=True)
class Actor:
    """Who made a change and from where: ``name`` as the log shows it (``os:alice``,
    ``token:ci``, ``user:bob``), ``via`` (``cli``, ``api``, ``web``), ``address``."""

    name: str
    via: str
    address: str

    @classmethod
    def os_user(cls) -> Actor:
        """The person at this machine's shell (the CLI)."""
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            user = f"uid {os.getuid()}"
        return cls(f"os:{user}", "cli", socket.gethostname())


def mask_secrets(value: Any, key: str = "") -> Any:
    """``value`` with every secret in it replaced by ``***`` (recursively)."""
    if key and _SECRET_KEY.search(key) and value not in (None, "", [], {}):
        return MASK
    if isinstance(value, Mapping):
        return {str(k): mask_secrets(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_secrets(v) for v in value]
    if isinstance(value, str):
        masked = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:{MASK}@", value)
        return _ODBC_PASSWORD.sub(lambda m: f"{m.group(1)}={MASK}", masked)
    return value


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and key not in ("params",):
            out.update(_flatten(value, path + "."))
        else:
            out[path] = value
    return out


def task_changes(before: Task | None, after: Task | None) -> dict[str, dict[str, Any]]:
    """The fields that differ, ``{"email.to": {"before": [...], "after": [...]}}``,
    secrets masked; a created task lists what it was made with, a deleted one what it had."""
    old = _flatten(before.to_dict()) if before else {}
    new = _flatten(after.to_dict()) if after else {}
    changes: dict[str, dict[str, Any]] = {}
    for name in sorted({*old, *new}):
        if name.split(".")[0] in _NOT_AUDITED or old.get(name) == new.get(name):
            continue
        changes[name] = {
            "before": mask_secrets(old.get(name), name.rsplit(".", 1)[-1]),
            "after": mask_secrets(new.get(name), name.rsplit(".", 1)[-1]),
        }
    return changes


class AuditLog:
    def __init__(
        self,
        path: Path,
        keep_days: int = AUDIT_KEEP_DAYS,
        *,
        gate: RetentionGate = GATE,
    ) -> None:
        self.path = path
        self.keep_days = keep_days
        self.gate = gate
        self._lock = FileLock(str(path) + ".lock", timeout=30, mode=0o640)

    def record(
        self,
        actor: Actor,
        action: str,
        *,
        task: Task | None = None,
        changes: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        **details: Any,
    ) -> dict[str, Any]:
        """Append one entry (durable when this returns); returns it as written."""
        moment = at or clock_now()
        entry: dict[str, Any] = {
            "at": to_utc_iso(moment),
            "actor": actor.name,
            "via": actor.via,
            "from": actor.address,
            "action": action,
        }
        if task is not None:
            entry["task_id"] = task.id
            entry["task_name"] = task.name
        entry.update(mask_secrets(details))
        if changes:
            entry["changes"] = mask_secrets(dict(changes))
        self._write(entry)
        self._maybe_prune(moment)
        return entry

    def _write(self, entry: dict[str, Any]) -> None:
        """Append ``entry`` whole, fsynced."""
        data = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        make_private_dir(self.path.parent)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                written = 0
                while written < len(data):
                    written += os.write(fd, data[written:])
                os.fsync(fd)
            finally:
                os.close(fd)

    def entries(self, task: str | None = None) -> Iterator[dict[str, Any]]:
        """Entries oldest first (of one task id, when given); a torn line is skipped."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return
        with handle:
            for raw in handle:
                if task is not None and task.encode() not in raw:
                    continue
                try:
                    item = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(item, dict) and (task is None or item.get("task_id") == task):
                    yield item

    def newest(
        self, task: str | None = None, limit: int = 50, offset: int = 0, action: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of entries, newest first, and how many there are in all."""
        items = [e for e in self.entries(task) if action is None or e.get("action") == action]
        items.reverse()
        return items[offset : offset + limit], len(items)

    def _maybe_prune(self, now: datetime) -> None:
        if self.gate.refusal() is not None:
            return
        try:
            with self.path.open("rb") as handle:
                first = json.loads(handle.readline())
            oldest = parse_instant(str(first["at"]))
        except (OSError, ValueError, KeyError, TypeError):
            return
        if oldest < now - timedelta(days=self.keep_days):
            self.prune(now)

    def prune(self, now: datetime) -> int:
        """Drop entries older than ``keep_days``; returns how many were dropped."""
        cutoff = now - timedelta(days=self.keep_days)
        with self._lock:
            kept: list[bytes] = []
            dropped = 0
            with contextlib.suppress(FileNotFoundError), self.path.open("rb") as handle:
                for raw in handle:
                    try:
                        old = parse_instant(str(json.loads(raw)["at"])) < cutoff
                    except (ValueError, KeyError, TypeError):
                        old = False  # a line that cannot be read is kept for a person to see
                    if old:
                        dropped += 1
                    else:
                        kept.append(raw if raw.endswith(b"\n") else raw + b"\n")
            if dropped:
                atomic_write_bytes(self.path, b"".join(kept), mode=0o640)
            return dropped


def task_action(before: Task | None, after: Task | None) -> str:
    """``task.create``, ``task.delete``, ``task.enable`` / ``task.disable`` (only that
    changed) or ``task.update``."""
    if before is None:
        return "task.create"
    if after is None:
        return "task.delete"
    if (
        before.enabled != after.enabled
        and before.with_changes(enabled=after.enabled, updated_at=after.updated_at) == after
    ):
        return "task.enable" if after.enabled else "task.disable"
    return "task.update"


class TaskAudit:
    """A TaskStore's ``on_change``: each definition change written as an audit entry."""

    def __init__(self, log: AuditLog, actor: Actor) -> None:
        self.log = log
        self.actor = actor

    def __call__(self, before: Task | None, after: Task | None) -> None:
        task = after or before
        assert task is not None
        self.log.record(
            self.actor,
            task_action(before, after),
            task=task,
            changes=task_changes(before, after),
        )
