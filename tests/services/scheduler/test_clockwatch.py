"""Clock-step detection with injected clocks (no sleeping, no real clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from src.services.retention import RetentionGate
from src.services.scheduler.clockwatch import ClockWatch, format_step

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def watch() -> ClockWatch:
    return ClockWatch(T0, 1000.0, step_seconds=2.0, stable_seconds=600.0)


def test_slewing_is_not_a_step_but_a_jump_is_with_its_size() -> None:
    clocks = watch()
    assert clocks.observe(T0 + timedelta(seconds=1.0005), 1001.0) is None
    step = clocks.observe(T0 + timedelta(seconds=3602), 1002.0)
    assert step is not None and step.forward
    assert round(step.seconds) == 3600
    assert abs((step.before - (T0 + timedelta(seconds=2))).total_seconds()) < 0.01
    assert step.describe().startswith("+1 h at 2026-11-30T10:00:02Z")
    back = clocks.observe(T0 + timedelta(seconds=3), 1003.0)
    assert back is not None and not back.forward and round(back.seconds) == -3600


def test_unsettled_after_start_and_after_a_step_until_stable() -> None:
    clocks, gate = watch(), RetentionGate(wall=lambda: 0.0, monotonic=lambda: 0.0)
    assert clocks.hold(gate, 1000.0) is not None and gate.refusal() is not None
    assert clocks.step_note(1000.0) is None  # nothing stepped: /health says ok
    assert clocks.hold(gate, 1600.0) is None and gate.refusal() is None
    clocks.observe(T0 + timedelta(days=100, seconds=601), 1601.0)
    assert "waiting until stable" in str(clocks.step_note(1601.0))
    assert clocks.hold(gate, 1700.0) is not None and gate.refusal() is not None
    assert clocks.hold(gate, 2201.0) is None and gate.refusal() is None


def test_format_step() -> None:
    assert format_step(3599.99) == "+1 h"
    assert format_step(-3600) == "-1 h"
    assert format_step(100 * 86400) == "+100 d"
    assert format_step(5) == "+5 s"
