"""Storage health on a real full disk (a small tmpfs): a record that does not fit is
held in memory, in order, and written once there is room; nothing is lost."""

from __future__ import annotations

from datetime import UTC, datetime

from src.services.history import RunHistory
from src.services.scheduler.eventlog import EventLog
from src.services.scheduler.storage import HeldLog, StorageHealth
from tests.fixtures.small_disk import SmallDisk

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_records_that_do_not_fit_are_held_in_order_and_written_when_space_returns(
    small_disk: SmallDisk,
) -> None:
    data = small_disk.root / "data"
    history = RunHistory(data / "runs.jsonl")
    storage = StorageHealth(data, EventLog(), check_seconds=0, min_free_bytes=64 * 1024)
    log = HeldLog(history, history.path, storage)
    log.append("finished", "run-before", AT, task_id="t", status="skipped")
    assert storage.ok and storage.check() is False
    small_disk.fill()

    # tmpfs fills by pages: a line longer than a page cannot fit in the last one's rest
    reason = "overlap " * 1024
    log.append("finished", "run-one", AT, task_id="t", status="skipped", reason=reason)
    log.append("finished", "run-two", AT, task_id="t", status="timeout")  # behind it
    assert not storage.ok
    assert storage.problem is not None
    assert storage.problem.startswith(f"full: {history.path}: No space left on device")
    assert storage.held_count == 2
    assert [r.run_id for r in history.runs()] == ["run-before"]
    assert storage.check() is False  # still full: the probe does not fit

    small_disk.free()
    assert storage.check() is True
    assert storage.ok and storage.held_count == 0
    assert [r.run_id for r in history.runs()] == ["run-before", "run-one", "run-two"]


def test_low_free_space_is_seen_before_a_write_fails(small_disk: SmallDisk) -> None:
    storage = StorageHealth(
        small_disk.root, EventLog(), check_seconds=0, min_free_bytes=8 * 1024 * 1024
    )
    assert storage.check() is False
    assert storage.problem is not None
    assert "under STORAGE_MIN_FREE_BYTES=8388608" in storage.problem
