"""Warnings about the operator's files other users can read (src/services/permissions.py)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from src.services.permissions import private_file_warnings

# --- permissions -----------------------------------------------------------------------------


def test_private_file_warnings_names_mode_and_fix(tmp_path: Path) -> None:
    files = {}
    for name, mode in (
        ("private.env", 0o600),
        ("group.json", 0o640),
        ("world.env", 0o644),
        ("writable.json", 0o602),
        ("odd name.env", 0o604),
    ):
        files[name] = tmp_path / name
        files[name].write_text("x", encoding="utf-8")
        os.chmod(files[name], mode)
    link = tmp_path / "link.env"
    link.symlink_to(files["world.env"])
    warnings = private_file_warnings([*files.values(), link, tmp_path / "missing.env"])
    world, writable, odd = (files[n] for n in ("world.env", "writable.json", "odd name.env"))
    assert warnings == [
        f"{world} can be read by every user on this machine (mode 0644); it should be "
        f"private to its owner (and group): run `chmod o-rwx {world}`",
        f"{writable} can be changed by every user on this machine (mode 0602); it should be "
        f"private to its owner (and group): run `chmod o-rwx {writable}`",
        f"{odd} can be read by every user on this machine (mode 0604); it should be "
        f"private to its owner (and group): run `chmod o-rwx '{odd}'`",
        f"{link} can be read by every user on this machine (mode 0644); it should be "
        f"private to its owner (and group): run `chmod o-rwx {link}`",
    ]
    os.chmod(world, 0o606)
    (both,) = private_file_warnings([world])
    assert "can be read and changed by every user" in both
    assert private_file_warnings([]) == []


def test_the_fix_it_names_silences_the_warning(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("SMTP_PASSWORD=x\n", encoding="utf-8")
    os.chmod(env, 0o664)
    (warning,) = private_file_warnings([env])
    command = warning.rsplit("run `", 1)[1].rstrip("`")
    subprocess.run(command, shell=True, check=True, timeout=30)
    assert stat.S_IMODE(env.stat().st_mode) == 0o660  # owner and group keep their access
    assert private_file_warnings([env]) == []
