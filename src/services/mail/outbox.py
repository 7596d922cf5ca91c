"""The outbox: messages written as ``.eml`` files when no SMTP server is set, and pruned.

``write_outbox`` names each file by the time it was written
(``20260102T030405Z_daily-sales_1a2b3c4d5e.eml``); ``prune_outbox`` removes the files
whose name says they are older than ``OUTBOX_KEEP_DAYS``. The run that writes a message
prunes the folder, so a demo mailing every minute cannot fill the disk; not while the
retention gate refuses (:mod:`src.services.retention`: the wall clock jumped).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from src.core import clock
from src.core.errors import EmailError, ValidationError
from src.services.atomic import atomic_write_bytes
from src.services.mail.message import BuiltMessage, safe_file_part
from src.services.permissions import make_private_dir
from src.services.retention import GATE, RetentionGate

#: File mode of outbox files: they hold report data, so not world-readable.
OUTBOX_FILE_MODE = 0o640

# Only what write_outbox names: a person's own files in the folder are left alone.
_OUTBOX_FILE = re.compile(r"^(\d{8}T\d{6}Z)_[^/]*\.eml$")


def write_outbox(folder: Path, built: BuiltMessage, *, now: datetime | None = None) -> Path:
    """Write the message as an ``.eml`` file, atomically (temporary file, then rename).

    The name sorts by time and says which task it is for:
    ``20260102T030405Z_daily-sales_1a2b3c4d5e.eml``. Mode 0o640: reports hold data.
    """
    when = (now or clock.now()).astimezone(UTC)
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    task = safe_file_part(built.task_name, 40) or "message"
    fragment = "".join(ch for ch in built.message_id.partition("@")[0] if ch.isalnum())[-10:]
    target = folder / f"{stamp}_{task}_{fragment}.eml"
    data = built.data
    try:
        make_private_dir(folder)
        atomic_write_bytes(target, data, mode=OUTBOX_FILE_MODE)
    except OSError as exc:
        raise EmailError(
            f"cannot write the message to the outbox folder {folder}: {exc}; check OUTBOX_DIR "
            "and that the folder is writable",
            permanent=True,
        ) from None
    return target


def prune_outbox(
    folder: Path, keep_days: int, now: datetime, gate: RetentionGate = GATE
) -> list[Path]:
    """Remove the outbox's messages written more than ``keep_days`` before ``now``.

    Judged by the time in the file's name (as written by ``write_outbox``), not its
    mtime, which a copy or a backup restore changes. Other files, folders and symlinks
    are left alone. Returns the files removed, oldest first. Nothing is removed while
    ``gate`` refuses.
    """
    if isinstance(keep_days, bool) or not isinstance(keep_days, int) or keep_days < 0:
        raise ValidationError("keep_days", f"must be a whole number >= 0, got {keep_days!r}")
    if now.tzinfo is None:
        raise ValueError(f"now must be aware, got naive {now!r}")
    if not folder.is_dir() or gate.refusal() is not None:
        return []
    cutoff = now - timedelta(days=keep_days)
    removed = []
    for entry in sorted(folder.iterdir()):
        match = _OUTBOX_FILE.match(entry.name)
        if not match or entry.is_symlink() or not entry.is_file():
            continue
        written = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if written < cutoff:
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed
