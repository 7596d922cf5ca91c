"""Crash-safe file replacement: write a temp file beside the target, fsync, rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def real_path(path: Path) -> Path:
    """``path`` with every symbolic link, ``..`` and relative part resolved: the file a
    write must replace (a link's target, not the link), even when it does not exist yet."""
    return Path(os.path.realpath(path))


def atomic_write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, never a
    half-written one, and a crash at any point leaves one of the two.

    The new file keeps the old file's permission bits; a new file gets ``mode``
    (default 0o640: owner and group only). A symbolic link is kept: its target is
    replaced, by a temp file written beside the target (a rename onto the link would
    turn it into a regular file and leave the real one unchanged).
    """
    path = real_path(path)
    directory = path.parent
    try:
        keep_mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        keep_mode = 0o640 if mode is None else mode
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, keep_mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    fsync_directory(directory)


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories can't be opened)."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
