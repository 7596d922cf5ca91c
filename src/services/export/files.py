"""Where exported files go and what they are called.

* ``render_filename``: a task's file name template (``{task_name}_{run_date:%Y-%m-%d}``)
  rendered, then made safe to use as one file name on Linux and Windows (and as an
  email attachment name): no path separators, no ``..``, no control or bidi-override
  characters, no leading dots, capped in length (the extension is kept).
* ``run_folder``: one folder per run under the exports directory,
  ``<UTC time>_<task>_<run id>``, guaranteed to resolve inside it.
* ``prune_exports``: retention; removes run folders older than ``keep_days``, judged by
  the time in their name, and never touches anything else; nothing while the retention
  gate refuses (:mod:`src.services.retention`: the wall clock jumped).
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from src.core import defaults
from src.core.errors import ExportError, ValidationError
from src.core.templating import render
from src.services.permissions import make_private_dir
from src.services.retention import GATE, RetentionGate

#: The default file name: the task's name and the run's date in the task's zone.
DEFAULT_FILENAME_TEMPLATE = defaults.FILENAME_TEMPLATE
#: Used when a template renders to nothing usable.
FALLBACK_NAME = "export"
#: Bytes of a file name, extension included: file systems allow 255, and the writer's
#: temporary name (``.<name>.<8 hex>.part``) adds 15.
MAX_NAME_BYTES = 200
#: Run folders and files: owner writes, group reads, others nothing.
FOLDER_MODE = 0o750

_RUN_FOLDER = re.compile(r"^(\d{8}T\d{6}Z)_")
# Separators, characters Windows refuses in names, control characters.
_UNSAFE = re.compile(r'[/\\<>:"|?*\x00-\x1f\x7f]+')
# Bidi overrides/isolates and zero-width characters can disguise an extension.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {
    f"{prefix}{i}" for prefix in ("com", "lpt") for i in range(10)
}


def safe_name(text: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """``text`` as one safe file-name component (may be empty)."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    text = _UNSAFE.sub("_", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\.{2,}", ".", text)  # no "..", anywhere
    text = text.strip(" ._")  # no leading dots (hidden files), no trailing dots (Windows)
    encoded = text.encode()
    if len(encoded) > max_bytes:
        text = encoded[:max_bytes].decode("utf-8", "ignore").rstrip(" ._")
    if text.split(".")[0].lower() in _WINDOWS_RESERVED:
        text = "_" + text
    return text


def render_filename(template: str, values: Mapping[str, Any], extension: str) -> str:
    """The file name for one export: the rendered template, made safe, plus ``.extension``."""
    if not re.fullmatch(r"[a-z0-9]{1,10}", extension):
        raise ValueError(f"bad extension {extension!r}")
    # the extension is the format's name: errors name the task's field, as validation does
    stem = render(template, values, field=f"exports.{extension}.filename")
    if stem.lower().endswith("." + extension):
        stem = stem[: -len(extension) - 1]  # a template that spells the extension itself
    stem = safe_name(stem, MAX_NAME_BYTES - len(extension) - 1) or FALLBACK_NAME
    return f"{stem}.{extension}"


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def run_folder(exports_dir: Path, task_name: str, run_id: str, run_at: datetime) -> Path:
    """Create (if needed) and return the folder of one run inside ``exports_dir``."""
    if run_at.tzinfo is None:
        raise ValueError(f"run_at must be aware, got naive {run_at!r}")
    stamp = run_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    task = safe_name(task_name, 60) or "task"
    rid = safe_name(run_id, 40) or "run"
    folder = exports_dir / f"{stamp}_{task}_{rid}"
    if not _inside(folder, exports_dir) or folder.resolve().parent != exports_dir.resolve():
        raise ExportError(
            f"run folder {folder} would fall outside the exports folder {exports_dir}",
            permanent=True,
        )
    try:
        make_private_dir(exports_dir)
        folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
        os.chmod(folder, FOLDER_MODE)  # mkdir's mode is narrowed by the umask
    except OSError as exc:
        raise ExportError(
            f"cannot create the run folder {folder}: {exc.strerror or exc}; check that the "
            "exports folder exists and is writable (EXPORTS_DIR)",
            permanent=False,
        ) from exc
    return folder


def prune_exports(
    exports_dir: Path, keep_days: int, now: datetime, gate: RetentionGate = GATE
) -> list[Path]:
    """Remove run folders whose run time is more than ``keep_days`` before ``now``.

    Only direct children of ``exports_dir`` named like a run folder, that are real
    directories (not symlinks) resolving inside it, are removed. Returns them. Nothing
    is removed while ``gate`` refuses (``now`` may come from a clock that jumped).
    """
    if isinstance(keep_days, bool) or not isinstance(keep_days, int) or keep_days < 0:
        raise ValidationError("keep_days", f"must be a whole number >= 0, got {keep_days!r}")
    if now.tzinfo is None:
        raise ValueError(f"now must be aware, got naive {now!r}")
    if not exports_dir.is_dir() or gate.refusal() is not None:
        return []
    cutoff = now - timedelta(days=keep_days)
    removed = []
    for entry in sorted(exports_dir.iterdir()):
        match = _RUN_FOLDER.match(entry.name)
        if not match or entry.is_symlink() or not entry.is_dir():
            continue
        if not _inside(entry, exports_dir):
            continue
        run_at = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if run_at < cutoff:
            shutil.rmtree(entry)
            removed.append(entry)
    return removed
