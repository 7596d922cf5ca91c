"""Freed memory back to the system (src/services/export/heap.py)."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from src.core.result import Column
from src.services.export import ExportContext, heap
from src.services.export.writers import RunWriters


def test_trim_works_on_glibc() -> None:
    if platform.libc_ver()[0] != "glibc":
        pytest.skip(f"malloc_trim is glibc's; this is {platform.libc_ver()}")
    assert heap.trim() is True


def test_the_writers_trim_every_trim_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(heap, "trim", lambda: calls.append(1) or True)
    context = ExportContext("t", datetime(2024, 1, 1, tzinfo=UTC), ZoneInfo("UTC"))
    writers = RunWriters([("csv", tmp_path / "r.csv", {})], [Column("n")], context, side=False)
    for n in range(3 * heap.TRIM_BATCHES + 1):
        writers.write_batch([(n,)])
    writers.close()
    assert len(calls) == 3
    assert (tmp_path / "r.csv").read_text().splitlines()[-1] == str(3 * heap.TRIM_BATCHES)
