"""Crash-safe file replacement (src/services/atomic.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from src.services.atomic import atomic_write_bytes


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_private_default_or_the_given_mode(tmp_path: Path) -> None:
    atomic_write_bytes(tmp_path / "a", b"one")
    atomic_write_bytes(tmp_path / "b", b"two", mode=0o600)
    assert (tmp_path / "a").read_bytes() == b"one"
    assert (mode(tmp_path / "a"), mode(tmp_path / "b")) == (0o640, 0o600)


def test_a_replaced_file_keeps_its_mode_and_no_temp_file_is_left(tmp_path: Path) -> None:
    target = tmp_path / "tasks.json"
    target.write_bytes(b"old")
    os.chmod(target, 0o604)
    atomic_write_bytes(target, b"new", mode=0o600)
    assert target.read_bytes() == b"new"
    assert mode(target) == 0o604
    assert [p.name for p in tmp_path.iterdir()] == ["tasks.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "tasks.json"
    target.write_bytes(b"old")

    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["tasks.json"]


def test_a_write_through_a_symlink_replaces_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real" / "tasks.json"
    real.parent.mkdir()
    real.write_bytes(b"old")
    (tmp_path / "elsewhere").mkdir()
    link = tmp_path / "elsewhere" / "tasks.json"
    link.symlink_to(real)
    atomic_write_bytes(link, b"new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new"
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == ["tasks.json"]
