"""Run history (src/services/history.py): retention and a torn last line."""

from __future__ import annotations

import errno
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from src.services.history import RunHistory
from tests.servers import ROOT


def test_history_retention_drops_old_runs(tmp_path):
    history = RunHistory(tmp_path / "runs.jsonl", keep_days=30)
    now = datetime(2026, 11, 23, tzinfo=UTC)
    for run_id, age in (("old", 40), ("recent", 5)):
        at = now - timedelta(days=age)
        history.append("started", run_id, at, task_id="t", task_name="T")
        history.append("finished", run_id, at, task_id="t", status="success")
    # appending on a new day pruned the 40-day-old run (keep_days=30)
    assert [r.run_id for r in history.runs()] == ["recent"]
    assert history.runs()[0].status == "success"
    assert history.prune(now + timedelta(days=26)) == 2
    assert history.runs() == []


def test_history_skips_a_torn_last_line(tmp_path):
    path = tmp_path / "runs.jsonl"
    history = RunHistory(path)
    history.append("started", "r1", datetime(2026, 11, 23, tzinfo=UTC), task_id="t")
    with path.open("a") as handle:
        handle.write('{"event": "finished", "run_id": "r1", "sta')  # crash mid-write
    (record,) = history.runs()
    assert record.status == "running"


NOW = datetime(2026, 11, 30, 9, tzinfo=UTC)


def test_a_fragment_left_by_a_crash_does_not_swallow_the_next_record(tmp_path):
    path = tmp_path / "runs.jsonl"
    history = RunHistory(path)
    history.append("started", "r1", NOW, task_id="t")
    with path.open("a") as handle:
        handle.write('{"event": "finished", "run_id": "r1", "sta')  # cut off mid-line
    history.append("finished", "r1", NOW, task_id="t", status="success")
    (record,) = history.runs()
    assert record.status == "success"
    assert path.read_text().count("\n") == 3  # the fragment stays a line of its own


_WRITE_PAST_A_LIMIT = """
import resource, sys
from datetime import UTC, datetime
from pathlib import Path
from src.services.history import RunHistory
from tests.servers import ROOT

path = Path(sys.argv[1])
history = RunHistory(path)
size = path.stat().st_size
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, resource.RLIM_INFINITY))
try:
    history.append("emailed", "r1", datetime(2026, 11, 30, tzinfo=UTC), note="x" * 500)
except OSError as exc:
    print("refused", exc.errno, path.stat().st_size == size)
"""


def test_a_write_cut_short_leaves_nothing_behind(tmp_path):
    path = tmp_path / "runs.jsonl"
    history = RunHistory(path)
    history.append("started", "r1", NOW, task_id="t")
    # a real short write: the kernel writes up to RLIMIT_FSIZE, then refuses (EFBIG)
    result = subprocess.run(
        [sys.executable, "-c", _WRITE_PAST_A_LIMIT, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.split() == ["refused", str(errno.EFBIG), "True"]
    history.append("finished", "r1", NOW, task_id="t", status="success")
    (record,) = history.runs()
    assert (record.status, record.steps) == ("success", ["started", "finished"])


class _CountingHistory(RunHistory):
    prunes = 0

    def prune(self, now: datetime) -> int:
        self.prunes += 1
        return super().prune(now)


def test_a_run_reads_one_line_to_decide_about_retention(tmp_path):
    path = tmp_path / "runs.jsonl"
    recent = '{"event": "started", "run_id": "r0", "at": "2026-11-29T09:00:00Z"}\n'
    path.write_text(recent + "not json, and never parsed by an append\n" * 50_000)
    history = _CountingHistory(path, keep_days=30)
    history.append("started", "r1", NOW, task_id="t")  # a new process: a new day for it
    assert history.prunes == 0
    old = _CountingHistory(path, keep_days=30)
    old.append("started", "r2", NOW + timedelta(days=31), task_id="t")
    assert old.prunes == 1
    assert [r.run_id for r in old.runs()] == ["r2"]  # the garbage went with the old run
