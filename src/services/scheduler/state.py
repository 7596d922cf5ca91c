"""The state file: the last occurrence the daemon handled, per task, across restarts.

``<DATA_DIR>/scheduler/state.json`` holds, per task, the scheduled time of the last
occurrence the daemon dispatched or recorded as skipped. Written atomically, at most
twice a second (changes are batched) and at shutdown. At start it is read together
with the run history (:mod:`recovery`), which also says what was dispatched when this
file was not yet flushed before a ``kill -9``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from src.core.clock import parse_instant, to_utc_iso
from src.services.atomic import atomic_write_bytes
from src.services.permissions import make_private_dir

STATE_VERSION = 1


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.last_handled: dict[str, datetime] = {}
        self._dirty = False

    def load(self) -> None:
        """Read the file; a missing or unreadable one is an empty state (the history still
        tells what ran), never a reason not to start."""
        try:
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            return
        items = data.get("last_handled", {}) if isinstance(data, dict) else {}
        for task_id, text in items.items() if isinstance(items, dict) else ():
            try:
                self.last_handled[str(task_id)] = parse_instant(str(text))
            except ValueError:
                continue

    def mark(self, task_id: str, occurrence: datetime) -> None:
        current = self.last_handled.get(task_id)
        if current is None or occurrence > current:
            self.last_handled[task_id] = occurrence
            self._dirty = True

    def forget(self, keep: Iterable[str]) -> None:
        """Drop tasks that no longer exist."""
        keep_set = set(keep)
        for task_id in [t for t in self.last_handled if t not in keep_set]:
            del self.last_handled[task_id]
            self._dirty = True

    @property
    def dirty(self) -> bool:
        return self._dirty

    def flush(self, now: datetime) -> None:
        if not self._dirty:
            return
        document: dict[str, Any] = {
            "version": STATE_VERSION,
            "saved_at": to_utc_iso(now),
            "last_handled": {k: to_utc_iso(v) for k, v in sorted(self.last_handled.items())},
        }
        make_private_dir(self.path.parent)
        atomic_write_bytes(self.path, (json.dumps(document, indent=1) + "\n").encode("utf-8"))
        self._dirty = False
