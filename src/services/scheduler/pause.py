"""The scheduler's pause: no new scheduled runs while paused, across restarts.

``<DATA_DIR>/scheduler/pause.json`` says whether the scheduler is paused, since when
and by whom. ``manage_tasks.py pause|resume`` and ``POST /api/scheduler/pause|resume``
write it (atomically); the daemon reads it at start and looks at it twice a second, so
a pause from the CLI takes hold within half a second and survives a restart.

While paused, occurrences that come due are not run and not recorded: per task, the
instant before the first of them is held (the daemon's own
:class:`~src.services.scheduler.storage.HeldFires`, as for a full disk). On resume,
each task's missed occurrences since then are planned by its ``catch_up`` policy, as
after downtime. Runs asked for by a person (``manage_tasks.py run``, ``POST .../run``, the
webhook) still run; retries of runs that started before the pause go on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from src.core.clock import parse_instant, to_utc_iso
from src.services.atomic import atomic_write_bytes
from src.services.permissions import make_private_dir


@dataclass(frozen=True)
class PauseState:
    paused: bool
    since: datetime | None = None
    by: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "paused": self.paused,
            "paused_since": to_utc_iso(self.since) if self.since else None,
            "paused_by": self.by,
        }


def pause_path(data_dir: Path) -> Path:
    return data_dir / "scheduler" / "pause.json"


class PauseFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._state = PauseState(False)

    def read(self) -> PauseState:
        """The state in the file (not paused when there is none). A file that cannot be
        read keeps the last state read: a half-made edit by hand must not un-pause."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            self._seen, self._state = None, PauseState(False)
            return self._state
        key = (info.st_ino, info.st_mtime_ns, info.st_size)
        if key == self._seen:
            return self._state
        try:
            data = json.loads(self.path.read_bytes())
            since = data.get("since")
            state = PauseState(
                bool(data["paused"]),
                parse_instant(str(since)) if since else None,
                str(data["by"]) if data.get("by") else None,
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return self._state
        self._seen, self._state = key, state
        return state

    def write(self, paused: bool, by: str, now: datetime) -> PauseState:
        """Pause or resume; pausing an already paused scheduler keeps who paused it first."""
        current = self.read()
        if paused and current.paused:
            return current
        state = PauseState(True, now, by) if paused else PauseState(False)
        document = {"paused": paused, "since": to_utc_iso(now), "by": by}
        make_private_dir(self.path.parent)
        atomic_write_bytes(self.path, (json.dumps(document) + "\n").encode("utf-8"), mode=0o640)
        self._seen = None
        return state


#: How the daemon's log says an occurrence was held by the pause.
PAUSED_WHY = "the scheduler is paused; caught up per its catch_up on resume"
