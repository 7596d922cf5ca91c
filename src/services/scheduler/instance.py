"""One daemon per tasks file: an exclusive lock on ``<tasks file>.scheduler.pid``.

The lock is a kernel ``flock``: it goes away with the process, even after
``kill -9``, so a stale pid file never blocks a restart. The file holds the pid of
the daemon that holds the lock, for the message a second daemon prints.

The lock file sits beside the *real* tasks file (symbolic links, ``..`` and relative
paths resolved), so a daemon started through a link, or through another spelling of
the path, is refused like one started on the file itself. A bind mount of the folder
reaches the same lock file (flock is per file, not per path).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from src.core.errors import SchedulerError
from src.services.atomic import real_path


class AlreadyRunning(SchedulerError):
    """Another scheduler holds the lock for this tasks file."""


class InstanceLock:
    def __init__(self, tasks_file: Path) -> None:
        self.tasks_file = tasks_file
        self.real_file = real_path(tasks_file)
        self.path = self.real_file.with_name(self.real_file.name + ".scheduler.pid")
        self._fd: int | None = None
        self.note: str | None = None  # what the daemon should say about the lock

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SchedulerError(
                f"cannot create the lock file {self.path}: {exc.strerror}; the folder of "
                f"{self.tasks_file} must be writable by this user"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                pid = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            finally:
                os.close(fd)
            spelled = os.path.abspath(self.tasks_file)  # a relative path is no surprise
            given = "" if spelled == str(self.real_file) else f" (where {spelled} leads)"
            raise AlreadyRunning(
                f"another scheduler (pid {pid}) is already running for {self.real_file}{given}"
            ) from None
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            os.fsync(fd)
        except OSError as exc:  # a full disk: the lock holds all the same (it is the flock)
            os.ftruncate(fd, 0)
            self.note = (
                f"the lock file {self.path} holds no pid ({exc.strerror}): a second daemon "
                "is still refused, but cannot name this one"
            )

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        finally:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def hard_link_warnings(tasks_file: Path) -> list[str]:
    """A hard link cannot share the file: every write replaces it (an atomic rename), so
    the other names keep the old tasks, and their lock files differ. A symbolic link is
    the way; say so."""
    try:
        links = tasks_file.stat().st_nlink
    except OSError:
        return []
    if links < 2:
        return []
    return [
        f"{tasks_file} has {links} hard links: the first change replaces the file and the "
        "other names keep the old tasks (a daemon started on another name is not refused); "
        "use a symbolic link instead"
    ]
