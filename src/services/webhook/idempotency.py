"""Idempotency keys: a repeat of a trigger call within the window returns the first run.

Kept in a JSON-lines file (``<DATA_DIR>/webhook/idempotency.jsonl``), one line per
accepted trigger, appended and flushed to disk before the answer goes out, so a
restarted daemon still knows the keys of the last day. Expired lines are dropped
when the file is loaded (rewritten atomically). Keys are scoped to a task: the same
key sent for two tasks names two different calls.

Only one daemon serves a tasks file (the instance lock), so a lock between threads
is enough.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from src.core.clock import now as clock_now
from src.core.clock import parse_instant, to_utc_iso
from src.core.errors import ConfigError
from src.services.atomic import atomic_write_bytes
from src.services.permissions import make_private_dir

#: Longer keys are refused: a UUID (36) or a CI run URL fits; a novel does not.
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Remembered:
    task_id: str
    key: str
    run_id: str
    at: datetime


def check_key(key: str) -> str | None:
    """None when ``key`` is acceptable, else what is wrong with it."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return f"an idempotency key has 1 to {MAX_KEY_LENGTH} characters"
    if any(not (0x21 <= ord(c) <= 0x7E) for c in key):
        return "an idempotency key is printable ASCII without spaces (e.g. a UUID)"
    return None


class IdempotencyStore:
    def __init__(
        self,
        path: Path,
        window: timedelta,
        *,
        clock: Callable[[], datetime] = clock_now,
    ) -> None:
        self.path = path
        self.window = window
        self.clock = clock
        self._entries: dict[tuple[str, str], Remembered] = {}
        self._lock = threading.Lock()
        self._added = 0
        self._load()

    def _load(self) -> None:
        cutoff = self.clock() - self.window
        total = 0
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise ConfigError(
                f"cannot read the webhook idempotency keys {self.path}: {exc.strerror}; the "
                "data folder must be readable and writable by the daemon's user"
            ) from None
        for line in raw.splitlines():
            total += 1
            try:
                item = json.loads(line)
                entry = Remembered(
                    str(item["task_id"]),
                    str(item["key"]),
                    str(item["run_id"]),
                    parse_instant(str(item["at"])),
                )
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line after a crash
            if entry.at >= cutoff:
                self._entries[(entry.task_id, entry.key)] = entry
        if total > len(self._entries):
            self._rewrite()

    def _rewrite(self) -> None:
        data = "".join(_line(entry) for entry in self._entries.values())
        make_private_dir(self.path.parent)
        atomic_write_bytes(self.path, data.encode("utf-8"), mode=0o600)

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Held from the look-up to :meth:`remember`, so two concurrent calls with one key
        start one run."""
        with self._lock:
            yield

    def get(self, task_id: str, key: str) -> Remembered | None:
        entry = self._entries.get((task_id, key))
        if entry is None or entry.at < self.clock() - self.window:
            return None
        return entry

    def remember(self, task_id: str, key: str, run_id: str) -> Remembered:
        entry = Remembered(task_id, key, run_id, self.clock())
        self._entries[(task_id, key)] = entry
        self._added += 1
        if self._added % 256 == 0:  # expired keys leave memory as they leave the file
            cutoff = entry.at - self.window
            self._entries = {k: e for k, e in self._entries.items() if e.at >= cutoff}
        make_private_dir(self.path.parent)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, _line(entry).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def forget(self, task_id: str, key: str) -> None:
        """Drop a key whose run never started (lost in a restart); the file keeps its line
        until the next load, where the newer entry for the key wins."""
        self._entries.pop((task_id, key), None)


def _line(entry: Remembered) -> str:
    item = {"task_id": entry.task_id, "key": entry.key, "run_id": entry.run_id}
    item["at"] = to_utc_iso(entry.at)
    return json.dumps(item, ensure_ascii=False) + "\n"
