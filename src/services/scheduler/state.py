"""What the daemon remembers across restarts: the last occurrence handled per task.

Two sources, read together at start:

* the state file (``<DATA_DIR>/scheduler/state.json``): per task, the scheduled
  time of the last occurrence the daemon dispatched or recorded as skipped. Written
  atomically, at most twice a second (changes are batched) and at shutdown;
* the run history: every occurrence that started has a ``started`` line, so the
  history also says what was dispatched, even when the state file was not yet
  flushed before a ``kill -9``. It alone says which occurrences were emailed
  (``emailed`` line) and which runs were cut off (``started`` without ``finished``).

The later of the two is the task's baseline: occurrences after it and up to now
were missed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from src.core.clock import parse_instant, to_utc_iso
from src.services.atomic import atomic_write_bytes
from src.services.history import RunRecord
from src.services.permissions import make_private_dir

STATE_VERSION = 1
#: Triggers of runs that belong to the schedule (manual `run` and webhooks do not).
SCHEDULED_TRIGGERS = ("schedule", "catch-up", "retry")

OccurrenceKey = tuple[str, str]  # (task id, scheduled time as UTC ISO)


def occurrence_key(task_id: str, scheduled_for: datetime) -> OccurrenceKey:
    return (task_id, to_utc_iso(scheduled_for))


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.last_handled: dict[str, datetime] = {}
        self.existed = False
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
        self.existed = True
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
        self.existed = True


@dataclass
class HistoryView:
    """What the run history says about scheduled occurrences (read once, at start)."""

    last_scheduled: dict[str, datetime] = field(default_factory=dict)
    delivered: set[OccurrenceKey] = field(default_factory=set)
    unfinished: list[RunRecord] = field(default_factory=list)
    #: occurrences whose latest run was interrupted and that were not delivered
    to_rerun: dict[str, set[datetime]] = field(default_factory=dict)
    #: occurrences whose latest attempt failed transiently: scheduled time -> that attempt
    #: (a retry that was waiting for its backoff when the scheduler stopped)
    retry_pending: dict[str, dict[datetime, int]] = field(default_factory=dict)

    @classmethod
    def build(cls, runs: Iterable[RunRecord]) -> HistoryView:
        view = cls()
        latest_status: dict[OccurrenceKey, str] = {}
        latest_transient: dict[OccurrenceKey, int] = {}
        for record in runs:
            text = record.data.get("scheduled_for")
            trigger = record.data.get("trigger")
            if not isinstance(text, str) or trigger not in SCHEDULED_TRIGGERS:
                continue
            try:
                moment = parse_instant(text)
            except ValueError:
                continue
            key = occurrence_key(record.task_id, moment)
            previous = view.last_scheduled.get(record.task_id)
            if previous is None or moment > previous:
                view.last_scheduled[record.task_id] = moment
            if "emailed" in record.steps or record.status == "success":
                view.delivered.add(key)
            if record.status == "running":
                view.unfinished.append(record)
                latest_status[key] = "interrupted"
            else:
                # a later decision (skipped, run again) settles an occurrence
                latest_status[key] = record.status
                error = record.data.get("error")
                if isinstance(error, dict) and error.get("permanent") is False:
                    latest_transient[key] = int(record.data.get("attempt") or 1)
                else:
                    latest_transient.pop(key, None)
        for (task_id, text), status in latest_status.items():
            if (task_id, text) in view.delivered:
                continue
            if status == "interrupted":
                view.to_rerun.setdefault(task_id, set()).add(parse_instant(text))
            elif status in ("failed", "timeout") and (task_id, text) in latest_transient:
                attempt = latest_transient[(task_id, text)]
                view.retry_pending.setdefault(task_id, {})[parse_instant(text)] = attempt
        return view
