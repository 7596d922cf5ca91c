"""When a run is tried again (src/services/scheduler/retries.py)."""

from __future__ import annotations

from src.services.scheduler.retries import retry_delay


def test_retry_delay_is_exponential_and_capped() -> None:
    assert [retry_delay(a, 60, 2, 3600) for a in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert retry_delay(20, 60, 2, 3600) == 3600
    assert retry_delay(5000, 60, 2, 3600) == 3600  # no overflow
