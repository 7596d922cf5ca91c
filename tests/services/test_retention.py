"""The retention gate, and the prunes that ask it, with injected clocks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from src.services.export.files import prune_exports
from src.services.history import RunHistory
from src.services.mail.outbox import prune_outbox
from src.services.retention import RetentionGate

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Clocks:
    def __init__(self) -> None:
        self.wall = 1_000_000.0
        self.mono = 50.0

    def gate(self) -> RetentionGate:
        return RetentionGate(wall=lambda: self.wall, monotonic=lambda: self.mono)


def test_a_step_while_the_process_runs_refuses_until_trusted() -> None:
    clocks = Clocks()
    gate = clocks.gate()
    assert gate.refusal() is None
    clocks.wall += 100 * 86400  # a bogus +100 d
    assert "stepped by +8640000 s" in str(gate.refusal())
    gate.trust()
    assert gate.refusal() is None
    gate.hold("the clock is not trusted yet")
    assert gate.refusal() == "the clock is not trusted yet"


def test_held_gate_keeps_history_exports_and_outbox(tmp_path: Path) -> None:
    clocks = Clocks()
    gate = clocks.gate()
    gate.hold("a step is being waited out")
    history = RunHistory(tmp_path / "runs.jsonl", keep_days=90, gate=gate)
    history.append("started", "old", NOW - timedelta(days=5), task_id="t")
    history.append("started", "bogus", NOW + timedelta(days=100), task_id="t")
    assert [line["run_id"] for line in history.lines()] == ["old", "bogus"]
    exports = tmp_path / "exports"
    (exports / "20261125T090000Z_task_run").mkdir(parents=True)
    assert prune_exports(exports, 30, NOW + timedelta(days=100), gate) == []
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "20261125T090000Z_task_1a2b3c4d5e.eml").write_text("x")
    assert prune_outbox(outbox, 7, NOW + timedelta(days=100), gate) == []
    gate.trust()  # the same clock, now trusted: the prune happens
    assert len(prune_exports(exports, 30, NOW + timedelta(days=100), gate)) == 1
    assert json.loads((tmp_path / "runs.jsonl").read_text().splitlines()[0])["run_id"] == "old"
