"""Keeping files private: the folders the product makes, and warnings about the
operator's files other users can read: ``.env`` (passwords, tokens) and tasks.json
(queries, recipients).

The daemon calls :func:`private_file_warnings` at start and logs each line; it does
not refuse to start (an operator may have reasons, and a dead scheduler sends no
reports), and it changes no mode itself: ``chmod`` is the operator's decision.
"""

from __future__ import annotations

import shlex
import stat
from collections.abc import Iterable
from pathlib import Path

#: Folders the product makes (data, exports, outbox, history, scheduler state): reports
#: hold business data, so other users may not even list them.
PRIVATE_DIR_MODE = 0o750

#: Permission bits that give users other than the owner and the group any access.
_OTHERS = stat.S_IROTH | stat.S_IWOTH | stat.S_IXOTH


def make_private_dir(path: Path) -> Path:
    """Create ``path`` and every missing parent with mode 0750 (narrowed further by the
    umask, never widened); existing folders are left as they are."""
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
    return path


def private_file_warnings(paths: Iterable[Path | str]) -> list[str]:
    """One warning per existing file that users other than its owner and group can read
    or write (``o+r`` or ``o+w``); the warning gives the mode and the ``chmod`` that fixes
    it. Missing paths, and paths whose mode cannot be read, give no warning. The mode
    is the one of the file a symlink points to (what a reader gets)."""
    warnings: list[str] = []
    for item in paths:
        path = Path(item)
        try:
            mode = path.stat().st_mode
        except OSError:  # missing, or a folder on the way we cannot enter: nothing to say
            continue
        others = mode & _OTHERS
        if not others & (stat.S_IROTH | stat.S_IWOTH):
            continue
        what = " and ".join(
            word
            for bit, word in ((stat.S_IROTH, "read"), (stat.S_IWOTH, "changed"))
            if others & bit
        )
        warnings.append(
            f"{path} can be {what} by every user on this machine (mode "
            f"{stat.S_IMODE(mode):04o}); it should be private to its owner (and group): "
            f"run `chmod o-rwx {shlex.quote(str(path))}`"
        )
    return warnings
